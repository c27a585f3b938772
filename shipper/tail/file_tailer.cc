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
#include <cinttypes>
#include <cstdio>
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
constexpr size_t kAnchorBytes = 256;
constexpr int64_t kCheckpointRetentionMs = 7LL * 24 * 3600 * 1000;

std::string KeyOf(uint64_t dev, uint64_t ino) { return std::to_string(dev) + ":" + std::to_string(ino); }

bool ParseKey(const std::string& key, uint64_t* dev, uint64_t* ino) {
  return std::sscanf(key.c_str(), "%" SCNu64 ":%" SCNu64, dev, ino) == 2;
}

// The hash of the up to kAnchorBytes bytes before `offset`; false on a short read.
bool HashBefore(int fd, uint64_t offset, uint64_t* out) {
  char buf[kAnchorBytes];
  size_t len = static_cast<size_t>(std::min<uint64_t>(offset, kAnchorBytes));
  if (len > 0 && ::pread(fd, buf, len, static_cast<off_t>(offset - len)) != static_cast<ssize_t>(len)) return false;
  *out = Hash64().Add(std::string_view(buf, len)).Digest();
  return true;
}

const char* DescribeMode(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::vector<std::string> Glob(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  return out;
}

// The hash of the first line (or first kFingerprintBytes) and its length; false while
// the file has neither.
bool ReadFingerprint(int fd, uint64_t* out, size_t* length = nullptr) {
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
  if (length != nullptr) *length = len;
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

const char* TailErrorName(TailError kind) {
  switch (kind) {
    case TailError::kOpen: return "open";
    case TailError::kNotRegular: return "not_regular";
    case TailError::kRead: return "read";
    case TailError::kPattern: return "pattern";
    case TailError::kDanglingSymlink: return "dangling_symlink";
  }
  return "unknown";
}

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
  uint64_t first_line_len = 0;  // length of the line base_fingerprint hashes (0: not known)
  // The identity (fingerprint, generation, origin) was fixed or changed and the checkpoint
  // store has not yet been saved with it and an anchor past the first line. Until it has,
  // a restart could not tell that events sent under this identity were sent (a copy of
  // the file would then be read again under other ids): ReadBatch records the checkpoint
  // and asks for a save before the batch is published (TakeSaveRequest).
  bool identity_unsaved = false;
  uint64_t generation = 0;
  // Times reading restarted at 0 after a truncation. Not the generation: new contents
  // with a first line never seen before start again at generation 0, so the generation
  // cannot tell a batch of the old contents (still in flight) from one of the new.
  uint64_t restarts = 0;
  // A copytruncate copy carries its original's device and inode in its ids (0: its own).
  uint64_t origin_dev = 0, origin_ino = 0;
  FileIdentity identity;  // valid once identified
  std::string id_prefix;  // FileEventIdPrefix(host, identity), valid once identified
  uint64_t read_off = 0;  // end of the last line handed out
  uint64_t acked_off = 0;
  std::string tail;  // the (up to kAnchorBytes) bytes before read_off, as read
  std::vector<FileAnchor> anchors;  // see FileCheckpoint::anchors; RecordAnchor adds
  uint64_t size = 0;          // as of the last Poll
  int64_t mtime_ns = 0;       // as of the last Poll
  int64_t copy_wait_since_ms = 0;  // looks like a copy of an open file: waiting since
  bool read_failing = false;  // a read error was reported and not yet followed by a good read
  bool fresh = false;         // opened by the Poll in progress: not to be closed by it
  // Truncated with no complete first line yet: the fingerprint is taken before anything of
  // the new contents is read (RefreshFingerprint).
  bool fingerprint_pending = false;
  bool rotated = false;   // the path no longer leads here: read to the end, then release
  bool deleted = false;   // no name left (st_nlink 0, as of the last Poll)
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
  bool borrowed() const { return origin_ino != 0; }
  void SetIdentity(const std::string& host) {
    identity = FileIdentity{borrowed() ? origin_dev : dev, borrowed() ? origin_ino : ino,
                            Hash64().Add(base_fingerprint).Add(generation).Digest()};
    id_prefix = FileEventIdPrefix(host, identity);
  }
  FileAnchor CurrentAnchor() const { return {read_off, Hash64().Add(tail).Digest()}; }
  void RecordAnchor() {
    if (read_off > 0) AddAnchor(anchors, CurrentAnchor());
  }
  // Where delivery is (offset), and where reading is (the last anchor): everything sent
  // under this identity lies before it.
  FileCheckpoint Checkpoint(int64_t now_ms) const {
    FileCheckpoint cp{path, base_fingerprint, generation, acked_off, now_ms, anchors, origin_dev, origin_ino};
    if (read_off > 0) AddAnchor(cp.anchors, CurrentAnchor());
    return cp;
  }
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
        ++stats_.errors_by_kind[static_cast<size_t>(TailError::kPattern)];
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

// Logs and counts a failing path once; it stays "failing" while Poll keeps seeing the
// failure and is forgotten once it no longer does (so a new failure is reported again).
void FileTailer::Fail(const std::string& path, TailError kind, const std::string& what) {
  failing_this_poll_.insert(path);
  auto it = failing_.find(path);
  if (it != failing_.end() && it->second == kind) return;
  failing_[path] = kind;
  ++stats_.errors;
  ++stats_.errors_by_kind[static_cast<size_t>(kind)];
  spdlog::error("tail: {} {}; not followed until that changes (error kind {})", path, what, TailErrorName(kind));
}

FileTailer::TailedFile* FileTailer::OpenFile(const std::string& path, const Input* input, uint64_t dev,
                                             uint64_t ino) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno != ENOENT) Fail(path, TailError::kOpen, std::string("cannot be opened: ") + std::strerror(errno));
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_dev != dev || st.st_ino != ino || !S_ISREG(st.st_mode)) {
    ::close(fd);  // replaced between stat and open; the next Poll sees the new one
    return nullptr;
  }
  auto f = std::make_unique<TailedFile>();
  f->path = path;
  f->input = input;
  f->serial = next_serial_++;
  f->fd = fd;
  f->dev = dev;
  f->ino = ino;
  f->seen = true;
  f->fresh = true;
  f->size = static_cast<uint64_t>(st.st_size);
  f->mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  files_.push_back(std::move(f));
  return files_.back().get();
}

// Before a file is identified: its key's checkpoint describes other contents when the
// first line differs (the inode was reused, or the file was truncated and written again
// while we were not running) or the file is shorter than the offset (truncated). Such a
// checkpoint is retired, so that a copy of those contents finds it (ContinueCopy) and the
// file itself starts afresh. Idempotent.
void FileTailer::RetireStaleCheckpoint(TailedFile& f) {
  const FileCheckpoint* cp = checkpoints_->Find(f.key());
  if (cp == nullptr) return;
  uint64_t fp = 0;
  const bool have_fp = ReadFingerprint(f.fd, &fp);
  struct stat st;
  const uint64_t size = ::fstat(f.fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  if (have_fp && fp == cp->fingerprint && cp->offset <= size) return;  // ours: resume
  if ((!have_fp || fp == cp->fingerprint) && cp->offset > size) {
    ++stats_.truncations;  // truncated while we were not running
    spdlog::info("tail: {} is shorter than where delivery stopped ({} < {}): truncated (or its inode reused) while "
                 "logship was not running; reading it from the start",
                 f.path, size, cp->offset);
  } else if (!have_fp) {
    return;  // a partial first line that does not yet tell: decide once it is complete
  }
  checkpoints_->Retire(f.key(), *cp, clock_.NowMs());
  checkpoints_->Erase(f.key());
}

// The generation for a file starting afresh under its own identity: past every retired
// generation of the same key and first line, so that new contents never reuse old ids.
uint64_t FileTailer::NextOwnGeneration(const TailedFile& f) const {
  uint64_t next = 0;
  const std::string key = f.key();
  for (const RetiredCheckpoint& r : checkpoints_->retired()) {
    if (r.key == key && r.checkpoint.fingerprint == f.base_fingerprint && r.checkpoint.origin_inode == 0) {
      next = std::max(next, r.checkpoint.generation + 1);
    }
  }
  return next;
}

// A new file whose first line and anchor bytes match a retired checkpoint of another
// inode is a copy of those contents (copytruncate): it continues them with the same ids,
// from where their delivery stopped (or from the anchor it was matched at, when the copy
// ends before that: lines between are sent again, same ids). The anchor must lie past the
// first line, so that a new file merely starting with the same header line is not taken
// for a copy; a copy of contents read no further than their first line is a new file.
bool FileTailer::ContinueCopy(TailedFile& f, uint64_t fingerprint, size_t first_line, uint64_t size) {
  const auto& retired = checkpoints_->retired();
  const std::string key = f.key();
  for (size_t i = retired.size(); i-- > 0;) {
    const RetiredCheckpoint& r = retired[i];
    const FileCheckpoint& cp = r.checkpoint;
    if (cp.fingerprint != fingerprint || (r.key == key && cp.origin_inode == 0)) continue;
    const FileAnchor* match = nullptr;
    for (auto a = cp.anchors.rbegin(); a != cp.anchors.rend() && match == nullptr; ++a) {
      uint64_t hash = 0;
      if (a->offset <= first_line || a->offset > size) continue;
      if (HashBefore(f.fd, a->offset, &hash) && hash == a->hash) match = &*a;
    }
    if (match == nullptr) continue;
    uint64_t dev = cp.origin_device, ino = cp.origin_inode;
    if (ino == 0 && !ParseKey(r.key, &dev, &ino)) continue;
    f.origin_dev = dev;
    f.origin_ino = ino;
    f.generation = cp.generation;
    f.read_off = f.acked_off = std::min(cp.offset, match->offset);
    ++stats_.copies_recognised;
    spdlog::info("tail: {} is a copy of {} as it was before its truncation (copytruncate); reading it from offset {} "
                 "with the original's event ids ({} bytes the original's delivery had not reached)",
                 f.path, cp.path, f.read_off, size - f.read_off);
    // The entry stays: another copy of the same contents would carry the same ids too,
    // and NextOwnGeneration needs it.
    return true;
  }
  return false;
}

// True while `f` looks like a copy of an open file not yet truncated: same first line,
// the open file at least as long, the same bytes before f's end; or an open file with the
// same first line was truncated and no Poll has handled that yet. Reading it now would
// send the original's lines again under new ids; once the original is truncated its
// checkpoint is retired and ContinueCopy takes over. After kCopyWaitMs it is a new file
// (a copy nobody truncates, e.g. `cp app.log backup.log`, is then read in full).
bool FileTailer::LooksLikeCopyInProgress(TailedFile& f, uint64_t fingerprint, size_t first_line, uint64_t size) {
  const int64_t now = clock_.NowMs();
  for (const auto& o : files_) {
    if (o.get() == &f || !o->identified || o->rotated || o->base_fingerprint != fingerprint) continue;
    struct stat st;
    if (::fstat(o->fd, &st) != 0) continue;
    // Truncated a moment ago, not yet noticed by a Poll: the next one retires its
    // checkpoint, and then the copy is recognised.
    auto truncated = [&] {
      struct stat now_st;
      if (::fstat(o->fd, &now_st) != 0) return false;
      uint64_t o_fp = 0;
      return static_cast<uint64_t>(now_st.st_size) < o->read_off ||
             (ReadFingerprint(o->fd, &o_fp) && o_fp != o->base_fingerprint);
    };
    const uint64_t o_size = static_cast<uint64_t>(st.st_size);
    if (!truncated()) {
      if (o_size < size) {
        spdlog::debug("tail: {} ({} bytes) is not a copy of {}: that is shorter ({} bytes, read to {})", f.path, size,
                      o->path, o_size, o->read_off);
        continue;
      }
      if (size > first_line) {
        uint64_t a = 0, b = 0;
        // Asked again after hashing: copytruncate truncates the original right after the
        // copy, possibly while it was being hashed, and then the bytes differ because the
        // original is gone, not because this is no copy (the rotation torture test saw a
        // whole copy sent again under new ids).
        if ((!HashBefore(f.fd, size, &a) || !HashBefore(o->fd, size, &b) || a != b) && !truncated()) {
          spdlog::debug("tail: {} ({} bytes) is not a copy of {}: the bytes before its end differ", f.path, size,
                        o->path);
          continue;
        }
      }
    }
    if (f.copy_wait_since_ms == 0) {
      f.copy_wait_since_ms = now;
      spdlog::info("tail: {} looks like a copy of {}; waiting up to {} s for the original to be truncated "
                   "(copytruncate) before reading it",
                   f.path, o->path, kCopyWaitMs / 1000);
    }
    if (now - f.copy_wait_since_ms < kCopyWaitMs) return true;
    spdlog::warn("tail: {} looks like a copy of {}, which was not truncated within {} s; reading it as a file of "
                 "its own (its lines are sent again, under new ids)",
                 f.path, o->path, kCopyWaitMs / 1000);
    return false;
  }
  return false;
}

// Reads the first line (or first kFingerprintBytes) to fix the file's identity and looks
// up where delivery stopped. A file without a complete first line yet stays unidentified,
// and so does a probable copy waiting for its original's truncation.
bool FileTailer::Identify(TailedFile& f) {
  uint64_t fp = 0;
  size_t first_line = 0;
  if (!ReadFingerprint(f.fd, &fp, &first_line)) return false;
  RetireStaleCheckpoint(f);
  struct stat st;
  const uint64_t size = ::fstat(f.fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  f.base_fingerprint = fp;
  f.generation = 0;
  f.origin_dev = f.origin_ino = 0;
  f.read_off = f.acked_off = 0;
  f.anchors.clear();
  f.first_line_len = first_line;
  f.identity_unsaved = true;
  if (const FileCheckpoint* cp = checkpoints_->Find(f.key())) {
    // RetireStaleCheckpoint left it: same first line, offset within the file.
    f.generation = cp->generation;
    f.origin_dev = cp->origin_device;
    f.origin_ino = cp->origin_inode;
    f.read_off = f.acked_off = cp->offset;
    f.anchors = cp->anchors;
    // Loaded from the store: saved already, unless it was recorded before anything past
    // the first line was read.
    f.identity_unsaved = !std::any_of(f.anchors.begin(), f.anchors.end(),
                                      [&](const FileAnchor& a) { return a.offset > first_line; });
  } else if (!ContinueCopy(f, fp, first_line, size)) {
    if (LooksLikeCopyInProgress(f, fp, first_line, size)) return false;
    f.generation = NextOwnGeneration(f);
  }
  f.copy_wait_since_ms = 0;
  f.tail.clear();
  if (f.read_off > 0) {
    // The anchor bytes before the resume offset (the file was checked to be the same).
    char buf[kAnchorBytes];
    size_t len = static_cast<size_t>(std::min<uint64_t>(f.read_off, kAnchorBytes));
    ssize_t n = ::pread(f.fd, buf, len, static_cast<off_t>(f.read_off - len));
    if (n > 0) f.tail.assign(buf, static_cast<size_t>(n));
  }
  f.SetIdentity(host_);
  f.identified = true;
  spdlog::info("tail: following {} (inode {}, from offset {}, event ids {}*)", f.path, f.ino, f.read_off, f.id_prefix);
  return true;
}

// The file shrank below what was read, or its first line changed: it was truncated and
// perhaps written again. Its old contents' checkpoint is retired (a copytruncate copy
// continues it) and reading restarts at 0 under a new identity.
void FileTailer::RestartAfterTruncation(TailedFile& f) {
  ++stats_.truncations;
  spdlog::info("tail: {} was truncated (at offset {}); reading it from the start", f.path, f.read_off);
  if (f.pending_lines > 0) {
    spdlog::warn("tail: {}: a multiline event of {} lines at offset {} was lost to the truncation", f.path,
                 f.pending_lines, f.pending_off);
    f.pending.clear();
    f.pending_lines = 0;
  }
  const int64_t now = clock_.NowMs();
  checkpoints_->Retire(f.key(), f.Checkpoint(now), now);
  // With no complete first line yet the old fingerprint stays until there is one
  // (RefreshFingerprint, before any line is read); the generation alone keeps the new
  // contents' ids apart from the old ones meanwhile.
  size_t first_line = 0;
  f.fingerprint_pending = !ReadFingerprint(f.fd, &f.base_fingerprint, &first_line);
  f.first_line_len = first_line;
  f.identity_unsaved = true;
  // New contents are the file's own (a copy's too). The generation follows from the
  // retired checkpoints alone, so that a restart computes the same one.
  f.origin_dev = f.origin_ino = 0;
  f.generation = NextOwnGeneration(f);
  f.read_off = f.acked_off = 0;
  ++f.restarts;
  f.tail.clear();
  f.anchors.clear();
  f.SetIdentity(host_);
  checkpoints_->Put(f.key(), f.Checkpoint(now));
  spdlog::debug("tail: {} now has event ids {}*", f.path, f.id_prefix);
}

// After a truncation that left no complete first line: takes the new contents' first
// line as the fingerprint once it is complete. False while it is not.
bool FileTailer::RefreshFingerprint(TailedFile& f) {
  size_t first_line = 0;
  if (!ReadFingerprint(f.fd, &f.base_fingerprint, &first_line)) return false;
  f.first_line_len = first_line;
  f.identity_unsaved = true;
  f.fingerprint_pending = false;
  f.generation = NextOwnGeneration(f);
  f.SetIdentity(host_);
  spdlog::debug("tail: {} has a new first line; event ids {}*", f.path, f.id_prefix);
  return true;
}

void FileTailer::Poll() {
  WatchDirectories();
  const int64_t now = clock_.NowMs();
  failing_this_poll_.clear();
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
        if (::stat(path.c_str(), &st) != 0) {
          const int err = errno;
          struct stat lst;
          if (err == ENOENT && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
            // Followed once its target exists (a file appearing late); until then, reported.
            Fail(path, TailError::kDanglingSymlink, "is a symbolic link to a file that does not exist");
          } else if (err != ENOENT) {  // ENOENT: gone since the glob
            Fail(path, TailError::kOpen, std::string("cannot be examined: ") + std::strerror(err));
          }
          continue;
        }
        if (!S_ISREG(st.st_mode)) {
          // Never opened: opening a FIFO blocks, reading a device never ends.
          Fail(path, TailError::kNotRegular, std::string("is ") + DescribeMode(st.st_mode) + ", not a regular file");
          continue;
        }
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
    if (::fstat(f->fd, &st) != 0) continue;
    f->deleted = st.st_nlink == 0;
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    const int64_t mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
    if (f->identified) {
      bool truncated = size < f->read_off;
      if (!truncated && !f->fingerprint_pending && (size != f->size || mtime_ns != f->mtime_ns)) {
        // Truncated and written past the old offset again between two Polls: the first
        // line tells (unless the new one is the same).
        uint64_t fp = 0;
        truncated = ReadFingerprint(f->fd, &fp) && fp != f->base_fingerprint;
      }
      if (truncated) RestartAfterTruncation(*f);
    }
    f->size = size;
    f->mtime_ns = mtime_ns;
    if (size > f->read_off) f->at_eof = false;
  }
  std::erase_if(files_, [&](const auto& f) {
    if (!f->rotated) return false;
    // A held file read to its end and acknowledged is done (Commit does the same; this
    // covers a quiet tail loop that has no batch to commit).
    if (f->at_eof && f->pending_lines == 0 && f->acked_off == f->read_off && f->size <= f->read_off) {
      spdlog::info("tail: released {} after reading it to its end ({} bytes)", f->path, f->read_off);
      return true;
    }
    // A held file is bounded in time: past max_hold it is released even though unread.
    if (now - f->rotated_at_ms < options_.max_hold.count()) return false;
    ++stats_.held_files_released_unfinished;
    spdlog::error("tail: {} (inode {}) was rotated or deleted {} s ago and is still not read to its end; releasing "
                  "it after max_hold with {} bytes unsent",
                  f->path, f->ino, (now - f->rotated_at_ms) / 1000, f->size > f->acked_off ? f->size - f->acked_off : 0);
    return true;
  });
  ReleaseHeldOverDiskBound(now);
  // New files within max_open_files: files never parked first, then those parked longest
  // ago, so that under the limit every file gets its turn.
  std::stable_sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
    auto pa = parked_.find(KeyOf(a.dev, a.ino)), pb = parked_.find(KeyOf(b.dev, b.ino));
    return (pa == parked_.end() ? 0 : pa->second) < (pb == parked_.end() ? 0 : pb->second);
  });
  size_t waiting = 0;
  std::vector<TailedFile*> opened;
  for (const Candidate& c : candidates) {
    if (files_.size() >= options_.max_open_files && !CloseOneIdleFile()) {
      ++waiting;
      continue;
    }
    parked_.erase(KeyOf(c.dev, c.ino));
    if (TailedFile* f = OpenFile(c.path, c.input, c.dev, c.ino)) opened.push_back(f);
  }
  std::erase_if(parked_, [&](const auto& kv) { return keys_seen.count(kv.first) == 0; });
  // Every stale checkpoint of the files just opened is retired before any of them is
  // identified: after a restart, a copytruncate copy may be globbed before its original.
  for (TailedFile* f : opened) RetireStaleCheckpoint(*f);
  for (TailedFile* f : opened) {
    f->fresh = false;
    if (!Identify(*f) && f->copy_wait_since_ms == 0) {
      spdlog::info("tail: following {} (inode {}) once it has a complete first line", f->path, f->ino);
    }
  }
  std::erase_if(failing_, [&](const auto& kv) { return failing_this_poll_.count(kv.first) == 0; });

  uint64_t lag = 0, held_bytes = 0, held_deleted_bytes = 0;
  size_t draining = 0;
  for (auto& f : files_) {
    struct stat st;
    if (::fstat(f->fd, &st) == 0) f->size = static_cast<uint64_t>(st.st_size);
    if (f->size > f->acked_off) lag += f->size - f->acked_off;
    if (f->rotated) {
      ++draining;
      held_bytes += f->size;
      if (f->deleted) held_deleted_bytes += f->size;
    }
  }
  stats_.open_files = files_.size();
  stats_.draining_files = draining;
  stats_.held_bytes = held_bytes;
  stats_.held_deleted_bytes = held_deleted_bytes;
  stats_.files_waiting = waiting;
  stats_.files_in_error = failing_.size();
  stats_.lag_bytes = lag;
}

std::vector<TailedFileInfo> FileTailer::Files() const {
  std::vector<TailedFileInfo> out;
  out.reserve(files_.size());
  for (const auto& f : files_) out.push_back({f->key(), f->path, f->ino, f->size, f->acked_off, f->rotated});
  return out;
}

// Held files that were deleted keep their disk space in use until they are closed: past
// max_held_bytes of them, the longest held are released unfinished (like max_hold).
void FileTailer::ReleaseHeldOverDiskBound(int64_t now) {
  if (options_.max_held_bytes == 0) return;
  uint64_t total = 0;
  for (const auto& f : files_) {
    if (f->rotated && f->deleted) total += f->size;
  }
  while (total > options_.max_held_bytes) {
    auto oldest = files_.end();
    for (auto it = files_.begin(); it != files_.end(); ++it) {
      if ((*it)->rotated && (*it)->deleted && (oldest == files_.end() || (*it)->rotated_at_ms < (*oldest)->rotated_at_ms)) {
        oldest = it;
      }
    }
    if (oldest == files_.end()) return;
    TailedFile& f = **oldest;
    ++stats_.held_files_released_unfinished;
    spdlog::error("tail: {} (inode {}) was deleted {} s ago and is still not read to its end; releasing it with {} "
                  "bytes unsent, since deleted files held open use {} bytes of disk, more than max_held_bytes ({})",
                  f.path, f.ino, (now - f.rotated_at_ms) / 1000, f.size > f.acked_off ? f.size - f.acked_off : 0,
                  total, options_.max_held_bytes);
    total -= f.size;
    const size_t index = static_cast<size_t>(oldest - files_.begin());
    files_.erase(oldest);
    if (next_file_ > index) --next_file_;
  }
}

// Closes the idle file open longest (read to its end, acknowledged, not held); its
// checkpoint is already saved, so reopening it later resumes where it stopped.
bool FileTailer::CloseOneIdleFile() {
  auto it = std::find_if(files_.begin(), files_.end(), [](const auto& f) {
    return !f->fresh && (f->idle() || (!f->identified && !f->rotated));
  });
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

namespace {

// What a recycled event holds on the heap (strings within the small-string buffer count
// their capacity too: a slight overestimate).
size_t HeldBytes(const Event& e) { return e.raw.capacity() + e.id.capacity() + e.source.capacity(); }

}  // namespace

void FileTailer::Emit(TailedFile& f, std::string_view raw, uint64_t offset, std::vector<Event>* out) {
  // A recycled event's strings are assigned into: no allocation once they have grown.
  if (spare_.empty()) {
    out->emplace_back();
  } else {
    spare_bytes_ -= std::min(spare_bytes_, HeldBytes(spare_.back()));
    out->push_back(std::move(spare_.back()));
    spare_.pop_back();
  }
  Event& e = out->back();
  // MakeFileEventId(host_, f.identity, offset), with the per-file part computed once.
  char digits[24];
  e.id.assign(f.id_prefix).append(digits, std::to_chars(digits, digits + sizeof digits, offset).ptr);
  e.time_ns = read_time_ns_;
  e.host = host_;
  e.source = f.path;
  e.type = f.input->config->type;
  e.offset = offset;
  // A buffer much larger than the line is given up, so that what a batch holds stays
  // within twice what it carries (batch_max_bytes) plus kSlackBytes a line, whatever lines
  // the buffer carried before. (Within that, lines of varying length reuse buffers: a
  // tighter rule cost 5% of the tail loop's CPU on nginx lines, bench/shipper_kafka.)
  if (e.raw.capacity() > 2 * raw.size() + kSlackBytes) {
    e.raw.clear();
    e.raw.shrink_to_fit();  // (assigning a short temporary would keep the big buffer)
  }
  e.raw.assign(raw);
  e.syslog.reset();
}

void FileTailer::Recycle(std::vector<Event>* events) {
  if (spare_.empty()) {
    spare_.swap(*events);  // the usual case, a whole batch: no event moves
    spare_bytes_ = 0;
    size_t keep = 0;
    for (; keep < spare_.size() && keep < kMaxSpareEvents; ++keep) {
      const size_t held = HeldBytes(spare_[keep]);
      if (spare_bytes_ + held > kMaxSpareBytes) break;
      spare_bytes_ += held;
    }
    spare_.resize(keep);
  } else {
    for (Event& e : *events) {
      const size_t held = HeldBytes(e);
      if (spare_.size() >= kMaxSpareEvents || spare_bytes_ + held > kMaxSpareBytes) break;
      spare_bytes_ += held;
      spare_.push_back(std::move(e));
    }
  }
  events->clear();
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
    // The rest of the previous read of this file, when it holds a complete line: a batch
    // ends mid-chunk, and reading that chunk again cost as much as the lines it carried.
    // Those bytes passed the truncation check when they were read (below); a restart after
    // a truncation since then voids them.
    const char* begin = buf_.data();
    ssize_t n = 0;
    const bool cached =
        buf_serial_ == f.serial && buf_restarts_ == f.restarts && f.read_off >= buf_off_ &&
        f.read_off < buf_off_ + buf_len_ &&
        std::memchr(buf_.data() + (f.read_off - buf_off_), '\n', buf_off_ + buf_len_ - f.read_off) != nullptr;
    if (cached) {
      begin += f.read_off - buf_off_;
      n = static_cast<ssize_t>(buf_off_ + buf_len_ - f.read_off);
    } else {
      buf_serial_ = 0;
      n = ::pread(f.fd, buf_.data(), chunk, static_cast<off_t>(f.read_off));
      if (n > 0) {
        buf_serial_ = f.serial;
        buf_restarts_ = f.restarts;
        buf_off_ = f.read_off;
        buf_len_ = static_cast<size_t>(n);
      }
    }
    // A read that returned less than asked reached the end of the file (as of the read);
    // the rest of an earlier read says nothing about that.
    const bool short_read = !cached && n >= 0 && static_cast<size_t>(n) < chunk;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!f.read_failing) {
        f.read_failing = true;
        ++stats_.errors;
        ++stats_.errors_by_kind[static_cast<size_t>(TailError::kRead)];
        spdlog::error("tail: cannot read {} at offset {}: {}; retrying (error kind read)", f.path, f.read_off,
                      std::strerror(errno));
      }
      return produced();
    }
    f.read_failing = false;
    if (!cached && n > 0 && !f.fingerprint_pending) {
      // Truncated (and written again past read_off) since the last Poll? Then these bytes
      // are not the continuation of what was read: the first line tells, checked after the
      // read so that bytes read before a truncation are not rejected.
      uint64_t fp = 0;
      if (!ReadFingerprint(f.fd, &fp)) return produced();  // truncated; wait for a first line
      if (fp != f.base_fingerprint) {
        RestartAfterTruncation(f);
        if (f.fingerprint_pending) return produced();
        continue;
      }
    }
    if (n == 0) return reached_end();
    read_time_ns_ = clock_.NowNs();  // every line of this read gets its time
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
      } else if (f.rotated && short_read) {
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
    if (consumed >= kAnchorBytes) {
      f.tail.assign(p - kAnchorBytes, kAnchorBytes);
    } else if (consumed > 0) {
      f.tail.append(begin, consumed);
      if (f.tail.size() > kAnchorBytes) f.tail.erase(0, f.tail.size() - kAnchorBytes);
    }
    if (consumed == 0) return reached_end();  // only a partial line is left
    if (short_read && p == end) return reached_end();
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
    if (f.fingerprint_pending && !RefreshFingerprint(f)) continue;
    // Give each file a fair share so one busy file cannot starve the rest.
    size_t share = std::max<size_t>(1, (max_events - produced) / (files_.size() - i));
    const uint64_t before = f.read_off;
    const size_t got = ReadFrom(f, share, max_bytes, out, &bytes);
    produced += got;
    if (f.identity_unsaved && (got > 0 || f.read_off != before)) {
      // The first events under this identity: its checkpoint (acknowledged offset as it
      // is, anchored where reading stands) must be on disk before they are published.
      checkpoints_->Put(f.key(), f.Checkpoint(clock_.NowMs()));
      save_requested_ = true;
      f.identity_unsaved = f.read_off <= f.first_line_len;
    }
    if (mark != nullptr) mark->files.push_back({f.serial, f.restarts, f.commit_off()});
  }
  next_file_ = (next_file_ + 1) % std::max<size_t>(files_.size(), 1);
  return produced;
}

Status FileTailer::Commit(bool save, const TailMark* mark) {
  int64_t now = clock_.NowMs();
  auto advance = [&](TailedFile& f, uint64_t offset) {
    f.acked_off = offset;
    f.RecordAnchor();
    checkpoints_->Put(f.key(), f.Checkpoint(now));
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
      // A file already let go, or restarted after a truncation since, has nothing to advance.
      if (it == by_serial.end() || !it->second->identified || it->second->restarts != m.restarts) continue;
      if (m.offset > it->second->acked_off) advance(*it->second, m.offset);
    }
    // Every other file keeps its acknowledged offset, but its checkpoint is recorded too:
    // a file identified since the last commit (a copytruncate copy carrying its
    // original's ids, a new file with nothing read yet) must be known after a crash, or a
    // restart would read it again under other ids.
    for (auto& f : files_) {
      if (f->identified) checkpoints_->Put(f->key(), f->Checkpoint(now));
    }
  }
  std::erase_if(files_, [](const auto& f) {
    if (f->rotated && f->at_eof && f->pending_lines == 0 && f->acked_off == f->read_off) {
      spdlog::info("tail: released {} after reading it to its end ({} bytes)", f->path, f->read_off);
      return true;
    }
    return false;
  });
  checkpoints_->PruneOlderThan(now - kCheckpointRetentionMs, now);
  return save ? checkpoints_->Save() : Status::Ok();
}

bool FileTailer::CaughtUp() const {
  return stats_.files_waiting == 0 && std::all_of(files_.begin(), files_.end(), [](const auto& f) {
           return (f->at_eof && f->pending_lines == 0) || !f->identified;
         });
}

}  // namespace logship
