// `logship rules test` as an operator runs it: a case file in CI (exit 0 when every case
// passes, 1 with a readable diff when one fails, 2 when the rules or cases cannot load),
// the shipped pattern conformance cases, lines given with -l or on stdin (text and JSON),
// a grok expression with -e, and --strict.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/subprocess.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using testing::Subprocess;

using testing::RunResult;

class RulesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("logship-rules-cli");
    src_ = testing::SourceDir();
    rules_ = src_ + "/parser/rules/testdata/operator_rules.yaml";
    cases_ = src_ + "/parser/rules/testdata/operator_cases.yaml";
    patterns_ = src_ + "/rules/patterns";
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  RunResult Run(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"rules", "test"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunLogship(argv, dir_, 60000);
  }

  // Runs with `input` on stdin; returns the exit code and stdout alone.
  RunResult RunWithStdin(const std::vector<std::string>& args, const std::string& input) {
    std::vector<std::string> argv = {testing::LogshipBinary(), "rules", "test"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string in_path = dir_ + "/stdin-" + std::to_string(++runs_), out_path = in_path + ".out";
    std::ofstream(in_path) << input;
    int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    auto pid = testing::SpawnChild(argv, in, out, -1);
    ::close(in);
    ::close(out);
    EXPECT_TRUE(pid.ok());
    int status = 0, code = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (pid.ok() && std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(pid.value(), &status, WNOHANG);
      if (r == pid.value()) {
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::ifstream f(out_path);
    std::stringstream ss;
    ss << f.rdbuf();
    return {code, ss.str()};
  }

  std::string dir_, src_, rules_, cases_, patterns_;
  int runs_ = 0;
};

bool Has(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

TEST_F(RulesCliTest, CaseFilePassesWithExitZero) {
  RunResult r = Run({"-r", rules_, "-p", patterns_, cases_});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, "PASS timed line, first pattern (" + cases_ + ":5)")) << r.output;
  EXPECT_TRUE(Has(r.output, "19 cases, 19 passed, 0 failed")) << r.output;

  // The same through a config file (rules, patterns and defaults from parser.*).
  std::ofstream(dir_ + "/logship.yaml") << "host: h\ndata_dir: " << dir_ << "/data\nparser:\n  rules: [" << rules_
                                         << "]\n  patterns: [" << patterns_ << "]\n";
  r = Run({"-c", dir_ + "/logship.yaml", cases_});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, "19 cases, 19 passed, 0 failed")) << r.output;
}

TEST_F(RulesCliTest, FailingCaseExitsOneWithADiffPerDifference) {
  const std::string file = dir_ + "/ci.yaml";
  std::ofstream(file) << "cases:\n"
                         "  - name: still passes\n"
                         "    line: '1719835200 job=backup status=ok duration=2s'\n"
                         "    type: jobs\n"
                         "    fields: {job: backup, status: ok, duration: 2.0}\n"
                         "  - name: status changed\n"
                         "    line: '1719835200 job=backup status=failed duration=2s'\n"
                         "    type: jobs\n"
                         "    timestamp: 2024-07-01T12:00:01Z\n"
                         "    fields: {job: backup, status: ok, duration: 2}\n";
  RunResult r = Run({"-r", rules_, "-p", patterns_, file});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(Has(r.output, "PASS still passes (" + file + ":2)")) << r.output;
  EXPECT_TRUE(Has(r.output, "FAIL status changed (" + file + ":6)\n"
                            "  field status: expected string \"ok\", got string \"failed\"\n"
                            "  field duration: expected int 2, got float 2\n"
                            "  timestamp: expected 2024-07-01T12:00:01Z, got 2024-07-01T12:00:00Z\n"))
      << r.output;
  EXPECT_TRUE(Has(r.output, "2 cases, 1 passed, 1 failed")) << r.output;
}

TEST_F(RulesCliTest, LoadErrorsExitTwoNamingFileAndLine) {
  const std::string bad_rules = dir_ + "/bad.yaml";
  std::ofstream(bad_rules) << "rules:\n  - name: r\n    patterns: ['%{NOSUCH:x}']\n";
  RunResult r = Run({"-r", bad_rules, "-p", patterns_, cases_});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r.output, bad_rules + ":3: rule 'r': grok expression: undefined pattern NOSUCH")) << r.output;

  const std::string bad_cases = dir_ + "/cases.yaml";
  std::ofstream(bad_cases) << "cases:\n  - line: x\n    type: jobs\n    feilds: {a: 1}\n";
  r = Run({"-r", rules_, "-p", patterns_, bad_cases});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r.output, bad_cases + ":4: unknown key 'feilds' in a case")) << r.output;

  r = Run({"-r", rules_, "-p", patterns_, dir_ + "/missing.yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST_F(RulesCliTest, ShippedPatternConformanceCasesRun) {
  // As rules/patterns/tests/README.md tells operators: both namings of each case.
  RunResult r = Run({"-p", patterns_, patterns_ + "/tests/httpd.yaml", patterns_ + "/tests/syslog.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, " [legacy]\n")) << r.output;
  EXPECT_TRUE(Has(r.output, " [ecs]\n")) << r.output;
  EXPECT_TRUE(Has(r.output, " passed, 0 failed")) << r.output;
}

TEST_F(RulesCliTest, LinesShowRuleFieldsTypesAndTime) {
  const std::string line =
      "203.0.113.7 - - [10/Oct/2023:13:55:36 +0200] \"GET /index.html HTTP/1.1\" 200 512 \"-\" \"curl/8.1\" 0.250";
  RunResult r = Run({"-r", rules_, "-p", patterns_, "--type", "nginx", "--source", "/var/log/nginx/access.log",
                     "--host", "web-1", "-l", line});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, "  rule        nginx-timed (" + rules_ + ":7)\n")) << r.output;
  EXPECT_TRUE(Has(r.output, "  pattern     1 of 2: %{NGINX_ACCESS} %{NUMBER:request_time:float}$\n")) << r.output;
  EXPECT_TRUE(Has(r.output, "  time        2023-10-10T11:55:36Z (from timestamp, HTTPDATE)\n")) << r.output;
  EXPECT_TRUE(Has(r.output, "  tags        nginx\n")) << r.output;
  EXPECT_TRUE(Has(r.output, "    response        int     200\n")) << r.output;
  EXPECT_TRUE(Has(r.output, "    request_time    float   0.25\n")) << r.output;
  EXPECT_TRUE(Has(r.output, "    source.address  string  \"203.0.113.7\"\n")) << r.output;

  // JSON, one object per line, from stdin; a line no pattern matches is shown, and
  // --strict turns it into exit 1.
  const std::string input = line + "\nnot an access line\n";
  const std::vector<std::string> args = {"-r", rules_, "-p", patterns_, "--type", "nginx", "--source",
                                         "/var/log/nginx/access.log", "--format", "json"};
  RunResult j = RunWithStdin(args, input);
  EXPECT_EQ(j.exit_code, 0) << j.output;
  std::istringstream lines(j.output);
  std::string first, second;
  ASSERT_TRUE(std::getline(lines, first)) << j.output;
  ASSERT_TRUE(std::getline(lines, second)) << j.output;
  auto a = nlohmann::json::parse(first), b = nlohmann::json::parse(second);
  EXPECT_EQ(a["rule"], "nginx-timed");
  EXPECT_EQ(a["pattern"], 1);
  EXPECT_EQ(a["time"], "2023-10-10T11:55:36Z");
  EXPECT_TRUE(a["fields"]["response"].is_number_integer());
  EXPECT_EQ(a["fields"]["response"], 200);
  EXPECT_EQ(a["fields"]["request_time"], 0.25);
  EXPECT_EQ(a["fields"]["service.name"], "web");
  EXPECT_EQ(b["pattern"], nullptr);
  EXPECT_EQ(b["tags"], nlohmann::json::array({"_grokparsefailure"}));
  EXPECT_TRUE(b["fields"].empty());

  std::vector<std::string> strict = args;
  strict.push_back("--strict");
  EXPECT_EQ(RunWithStdin(strict, input).exit_code, 1);
  EXPECT_EQ(RunWithStdin(strict, line + "\n").exit_code, 0);
}

TEST_F(RulesCliTest, ExpressionInEitherNaming) {
  const std::string line = "55.3.244.1 GET /index.html 15824 0.043";
  RunResult r = Run({"-p", patterns_, "-e", "%{IP:client} %{WORD:method} %{URIPATHPARAM:request} %{NUMBER:bytes:int} "
                                            "%{NUMBER:duration:float}",
                     "-l", line});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, "    bytes     int     15824\n")) << r.output;
  EXPECT_TRUE(Has(r.output, "    duration  float   0.043\n")) << r.output;

  r = Run({"-p", patterns_, "--ecs-compatibility", "v1", "-e", "%{COMBINEDAPACHELOG}", "-l",
           "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326 \"-\" \"x\""});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, "http.response.status_code  int     200\n")) << r.output;

  r = Run({"-p", patterns_, "-e", "%{IP:ip", "-l", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r.output, "unterminated %{ at offset 0")) << r.output;
}

}  // namespace
}  // namespace logship
