#include "logship/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/config/schema.h"

namespace logship {
namespace {

TEST(ConfigTest, DefaultsAndPathsResolveAgainstTheConfigDirectory) {
  auto c = ParseConfig("host: web-1\ndata_dir: data\nshipper:\n  files:\n    - paths: [logs/*.log]\n      type: nginx\n",
                       "t.yaml", "/etc/logship");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "web-1");
  EXPECT_EQ(c->data_dir, "/etc/logship/data");
  ASSERT_EQ(c->shipper.files.size(), 1u);
  EXPECT_EQ(c->shipper.files[0].paths[0], "/etc/logship/logs/*.log");
  EXPECT_EQ(c->shipper.files[0].max_line_bytes, 1u << 20);
  EXPECT_EQ(c->parser.sqlite.dir, "/etc/logship/data/events");
  EXPECT_EQ(c->metrics.listen, "127.0.0.1:9464");
}

TEST(ConfigTest, SyntaxErrorNamesTheLine) {
  auto c = ParseConfig("host: a\nshipper:\n  files: [\n    - paths: x\n", "bad.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("bad.yaml:"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("YAML syntax"), std::string::npos) << c.status().message();
}

TEST(ConfigTest, UnknownKeyNamesFileLineKeyAndTheKeysExpected) {
  auto c = ParseConfig("host: a\nshipper:\n  files:\n    - paths: [x]\n      pathz: [y]\n", "cfg.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("cfg.yaml:5:7"), std::string::npos) << m;
  EXPECT_NE(m.find("shipper.files[0]"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown key \"pathz\""), std::string::npos) << m;
  EXPECT_NE(m.find("paths, type, max_line_bytes"), std::string::npos) << m;
}

TEST(ConfigTest, BadValuesSayWhatWasExpected) {
  struct Case {
    const char* yaml;
    const char* line;
    const char* expect;
  } cases[] = {
      {"shipper:\n  poll_interval: soon\n", "cfg.yaml:2:18", "expected a duration"},
      {"queue:\n  redis:\n    port: 70000\n", "cfg.yaml:3:11", "expected an integer from 1 to 65535"},
      {"shipper:\n  files:\n    - paths: [a]\n      max_line_bytes: 1TB\n", "cfg.yaml:4:23", "expected a size"},
      {"log:\n  level: loud\n", "cfg.yaml:2:10", "expected one of trace"},
      {"shipper:\n  files:\n    - type: nginx\n", "cfg.yaml:3:7", "missing required key \"paths\""},
      {"queue:\n  redis:\n    password: hunter2\n", "cfg.yaml:3:15", "not written inline"},
      {"shipper: [1, 2]\n", "cfg.yaml:1:10", "expected a map"},
      {"shipper:\n  host_metrics:\n    disk_exclude: '^(sd'\n", "cfg.yaml:3:19", "invalid RE2 regular expression"},
      {"shipper:\n  files:\n    - paths: [a]\n      multiline: {start: '^x', continuation: '^ '}\n", "cfg.yaml:4:18",
       "give either start or continuation, not both"},
  };
  for (const Case& tc : cases) {
    auto c = ParseConfig(tc.yaml, "cfg.yaml");
    ASSERT_FALSE(c.ok()) << tc.yaml;
    EXPECT_NE(c.status().message().find(tc.line), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find(tc.expect), std::string::npos) << c.status().message();
  }
}

TEST(ConfigTest, SecretsComeFromTheEnvironmentAndAreNeverInTheMessage) {
  setenv("LOGSHIP_TEST_REDIS_PW", "s3cret-value", 1);
  auto c = ParseConfig("queue:\n  redis:\n    password: {env: LOGSHIP_TEST_REDIS_PW}\n", "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->queue.redis.password.value, "s3cret-value");
  auto missing = ParseConfig("queue:\n  redis:\n    password: {env: LOGSHIP_TEST_UNSET_VAR}\n", "cfg.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("LOGSHIP_TEST_UNSET_VAR is not set"), std::string::npos);
}

TEST(ConfigTest, DurationsAndSizes) {
  EXPECT_EQ(config::ParseDuration("250ms")->count(), 250);
  EXPECT_EQ(config::ParseDuration("1.5s")->count(), 1500);
  EXPECT_EQ(config::ParseDuration("2m")->count(), 120000);
  EXPECT_FALSE(config::ParseDuration("-1s").ok());
  EXPECT_FALSE(config::ParseDuration("5 parsecs").ok());
  EXPECT_EQ(*config::ParseSize("1MiB"), 1u << 20);
  EXPECT_EQ(*config::ParseSize("512KiB"), 512u << 10);
  EXPECT_FALSE(config::ParseSize("MiB").ok());
}

TEST(ConfigTest, AlerterLatenessDefaultsToTenSecondsAndIsConfigurable) {
  auto c = ParseConfig("host: a\n", "t.yaml", "/etc/logship");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->alerter.lateness.count(), 10000);
  c = ParseConfig("host: a\nalerter:\n  lateness: 1m\n", "t.yaml", "/etc/logship");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->alerter.lateness.count(), 60000);
  c = ParseConfig("host: a\nalerter:\n  lateness: soon\n", "t.yaml", "/etc/logship");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("t.yaml:3"), std::string::npos) << c.status().message();
}

TEST(ConfigTest, ReferenceListsEveryKey) {
  std::string ref = ConfigReference();
  for (const char* key : {"`shipper.files[].paths`", "`queue.redis.password`", "`parser.sqlite.retention_days`",
                          "`alerter.notify[].url`", "`metrics.listen`"}) {
    EXPECT_NE(ref.find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace logship
