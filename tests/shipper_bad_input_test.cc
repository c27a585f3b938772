// Bad input for the real `logship shipper` against a real redis-server: lines of several
// MiB, binary data, a watched file replaced by a directory, an unreadable file, dangling
// and looping symlinks. In every case the shipper keeps running (and stops cleanly on
// SIGTERM at the end), what can be delivered is delivered byte for byte, and what cannot
// moves a metric on /metrics (logship_shipper_errors_total{kind}, the files gauge) besides
// an error log line. Assertions are on events and metrics only, never on log text.
//
// Unreadable files: root reads a chmod 000 file anyway, so when the test runs as root the
// shipper runs as nobody (65534, through util-linux setpriv); the file then really fails
// to open with EACCES, the same path a non-root test takes directly.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/support/ports.h"
#include "tests/support/redis_server.h"
#include "tests/support/shipper_harness.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr uid_t kNobody = 65534;

class ShipperBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("logship-badinput");
    ASSERT_FALSE(dir_.empty());
    fs::create_directories(dir_ + "/logs");
    fs::create_directories(dir_ + "/data");
    // Reachable by an unprivileged shipper (UnreadableFile runs it as nobody).
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    fs::permissions(dir_ + "/logs", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                        fs::perms::others_read | fs::perms::others_exec);
    fs::permissions(dir_ + "/data", fs::perms::all);
    ASSERT_TRUE(redis_.Start().ok());
    QueueConfig queue;
    queue.redis = redis_.client_config();
    collector_ = testing::MakeRedisCollector(queue);
    ASSERT_NE(collector_, nullptr);
    shipper_ = std::make_unique<testing::ShipperProcess>(dir_);
  }

  void TearDown() override {
    if (shipper_ != nullptr && shipper_->running()) {
      // "Keeps running": alive after all of the test's bad input, and stops cleanly.
      EXPECT_TRUE(shipper_->Alive()) << "the shipper exited\n" << shipper_->LogTail();
      EXPECT_EQ(shipper_->Stop(), 0) << shipper_->LogTail();
    }
    if (!HasFailure()) {
      fs::remove_all(dir_);
    } else {
      std::cout << "kept " << dir_ << " for inspection" << std::endl;
    }
  }

  std::string Log(const std::string& name) const { return dir_ + "/logs/" + name; }

  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream out(Log(name), std::ios::app | std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  void StartShipper() {
    metrics_port_ = testing::FreeLoopbackPort();
    ASSERT_GT(metrics_port_, 0);
    shipper_->WriteConfig("host: bad-input-host\n"
                          "data_dir: " + dir_ + "/data\n"
                          "log: {level: info}\n"
                          "metrics: {listen: '127.0.0.1:" + std::to_string(metrics_port_) + "'}\n"
                          "queue:\n  redis: {host: 127.0.0.1, port: " + std::to_string(redis_.port()) + "}\n"
                          "shipper:\n"
                          "  files:\n"
                          "    - paths: [" + dir_ + "/logs/*.log]\n"
                          "      type: bad\n"
                          "  host_metrics: {enabled: false}\n"
                          "  poll_interval: 50ms\n");
    Status s = shipper_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(testing::WaitUntil([&] { return testing::ScrapeMetrics(metrics_port_).ok() || !shipper_->Alive(); },
                                   std::chrono::seconds(20)) &&
                shipper_->Alive())
        << "the shipper did not come up\n" << shipper_->LogTail();
  }

  // The value of a series on /metrics; -1 when it cannot be scraped or is absent.
  double Metric(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels = {}) {
    auto body = testing::ScrapeMetrics(metrics_port_);
    if (!body.ok()) return -1;
    return testing::MetricValue(*body, name, labels).value_or(-1);
  }
  double Errors(const std::string& kind) { return Metric("logship_shipper_errors_total", {{"kind", kind}}); }
  double FilesInError() { return Metric("logship_shipper_files", {{"state", "error"}}); }

  // Reads the queue until `done` holds (checked after each read), at most `timeout`.
  bool CollectUntil(const std::function<bool()>& done, seconds timeout = seconds(20)) {
    return testing::WaitUntil(
        [&] {
          (void)collector_->Collect([&](const std::string& raw, const std::string&) { raws_.push_back(raw); });
          return done();
        },
        timeout);
  }
  bool Arrived(const std::string& raw) const { return std::find(raws_.begin(), raws_.end(), raw) != raws_.end(); }
  bool ArrivedAll(const std::vector<std::string>& raws) const {
    return std::all_of(raws.begin(), raws.end(), [&](const std::string& r) { return Arrived(r); });
  }

  std::string dir_;
  testing::RedisServer redis_;
  std::unique_ptr<testing::EventCollector> collector_;
  std::unique_ptr<testing::ShipperProcess> shipper_;
  int metrics_port_ = -1;
  std::vector<std::string> raws_;  // every event that arrived, in order
};

// A line of 3.5 MiB with the default max_line_bytes (1 MiB): four pieces of at most 1 MiB,
// in order, together exactly the line; three cuts counted.
TEST_F(ShipperBadInputTest, HugeLinesAreSplitCountedAndEveryByteArrives) {
  ASSERT_NO_FATAL_FAILURE(StartShipper());
  std::string huge;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> printable(0x20, 0x7e);
  huge.resize((3u << 20) + (512u << 10));
  for (char& c : huge) c = static_cast<char>(printable(rng));
  Write("big.log", "before\n" + huge + "\nafter\n");
  ASSERT_TRUE(CollectUntil([&] { return Arrived("after"); }, seconds(60))) << shipper_->LogTail();
  auto before = std::find(raws_.begin(), raws_.end(), "before");
  auto after = std::find(raws_.begin(), raws_.end(), "after");
  ASSERT_TRUE(before != raws_.end() && before < after);
  std::string joined;
  size_t pieces = 0;
  for (auto it = before + 1; it != after; ++it) {
    EXPECT_LE(it->size(), 1u << 20);
    joined += *it;
    ++pieces;
  }
  EXPECT_EQ(pieces, 4u);
  EXPECT_TRUE(joined == huge) << "the pieces are not the line (" << joined.size() << " of " << huge.size()
                              << " bytes)";
  EXPECT_TRUE(testing::WaitUntil([&] { return Metric("logship_shipper_split_lines_total") == 3; }, seconds(10)))
      << "logship_shipper_split_lines_total = " << Metric("logship_shipper_split_lines_total");
}

// NUL bytes, invalid UTF-8 (stray continuation bytes, overlongs, surrogates, 0xff),
// control characters and random binary: every line arrives exactly as written.
TEST_F(ShipperBadInputTest, BinaryDataAndInvalidUtf8AreCarriedByteExact) {
  ASSERT_NO_FATAL_FAILURE(StartShipper());
  std::vector<std::string> lines = {
      std::string("nul\0in the middle\0", 19),
      std::string("\0", 1),
      "\xff\xfe\xfd not utf-8",
      "\xc3\x28 bad continuation, \xa0\xa1 stray",
      "\xc0\xaf overlong, \xed\xa0\x80 surrogate, \xf4\x90\x80\x80 past U+10FFFF",
      "caf\xc3\xa9 valid, cut at the end \xe2\x82",
      "tab\tbell\x07 esc\x1b[31m del\x7f cr\rinside",
  };
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int n = 0; n < 4; ++n) {
    std::string random(4096, '\0');
    for (char& c : random) {
      do {
        c = static_cast<char>(byte(rng));
      } while (c == '\n');
    }
    if (random.back() == '\r') random.back() = 'x';  // a trailing CR is stripped (CRLF files)
    lines.push_back(random);
  }
  std::string file;
  for (const auto& l : lines) file += l + "\n";
  Write("binary.log", file);
  ASSERT_TRUE(CollectUntil([&] { return ArrivedAll(lines); })) << "not every line arrived byte for byte";
  std::map<std::string, int> count;
  for (const auto& r : raws_) ++count[r];
  for (const auto& l : lines) EXPECT_EQ(count[l], 1);
  EXPECT_EQ(raws_.size(), lines.size()) << "events that were never written arrived";
  EXPECT_GE(Metric("logship_shipper_sent_events_total"), static_cast<double>(lines.size()));
}

// A followed file is deleted and a directory takes its name: the file is drained (its
// last lines arrive), the directory is an error of kind not_regular, other files go on.
TEST_F(ShipperBadInputTest, AWatchedFileReplacedByADirectory) {
  Write("a.log", "a-1\n");
  ASSERT_NO_FATAL_FAILURE(StartShipper());
  ASSERT_TRUE(CollectUntil([&] { return Arrived("a-1"); })) << shipper_->LogTail();
  EXPECT_EQ(Errors("not_regular"), 0);
  Write("a.log", "a-2\n");
  fs::remove(Log("a.log"));
  fs::create_directory(Log("a.log"));
  ASSERT_TRUE(testing::WaitUntil([&] { return Errors("not_regular") >= 1; }, seconds(20)))
      << "errors_total{kind=not_regular} = " << Errors("not_regular") << "\n" << shipper_->LogTail();
  EXPECT_TRUE(testing::WaitUntil([&] { return FilesInError() == 1; }, seconds(10)));
  EXPECT_TRUE(CollectUntil([&] { return Arrived("a-2"); })) << "the deleted file was not drained";
  Write("b.log", "b-1\n");
  EXPECT_TRUE(CollectUntil([&] { return Arrived("b-1"); })) << "other files stopped being read";
  EXPECT_EQ(Errors("not_regular"), 1) << "a failing path is counted once, not on every poll";
}

// A file the shipper may not open (EACCES): an error of kind open and a file in error,
// the other files read; once readable, it is read from the start and the error clears.
TEST_F(ShipperBadInputTest, AnUnreadableFile) {
  if (::geteuid() == 0) {
    if (!testing::CanRunLogshipAs(kNobody, kNobody)) {
      GTEST_SKIP() << "running as root, and nobody cannot run " << testing::LogshipBinary()
                   << " (a directory on its path is not searchable), so an unreadable file cannot be made";
    }
    shipper_->RunAs(kNobody, kNobody);
  }
  Write("secret.log", "s-1\n");
  ASSERT_EQ(::chmod(Log("secret.log").c_str(), 0), 0);
  Write("ok.log", "o-1\n");
  ASSERT_NO_FATAL_FAILURE(StartShipper());
  ASSERT_TRUE(testing::WaitUntil([&] { return Errors("open") >= 1; }, seconds(20)))
      << "errors_total{kind=open} = " << Errors("open") << "\n" << shipper_->LogTail();
  EXPECT_EQ(FilesInError(), 1);
  EXPECT_TRUE(CollectUntil([&] { return Arrived("o-1"); })) << shipper_->LogTail();
  EXPECT_FALSE(Arrived("s-1"));
  ASSERT_EQ(::chmod(Log("secret.log").c_str(), 0644), 0);
  EXPECT_TRUE(CollectUntil([&] { return Arrived("s-1"); })) << shipper_->LogTail();
  EXPECT_TRUE(testing::WaitUntil([&] { return FilesInError() == 0; }, seconds(10)));
  EXPECT_EQ(Errors("open"), 1) << "a failing path is counted once, not on every poll";
}

// A symlink to a file that does not exist yet is reported (kind dangling_symlink) and
// followed once its target appears; a symlink loop fails to stat with ELOOP (kind open).
TEST_F(ShipperBadInputTest, DanglingAndLoopingSymlinks) {
  fs::create_symlink(dir_ + "/later/target.txt", Log("dangling.log"));
  fs::create_symlink("loop.log", Log("loop.log"));
  Write("ok.log", "o-1\n");
  ASSERT_NO_FATAL_FAILURE(StartShipper());
  ASSERT_TRUE(testing::WaitUntil([&] { return Errors("dangling_symlink") >= 1 && Errors("open") >= 1; },
                                 seconds(20)))
      << "errors_total{kind=dangling_symlink} = " << Errors("dangling_symlink")
      << ", {kind=open} = " << Errors("open") << "\n" << shipper_->LogTail();
  EXPECT_EQ(FilesInError(), 2);
  EXPECT_TRUE(CollectUntil([&] { return Arrived("o-1"); }));
  fs::create_directories(dir_ + "/later");
  std::ofstream(dir_ + "/later/target.txt") << "late-1\n";
  EXPECT_TRUE(CollectUntil([&] { return Arrived("late-1"); })) << "the symlink's late target was not followed";
  EXPECT_TRUE(testing::WaitUntil([&] { return FilesInError() == 1; }, seconds(10)));  // the loop remains
  EXPECT_EQ(Errors("dangling_symlink"), 1);
}

}  // namespace
}  // namespace logship
