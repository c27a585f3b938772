#include "parser/sinks/sink_factory.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "parser/sinks/clickhouse/clickhouse_sink.h"
#include "parser/sinks/elasticsearch/elasticsearch_sink.h"
#include "parser/sinks/sqlite/sqlite_sink.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

TEST(SinkConfigTest, ClickHouseSectionWithSecretFromTheEnvironment) {
  ::setenv("LOGSHIP_TEST_CH_PW", "pw", 1);
  auto c = ParseConfig(
      "data_dir: /tmp/x\nparser:\n  sink: clickhouse\n  clickhouse:\n    url: https://ch.example:8443\n"
      "    database: logs\n    table: nginx_events\n    user: writer\n    password: {env: LOGSHIP_TEST_CH_PW}\n"
      "    retention_days: 14\n    flush_interval: 2s\n    ca_file: ca.pem\n",
      "cfg.yaml", "/etc/logship");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const ClickHouseSinkConfig& ch = c->parser.clickhouse;
  EXPECT_EQ(c->parser.sink, "clickhouse");
  EXPECT_EQ(ch.url, "https://ch.example:8443");
  EXPECT_EQ(ch.database, "logs");
  EXPECT_EQ(ch.table, "nginx_events");
  EXPECT_EQ(ch.password.value, "pw");
  EXPECT_EQ(ch.retention_days, 14);
  EXPECT_EQ(ch.flush_interval, Millis(2000));
  EXPECT_EQ(ch.ca_file, "/etc/logship/ca.pem");
  auto sink = MakeEventSink(c->parser);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  EXPECT_NE(dynamic_cast<ClickHouseSink*>(sink->get()), nullptr);
  EXPECT_EQ(sink.value()->batching().linger, Millis(2000));
  EXPECT_EQ(DescribeSink(c->parser), "clickhouse https://ch.example:8443 logs.nginx_events");
}

TEST(SinkConfigTest, ElasticsearchDefaultsAndDeadLetterPath) {
  auto c = ParseConfig("data_dir: /var/lib/ls\nparser:\n  sink: elasticsearch\n", "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->parser.elasticsearch.index, "logs-%Y.%m.%d");
  EXPECT_EQ(c->parser.elasticsearch.dead_letter_path, "/var/lib/ls/elasticsearch-dead-letter.jsonl");
  auto sink = MakeEventSink(c->parser);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  EXPECT_NE(dynamic_cast<ElasticsearchSink*>(sink->get()), nullptr);
}

TEST(SinkConfigTest, SqliteStaysTheDefault) {
  std::string dir = testing::MakeTempDir("logship-sinkcfg");
  auto c = ParseConfig("data_dir: " + dir + "\n", "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->parser.sink, "sqlite");
  auto sink = MakeEventSink(c->parser);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  EXPECT_NE(dynamic_cast<SqliteSink*>(sink->get()), nullptr);
  EXPECT_EQ(sink.value()->batching().linger, Millis(0));
  std::filesystem::remove_all(dir);
}

TEST(SinkConfigTest, BadValuesNameFileLineAndWhatIsExpected) {
  struct Case {
    const char* yaml;
    const char* expect;
  } cases[] = {
      {"parser:\n  sink: mongo\n", "expected one of sqlite, clickhouse, elasticsearch"},
      {"parser:\n  clickhouse:\n    database: \"logs; DROP\"\n", "letters, digits and _"},
      {"parser:\n  clickhouse:\n    table: 1events\n", "not starting with a digit"},
      {"parser:\n  clickhouse:\n    url: ch:8123\n", "must start with http:// or https://"},
      {"parser:\n  clickhouse:\n    password: hunter2\n", "not written inline"},
      {"parser:\n  elasticsearch:\n    index: Logs-%Y\n", "lowercase"},
      {"parser:\n  elasticsearch:\n    user: a\n    api_key: {env: X}\n", "not both"},
      {"parser:\n  elasticsearch:\n    colour: blue\n", "unknown key \"colour\""},
  };
  for (const Case& tc : cases) {
    auto c = ParseConfig(tc.yaml, "cfg.yaml");
    ASSERT_FALSE(c.ok()) << tc.yaml;
    EXPECT_NE(c.status().message().find("cfg.yaml:"), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find(tc.expect), std::string::npos) << c.status().message();
  }
}

}  // namespace
}  // namespace logship
