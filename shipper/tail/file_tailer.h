// FileTailer: finds files by glob, follows them through rotation and truncation, and turns
// their complete lines into events. It does no delivery itself: the caller publishes what
// ReadBatch returned and calls Commit once the queue acknowledged it, which is the only
// place checkpoints advance.
//
// Identity: a file is (device, inode, fingerprint of its first line, truncation
// generation). A new file that reuses an inode has a different first line, so it is read
// from the start rather than resumed at the old file's offset.
//
// Rotation: when a path points to a new inode (rename+create) or disappears (delete,
// rename to a name no glob matches), the old file stays open and is read to its end;
// then, once acknowledged, it is closed. When a file shrinks below the read offset
// (copytruncate), reading restarts at 0 under the next generation.
//
// Not thread-safe: one tail loop owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/event.h"
#include "shipper/tail/checkpoint_store.h"

namespace logship {

struct TailStats {
  uint64_t lines_read = 0;
  uint64_t bytes_read = 0;
  uint64_t lines_split = 0;      // pieces produced from lines longer than max_line_bytes
  uint64_t rotations = 0;        // rename/delete seen
  uint64_t truncations = 0;
  uint64_t errors = 0;           // unreadable files, non-regular paths
  size_t open_files = 0;
  size_t draining_files = 0;     // rotated away, still being read to their end
  uint64_t lag_bytes = 0;        // unread bytes over all open files (as of the last Poll)
};

class FileTailer {
 public:
  FileTailer(std::vector<FileInputConfig> inputs, std::string host, CheckpointStore* checkpoints,
             const Clock& clock);
  ~FileTailer();
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  // Rescans the globs and checks every open file for rotation and truncation.
  void Poll();

  // Appends up to `max_events` events (about `max_bytes` of lines) from the files' read
  // positions to `out`; returns how many. REQUIRES: the previous batch was committed.
  size_t ReadBatch(size_t max_events, uint64_t max_bytes, std::vector<Event>* out);

  // Everything returned by ReadBatch so far was acknowledged: advance the checkpoints,
  // release files that were rotated and read to their end, save atomically.
  Status Commit();

  // True when every open file was read to its end (nothing to send until files grow).
  bool CaughtUp() const;

  const TailStats& stats() const { return stats_; }

 private:
  struct TailedFile;
  bool Identify(TailedFile& f);
  void OpenFile(const std::string& path, const FileInputConfig* input, uint64_t dev, uint64_t ino);
  size_t ReadFrom(TailedFile& f, size_t max_events, uint64_t max_bytes, std::vector<Event>* out,
                  uint64_t* bytes);
  void Emit(TailedFile& f, const char* data, size_t len, uint64_t offset, std::vector<Event>* out);

  std::vector<FileInputConfig> inputs_;
  std::string host_;
  CheckpointStore* checkpoints_;
  const Clock& clock_;
  std::vector<std::unique_ptr<TailedFile>> files_;
  size_t next_file_ = 0;  // round-robin start, so one busy file cannot starve the others
  std::vector<char> buf_;
  TailStats stats_;
};

}  // namespace logship
