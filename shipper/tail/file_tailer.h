// FileTailer: finds files by glob, follows them through rotation and truncation, and turns
// their complete lines into events. It does no delivery itself: the caller publishes what
// ReadBatch returned and calls Commit once the queue acknowledged it, which is the only
// place checkpoints advance. docs/shipper.md describes the whole design.
//
// Discovery: every Poll globs the inputs' paths, minus their `exclude` globs (matched
// against the full path and the basename). With inotify (FileTailerOptions::inotify) the
// directories of the globs are watched, and WaitForChange returns as soon as something
// is created, moved, deleted or written there; without it (or when inotify fails, e.g.
// out of watches) WaitForChange just waits out its timeout and the periodic Poll finds
// everything.
//
// Identity: a file is (device, inode, fingerprint of its first line, truncation
// generation). A new file that reuses an inode has a different first line, so it is read
// from the start rather than resumed at the old file's offset.
//
// Copies (copytruncate): when a file is truncated, or its inode turns out to hold other
// contents, its last checkpoint is retired (CheckpointStore::Retire) rather than lost. A
// new file whose first line and the bytes before that checkpoint's anchor match is a copy
// of the old contents: it continues under the original's identity (same event ids) from
// the anchor, so lines the original was not read to before the truncation are read from
// the copy, and lines read twice carry the same ids. A new file that looks like a copy of
// a file still open and not yet truncated (same first line, same bytes so far) is not read
// until that file is truncated, at most kCopyWaitMs; after that it is a new file.
//
// Rotation: when a path points to a new inode (rename+create) or disappears (delete,
// rename to a name no glob matches or an excluded one), the old file stays open and is
// read to its end; then, once acknowledged, it is closed. Such a held file is kept at most
// `max_hold`, and deleted held files (whose disk space only our descriptor keeps) at most
// `max_held_bytes` together: past either it is released unfinished (error log, counter). When a file
// shrinks below the read offset, or its first line changed (truncated and written again
// between two Polls), reading restarts at 0 under the next generation (a multiline event
// being accumulated is then discarded). A held file read to its end and acknowledged is
// released by the next Poll or Commit.
//
// Errors (a glob match that is a directory, FIFO or device, or a dangling symlink; a file
// that cannot be opened or read) are logged once per path and kind and counted in TailStats::errors_by_kind;
// the path is retried on every Poll and logged again only after it recovered and failed
// anew.
//
// Open files: at most `max_open_files`. Beyond it newly found files wait (files_waiting);
// to make room, files that are idle (read to their end and acknowledged) are closed and
// queue up behind the waiting ones, so every file is read in turn. Nothing is dropped: a
// closed file is resumed from its checkpoint when it is opened again.
//
// Multiline: with FileInputConfig::multiline, lines are joined into events; an event's
// offset (and so its id) is its first line's. The checkpoint never passes the first line
// of an event still being accumulated, so after a crash it is read again and rebuilt with
// the same id. A pending event is emitted when a line starts the next one, after
// flush_after without new lines, when it reaches max_lines/max_bytes (split, counted) or
// at the end of a rotated file.
//
// Not thread-safe: one tail loop owns it; only Interrupt may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/event.h"
#include "shipper/tail/checkpoint_store.h"

namespace logship {

// What went wrong with a file, for TailStats::errors_by_kind and the errors metric.
enum class TailError : size_t {
  kOpen = 0,    // cannot stat or open (permissions, ...)
  kNotRegular,  // a glob matched a directory, FIFO, socket or device: not followed
  kRead,        // read(2) failed on an open file
  kPattern,     // a multiline pattern that does not compile (config built in code)
  kDanglingSymlink,  // a glob matched a symbolic link whose target does not exist (yet)
};
inline constexpr size_t kTailErrorKinds = 5;
// "open", "not_regular", "read", "pattern", "dangling_symlink"
const char* TailErrorName(TailError kind);

struct TailStats {
  uint64_t lines_read = 0;
  uint64_t bytes_read = 0;
  uint64_t lines_split = 0;      // pieces produced from lines longer than max_line_bytes
  uint64_t rotations = 0;        // rename/delete seen
  uint64_t truncations = 0;
  uint64_t copies_recognised = 0;  // copytruncate copies continued under their original's ids
  uint64_t errors = 0;           // sum of errors_by_kind
  uint64_t errors_by_kind[kTailErrorKinds] = {};  // indexed by TailError; each failure counted once
  uint64_t multiline_events = 0;  // events joined from more than one line
  uint64_t multiline_splits = 0;  // events cut because they reached max_lines/max_bytes
  uint64_t held_files_released_unfinished = 0;  // held past max_hold or max_held_bytes, closed
                                                // before their end
  uint64_t idle_files_closed = 0;  // closed to make room under max_open_files
  size_t open_files = 0;
  size_t draining_files = 0;     // held: rotated away or deleted, still being read to their end
  uint64_t held_bytes = 0;       // size of the held files
  uint64_t held_deleted_bytes = 0;  // size of the held files that were deleted: disk space
                                    // only the open descriptor keeps in use (max_held_bytes)
  size_t files_waiting = 0;      // found but not opened because of max_open_files (last Poll)
  size_t files_in_error = 0;     // glob matches failing as of the last Poll (see TailError)
  uint64_t lag_bytes = 0;        // bytes not yet acknowledged over all open files: size - acked
                                 // offset (sizes as of the last Poll)
  bool inotify_active = false;   // false: discovery relies on Poll alone
};

// One open file, for per-file metrics.
struct TailedFileInfo {
  std::string key;       // "<device>:<inode>"
  std::string path;
  uint64_t inode = 0;
  uint64_t size = 0;     // as of the last Poll
  uint64_t acked_offset = 0;
  bool held = false;     // rotated away or deleted, being drained
  uint64_t lag_bytes() const { return size > acked_offset ? size - acked_offset : 0; }
};

// How far one batch reaches in each file it read: (file serial, restarts, offset the
// checkpoint may advance to). Opaque to callers; filled by ReadBatch, used by Commit.
struct TailMark {
  struct Entry {
    uint64_t serial;
    uint64_t restarts;  // TailedFile::restarts when read: a later restart voids the entry
    uint64_t offset;
  };
  std::vector<Entry> files;
};

struct FileTailerOptions {
  size_t max_open_files = 1024;
  Millis max_hold{3600 * 1000};
  // Bound on held_deleted_bytes: past it, deleted held files are released unfinished,
  // the longest held first. 0: no bound.
  uint64_t max_held_bytes = 0;
  bool inotify = true;
};

class FileTailer {
 public:
  // Construction does no I/O beyond creating the wake-up eventfd; the first Poll starts
  // the watches. `checkpoints` and `clock` must outlive the tailer.
  FileTailer(std::vector<FileInputConfig> inputs, std::string host, CheckpointStore* checkpoints,
             const Clock& clock, FileTailerOptions options = {});
  ~FileTailer();
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  // Rescans the globs and checks every open file for rotation and truncation; opens new
  // files within max_open_files; releases held files past max_hold.
  void Poll();

  // Blocks up to `timeout` for a change in the watched directories (true) or until the
  // timeout or Interrupt (false). Call Poll afterwards either way.
  bool WaitForChange(Millis timeout);
  // Wakes a WaitForChange in progress (or the next one). Thread-safe.
  void Interrupt();

  // Appends up to `max_events` events (about `max_bytes` of lines) from the files' read
  // positions to `out`; returns how many. With `mark`, records there how far the batch
  // reaches in each file it read, for Commit(mark).
  // Batches may be read while earlier ones are still in flight (the shipper pipelines
  // them) as long as each is committed through its mark, in the order they were read.
  // Poll may run while batches are in flight too: a file it (or ReadBatch) restarts after
  // a truncation gets a new generation, and marks of the old one advance nothing; a file
  // it releases (max_hold, max_held_bytes) is simply no longer advanced.
  size_t ReadBatch(size_t max_events, uint64_t max_bytes, std::vector<Event>* out, TailMark* mark = nullptr);

  // The batches up to the one `mark` belongs to were acknowledged (without a mark:
  // everything returned by ReadBatch so far): advance the checkpoints (to the start of
  // any multiline event still pending), release files that were rotated and are
  // acknowledged to their end, and when `save`, write the checkpoint file atomically.
  // Without `save` the on-disk checkpoint lags (never leads) delivery; the caller saves
  // later through the CheckpointStore, and what a crash makes it re-send is deduplicated
  // by id.
  Status Commit(bool save = true, const TailMark* mark = nullptr);

  // True when every open file was read to its end, no multiline event is pending and no
  // file waits to be opened (nothing to send until files grow).
  bool CaughtUp() const;

  // True (once) when the last ReadBatch recorded checkpoints that must be saved
  // (CheckpointStore::Save) before its events are published: a file read for the first
  // time under a new identity (new file, copytruncate copy, truncated file). Saving them
  // first is what lets a restart recognise those events' ids, e.g. when the file is
  // copied and truncated while logship is down. One save per new identity.
  bool TakeSaveRequest() {
    const bool r = save_requested_;
    save_requested_ = false;
    return r;
  }

  // Takes back the events of a batch that was published (their contents are no longer
  // needed) and leaves `events` empty, its capacity kept: ReadBatch fills its next events
  // by assigning into these, so the strings' memory is reused instead of allocated and
  // freed for every line. At most kMaxSpareEvents events holding kMaxSpareBytes are
  // kept; a kept buffer larger than twice the line it is given next plus kSlackBytes is
  // replaced, so a batch holds at most about twice what it carries.
  void Recycle(std::vector<Event>* events);
  // Bytes held by events kept for reuse.
  size_t spare_bytes() const { return spare_bytes_; }
  static constexpr size_t kMaxSpareEvents = 8192;
  static constexpr size_t kMaxSpareBytes = 4 << 20;
  static constexpr size_t kSlackBytes = 1024;

  const TailStats& stats() const { return stats_; }
  // The open files (sizes as of the last Poll, acknowledged offsets as of the last Commit).
  std::vector<TailedFileInfo> Files() const;

  // How long a new file that looks like a copy of an open file waits for that file's
  // truncation before it is read as a file of its own.
  static constexpr int64_t kCopyWaitMs = 30'000;

 private:
  struct TailedFile;
  struct Input;
  bool Identify(TailedFile& f);
  void RetireStaleCheckpoint(TailedFile& f);
  bool ContinueCopy(TailedFile& f, uint64_t fingerprint, size_t first_line, uint64_t size);
  bool LooksLikeCopyInProgress(TailedFile& f, uint64_t fingerprint, size_t first_line, uint64_t size);
  uint64_t NextOwnGeneration(const TailedFile& f) const;
  void RestartAfterTruncation(TailedFile& f);
  bool RefreshFingerprint(TailedFile& f);
  void Fail(const std::string& path, TailError kind, const std::string& what);
  TailedFile* OpenFile(const std::string& path, const Input* input, uint64_t dev, uint64_t ino);
  bool CloseOneIdleFile();
  void ReleaseHeldOverDiskBound(int64_t now);
  void WatchDirectories();
  size_t ReadFrom(TailedFile& f, size_t max_events, uint64_t max_bytes, std::vector<Event>* out,
                  uint64_t* bytes);
  void AddLine(TailedFile& f, std::string_view line, uint64_t offset, std::vector<Event>* out);
  void FlushPending(TailedFile& f, std::vector<Event>* out);
  void Emit(TailedFile& f, std::string_view raw, uint64_t offset, std::vector<Event>* out);

  std::vector<FileInputConfig> configs_;
  std::vector<std::unique_ptr<Input>> inputs_;  // compiled, one per configs_ entry
  FileTailerOptions options_;
  std::string host_;
  CheckpointStore* checkpoints_;
  const Clock& clock_;
  std::vector<std::unique_ptr<TailedFile>> files_;
  std::vector<Event> spare_;  // Recycle()d events, taken from the back by Emit
  size_t spare_bytes_ = 0;    // HeldBytes of spare_
  size_t next_file_ = 0;  // round-robin start, so one busy file cannot starve the others
  uint64_t next_serial_ = 1;  // TailedFile::serial of the next file opened
  std::vector<char> buf_;
  // What buf_ holds from the last read: bytes [buf_off_, buf_off_ + buf_len_) of the file
  // with serial buf_serial_ (0: nothing), read before its restart number buf_restarts_ + 1.
  uint64_t buf_serial_ = 0;
  uint64_t buf_restarts_ = 0;
  uint64_t buf_off_ = 0;
  size_t buf_len_ = 0;
  int64_t read_time_ns_ = 0;  // when the current chunk was read: the time of its events
  TailStats stats_;
  std::map<std::string, uint64_t> parked_;  // key -> order in which idle files were closed
  uint64_t park_seq_ = 0;
  int wake_fd_ = -1;     // eventfd written by Interrupt
  int inotify_fd_ = -1;  // -1: not started or unavailable
  bool inotify_failed_ = false;
  bool save_requested_ = false;  // see TakeSaveRequest
  bool watch_limit_warned_ = false;
  std::map<std::string, int> watched_dirs_;  // directory -> watch descriptor
  std::map<std::string, TailError> failing_;  // path -> error already logged and counted
  std::set<std::string> failing_this_poll_;   // scratch for Poll
};

}  // namespace logship
