#include "shipper/tail/file_tailer.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <unordered_map>

#include <re2/re2.h>
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

bool Excluded(const FileInputConfig& input, const std::string& path) {
  if (input.exclude.empty()) return false;
  std::string base = std::filesystem::path(path).filename().string();
  for (const std::string& pattern : input.exclude) {
    if (::fnmatch(pattern.c_str(), path.c_str(), 0) == 0) return true;
    if (::fnmatch(pattern.c_str(), base.c_str(), 0) == 0) return true;
  }
  return false;
}

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

constexpr uint32_t kWatchMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_MODIFY | IN_DELETE | IN_DELETE_SELF |
                                IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR;

}  // namespace

// An input with its multiline patterns compiled once.
struct FileTailer::Input {
  const FileInputConfig* config = nullptr;
  std::unique_ptr<RE2> start, continuation;  // at most one set
  bool multiline() const { return start != nullptr || continuation != nullptr; }
};

struct FileTailer::TailedFile {
  std::string path;
  const Input* input = nullptr;
  uint64_t serial = 0;  // unique for the tailer's life: how TailMark names the file
  int fd = -1;
  uint64_t dev = 0, ino = 0;
  bool identified = false;
  uint64_t base_fingerprint = 0;
  uint64_t generation = 0;
  FileIdentity identity;  // valid once identified
  std::string id_prefix;  // FileEventIdPrefix(host, identity), valid once identified
  uint64_t read_off = 0;  // end of the last line handed out
  uint64_t acked_off = 0;
  bool rotated = false;   // the path no longer leads here: read to the end, then release
  int64_t rotated_at_ms = 0;
  bool at_eof = false;
  bool seen = false;      // scratch flag for Poll
  // The multiline event being accumulated: lines read (read_off is past them) but not
  // emitted. Commit stops at pending_off while pending_lines > 0.
  std::string pending;
  uint64_t pending_off = 0;
  size_t pending_lines = 0;
  int64_t pending_last_ms = 0;  // when its last line was read

  uint64_t commit_off() const { return pending_lines > 0 ? pending_off : read_off; }
  bool idle() const { return !rotated && at_eof && pending_lines == 0 && acked_off == read_off; }

  ~TailedFile() {
    if (fd >= 0) ::close(fd);
  }
  std::string key() const { return KeyOf(dev, ino); }
};

FileTailer::FileTailer(std::vector<FileInputConfig> inputs, std::string host, CheckpointStore* checkpoints,
                       const Clock& clock, FileTailerOptions options)
    : configs_(std::move(inputs)),
      options_(options),
      host_(std::move(host)),
      checkpoints_(checkpoints),
      clock_(clock) {
  for (const FileInputConfig& c : configs_) {
    auto in = std::make_unique<Input>();
    in->config = &c;
    // The config schema already compiled these; a tailer built in code may still pass a
    // bad one, which then disables multiline for that input rather than failing later.
    const std::string& pattern = !c.multiline.start.empty() ? c.multiline.start : c.multiline.continuation;
    if (!pattern.empty()) {
      auto re = std::make_unique<RE2>(pattern, RE2::Quiet);
      if (!re->ok()) {
        ++stats_.errors;
        spdlog::error("tail: multiline pattern \"{}\" does not compile ({}); lines are sent one by one", pattern,
                      re->error());
      } else if (!c.multiline.start.empty()) {
        in->start = std::move(re);
      } else {
        in->continuation = std::move(re);
      }
    }
    inputs_.push_back(std::move(in));
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

FileTailer::~FileTailer() {
  files_.clear();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void FileTailer::OpenFile(const std::string& path, const Input* input, uint64_t dev, uint64_t ino) {
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
  f->serial = next_serial_++;
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
  f.id_prefix = FileEventIdPrefix(host_, f.identity);
  f.identified = true;
  return true;
}

void FileTailer::Poll() {
  WatchDirectories();
  const int64_t now = clock_.NowMs();
  for (auto& f : files_) f->seen = false;
  struct Candidate {
    std::string path;
    const Input* input;
    uint64_t dev, ino;
  };
  std::vector<Candidate> candidates;
  std::set<std::string> keys_seen;
  for (const auto& input : inputs_) {
    for (const std::string& pattern : input->config->paths) {
      for (const std::string& path : Glob(pattern)) {
        if (Excluded(*input->config, path)) continue;
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
        candidates.push_back({path, input.get(), static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
      }
    }
  }
  for (auto& f : files_) {
    if (!f->seen && !f->rotated) {
      f->rotated = true;
      f->rotated_at_ms = now;
      ++stats_.rotations;
      spdlog::info("tail: {} was rotated or deleted; reading it to its end", f->path);
    }
    struct stat st;
    if (::fstat(f->fd, &st) == 0) {
      uint64_t size = static_cast<uint64_t>(st.st_size);
      if (f->identified && size < f->read_off) {
        ++stats_.truncations;
        spdlog::info("tail: {} was truncated ({} < {}); reading from the start", f->path, size, f->read_off);
        if (f->pending_lines > 0) {
          spdlog::warn("tail: {}: a multiline event of {} lines at offset {} was lost to the truncation", f->path,
                       f->pending_lines, f->pending_off);
          f->pending.clear();
          f->pending_lines = 0;
        }
        // The next generation keeps the new contents' ids apart from the old ones at the
        // same offsets. With no complete first line yet the old fingerprint stays; the
        // generation alone keeps ids apart.
        ReadFingerprint(f->fd, &f->base_fingerprint);
        f->generation++;
        f->read_off = f->acked_off = 0;
        f->identity.fingerprint = Hash64().Add(f->base_fingerprint).Add(f->generation).Digest();
        f->id_prefix = FileEventIdPrefix(host_, f->identity);
      }
      if (size > f->read_off) f->at_eof = false;
    }
  }
  // A held file is bounded in time: past max_hold it is released even though unread.
  std::erase_if(files_, [&](const auto& f) {
    if (!f->rotated || now - f->rotated_at_ms < options_.max_hold.count()) return false;
    struct stat st;
    uint64_t size = ::fstat(f->fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : f->read_off;
    ++stats_.held_files_released_unfinished;
    spdlog::error("tail: {} (inode {}) was rotated or deleted {} s ago and is still not read to its end; releasing "
                  "it after max_hold with {} bytes unsent",
                  f->path, f->ino, (now - f->rotated_at_ms) / 1000, size > f->acked_off ? size - f->acked_off : 0);
    return true;
  });
  // New files within max_open_files: files never parked first, then those parked longest
  // ago, so that under the limit every file gets its turn.
  std::stable_sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
    auto pa = parked_.find(KeyOf(a.dev, a.ino)), pb = parked_.find(KeyOf(b.dev, b.ino));
    return (pa == parked_.end() ? 0 : pa->second) < (pb == parked_.end() ? 0 : pb->second);
  });
  size_t waiting = 0;
  for (const Candidate& c : candidates) {
    if (files_.size() >= options_.max_open_files && !CloseOneIdleFile()) {
      ++waiting;
      continue;
    }
    parked_.erase(KeyOf(c.dev, c.ino));
    OpenFile(c.path, c.input, c.dev, c.ino);
  }
  std::erase_if(parked_, [&](const auto& kv) { return keys_seen.count(kv.first) == 0; });

  uint64_t lag = 0, held_bytes = 0;
  size_t draining = 0;
  for (auto& f : files_) {
    struct stat st;
    if (::fstat(f->fd, &st) != 0) continue;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size > f->read_off) lag += size - f->read_off;
    if (f->rotated) {
      ++draining;
      held_bytes += size;
    }
  }
  stats_.open_files = files_.size();
  stats_.draining_files = draining;
  stats_.held_bytes = held_bytes;
  stats_.files_waiting = waiting;
  stats_.lag_bytes = lag;
}

// Closes the idle file open longest (read to its end, acknowledged, not held); its
// checkpoint is already saved, so reopening it later resumes where it stopped.
bool FileTailer::CloseOneIdleFile() {
  auto it = std::find_if(files_.begin(), files_.end(), [](const auto& f) { return f->idle() || (!f->identified && !f->rotated); });
  if (it == files_.end()) return false;
  spdlog::debug("tail: closing idle {} to stay within max_open_files ({})", (*it)->path, options_.max_open_files);
  parked_[(*it)->key()] = ++park_seq_;
  ++stats_.idle_files_closed;
  size_t index = static_cast<size_t>(it - files_.begin());
  files_.erase(it);
  if (next_file_ > index) --next_file_;
  return true;
}

// Adds an inotify watch on each directory the globs can match in (directories that do
// not exist yet are retried on the next Poll). A failure leaves polling in charge.
void FileTailer::WatchDirectories() {
  if (!options_.inotify || inotify_failed_) return;
  if (inotify_fd_ < 0) {
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) {
      inotify_failed_ = true;
      spdlog::warn("tail: inotify unavailable ({}); noticing new files and growth by polling only",
                   std::strerror(errno));
      return;
    }
  }
  std::set<std::string> dirs;
  for (const auto& input : inputs_) {
    for (const std::string& pattern : input->config->paths) {
      std::string dir = std::filesystem::path(pattern).parent_path().string();
      if (dir.empty()) dir = ".";
      if (HasGlobChars(dir)) {
        for (auto& d : Glob(dir)) dirs.insert(d);
      } else {
        dirs.insert(dir);
      }
    }
  }
  for (const std::string& dir : dirs) {
    if (watched_dirs_.count(dir) != 0) continue;
    int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kWatchMask);
    if (wd >= 0) {
      watched_dirs_[dir] = wd;
    } else if ((errno == ENOSPC || errno == ENOMEM) && !watch_limit_warned_) {
      watch_limit_warned_ = true;
      spdlog::warn("tail: cannot watch {} ({}; see fs.inotify.max_user_watches); polling it instead", dir,
                   std::strerror(errno));
    }
  }
  stats_.inotify_active = !watched_dirs_.empty();
}

bool FileTailer::WaitForChange(Millis timeout) {
  struct pollfd fds[2];
  nfds_t n = 0;
  if (wake_fd_ >= 0) fds[n++] = {wake_fd_, POLLIN, 0};
  const nfds_t inotify_index = n;
  if (inotify_fd_ >= 0) fds[n++] = {inotify_fd_, POLLIN, 0};
  int r = ::poll(n > 0 ? fds : nullptr, n, static_cast<int>(std::max<int64_t>(timeout.count(), 0)));
  if (r <= 0) return false;
  if (wake_fd_ >= 0 && (fds[0].revents & POLLIN) != 0) {
    uint64_t count;
    (void)!::read(wake_fd_, &count, sizeof count);
  }
  if (inotify_fd_ < 0 || inotify_index >= n || (fds[inotify_index].revents & POLLIN) == 0) return false;
  bool changed = false;
  alignas(struct inotify_event) char events[16 * 1024];
  for (;;) {
    ssize_t len = ::read(inotify_fd_, events, sizeof events);
    if (len <= 0) break;  // EAGAIN: drained
    for (char* p = events; p < events + len;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      changed = true;
      if ((ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        // The directory went away: watch it again when it is back.
        std::erase_if(watched_dirs_, [&](const auto& kv) { return kv.second == ev->wd; });
      }
      if ((ev->mask & IN_Q_OVERFLOW) != 0) spdlog::debug("tail: inotify queue overflowed; the next Poll rescans");
      p += sizeof(struct inotify_event) + ev->len;
    }
  }
  return changed;
}

void FileTailer::Interrupt() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void FileTailer::Emit(TailedFile& f, std::string_view raw, uint64_t offset, std::vector<Event>* out) {
  Event& e = out->emplace_back();
  // MakeFileEventId(host_, f.identity, offset), with the per-file part computed once.
  char digits[24];
  e.id.reserve(f.id_prefix.size() + 20);
  e.id.assign(f.id_prefix).append(digits, std::to_chars(digits, digits + sizeof digits, offset).ptr);
  e.time_ns = read_time_ns_;
  e.host = host_;
  e.source = f.path;
  e.type = f.input->config->type;
  e.offset = offset;
  e.raw.assign(raw);
}

// One line (or piece of a long line) at `offset`: an event of its own, or part of the
// pending multiline event. Emits at most one event.
void FileTailer::AddLine(TailedFile& f, std::string_view line, uint64_t offset, std::vector<Event>* out) {
  ++stats_.lines_read;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const Input& in = *f.input;
  if (!in.multiline()) {
    Emit(f, line, offset, out);
    return;
  }
  const MultilineConfig& ml = in.config->multiline;
  const int64_t now = clock_.NowMs();
  if (f.pending_lines > 0) {
    bool joins = in.start ? !RE2::PartialMatch(line, *in.start) : RE2::PartialMatch(line, *in.continuation);
    if (joins && (f.pending_lines >= ml.max_lines || f.pending.size() + 1 + line.size() > ml.max_bytes)) {
      ++stats_.multiline_splits;  // bounded: the rest starts a new event
      joins = false;
    }
    if (joins) {
      f.pending += '\n';
      f.pending.append(line);
      ++f.pending_lines;
      f.pending_last_ms = now;
      return;
    }
    FlushPending(f, out);
  }
  f.pending.assign(line);
  f.pending_off = offset;
  f.pending_lines = 1;
  f.pending_last_ms = now;
}

void FileTailer::FlushPending(TailedFile& f, std::vector<Event>* out) {
  if (f.pending_lines == 0) return;
  Emit(f, f.pending, f.pending_off, out);
  if (f.pending_lines > 1) ++stats_.multiline_events;
  f.pending.clear();
  f.pending_lines = 0;
}

size_t FileTailer::ReadFrom(TailedFile& f, size_t max_events, uint64_t max_bytes, std::vector<Event>* out,
                            uint64_t* bytes) {
  const size_t max_line = std::max<uint64_t>(f.input->config->max_line_bytes, 1);
  const size_t chunk = std::max<size_t>(256 * 1024, max_line + 1);
  if (buf_.size() < chunk) buf_.resize(chunk);
  const size_t start = out->size();
  auto produced = [&] { return out->size() - start; };
  // At the end of what is there: a pending multiline event goes out when the file will
  // not grow again (rotated) or has been quiet for flush_after.
  auto reached_end = [&] {
    f.at_eof = true;
    if (f.pending_lines > 0 && produced() < max_events &&
        (f.rotated || clock_.NowMs() - f.pending_last_ms >= f.input->config->multiline.flush_after.count())) {
      read_time_ns_ = clock_.NowNs();
      FlushPending(f, out);
    }
    return produced();
  };
  while (produced() < max_events && *bytes < max_bytes) {
    ssize_t n = ::pread(f.fd, buf_.data(), chunk, static_cast<off_t>(f.read_off));
    if (n < 0) {
      if (errno == EINTR) continue;
      ++stats_.errors;
      spdlog::warn("tail: read {}: {}", f.path, std::strerror(errno));
      return produced();
    }
    if (n == 0) return reached_end();
    read_time_ns_ = clock_.NowNs();  // every line of this read gets its time
    const char* begin = buf_.data();
    const char* end = begin + n;
    const char* p = begin;
    while (p < end && produced() < max_events && *bytes < max_bytes) {
      const char* line_start = p;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      size_t avail = nl ? static_cast<size_t>(nl - p) : static_cast<size_t>(end - p);
      const uint64_t offset = f.read_off + static_cast<uint64_t>(p - begin);
      if (avail > max_line) {
        // Longer than allowed: split off a piece of max_line bytes; the rest follows as
        // further pieces with their own offsets.
        AddLine(f, std::string_view(p, max_line), offset, out);
        ++stats_.lines_split;
        p += max_line;
      } else if (nl != nullptr) {
        AddLine(f, std::string_view(p, avail), offset, out);
        p = nl + 1;
      } else if (f.rotated && static_cast<size_t>(n) < chunk) {
        // The last line of a file that will not grow again has no newline: send it as is.
        if (avail > 0) AddLine(f, std::string_view(p, avail), offset, out);
        p = end;
      } else {
        break;  // a partial line: wait for the writer to finish it
      }
      *bytes += static_cast<uint64_t>(p - line_start);
    }
    uint64_t consumed = static_cast<uint64_t>(p - begin);
    stats_.bytes_read += consumed;
    f.read_off += consumed;
    if (consumed == 0) return reached_end();  // only a partial line is left
    if (static_cast<size_t>(n) < chunk && p == end) return reached_end();
  }
  return produced();
}

size_t FileTailer::ReadBatch(size_t max_events, uint64_t max_bytes, std::vector<Event>* out, TailMark* mark) {
  size_t produced = 0;
  uint64_t bytes = 0;
  if (mark != nullptr) mark->files.clear();
  if (files_.empty()) return 0;
  for (size_t i = 0; i < files_.size() && produced < max_events && bytes < max_bytes; ++i) {
    TailedFile& f = *files_[(next_file_ + i) % files_.size()];
    if (!f.identified && !Identify(f)) continue;
    // Give each file a fair share so one busy file cannot starve the rest.
    size_t share = std::max<size_t>(1, (max_events - produced) / (files_.size() - i));
    produced += ReadFrom(f, share, max_bytes, out, &bytes);
    if (mark != nullptr) mark->files.push_back({f.serial, f.generation, f.commit_off()});
  }
  next_file_ = (next_file_ + 1) % std::max<size_t>(files_.size(), 1);
  return produced;
}

Status FileTailer::Commit(bool save, const TailMark* mark) {
  int64_t now = clock_.NowMs();
  auto advance = [&](TailedFile& f, uint64_t offset) {
    f.acked_off = offset;
    checkpoints_->Put(f.key(), FileCheckpoint{f.path, f.base_fingerprint, f.generation, f.acked_off, now});
  };
  if (mark == nullptr) {
    for (auto& f : files_) {
      if (f->identified) advance(*f, f->commit_off());
    }
  } else {
    std::unordered_map<uint64_t, TailedFile*> by_serial;
    by_serial.reserve(files_.size());
    for (auto& f : files_) by_serial.emplace(f->serial, f.get());
    for (const TailMark::Entry& m : mark->files) {
      auto it = by_serial.find(m.serial);
      // A file already let go, or truncated since (a new generation), has nothing to advance.
      if (it == by_serial.end() || !it->second->identified || it->second->generation != m.generation) continue;
      if (m.offset > it->second->acked_off) advance(*it->second, m.offset);
    }
  }
  std::erase_if(files_, [](const auto& f) {
    if (f->rotated && f->at_eof && f->pending_lines == 0 && f->acked_off == f->read_off) {
      spdlog::info("tail: released {} after reading it to its end ({} bytes)", f->path, f->read_off);
      return true;
    }
    return false;
  });
  checkpoints_->PruneOlderThan(now - kCheckpointRetentionMs);
  return save ? checkpoints_->Save() : Status::Ok();
}

bool FileTailer::CaughtUp() const {
  return stats_.files_waiting == 0 && std::all_of(files_.begin(), files_.end(), [](const auto& f) {
           return (f->at_eof && f->pending_lines == 0) || !f->identified;
         });
}

}  // namespace logship
