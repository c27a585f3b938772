// CheckpointStore: how far each file has been delivered, persisted atomically.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "logship/status.h"

namespace logship {

// See FileCheckpoint::anchors.
struct FileAnchor {
  uint64_t offset = 0;
  uint64_t hash = 0;
  bool operator==(const FileAnchor&) const = default;
};

// Adds `a` after the last anchor (when it is past it) and thins the list to at most
// kMaxAnchors, keeping the newest dense and older ones ever sparser.
void AddAnchor(std::vector<FileAnchor>& anchors, FileAnchor a);
inline constexpr size_t kMaxAnchors = 12;

struct FileCheckpoint {
  std::string path;          // where the file was last seen (informational)
  uint64_t fingerprint = 0;  // hash of the file's first line (see FileTailer)
  uint64_t generation = 0;   // bumped each time the file was truncated in place
  uint64_t offset = 0;       // every byte before this was acknowledged by the queue
  int64_t last_seen_ms = 0;
  // Points the file was read to, ascending, each with the hash of the (up to 256) bytes
  // before it as read; the last is at or past `offset`, and a few older ones are kept
  // (ever sparser). They let a copy of the file (copytruncate) be recognised after the
  // original was truncated: a copy holds the same bytes there.
  std::vector<FileAnchor> anchors;
  // The identity the file's events carry when it is not its own: a copytruncate copy
  // continues its original's event ids. 0/0: the file's own device and inode.
  uint64_t origin_device = 0;
  uint64_t origin_inode = 0;
};

// A checkpoint whose file was truncated (or whose inode now holds another file): kept for
// a while so that a copy of the old contents can continue where delivery stopped.
struct RetiredCheckpoint {
  std::string key;  // "<device>:<inode>" the file had
  FileCheckpoint checkpoint;
  int64_t retired_ms = 0;
};

// Entries keyed by "<device>:<inode>". Not thread-safe: owned by the tail loop.
class CheckpointStore {
 public:
  // Retired entries kept at most this long, and at most this many (oldest dropped first).
  static constexpr int64_t kRetiredKeepMs = 24LL * 3600 * 1000;
  static constexpr size_t kMaxRetired = 256;

  explicit CheckpointStore(std::string path) : path_(std::move(path)) {}

  // Reads the file; a missing file is an empty store, a corrupt one is Corruption.
  Status Load();
  // Writes every entry atomically (temp file, fsync, rename, fsync dir).
  Status Save();

  const FileCheckpoint* Find(const std::string& key) const;
  void Put(const std::string& key, FileCheckpoint cp) { entries_[key] = std::move(cp); }
  void Erase(const std::string& key) { entries_.erase(key); }
  // Drops entries not seen since `cutoff_ms` (files long gone), and retired entries older
  // than kRetiredKeepMs before `now_ms`.
  void PruneOlderThan(int64_t cutoff_ms, int64_t now_ms = 0);
  size_t size() const { return entries_.size(); }
  const std::string& path() const { return path_; }
  const std::map<std::string, FileCheckpoint>& entries() const { return entries_; }

  // Adds `cp` (the last state of the contents the file `key` had) to the retired list,
  // unless the same contents were retired already.
  void Retire(const std::string& key, const FileCheckpoint& cp, int64_t now_ms);
  const std::vector<RetiredCheckpoint>& retired() const { return retired_; }

 private:
  std::string path_;
  std::map<std::string, FileCheckpoint> entries_;
  std::vector<RetiredCheckpoint> retired_;  // oldest first
};

}  // namespace logship
