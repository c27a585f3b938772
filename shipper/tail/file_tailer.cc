#include "shipper/tail/file_tailer.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <spdlog/spdlog.h>

#include "core/base/hash.h"

namespace logship {
namespace {

constexpr size_t kFingerprintBytes = 256;
constexpr int64_t kCheckpointRetentionMs = 7LL * 24 * 3600 * 1000;

std::string KeyOf(uint64_t dev, uint64_t ino) { return std::to_string(dev) + ":" + std::to_string(ino); }

std::vector<std::string> Glob(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  return out;
}

// The hash of the first line (or first kFingerprintBytes); false while the file has
// neither.
bool ReadFingerprint(int fd, uint64_t* out) {
  char head[kFingerprintBytes];
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  if (n <= 0) return false;
  const char* nl = static_cast<const char*>(std::memchr(head, '\n', static_cast<size_t>(n)));
  size_t len;
  if (nl != nullptr) {
    len = static_cast<size_t>(nl - head) + 1;
  } else if (static_cast<size_t>(n) == sizeof head) {
    len = sizeof head;
  } else {
    return false;
  }
  *out = Hash64().Add(std::string_view(head, len)).Digest();
  return true;
}

}  // namespace

struct FileTailer::TailedFile {
  std::string path;
  const FileInputConfig* input = nullptr;
  int fd = -1;
  uint64_t dev = 0, ino = 0;
  bool identified = false;
  uint64_t base_fingerprint = 0;
  uint64_t generation = 0;
  FileIdentity identity;  // valid once identified
  uint64_t read_off = 0;  // end of the last line handed out
  uint64_t acked_off = 0;
  bool rotated = false;   // the path no longer leads here: read to the end, then release
  bool at_eof = false;
  bool seen = false;      // scratch flag for Poll

  ~TailedFile() {
    if (fd >= 0) ::close(fd);
  }
  std::string key() const { return KeyOf(dev, ino); }
};

FileTailer::FileTailer(std::vector<FileInputConfig> inputs, std::string host, CheckpointStore* checkpoints,
                       const Clock& clock)
    : inputs_(std::move(inputs)), host_(std::move(host)), checkpoints_(checkpoints), clock_(clock) {}

FileTailer::~FileTailer() = default;

void FileTailer::OpenFile(const std::string& path, const FileInputConfig* input, uint64_t dev, uint64_t ino) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ++stats_.errors;
    spdlog::warn("tail: cannot open {}: {}", path, std::strerror(errno));
    return;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_dev != dev || st.st_ino != ino) {
    ::close(fd);  // replaced between stat and open; the next Poll sees the new one
    return;
  }
  auto f = std::make_unique<TailedFile>();
  f->path = path;
  f->input = input;
  f->fd = fd;
  f->dev = dev;
  f->ino = ino;
  f->seen = true;
  Identify(*f);
  spdlog::info("tail: following {} (inode {}, from offset {})", path, ino, f->read_off);
  files_.push_back(std::move(f));
}

// Reads the first line (or first kFingerprintBytes) to fix the file's identity and looks
// up where delivery stopped. A file without a complete first line yet stays unidentified.
bool FileTailer::Identify(TailedFile& f) {
  if (!ReadFingerprint(f.fd, &f.base_fingerprint)) return false;
  struct stat st;
  uint64_t size = ::fstat(f.fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  f.generation = 0;
  f.read_off = f.acked_off = 0;
  if (const FileCheckpoint* cp = checkpoints_->Find(f.key()); cp && cp->fingerprint == f.base_fingerprint) {
    f.generation = cp->generation;
    if (cp->offset <= size) {
      f.read_off = f.acked_off = cp->offset;
    } else {
      ++f.generation;  // truncated while we were not running
      ++stats_.truncations;
    }
  }
  f.identity = FileIdentity{f.dev, f.ino, Hash64().Add(f.base_fingerprint).Add(f.generation).Digest()};
  f.identified = true;
  return true;
}

void FileTailer::Poll() {
  for (auto& f : files_) f->seen = false;
  std::set<std::string> keys_seen;
  for (const FileInputConfig& input : inputs_) {
    for (const std::string& pattern : input.paths) {
      for (const std::string& path : Glob(pattern)) {
        struct stat st;
        if (::stat(path.c_str(), &st) != 0) continue;
        if (!S_ISREG(st.st_mode)) continue;  // directories and devices matched by a glob
        std::string key = KeyOf(st.st_dev, st.st_ino);
        if (!keys_seen.insert(key).second) continue;  // matched twice (two globs, symlink)
        auto it = std::find_if(files_.begin(), files_.end(), [&](const auto& f) {
          return f->dev == static_cast<uint64_t>(st.st_dev) && f->ino == static_cast<uint64_t>(st.st_ino);
        });
        if (it != files_.end()) {
          (*it)->seen = true;
          (*it)->path = path;  // renamed to another matched name: same file, same offsets
          continue;
        }
        OpenFile(path, &input, st.st_dev, st.st_ino);
      }
    }
  }
  uint64_t lag = 0;
  size_t draining = 0;
  for (auto& f : files_) {
    if (!f->seen && !f->rotated) {
      f->rotated = true;
      ++stats_.rotations;
      spdlog::info("tail: {} was rotated or deleted; reading it to its end", f->path);
    }
    struct stat st;
    if (::fstat(f->fd, &st) == 0) {
      uint64_t size = static_cast<uint64_t>(st.st_size);
      if (f->identified && size < f->read_off) {
        ++stats_.truncations;
        spdlog::info("tail: {} was truncated ({} < {}); reading from the start", f->path, size, f->read_off);
        // The next generation keeps the new contents' ids apart from the old ones at the
        // same offsets. With no complete first line yet the old fingerprint stays; the
        // generation alone keeps ids apart.
        ReadFingerprint(f->fd, &f->base_fingerprint);
        f->generation++;
        f->read_off = f->acked_off = 0;
        f->identity.fingerprint = Hash64().Add(f->base_fingerprint).Add(f->generation).Digest();
      }
      if (size > f->read_off) {
        lag += size - f->read_off;
        f->at_eof = false;
      }
    }
    if (f->rotated) ++draining;
  }
  stats_.open_files = files_.size();
  stats_.draining_files = draining;
  stats_.lag_bytes = lag;
}

void FileTailer::Emit(TailedFile& f, const char* data, size_t len, uint64_t offset, std::vector<Event>* out) {
  if (len > 0 && data[len - 1] == '\r') --len;
  Event& e = out->emplace_back();
  e.id = MakeFileEventId(host_, f.identity, offset);
  e.time_ns = clock_.NowNs();
  e.host = host_;
  e.source = f.path;
  e.type = f.input->type;
  e.offset = offset;
  e.raw.assign(data, len);
  ++stats_.lines_read;
}

size_t FileTailer::ReadFrom(TailedFile& f, size_t max_events, uint64_t max_bytes, std::vector<Event>* out,
                            uint64_t* bytes) {
  const size_t max_line = std::max<uint64_t>(f.input->max_line_bytes, 1);
  const size_t chunk = std::max<size_t>(256 * 1024, max_line + 1);
  if (buf_.size() < chunk) buf_.resize(chunk);
  size_t produced = 0;
  while (produced < max_events && *bytes < max_bytes) {
    ssize_t n = ::pread(f.fd, buf_.data(), chunk, static_cast<off_t>(f.read_off));
    if (n < 0) {
      if (errno == EINTR) continue;
      ++stats_.errors;
      spdlog::warn("tail: read {}: {}", f.path, std::strerror(errno));
      return produced;
    }
    if (n == 0) {
      f.at_eof = true;
      return produced;
    }
    const char* begin = buf_.data();
    const char* end = begin + n;
    const char* p = begin;
    while (p < end && produced < max_events && *bytes < max_bytes) {
      const char* line_start = p;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      size_t avail = nl ? static_cast<size_t>(nl - p) : static_cast<size_t>(end - p);
      if (avail > max_line) {
        // Longer than allowed: split off a piece of max_line bytes; the rest follows as
        // further pieces with their own offsets.
        Emit(f, p, max_line, f.read_off + static_cast<uint64_t>(p - begin), out);
        ++stats_.lines_split;
        p += max_line;
      } else if (nl != nullptr) {
        Emit(f, p, avail, f.read_off + static_cast<uint64_t>(p - begin), out);
        p = nl + 1;
      } else if (f.rotated && static_cast<size_t>(n) < chunk) {
        // The last line of a file that will not grow again has no newline: send it as is.
        if (avail > 0) Emit(f, p, avail, f.read_off + static_cast<uint64_t>(p - begin), out);
        p = end;
      } else {
        break;  // a partial line: wait for the writer to finish it
      }
      ++produced;
      *bytes += static_cast<uint64_t>(p - line_start);
    }
    uint64_t consumed = static_cast<uint64_t>(p - begin);
    stats_.bytes_read += consumed;
    f.read_off += consumed;
    if (consumed == 0) {
      f.at_eof = true;  // only a partial line is left
      return produced;
    }
    if (static_cast<size_t>(n) < chunk && p == end) {
      f.at_eof = true;
      return produced;
    }
  }
  return produced;
}

size_t FileTailer::ReadBatch(size_t max_events, uint64_t max_bytes, std::vector<Event>* out) {
  size_t produced = 0;
  uint64_t bytes = 0;
  if (files_.empty()) return 0;
  for (size_t i = 0; i < files_.size() && produced < max_events && bytes < max_bytes; ++i) {
    TailedFile& f = *files_[(next_file_ + i) % files_.size()];
    if (!f.identified && !Identify(f)) continue;
    // Give each file a fair share so one busy file cannot starve the rest.
    size_t share = std::max<size_t>(1, (max_events - produced) / (files_.size() - i));
    produced += ReadFrom(f, share, max_bytes, out, &bytes);
  }
  next_file_ = (next_file_ + 1) % std::max<size_t>(files_.size(), 1);
  return produced;
}

Status FileTailer::Commit() {
  int64_t now = clock_.NowMs();
  for (auto& f : files_) {
    if (!f->identified) continue;
    f->acked_off = f->read_off;
    checkpoints_->Put(f->key(), FileCheckpoint{f->path, f->base_fingerprint, f->generation, f->acked_off, now});
  }
  std::erase_if(files_, [](const auto& f) {
    if (f->rotated && f->at_eof && f->acked_off == f->read_off) {
      spdlog::info("tail: released {} after reading it to its end ({} bytes)", f->path, f->read_off);
      return true;
    }
    return false;
  });
  checkpoints_->PruneOlderThan(now - kCheckpointRetentionMs);
  return checkpoints_->Save();
}

bool FileTailer::CaughtUp() const {
  return std::all_of(files_.begin(), files_.end(), [](const auto& f) { return f->at_eof || !f->identified; });
}

}  // namespace logship
