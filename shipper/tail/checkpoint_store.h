// CheckpointStore: how far each file has been delivered, persisted atomically.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "logship/status.h"

namespace logship {

struct FileCheckpoint {
  std::string path;          // where the file was last seen (informational)
  uint64_t fingerprint = 0;  // hash of the file's first line (see FileTailer)
  uint64_t generation = 0;   // bumped each time the file was truncated in place
  uint64_t offset = 0;       // every byte before this was acknowledged by the queue
  int64_t last_seen_ms = 0;
};

// Entries keyed by "<device>:<inode>". Not thread-safe: owned by the tail loop.
class CheckpointStore {
 public:
  explicit CheckpointStore(std::string path) : path_(std::move(path)) {}

  // Reads the file; a missing file is an empty store, a corrupt one is Corruption.
  Status Load();
  // Writes every entry atomically (temp file, fsync, rename, fsync dir).
  Status Save();

  const FileCheckpoint* Find(const std::string& key) const;
  void Put(const std::string& key, FileCheckpoint cp) { entries_[key] = std::move(cp); }
  void Erase(const std::string& key) { entries_.erase(key); }
  // Drops entries not seen since `cutoff_ms` (files long gone).
  void PruneOlderThan(int64_t cutoff_ms);
  size_t size() const { return entries_.size(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, FileCheckpoint> entries_;
};

}  // namespace logship
