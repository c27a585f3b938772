// The logship binary as an operator runs it: config check, config reference, logship run
// on a workload (and again, to see checkpoints and dedupe), SIGHUP reload.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "core/http/http_client.h"
#include "tests/support/ports.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using testing::Subprocess;

using testing::RunLogship;
using testing::RunResult;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("logship-cli"); }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(CliTest, ConfigCheckNamesFileLineAndWhatWasExpected) {
  std::ofstream(dir_ + "/bad.yaml") << "host: a\nshipper:\n  files:\n    - paths: [x]\n      max_line_bytes: huge\n";
  RunResult r = RunLogship({"config", "check", "-c", dir_ + "/bad.yaml"}, dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("bad.yaml:5:23: shipper.files[0].max_line_bytes: expected a size"), std::string::npos)
      << r.output;

  std::ofstream(dir_ + "/syntax.yaml") << "host: a\nparser:\n  rules: [a, b\n  patterns: x\n";
  r = RunLogship({"config", "check", "-c", dir_ + "/syntax.yaml"}, dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(std::regex_search(r.output, std::regex("syntax\\.yaml:[0-9]+:[0-9]+: YAML syntax"))) << r.output;

  std::ofstream(dir_ + "/good.yaml") << "host: a\ndata_dir: d\n";
  r = RunLogship({"config", "check", "-c", dir_ + "/good.yaml"}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(CliTest, ConfigCheckAlsoLoadsTheRuleFilesItNames) {
  const std::string src = testing::SourceDir();
  std::ofstream(dir_ + "/bad_parse.yaml") << "rules:\n  - name: web\n    patterns: ['%{NO_SUCH_PATTERN:x}']\n";
  std::ofstream(dir_ + "/bad_alert.yaml")
      << "groups:\n  - name: g\n    rules:\n      - alert: A\n        metric: m\n        function: avg\n        window: 1m\n"
         "        critical: {abuv: 3}\n";
  std::ofstream(dir_ + "/rules.yaml") << "host: a\ndata_dir: d\nparser:\n  rules: [bad_parse.yaml]\n  patterns: [" << src
                                      << "/rules/patterns]\nalerter:\n  rules: [bad_alert.yaml]\n";
  RunResult r = RunLogship({"config", "check", "-c", dir_ + "/rules.yaml"}, dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("NO_SUCH_PATTERN"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bad_parse.yaml"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bad_alert.yaml:8"), std::string::npos) << r.output;

  std::ofstream(dir_ + "/shipped.yaml") << "host: a\ndata_dir: d\nparser:\n  rules: [" << src
                                        << "/rules/parse/nginx.yaml]\n  patterns: [" << src
                                        << "/rules/patterns]\nalerter:\n  rules: [" << src
                                        << "/rules/alerts/default.yaml]\n";
  r = RunLogship({"config", "check", "-c", dir_ + "/shipped.yaml"}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(": ok (1 parse rule files"), std::string::npos) << r.output;
}

TEST_F(CliTest, TheConfigReferenceInDocsIsTheGeneratedOne) {
  RunResult r = RunLogship({"config", "reference"}, dir_);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, ReadFile(testing::SourceDir() + "/docs/config-reference.md"))
      << "regenerate with: logship config reference > docs/config-reference.md";
}

std::string NginxLine(int64_t epoch, int seq, int status) {
  time_t t = static_cast<time_t>(epoch);
  std::tm tm;
  gmtime_r(&t, &tm);
  char ts[64];
  std::strftime(ts, sizeof ts, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return "192.0.2." + std::to_string(seq % 200) + " - - [" + ts + "] \"GET /cart?seq=" + std::to_string(seq) +
         " HTTP/1.1\" " + std::to_string(status) + " 99 \"-\" \"cli-test\"\n";
}

TEST_F(CliTest, RunIndexesPagesAndStoresAReplayOnce) {
  // Five minutes at 10 requests/s, then two minutes at 200/s, half of them 502s.
  const int64_t start = (time(nullptr) - 1800) / 10 * 10;
  fs::create_directories(dir_ + "/logs");
  std::ofstream log(dir_ + "/logs/access.log");
  int seq = 0;
  for (int s = 0; s < 420; ++s) {
    int rate = s < 300 ? 10 : 200;
    for (int i = 0; i < rate; ++i, ++seq) log << NginxLine(start + s, seq, s >= 300 && i % 2 ? 502 : 200);
  }
  log.close();
  const int lines = seq;
  std::ofstream(dir_ + "/alerts.yaml") << R"(groups:
  - name: web
    interval: 10s
    rules:
      - alert: ServerErrors
        metric: http_requests
        match: {status: 're:5..'}
        function: rate
        window: 1m
        by: [host]
        warning: {above: 5}
        critical: {above: 50}
        for: 20s
)";
  std::string src = testing::SourceDir();
  std::ofstream(dir_ + "/logship.yaml") << "host: cli-host\ndata_dir: data\nmetrics: {listen: ''}\n"
                                        << "shipper:\n  files: [{paths: [logs/*.log], type: nginx}]\n"
                                        << "  host_metrics: {enabled: false}\n"
                                        << "parser:\n  rules: [" << src << "/rules/parse/nginx.yaml]\n"
                                        << "  patterns: [" << src << "/rules/patterns]\n"
                                        << "alerter:\n  rules: [alerts.yaml]\n  notify: [{type: log}]\n  api: {listen: '127.0.0.1:0'}\n";
  RunResult r = RunLogship({"run", "-c", dir_ + "/logship.yaml", "--exit-when-idle", "1s"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("events indexed \\(new rows\\) +([0-9]+)"))) << r.output;
  EXPECT_EQ(std::stoi(m[1]), lines);
  std::string pages = ReadFile(dir_ + "/data/pages.jsonl");
  EXPECT_NE(pages.find("\"critical\""), std::string::npos) << pages;
  EXPECT_NE(pages.find("ServerErrors"), std::string::npos) << pages;

  // Again: the checkpoint says everything was delivered, so nothing is read.
  r = RunLogship({"run", "-c", dir_ + "/logship.yaml", "--exit-when-idle", "1s"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("events read and delivered +([0-9]+)"))) << r.output;
  EXPECT_EQ(std::stoi(m[1]), 0);

  // Without the checkpoint everything is read again, and the store keeps one copy.
  fs::remove(dir_ + "/data/shipper.checkpoints.json");
  r = RunLogship({"run", "-c", dir_ + "/logship.yaml", "--exit-when-idle", "1s"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("events read and delivered +([0-9]+)"))) << r.output;
  EXPECT_EQ(std::stoi(m[1]), lines);
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("events indexed \\(new rows\\) +([0-9]+)"))) << r.output;
  EXPECT_EQ(std::stoi(m[1]), 0);

  // And search finds the errors.
  r = RunLogship({"search", "-c", dir_ + "/logship.yaml", "response>=500", "--limit", "3", "--format", "json"}, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("502"), std::string::npos) << r.output;
}

// Polls the metrics endpoint until `needle` appears (or the deadline passes).
bool WaitForMetric(int port, const std::string& needle) {
  HttpClient http(HttpClient::Options{});
  for (int i = 0; i < 100; ++i) {
    auto resp = http.Get("http://127.0.0.1:" + std::to_string(port) + "/metrics", {}, std::chrono::seconds(2));
    if (resp.ok() && resp->body.find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST_F(CliTest, SighupReloadsAValidConfigAndKeepsRunningOnAnInvalidOne) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  int port = testing::FreeLoopbackPort();
  std::string src = testing::SourceDir();
  auto write_config = [&](const std::string& extra) {
    std::ofstream(dir_ + "/logship.yaml") << "host: h\ndata_dir: data\nmetrics: {listen: '127.0.0.1:" << port << "'}\n"
                                          << "queue: {redis: {port: " << redis.port() << "}}\n"
                                          << "parser:\n  rules: [" << src << "/rules/parse/nginx.yaml]\n"
                                          << "  patterns: [" << src << "/rules/patterns]\n"
                                          << extra;
  };
  write_config("");
  Subprocess parser({testing::LogshipBinary(), "parser", "-c", dir_ + "/logship.yaml"}, dir_ + "/parser.log");
  ASSERT_TRUE(parser.Start().ok());
  ASSERT_TRUE(WaitForMetric(port, "logship_parser_received_events_total")) << parser.Log();

  write_config("bogus_key: 1\n");
  parser.Signal(SIGHUP);
  EXPECT_TRUE(WaitForMetric(port, "logship_config_reloads_total{result=\"rejected\"} 1")) << parser.Log();
  write_config("");
  parser.Signal(SIGHUP);
  EXPECT_TRUE(WaitForMetric(port, "logship_config_reloads_total{result=\"ok\"} 1")) << parser.Log();

  parser.Signal(SIGTERM);
  EXPECT_EQ(parser.Wait(20000), 0) << parser.Log();
}

}  // namespace
}  // namespace logship
