// End to end: redis-server, and shipper, parser and alerter as separate processes.
// 100,000 lines are appended while they run; the shipper and the parser are each killed
// with SIGKILL three times in the middle of a batch and restarted, and Redis goes down for
// a while (the shipper is killed during that outage too). Every line must be stored exactly once, the
// queue must end with nothing pending, and the webhook must have received the page the
// traffic burst deserves.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/redis/redis_client.h"
#include "tests/support/http_receiver.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using testing::HttpReceiver;
using testing::RedisServer;
using testing::Subprocess;

constexpr int kLines = 100'000;
// An hour ago, on a 10 s boundary: recent enough that the store's retention (by event
// day) keeps it.
const int64_t kStartEpoch = (time(nullptr) - 3600) / 10 * 10;

// Line `seq`: 100 requests per second of event time for the first 30,000 lines, then a
// burst of 1,000 per second (with server errors) for the rest.
std::string NginxLine(int seq) {
  int64_t t = seq < 30'000 ? kStartEpoch + seq / 100 : kStartEpoch + 300 + (seq - 30'000) / 1000;
  int status = (seq >= 30'000 && seq % 5 == 0) ? 502 : 200;
  time_t tt = static_cast<time_t>(t);
  std::tm tm;
  gmtime_r(&tt, &tm);
  char ts[64];
  std::strftime(ts, sizeof ts, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return "10.0." + std::to_string(seq % 250) + ".7 - - [" + ts + "] \"GET /api/items?seq=" + std::to_string(seq) +
         " HTTP/1.1\" " + std::to_string(status) + " 512 \"-\" \"pipeline-test/1.0\"\n";
}

// Every stored raw line's seq, counted: the test wants each of 0..kLines-1 exactly once.
std::map<int, int> StoredSeqs(const std::string& dir) {
  std::map<int, int> seqs;
  if (!fs::exists(dir)) return seqs;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("events-", 0) != 0 || entry.path().extension() != ".db") continue;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(entry.path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      continue;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT raw FROM events", -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        std::string raw(static_cast<const char*>(sqlite3_column_blob(st, 0)), sqlite3_column_bytes(st, 0));
        size_t p = raw.find("seq=");
        if (p != std::string::npos) seqs[std::atoi(raw.c_str() + p + 4)]++;
      }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  return seqs;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("logship-pipeline");
    ASSERT_FALSE(dir_.empty());
    ASSERT_TRUE(redis_.Start().ok());
    auto rx = HttpReceiver::Start();
    ASSERT_TRUE(rx.ok()) << rx.status().ToString();
    receiver_ = std::move(*rx);
    std::string src = testing::SourceDir();
    std::ofstream(dir_ + "/alerts.yaml") << R"(groups:
  - name: web
    interval: 10s
    rules:
      - alert: RequestRate
        metric: http_requests
        function: rate
        window: 30s
        by: [host]
        warning: {above: 300}
        critical: {above: 600}
        for: 10s
        annotations: {summary: 'request rate on {{ $labels.host }} is {{ $value }}/s'}
)";
    std::ofstream(dir_ + "/logship.yaml") << "host: test-host\n"
                                          << "data_dir: " << dir_ << "/data\n"
                                          << "log: {level: info}\n"
                                          << "metrics: {listen: ''}\n"
                                          << "queue:\n  redis: {host: 127.0.0.1, port: " << redis_.port() << "}\n"
                                          << "shipper:\n"
                                          << "  files:\n    - paths: [" << dir_ << "/logs/access.log]\n"
                                          << "      type: nginx\n"
                                          << "  host_metrics: {enabled: false}\n"
                                          << "  poll_interval: 10ms\n"
                                          << "parser:\n"
                                          << "  rules: [" << src << "/rules/parse/nginx.yaml]\n"
                                          << "  patterns: [" << src << "/rules/patterns]\n"
                                          << "  consumer: parser-1\n"
                                          << "  metrics_flush: 500ms\n"
                                          << "alerter:\n"
                                          << "  rules: [" << dir_ << "/alerts.yaml]\n"
                                          << "  consumer: alerter-1\n"
                                          << "  api: {listen: '127.0.0.1:0'}\n"
                                          << "  notify:\n    - type: webhook\n      url: " << receiver_->url("/page")
                                          << "\n";
    fs::create_directories(dir_ + "/logs");
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::unique_ptr<Subprocess> Daemon(const std::string& name) {
    auto p = std::make_unique<Subprocess>(
        std::vector<std::string>{testing::LogshipBinary(), name, "--config", dir_ + "/logship.yaml"},
        dir_ + "/" + name + ".log");
    EXPECT_TRUE(p->Start().ok());
    return p;
  }

  std::string dir_;
  RedisServer redis_{[] {
    testing::RedisServerOptions o;
    o.persistent = true;  // the outage below restarts it; what was acknowledged must survive
    return o;
  }()};
  std::unique_ptr<HttpReceiver> receiver_;
};

TEST_F(PipelineTest, EveryLineStoredOnceThroughKillsAndTheBurstPages) {
  auto shipper = Daemon("shipper");
  auto parser = Daemon("parser");
  auto alerter = Daemon("alerter");

  // Lines are written in chunks of 1,000 with short pauses, except before each kill: a
  // burst of 5,000 lines, then SIGKILL a few milliseconds later, so the victim is in the
  // middle of a batch (read but not yet delivered, or stored but not yet acknowledged).
  const std::set<int> kill_shipper_at = {15'000, 45'000, 75'000};
  const std::set<int> kill_parser_at = {30'000, 60'000, 90'000};
  constexpr int kOutageAt = 50'000;
  std::ofstream log(dir_ + "/logs/access.log", std::ios::app | std::ios::binary);
  const int kKillDelaysMs[] = {12, 25, 40};  // the shipper wakes within 10 ms, then works ~40 ms
  int kills = 0;
  for (int seq = 0; seq < kLines; ++seq) {
    log << NginxLine(seq);
    const bool before_kill = kill_shipper_at.count(seq + 5'000) || kill_parser_at.count(seq + 5'000);
    if (seq % 1000 == 999 && !before_kill) {
      log.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (seq == kOutageAt) {
      // Queue outage: Redis stops; lines keep coming; the shipper is killed while it
      // retries (a shipper that checkpointed what it read rather than what was
      // acknowledged loses these lines now); then both come back.
      log.flush();
      redis_.Stop();
      for (int i = 0; i < 3000; ++i) log << NginxLine(++seq);
      log.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      shipper->Signal(SIGKILL);
      ASSERT_EQ(shipper->Wait(10000), 128 + SIGKILL);
      shipper = Daemon("shipper");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      ASSERT_TRUE(redis_.Start().ok());
      continue;
    }
    if (kill_shipper_at.count(seq) || kill_parser_at.count(seq)) {
      log.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(kKillDelaysMs[kills++ % 3]));
      std::unique_ptr<Subprocess>& victim = kill_shipper_at.count(seq) ? shipper : parser;
      const std::string name = kill_shipper_at.count(seq) ? "shipper" : "parser";
      victim->Signal(SIGKILL);
      ASSERT_EQ(victim->Wait(10000), 128 + SIGKILL);
      victim = Daemon(name);
    }
  }
  log.close();

  // Wait (with a deadline) until every line is stored.
  std::map<int, int> seqs;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(getenv("PIPELINE_DEADLINE") ? atoi(getenv("PIPELINE_DEADLINE")) : 180);
  while (std::chrono::steady_clock::now() < deadline) {
    seqs = StoredSeqs(dir_ + "/data/events");
    if (seqs.size() >= static_cast<size_t>(kLines)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kLines)) << "shipper:\n" << shipper->Log() << "\nparser:\n"
                                                      << parser->Log();
  int duplicates = 0;
  for (const auto& [seq, n] : seqs) duplicates += n - 1;
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(seqs.begin()->first, 0);
  EXPECT_EQ(seqs.rbegin()->first, kLines - 1);

  // The burst (1,000/s against a critical threshold of 600/s) pages: first the warning
  // (its condition holds a step earlier), then the escalation to critical, one evaluation
  // step (10 s of data time) later, once the alerter has that step's data.
  ASSERT_TRUE(receiver_->WaitForRequests(1, std::chrono::seconds(60))) << alerter->Log();
  auto has_critical = [&] {
    for (const auto& req : receiver_->requests()) {
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_discarded() && body["payload"]["severity"] == "critical") return true;
    }
    return false;
  };
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !has_critical() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  bool critical = false;
  for (const auto& req : receiver_->requests()) {
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.path, "/page");
    auto body = nlohmann::json::parse(req.body);
    EXPECT_EQ(body["event_action"], "trigger");
    EXPECT_FALSE(body["dedup_key"].get<std::string>().empty());
    EXPECT_NE(body["payload"]["summary"].get<std::string>().find("request rate on test-host"), std::string::npos);
    if (body["payload"]["severity"] == "critical") critical = true;
  }
  EXPECT_TRUE(critical) << "pages received: " << receiver_->requests().size();

  // Everything the parser stored was acknowledged: nothing left pending in the group.
  // (The acknowledgement follows the commit, so allow it a moment.)
  RedisClient redis(redis_.client_config());
  int64_t pending_count = -1;
  for (int i = 0; i < 300 && pending_count != 0; ++i) {
    auto pending = redis.Command({"XPENDING", "logship:events", "logship-parsers"});
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    ASSERT_TRUE(pending->is_array() && !pending->elements.empty());
    pending_count = pending->elements[0].integer;
    if (pending_count != 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(pending_count, 0);

  // SIGTERM drains and exits cleanly.
  for (auto* p : {shipper.get(), parser.get(), alerter.get()}) p->Signal(SIGTERM);
  EXPECT_EQ(shipper->Wait(20000), 0) << shipper->Log();
  EXPECT_EQ(parser->Wait(20000), 0) << parser->Log();
  EXPECT_EQ(alerter->Wait(20000), 0) << alerter->Log();
}

}  // namespace
}  // namespace logship
