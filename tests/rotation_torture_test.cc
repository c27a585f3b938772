// Rotation torture: the real `logship shipper` against a real queue while a writer appends
// in full-speed bursts and its file is rotated every kRotateEvery lines, alternating
// rename+create and copytruncate the way logrotate does them, with inode reuse provoked
// (the oldest rotated file is deleted right before the next file is created, once the
// shipper let go of it; ext4 hands the freed inode to the next file). The shipper is
// killed with SIGKILL at random moments and in the middle of rotations, and the queue is
// restarted once. Every line written must arrive; a line may arrive more than once only
// under one event id (what the sink deduplicates).
//
// What logrotate semantics allow to be lost, and so what this test allows:
//  - copytruncate: lines the writer appended after the copy was made and before the
//    original was truncated exist in neither file. The test records that window exactly
//    (between the copy's last complete line and the first line of the truncated file);
//    such a line may be missing (it arrives only if the shipper had read it from the
//    original before the truncation). The copy may also end in the middle of a line being
//    written (a fragment of a window line). Everything else must arrive: lines the
//    shipper had not yet read from the original are read from the copy (docs/shipper.md).
//  - a rotated file deleted while no shipper holds it open is gone: like an operator who
//    keeps enough rotations, the test deletes the oldest rotated file only once all its
//    lines arrived, or while the running shipper holds it open (it then drains it, and the
//    test does not kill the shipper until those lines arrived).
//
// The Redis variant restarts redis-server (append-only file, fsync always) once. The Kafka
// variant takes the broker down and up once (librdkafka's mock cluster: connections
// dropped and refused, log kept) and restarts the mock's process once: the mock can keep
// neither its port nor its log across processes, so that restart happens while the
// shipper is killed, after every message of the old process was read, and the shipper
// comes back configured with the new address. Kafka's contents are read with kcat -C -e.
//
// The writer pauses at each rotation point until the test starts that rotation (it goes on
// during the rotation), so every rotation happens however slow the test loop is on a loaded
// machine. A fatal failure ends the run at once (writer stopped, children killed).
//
// TORTURE_LINES, TORTURE_SEED override the volume and the random seed (printed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "tests/support/kafka_broker.h"
#include "tests/support/redis_server.h"
#include "tests/support/shipper_harness.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

const uint64_t kLines = EnvOr("TORTURE_LINES", 150'000);
const uint64_t kRotateEvery = std::max<uint64_t>(kLines / 16, 1000);
constexpr int kKills = 6;

// Line `seq` (without its newline): deterministic, so a received line is checked byte for
// byte; 30 to 190 bytes.
std::string LineFor(uint64_t seq) {
  char head[32];
  std::snprintf(head, sizeof head, "seq=%010llu ", static_cast<unsigned long long>(seq));
  std::string s = head;
  size_t n = 10 + (seq * 7919) % 160;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>('a' + (seq + i) % 26);
  s += " end";
  return s;
}

std::optional<uint64_t> SeqOf(std::string_view raw) {
  if (raw.size() < 15 || raw.substr(0, 4) != "seq=" || raw[14] != ' ') return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 4; i < 14; ++i) {
    if (raw[i] < '0' || raw[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(raw[i] - '0');
  }
  return v;
}

// The seqs of the complete lines of a file, in order.
std::vector<uint64_t> SeqsIn(const std::string& path) {
  std::vector<uint64_t> out;
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (auto s = SeqOf(std::string_view(text).substr(start, nl - start))) out.push_back(*s);
  }
  return out;
}

std::pair<uint64_t, uint64_t> DevIno(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

// Appends lines 0..total-1 to `path` with O_APPEND, one write(2) per line, in bursts of
// 200-2,000 lines at full speed separated by pauses of 20-200 ms. Reopen() is the
// application's reaction to logrotate's postrotate signal after rename+create.
class Writer {
 public:
  Writer(std::string path, uint64_t total, uint32_t seed) : path_(std::move(path)), total_(total), rng_(seed) {}
  ~Writer() { Join(); }

  void Start() { thread_ = std::thread([this] { Run(); }); }
  // Ends the run early (a failed test): the thread returns after its current line.
  void Stop() {
    stop_.store(true);
    Join();
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  uint64_t written() const { return written_.load(); }
  // The writer pauses before line `limit` until this is raised: the test raises it when a
  // rotation begins (so the writer goes on during the rotation), and so gets every
  // rotation even when it is itself slow (a loaded machine, a long wait for delivery).
  void AllowUpTo(uint64_t limit) { limit_.store(limit); }
  bool done() const { return done_.load(); }
  // Paused at the limit AllowUpTo set.
  bool at_limit() const { return written_.load() >= limit_.load(); }
  // Returns once the writer writes to a freshly opened `path` (at once when it is done).
  void Reopen() {
    std::unique_lock<std::mutex> lock(mu_);
    reopen_ = true;
    cv_.wait(lock, [&] { return !reopen_ || done_.load(); });
  }

 private:
  void Run() {
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    uint64_t seq = 0;
    std::uniform_int_distribution<int> burst(200, 2000), pause_ms(20, 200);
    while (seq < total_ && !stop_.load()) {
      int n = burst(rng_);
      for (int i = 0; i < n && seq < total_ && !stop_.load(); ++i) {
        MaybeReopen(&fd);
        while (seq >= limit_.load() && !stop_.load()) {
          std::this_thread::sleep_for(milliseconds(2));
          MaybeReopen(&fd);
        }
        std::string line = LineFor(seq) + "\n";
        ssize_t w = ::write(fd, line.data(), line.size());
        if (w != static_cast<ssize_t>(line.size())) {
          ADD_FAILURE() << "writer: write failed: " << std::strerror(errno);
          break;
        }
        written_.store(++seq);
      }
      auto until = Clock::now() + milliseconds(pause_ms(rng_));
      while (Clock::now() < until && !stop_.load()) {
        MaybeReopen(&fd);
        std::this_thread::sleep_for(milliseconds(2));
      }
    }
    ::close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    done_.store(true);
    cv_.notify_all();
  }
  void MaybeReopen(int* fd) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!reopen_) return;
    ::close(*fd);
    *fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    reopen_ = false;
    cv_.notify_all();
  }

  const std::string path_;
  const uint64_t total_;
  std::mt19937 rng_;
  std::thread thread_;
  std::atomic<uint64_t> written_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> limit_{UINT64_MAX};
  std::mutex mu_;
  std::condition_variable cv_;
  bool reopen_ = false;  // GUARDED_BY(mu_)
};

// What arrived for one line.
struct Arrival {
  uint32_t copies = 0;
  bool full = false;              // at least one copy is the whole line
  std::set<std::string> ids;      // distinct event ids it arrived under
};

class RotationTortureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = static_cast<uint32_t>(EnvOr("TORTURE_SEED", static_cast<uint64_t>(std::random_device{}())));
    rng_.seed(seed_);
    std::cout << "rotation torture: seed " << seed_ << " (TORTURE_SEED), " << kLines << " lines, rotation every "
              << kRotateEvery << std::endl;
    dir_ = testing::MakeTempDir("logship-torture");
    ASSERT_FALSE(dir_.empty());
    fs::create_directories(dir_ + "/logs");
    shipper_ = std::make_unique<testing::ShipperProcess>(dir_);
  }
  void TearDown() override {
    if (writer_) writer_->Stop();
    writer_.reset();
    if (shipper_) shipper_->Kill();
    if (!HasFailure()) fs::remove_all(dir_);
    else std::cout << "kept " << dir_ << " for inspection" << std::endl;
  }

  std::string Log(const std::string& name = "app.log") const { return dir_ + "/logs/" + name; }

  void WriteShipperConfig(const std::string& queue_yaml) {
    shipper_->WriteConfig("host: torture-host\n"
                          "data_dir: " + dir_ + "/data\n"
                          "log: {level: debug}\n"
                          "metrics: {listen: ''}\n" +
                          queue_yaml +
                          "shipper:\n"
                          "  files:\n"
                          "    - paths: [" + dir_ + "/logs/app.log*]\n"
                          "      type: torture\n"
                          "  host_metrics: {enabled: false}\n"
                          "  poll_interval: 20ms\n");
  }

  // Reads what is new in the queue (at most every 150 ms unless `force`); outages of the
  // queue are expected and ignored.
  void Collect(bool force = false) {
    if (!force && Clock::now() - last_collect_ < milliseconds(150)) return;
    last_collect_ = Clock::now();
    Status s = collector_->Collect([&](const std::string& raw, const std::string& id) {
      auto seq = SeqOf(raw);
      if (!seq && raw.size() < 15 && std::string_view("seq=0000000000").starts_with(raw.substr(0, 5))) {
        ++unattributed_fragments_;  // too short to carry its seq (a copy cut in a line's first bytes)
        return;
      }
      if (!seq || *seq >= kLines) {
        bad_lines_.push_back(raw.substr(0, 200));
        return;
      }
      Arrival& a = arrived_[*seq];
      ++a.copies;
      a.ids.insert(id);
      const std::string want = LineFor(*seq);
      if (raw == want) {
        a.full = true;
      } else if (want.rfind(raw, 0) == 0) {
        fragments_.insert(*seq);  // a prefix of the line: see copytruncate above
      } else {
        bad_lines_.push_back(raw.substr(0, 200));
      }
    });
    if (s.code() == StatusCode::kPermanent) {
      ADD_FAILURE() << "collector: " << s.ToString();
      collector_failed_ = true;
    }
  }

  bool AllArrived(const std::vector<uint64_t>& seqs) const {
    for (uint64_t s : seqs) {
      auto it = arrived_.find(s);
      if (it == arrived_.end() || !it->second.full) return false;
    }
    return true;
  }

  // Collects until `seqs` all arrived, at most `timeout`.
  bool WaitArrived(const std::vector<uint64_t>& seqs, seconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      Collect(/*force=*/true);
      if (AllArrived(seqs)) return true;
      if (Clock::now() > deadline || collector_failed_) return false;
      if (shipper_->running() && !shipper_->Alive()) {
        ADD_FAILURE() << "the shipper exited on its own\n" << shipper_->LogTail();
        return false;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

  void StartShipper() {
    Status s = shipper_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ++starts_;
  }

  // SIGKILL. Lines of a deleted file only the shipper still held must have arrived first:
  // killing it earlier destroys them with their last open descriptor, on any tailer.
  void KillShipper() {
    ASSERT_TRUE(WaitArrived(must_arrive_before_kill_, seconds(60)))
        << "a deleted file held by the shipper was not drained\n" << shipper_->LogTail();
    must_arrive_before_kill_.clear();
    ASSERT_EQ(shipper_->Kill(), 128 + SIGKILL) << "the shipper had exited on its own\n" << shipper_->LogTail();
    ++kills_;
  }

  // Renames app.log.N -> app.log.N+1 (highest first), deleting the oldest when allowed.
  // Returns the (device, inode) freed by a deletion, {0,0} when nothing was deleted.
  std::pair<uint64_t, uint64_t> ShiftRotated() {
    int count = 0;
    while (fs::exists(Log("app.log." + std::to_string(count + 1)))) ++count;
    std::pair<uint64_t, uint64_t> freed{0, 0};
    if (count >= 2) {
      const std::string oldest = Log("app.log." + std::to_string(count));
      std::vector<uint64_t> seqs = SeqsIn(oldest);
      auto id = DevIno(oldest);
      Collect();
      bool delivered = AllArrived(seqs);
      bool held = shipper_->running() && shipper_->OpenFiles().count(id) > 0;
      if (delivered || held) {
        fs::remove(oldest);
        --count;
        freed = id;
        if (!delivered) must_arrive_before_kill_.insert(must_arrive_before_kill_.end(), seqs.begin(), seqs.end());
        // The inode is free once the shipper let go of it (at once when it is not running).
        if (shipper_->running()) {
          testing::WaitUntil([&] {
            Collect();
            return shipper_->OpenFiles().count(id) == 0;
          }, seconds(3));
        }
      }
    }
    for (int k = count; k >= 1; --k) {
      fs::rename(Log("app.log." + std::to_string(k)), Log("app.log." + std::to_string(k + 1)));
    }
    return freed;
  }

  void NoteInode(const std::string& path, std::pair<uint64_t, uint64_t> freed) {
    if (freed.second == 0) return;
    ++reuse_chances_;
    if (DevIno(path) == freed) ++reuse_hits_;
  }

  // One logrotate run. With `kill_midway` the shipper is killed between the two halves of
  // the rotation (after the rename or copy, before the create or truncate) and started
  // again after it.
  void Rotate(bool copytruncate, bool kill_midway) {
    auto freed = ShiftRotated();
    if (kill_midway && shipper_->running()) {
      // What KillShipper waits for is waited for now, so that the kill itself is
      // immediate: waiting between copy and truncate would widen the copytruncate window.
      ASSERT_TRUE(WaitArrived(must_arrive_before_kill_, seconds(60)))
          << "a deleted file held by the shipper was not drained\n" << shipper_->LogTail();
    }
    if (!copytruncate) {
      fs::rename(Log(), Log("app.log.1"));
      if (kill_midway && shipper_->running()) KillShipper();
      int fd = ::open(Log().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);  // logrotate's `create`
      ASSERT_GE(fd, 0);
      ::close(fd);
      NoteInode(Log(), freed);
      writer_->Reopen();  // postrotate: the application reopens its log
    } else {
      // copytruncate: copy (read until end of file while the writer goes on), then truncate.
      const uint64_t written_before_copy = writer_->written();
      int in = ::open(Log().c_str(), O_RDONLY | O_CLOEXEC);
      int out = ::open(Log("app.log.1").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      ASSERT_GE(in, 0);
      ASSERT_GE(out, 0);
      NoteInode(Log("app.log.1"), freed);
      char buf[64 * 1024];
      for (ssize_t n; (n = ::read(in, buf, sizeof buf)) > 0;) ASSERT_EQ(::write(out, buf, static_cast<size_t>(n)), n);
      ::close(in);
      ::close(out);
      if (kill_midway && shipper_->running()) KillShipper();
      ASSERT_EQ(::truncate(Log().c_str(), 0), 0);
      // Lines from written_after + 1 on were written after the truncation (written() is
      // counted once write(2) returned, so line written_after itself may precede it).
      const uint64_t written_after = writer_->written();
      // The window: lines written after the copy's last complete line (or, for an empty
      // copy, after the copy began) and before the truncated file's first line.
      std::vector<uint64_t> copied = SeqsIn(Log("app.log.1"));
      const uint64_t window_begin = std::max<uint64_t>(copied.empty() ? 0 : copied.back() + 1, written_before_copy);
      uint64_t first_after = written_after + 1;
      testing::WaitUntil([&] {
        std::vector<uint64_t> now = SeqsIn(Log());
        if (!now.empty()) first_after = std::min(first_after, now.front());
        return !now.empty() || writer_->done() || writer_->at_limit();
      }, seconds(10));
      for (uint64_t s = window_begin; s < first_after; ++s) window_.insert(s);
      if (first_after > window_begin) {
        std::cout << "rotation torture: copytruncate window [" << window_begin << ", " << first_after << ")" << std::endl;
      }
    }
    ++rotations_;
    if (kill_midway && !shipper_->running()) StartShipper();
  }

  // The queue-specific parts.
  struct QueueHooks {
    std::function<void()> outage;               // once, a third of the way
    std::function<void()> restart_while_killed;  // once, two thirds of the way; may be empty
  };

  void Run(const QueueHooks& hooks) {
    writer_ = std::make_unique<Writer>(Log(), kLines, seed_);
    writer_->AllowUpTo(kRotateEvery);
    writer_->Start();
    StartShipper();
    std::uniform_int_distribution<int> gap_ms(1500, 5000), down_ms(0, 300);
    auto next_kill = Clock::now() + milliseconds(gap_ms(rng_));
    uint64_t next_rotation = kRotateEvery;
    bool outage_done = false, restart_done = !hooks.restart_while_killed;
    int midway_kills = 0;
    const auto deadline = Clock::now() + seconds(150);
    while (!HasFatalFailure() && !collector_failed_) {
      ASSERT_TRUE(Clock::now() < deadline) << "the run did not finish in time\n" << shipper_->LogTail();
      Collect();
      const uint64_t written = writer_->written();
      if (written >= next_rotation && !writer_->done()) {
        // Every third rotation kills the shipper halfway through it (up to 2 of the kills).
        bool midway = rotations_ % 3 == 2 && midway_kills < 2 && kills_ < kKills;
        if (midway) ++midway_kills;
        writer_->AllowUpTo(next_rotation + kRotateEvery);
        Rotate(/*copytruncate=*/rotations_ % 2 == 1, midway);
        next_rotation += kRotateEvery;
        continue;
      }
      if (!outage_done && written >= kLines / 3) {
        outage_done = true;
        hooks.outage();
        continue;
      }
      if (!restart_done && written >= 2 * kLines / 3) {
        restart_done = true;
        KillShipper();
        hooks.restart_while_killed();
        StartShipper();
        continue;
      }
      if (kills_ < kKills && Clock::now() >= next_kill) {
        KillShipper();
        if (std::uniform_int_distribution<int>(0, 1)(rng_) == 1 && !writer_->done()) {
          Rotate(/*copytruncate=*/rotations_ % 2 == 1, false);  // a rotation while it is down
        }
        std::this_thread::sleep_for(milliseconds(down_ms(rng_)));
        StartShipper();
        next_kill = Clock::now() + milliseconds(gap_ms(rng_));
        continue;
      }
      if (writer_->done() && kills_ >= kKills && outage_done && restart_done) break;
      std::this_thread::sleep_for(milliseconds(10));
    }
    // A fatal failure ends the run at once; TearDown stops the writer and the shipper.
    if (HasFatalFailure()) return;
    ASSERT_FALSE(collector_failed_);
    writer_->Join();

    // Every line outside the copytruncate windows must arrive.
    std::vector<uint64_t> expected;
    for (uint64_t s = 0; s < kLines; ++s) {
      if (window_.count(s) == 0) expected.push_back(s);
    }
    bool complete = WaitArrived(expected, seconds(90));
    std::vector<uint64_t> missing;
    for (uint64_t s : expected) {
      auto it = arrived_.find(s);
      if (it == arrived_.end() || !it->second.full) missing.push_back(s);
    }
    uint64_t duplicates = 0, window_arrived = 0;
    std::vector<uint64_t> several_ids, stray_fragments;
    for (const auto& [seq, a] : arrived_) {
      duplicates += a.copies - 1;
      if (a.ids.size() > 1) several_ids.push_back(seq);
      if (window_.count(seq) && a.full) ++window_arrived;
    }
    for (uint64_t s : fragments_) {
      if (window_.count(s) == 0) stray_fragments.push_back(s);
    }
    std::cout << "rotation torture: " << kLines << " lines, " << rotations_ << " rotations, " << kills_
              << " SIGKILLs, " << starts_ << " starts, inode reused " << reuse_hits_ << "/" << reuse_chances_
              << ", copytruncate window " << window_.size() << " lines (" << window_arrived << " arrived anyway), "
              << duplicates << " duplicate deliveries (same id), " << fragments_.size() << " fragments"
              << std::endl;
    auto head = [](const std::vector<uint64_t>& v) {
      std::string s;
      for (size_t i = 0; i < v.size() && i < 20; ++i) s += std::to_string(v[i]) + " ";
      return s;
    };
    EXPECT_TRUE(complete && missing.empty()) << missing.size() << " lines never arrived, e.g. " << head(missing)
                                             << "\n" << shipper_->LogTail(120);
    std::string ids_example;
    if (!several_ids.empty()) {
      for (const std::string& id : arrived_[several_ids[0]].ids) ids_example += id + " ";
    }
    EXPECT_TRUE(several_ids.empty()) << several_ids.size() << " lines arrived under several ids, e.g. "
                                     << head(several_ids) << "; ids of the first: " << ids_example;
    EXPECT_TRUE(bad_lines_.empty()) << bad_lines_.size() << " lines that were never written, e.g. \""
                                    << (bad_lines_.empty() ? "" : bad_lines_[0]) << "\"";
    EXPECT_TRUE(stray_fragments.empty()) << "fragments outside copytruncate windows: " << head(stray_fragments);
    EXPECT_LE(unattributed_fragments_, static_cast<uint64_t>(rotations_));
    EXPECT_GE(kills_, kKills);
    EXPECT_GE(rotations_, 8);
    // Whether a freed inode is handed to the next file is up to the filesystem and to what
    // else creates files at the same time (a parallel ctest run): reported, not required.
    // Inode reuse is covered deterministically by shipper/tail/file_tailer_test.
    if (reuse_hits_ == 0) {
      std::cout << "rotation torture: note: no inode was reused (" << reuse_chances_ << " chances)" << std::endl;
    }
    EXPECT_EQ(shipper_->Stop(), 0) << shipper_->LogTail();
  }

  uint32_t seed_ = 0;
  std::mt19937 rng_;
  std::string dir_;
  std::unique_ptr<testing::ShipperProcess> shipper_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<testing::EventCollector> collector_;
  bool collector_failed_ = false;
  Clock::time_point last_collect_;
  std::map<uint64_t, Arrival> arrived_;
  std::set<uint64_t> fragments_;
  uint64_t unattributed_fragments_ = 0;
  std::vector<std::string> bad_lines_;
  std::set<uint64_t> window_;
  std::vector<uint64_t> must_arrive_before_kill_;
  int rotations_ = 0, kills_ = 0, starts_ = 0;
  uint64_t reuse_chances_ = 0, reuse_hits_ = 0;
};

TEST_F(RotationTortureTest, RedisEveryLineArrives) {
  testing::RedisServerOptions options;
  options.persistent = true;  // the restart must keep what was acknowledged
  testing::RedisServer redis(options);
  ASSERT_TRUE(redis.Start().ok());
  WriteShipperConfig("queue:\n  redis: {host: 127.0.0.1, port: " + std::to_string(redis.port()) + "}\n");
  QueueConfig queue;
  queue.redis = redis.client_config();
  collector_ = testing::MakeRedisCollector(queue);
  ASSERT_NE(collector_, nullptr);
  Run({.outage =
           [&] {
             redis.Stop();
             std::this_thread::sleep_for(milliseconds(1500));
             ASSERT_TRUE(redis.Start().ok());
           },
       .restart_while_killed = nullptr});
}

TEST_F(RotationTortureTest, KafkaEveryLineArrives) {
  if (!fs::exists("/usr/bin/kcat")) GTEST_SKIP() << "kcat is not installed (scripts/setup installs it)";
  testing::KafkaBrokerOptions options;
  options.topics = {"logship.events:1", "logship.metrics:1"};
  auto broker = std::make_unique<testing::KafkaBroker>(options);
  ASSERT_TRUE(broker->Start().ok());
  auto config_for = [&](const std::string& bootstrap) {
    WriteShipperConfig("queue:\n  type: kafka\n  events_stream: logship.events\n  metrics_stream: logship.metrics\n"
                       "  kafka: {brokers: '" + bootstrap + "', timeout: 5s}\n");
  };
  config_for(broker->bootstrap());
  auto kcat = std::make_unique<testing::KcatCollector>(broker->bootstrap(), "logship.events", dir_);
  testing::KcatCollector* kcat_ptr = kcat.get();
  collector_ = std::move(kcat);
  Run({.outage =
           [&] {
             ASSERT_TRUE(broker->BrokerDown().ok());
             std::this_thread::sleep_for(milliseconds(1500));
             ASSERT_TRUE(broker->BrokerUp().ok());
           },
       .restart_while_killed =
           [&] {
             // Read everything the old process acknowledged (nothing produces now), then
             // replace it; the shipper re-reads what it had not checkpointed.
             Collect(/*force=*/true);
             Collect(/*force=*/true);
             broker = std::make_unique<testing::KafkaBroker>(options);
             ASSERT_TRUE(broker->Start().ok());
             kcat_ptr->Reset(broker->bootstrap());
             config_for(broker->bootstrap());
           }});
}

}  // namespace
}  // namespace logship
