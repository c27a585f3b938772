#include "shipper/hostmetrics/check_command.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace logship {
namespace {

using std::chrono::steady_clock;

HostCheckConfig Check(std::vector<std::string> argv, Millis timeout = Millis(5000)) {
  HostCheckConfig c;
  c.name = "test_check";
  c.command = std::move(argv);
  c.timeout = timeout;
  return c;
}

const Sample* Find(const std::vector<Sample>& samples, const std::string& name) {
  for (const Sample& s : samples) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

TEST(RunCheck, PrometheusTextGetsHostAndCheckLabels) {
  auto r = RunCheck(Check({"/bin/sh", "-c",
                           "echo '# HELP queue_depth jobs waiting'; echo '# TYPE queue_depth gauge'; "
                           "echo 'queue_depth{queue=\"mail\",host=\"spoofed\"} 42'; echo 'workers 3 1700000000000'"}),
                    "h1", 1234);
  ASSERT_EQ(r.error, CheckError::kNone) << r.message;
  ASSERT_EQ(r.samples.size(), 2u);
  const Sample* q = Find(r.samples, "queue_depth");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->value, 42);
  EXPECT_EQ(q->time_ms, 1234);
  EXPECT_EQ(q->labels, (Labels{{"check", "test_check"}, {"host", "h1"}, {"queue", "mail"}}));
  const Sample* w = Find(r.samples, "workers");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->time_ms, 1700000000000);
  EXPECT_EQ(w->labels, (Labels{{"check", "test_check"}, {"host", "h1"}}));
}

TEST(RunCheck, EchoNameValueViaArgvNoShell) {
  // No shell: the $HOME and ; are passed literally as part of one argument.
  auto r = RunCheck(Check({"/bin/echo", "plain_value 7.5"}), "h", 0);
  ASSERT_EQ(r.error, CheckError::kNone) << r.message;
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].name, "plain_value");
  EXPECT_EQ(r.samples[0].value, 7.5);
  auto literal = RunCheck(Check({"/bin/echo", "x 1; echo y 2"}), "h", 0);
  EXPECT_EQ(literal.error, CheckError::kParse);
}

TEST(RunCheck, TimeoutKillsAndReturnsPromptly) {
  auto start = steady_clock::now();
  auto r = RunCheck(Check({"/bin/sleep", "10"}, Millis(200)), "h", 0);
  auto took = steady_clock::now() - start;
  EXPECT_EQ(r.error, CheckError::kTimeout);
  EXPECT_TRUE(r.samples.empty());
  EXPECT_GE(took, Millis(190));
  EXPECT_LT(took, Millis(2000));
}

TEST(RunCheck, TimeoutKillsTheWholeProcessGroup) {
  // The shell's child keeps the pipe open; killing only the shell would leave us waiting.
  auto start = steady_clock::now();
  auto r = RunCheck(Check({"/bin/sh", "-c", "sleep 10; echo late 1"}, Millis(200)), "h", 0);
  EXPECT_EQ(r.error, CheckError::kTimeout);
  EXPECT_LT(steady_clock::now() - start, Millis(2000));
}

TEST(RunCheck, GarbageOutputIsAParseError) {
  auto r = RunCheck(Check({"/bin/sh", "-c", "echo 'this is not a metric at all'"}), "h", 0);
  EXPECT_EQ(r.error, CheckError::kParse);
  EXPECT_NE(r.message.find("line 1"), std::string::npos) << r.message;
  EXPECT_TRUE(r.samples.empty());
  auto binary = RunCheck(Check({"/bin/sh", "-c", "printf 'x\\001\\377 zz\\n'"}), "h", 0);
  EXPECT_EQ(binary.error, CheckError::kParse);
}

TEST(RunCheck, MissingBinaryIsASpawnError) {
  auto r = RunCheck(Check({"/nonexistent/logship-check"}), "h", 0);
  EXPECT_EQ(r.error, CheckError::kSpawn);
  EXPECT_NE(r.message.find("/nonexistent/logship-check"), std::string::npos) << r.message;
  auto in_path = RunCheck(Check({"logship-no-such-command-anywhere"}), "h", 0);
  EXPECT_EQ(in_path.error, CheckError::kSpawn);
}

TEST(RunCheck, NonZeroExitKeepsFirstStderrLine) {
  auto r = RunCheck(Check({"/bin/sh", "-c", "echo ok 1; echo 'queue unreachable' >&2; echo more >&2; exit 3"}), "h", 0);
  EXPECT_EQ(r.error, CheckError::kExit);
  EXPECT_TRUE(r.samples.empty());
  EXPECT_NE(r.message.find("exit status 3"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("queue unreachable"), std::string::npos) << r.message;
  EXPECT_EQ(r.message.find("more"), std::string::npos) << r.message;
}

TEST(RunCheck, OutputIsBounded) {
  HostCheckConfig c = Check({"/bin/sh", "-c", "while :; do echo 'spam 1'; done"}, Millis(5000));
  c.max_output_bytes = 1024;
  auto start = steady_clock::now();
  auto r = RunCheck(c, "h", 0);
  EXPECT_EQ(r.error, CheckError::kOutputTooLarge);
  EXPECT_LT(steady_clock::now() - start, Millis(2000));
}

TEST(RunCheck, StopFlagAbortsARun) {
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(Millis(100));
    stop.store(true);
  });
  auto start = steady_clock::now();
  auto r = RunCheck(Check({"/bin/sleep", "10"}), "h", 0, &stop);
  stopper.join();
  EXPECT_EQ(r.error, CheckError::kStopped);
  EXPECT_LT(steady_clock::now() - start, Millis(2000));
}

TEST(CheckScheduler, SlowCheckDoesNotDelayOthersAndStopIsPrompt) {
  ManualClock clock(5'000'000'000);
  HostCheckConfig fast = Check({"/bin/echo", "fast_value 1"});
  fast.name = "fast";
  fast.interval = Millis(100);
  HostCheckConfig slow = Check({"/bin/sleep", "10"}, Millis(60'000));
  slow.name = "slow";
  HostCheckConfig broken = Check({"/nonexistent/check"});
  broken.name = "broken";
  broken.interval = Millis(100);
  CheckScheduler scheduler({fast, slow, broken}, "h", clock);
  scheduler.Start();
  std::vector<Sample> got;
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < 3 && steady_clock::now() < deadline) {
    auto more = scheduler.TakeSamples();
    got.insert(got.end(), more.begin(), more.end());
    std::this_thread::sleep_for(Millis(20));
  }
  ASSERT_GE(got.size(), 3u);
  for (const Sample& s : got) {
    EXPECT_EQ(s.name, "fast_value");
    EXPECT_EQ(s.time_ms, 5000);
  }
  auto stats = scheduler.stats();
  EXPECT_GE(stats.errors_by_kind["spawn"], 1u);
  auto start = steady_clock::now();
  scheduler.Stop();  // kills the slow check
  EXPECT_LT(steady_clock::now() - start, Millis(2000));
}

TEST(CheckScheduler, PendingBufferIsBounded) {
  ManualClock clock(0);
  HostCheckConfig c = Check({"/bin/sh", "-c", "echo a 1; echo b 2; echo c 3"});
  c.interval = Millis(50);
  CheckScheduler scheduler({c}, "h", clock, /*max_pending_samples=*/4);
  scheduler.Start();
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (scheduler.stats().dropped_samples == 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(Millis(20));
  }
  scheduler.Stop();
  EXPECT_GT(scheduler.stats().dropped_samples, 0u);
  EXPECT_EQ(scheduler.TakeSamples().size(), 4u);
}

}  // namespace
}  // namespace logship
