// End to end with ClickHouse: events on a Redis stream, `logship parser` as its own process
// writing to a real clickhouse-server, `logship search` reading it back. The parser is
// killed with SIGKILL in the middle and the events are published again (a replay); every
// event must be found exactly once. A wrong password stops the parser at startup.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/queue/queue_factory.h"
#include "parser/sinks/clickhouse/clickhouse_client.h"
#include "tests/support/clickhouse_server.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

using testing::ClickHouseServer;
using testing::RedisServer;
using testing::Subprocess;

class ClickHousePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ClickHouseServer::Available()) GTEST_SKIP() << "clickhouse-server not installed (scripts/setup --test)";
    dir_ = testing::MakeTempDir("logship-chpipe");
    ASSERT_TRUE(redis_.Start().ok());
    ASSERT_TRUE(clickhouse_.Start().ok());
    ::setenv("LOGSHIP_TEST_CLICKHOUSE_PASSWORD", "pipe-pw", 1);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string WriteConfig(const std::string& name, const std::string& password_env) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "host: test-host\ndata_dir: " << dir_ << "\nmetrics: {listen: ''}\n"
                        << "queue:\n  redis: {host: 127.0.0.1, port: " << redis_.port() << "}\n"
                        << "parser:\n  consumer: parser-1\n  sink: clickhouse\n  clickhouse:\n"
                        << "    url: " << clickhouse_.url() << "\n    database: pipe\n"
                        << "    password: {env: " << password_env << "}\n    flush_interval: 200ms\n";
    return path;
  }

  void Publish(int from, int to) {
    QueueConfig q;
    q.redis.host = "127.0.0.1";
    q.redis.port = redis_.port();
    auto producer = MakeEventProducer(q);
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    std::vector<Event> batch;
    for (int i = from; i < to; ++i) {
      Event e;
      e.id = "0000000000000001:" + std::to_string(i);
      e.time_ns = (static_cast<int64_t>(time(nullptr)) - 60) * 1'000'000'000 + i;
      e.host = "web-" + std::to_string(i % 3);
      e.source = "/var/log/app.log";
      e.type = "app";
      e.offset = static_cast<uint64_t>(i) * 100;
      e.raw = "request seq=" + std::to_string(i) + (i % 10 == 0 ? " status=failed" : " status=ok");
      batch.push_back(std::move(e));
    }
    ASSERT_TRUE((*producer)->Publish(batch).ok());
  }

  std::string Count() {
    ClickHouseSinkConfig c = clickhouse_.sink_config();
    clickhouse::ClickHouseClient client(c);
    auto r = client.Query("SELECT count(), uniqExact(id) FROM pipe.events FINAL FORMAT TabSeparated");
    return r.ok() ? r.value() : r.status().ToString();
  }

  bool WaitForCount(const std::string& want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Count() == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string dir_;
  RedisServer redis_;
  ClickHouseServer clickhouse_{testing::ClickHouseServerOptions{"/usr/sbin/clickhouse-server", "pipe-pw"}};
};

TEST_F(ClickHousePipelineTest, ParserKilledAndReplayedStoresEachEventOnce) {
  const std::string cfg = WriteConfig("logship.yaml", "LOGSHIP_TEST_CLICKHOUSE_PASSWORD");
  Publish(0, 2000);
  auto parser = std::make_unique<Subprocess>(
      std::vector<std::string>{testing::LogshipBinary(), "parser", "--config", cfg}, dir_ + "/parser.log");
  ASSERT_TRUE(parser->Start().ok());
  ASSERT_TRUE(WaitForCount("2000\t2000\n")) << Count() << "\n" << parser->Log();

  // SIGKILL, then the whole range again (a shipper replaying after its own crash) plus new
  // events; the restarted parser stores only the new ones.
  parser->Signal(SIGKILL);
  ASSERT_EQ(parser->Wait(10000), 128 + SIGKILL);
  Publish(0, 2500);
  parser = std::make_unique<Subprocess>(std::vector<std::string>{testing::LogshipBinary(), "parser", "--config", cfg},
                                        dir_ + "/parser2.log");
  ASSERT_TRUE(parser->Start().ok());
  ASSERT_TRUE(WaitForCount("2500\t2500\n")) << Count() << "\n" << parser->Log();

  // `logship search` reads the sink from the same config.
  std::string cmd = testing::LogshipBinary() + " search -c " + cfg + " --format json --limit 1000 'failed host:web-*' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_TRUE(p);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 250) << out.substr(0, 2000);
  parser->Signal(SIGTERM);
  EXPECT_EQ(parser->Wait(20000), 0) << parser->Log();
}

TEST_F(ClickHousePipelineTest, WrongPasswordStopsTheParserAtStartup) {
  ::setenv("LOGSHIP_TEST_CLICKHOUSE_WRONG", "not-the-password", 1);
  const std::string cfg = WriteConfig("wrong.yaml", "LOGSHIP_TEST_CLICKHOUSE_WRONG");
  Subprocess parser({testing::LogshipBinary(), "parser", "--config", cfg}, dir_ + "/wrong.log");
  ASSERT_TRUE(parser.Start().ok());
  EXPECT_EQ(parser.Wait(20000), 1) << parser.Log();
}

}  // namespace
}  // namespace logship
