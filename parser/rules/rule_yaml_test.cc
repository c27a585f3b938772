// Parse rules as an operator writes them (testdata/operator_rules.yaml): every rule
// feature from YAML (when type/source/host, ordered patterns, convert, rename, add/remove
// fields, drop conditions, time zones, epoch and Joda timestamps, the tag when nothing
// matched) checked through the case file an operator's CI would run
// (testdata/operator_cases.yaml), the derived counters and histograms those rules publish,
// and load errors that name file:line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "parser/rules/rule_cases.h"
#include "parser/rules/rule_set.h"
#include "tests/support/subprocess.h"

namespace logship::rules {
namespace {

namespace fs = std::filesystem;

std::string SrcDir() { return ::logship::testing::SourceDir(); }

std::string TestData(const std::string& name) { return SrcDir() + "/parser/rules/testdata/" + name; }

std::shared_ptr<const RuleSet> OperatorRules() {
  auto r = LoadRuleSet({TestData("operator_rules.yaml")}, {SrcDir() + "/rules/patterns"});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : nullptr;
}

TEST(RuleYamlTest, OperatorCasesAllPass) {
  auto rules = OperatorRules();
  ASSERT_TRUE(rules);
  auto cases = LoadRuleCases(TestData("operator_cases.yaml"));
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  CaseRunner runner(rules, nullptr);
  size_t n = 0;
  for (const auto& c : cases.value()) {
    for (const auto& r : runner.Run(c)) {
      ++n;
      std::string diffs;
      for (const auto& d : r.diffs) diffs += "\n  " + d;
      EXPECT_TRUE(r.passed) << r.title << diffs;
    }
  }
  EXPECT_EQ(n, 19u);
}

// Each kind of expectation can fail: a case file with one wrong expectation of each kind
// reports one difference per wrong expectation.
TEST(RuleYamlTest, WrongExpectationsAreReportedOneLineEach) {
  auto rules = OperatorRules();
  ASSERT_TRUE(rules);
  auto cases = ParseRuleCases(R"(
cases:
  - name: wrong
    line: '1719835200.5 job=backup status=failed duration=3s'
    type: jobs
    source: /var/log/jobs/backup.log
    rule: jobs-ms
    timestamp: 2024-07-01T12:00:00Z
    tags: [x]
    dropped: true
    fields: {job: backup, status: ok, duration: '3', extra: 1}
)", "wrong.yaml");
  ASSERT_TRUE(cases.ok()) << cases.status().ToString();
  CaseRunner runner(rules, nullptr);
  auto results = runner.Run(cases.value()[0]);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].passed);
  EXPECT_EQ(results[0].title, "wrong (wrong.yaml:3)");
  const std::vector<std::string> want = {
      "rule: expected jobs-ms, got jobs",
      "field status: expected string \"ok\", got string \"failed\"",
      "field duration: expected string \"3\", got float 3",
      "field extra: missing (expected int 1)",
      "timestamp: expected 2024-07-01T12:00:00Z, got 2024-07-01T12:00:00.5Z",
      "tags: expected [x], got []",
      "dropped: expected true, got false",
  };
  EXPECT_EQ(results[0].diffs, want);
}

Event Ev(std::string raw, std::string type, std::string source, std::string host) {
  Event e;
  e.id = "id";
  e.time_ns = 1'700'000'000'000'000'000;
  e.type = std::move(type);
  e.source = std::move(source);
  e.host = std::move(host);
  e.raw = std::move(raw);
  return e;
}

TEST(RuleYamlTest, NoRuleKeepsTheEventUntaggedAndNoMatchKeepsItRawAndTagged) {
  auto rules = OperatorRules();
  ASSERT_TRUE(rules);
  // syslog-ny applies to ny-* hosts only; nginx-timed to /var/log/nginx/*.log only.
  for (const Event& e : {Ev("Nov 22 03:04:05 h sshd[1]: x", "syslog", "", "ldn-1"),
                         Ev("1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", "nginx",
                            "/srv/other.log", "web-1"),
                         Ev("x", "unknown-type", "", "")}) {
    ParseTrace trace;
    ParsedEvent p = rules->Parse(e, &trace);
    EXPECT_EQ(trace.rule, nullptr) << e.raw;
    EXPECT_TRUE(p.fields.empty());
    EXPECT_TRUE(p.tags.empty());
    EXPECT_FALSE(p.dropped);
    EXPECT_EQ(p.event.raw, e.raw);
    EXPECT_EQ(p.event.time_ns, e.time_ns);
  }
  const std::string junk = std::string("not\0an\xff access line", 21);
  ParsedEvent p = rules->Parse(Ev(junk, "nginx", "/var/log/nginx/a.log", "web-1"));
  EXPECT_EQ(p.tags, std::vector<std::string>{kGrokParseFailureTag});
  EXPECT_TRUE(p.fields.empty());
  EXPECT_FALSE(p.dropped);  // never dropped: stored raw
  EXPECT_EQ(p.event.raw, junk);
  EXPECT_EQ(p.event.time_ns, 1'700'000'000'000'000'000);
}

using SeriesKey = std::pair<std::string, Labels>;

std::map<SeriesKey, double> ByName(const std::vector<Sample>& samples, int64_t* time_ms) {
  std::map<SeriesKey, double> out;
  for (const auto& s : samples) {
    EXPECT_TRUE(out.emplace(SeriesKey{s.name, s.labels}, s.value).second) << s.name;
    *time_ms = s.time_ms;
  }
  return out;
}

TEST(RuleYamlTest, DerivedCountersAndHistogramsByLabels) {
  auto rules = OperatorRules();
  ASSERT_TRUE(rules);
  DerivedCounters dc(rules);
  auto nginx = [&](const std::string& verb, int status, const std::string& bytes, const std::string& tail,
                   const std::string& host = "web-1") {
    std::string line = "192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] \"" + verb + " /x HTTP/1.1\" " +
                       std::to_string(status) + " " + bytes + " \"-\" \"ua\"" + tail;
    dc.Observe(rules->Parse(Ev(line, "nginx", "/var/log/nginx/access.log", host)));
  };
  nginx("GET", 200, "512", " 0.05");
  nginx("GET", 200, "100", " 0.5");  // on a bound: counted in le="0.5"
  nginx("POST", 201, "10", " 2.0");
  nginx("GET", 503, "-", "");        // no request_time, no bytes: counted by http_requests only
  nginx("GET", 200, "1", " 0.01", "web-2");
  dc.Observe(rules->Parse(Ev("192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"ua\" 0.001",
                             "nginx", "/var/log/nginx/access.log", "web-1")));  // dropped
  dc.Observe(rules->Parse(Ev("garbage", "nginx", "/var/log/nginx/access.log", "web-1")));  // no match

  int64_t time_ms = 0;
  auto got = ByName(dc.TakeDeltas(), &time_ms);
  EXPECT_EQ(time_ms, 1696946130000);  // 2023-10-10T13:55:30Z: the event time's 10 s bucket
  const std::map<SeriesKey, double> want = {
      {{"http_requests", {{"host", "web-1"}, {"status", "200"}}}, 2},
      {{"http_requests", {{"host", "web-1"}, {"status", "201"}}}, 1},
      {{"http_requests", {{"host", "web-1"}, {"status", "503"}}}, 1},
      {{"http_requests", {{"host", "web-2"}, {"status", "200"}}}, 1},
      {{"http_response_bytes", {}}, 623},
      {{"http_request_seconds_bucket", {{"le", "0.1"}, {"verb", "GET"}}}, 2},
      {{"http_request_seconds_bucket", {{"le", "0.5"}, {"verb", "GET"}}}, 3},
      {{"http_request_seconds_bucket", {{"le", "1"}, {"verb", "GET"}}}, 3},
      {{"http_request_seconds_bucket", {{"le", "+Inf"}, {"verb", "GET"}}}, 3},
      {{"http_request_seconds_sum", {{"verb", "GET"}}}, 0.56},
      {{"http_request_seconds_count", {{"verb", "GET"}}}, 3},
      {{"http_request_seconds_bucket", {{"le", "0.1"}, {"verb", "POST"}}}, 0},
      {{"http_request_seconds_bucket", {{"le", "0.5"}, {"verb", "POST"}}}, 0},
      {{"http_request_seconds_bucket", {{"le", "1"}, {"verb", "POST"}}}, 0},
      {{"http_request_seconds_bucket", {{"le", "+Inf"}, {"verb", "POST"}}}, 1},
      {{"http_request_seconds_sum", {{"verb", "POST"}}}, 2},
      {{"http_request_seconds_count", {{"verb", "POST"}}}, 1},
  };
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [key, value] : want) {
    auto it = got.find(key);
    ASSERT_NE(it, got.end()) << key.first;
    EXPECT_NEAR(it->second, value, 1e-9) << key.first;
  }

  // Jobs: a counter by two list labels and a histogram with the default buckets.
  dc.Observe(rules->Parse(Ev("1719835200 job=backup status=ok duration=0.2s", "jobs", "/var/log/jobs/b.log", "h")));
  dc.Observe(rules->Parse(Ev("1719835201 job=backup status=ok duration=7s", "jobs", "/var/log/jobs/b.log", "h")));
  dc.Observe(rules->Parse(Ev("1719835202 job=noop status=ok duration=0s", "jobs", "/var/log/jobs/b.log", "h")));
  got = ByName(dc.TakeDeltas(), &time_ms);
  EXPECT_EQ(time_ms, 1719835200000);
  EXPECT_EQ((got[{"jobs_total", {{"job", "backup"}, {"status", "ok"}}}]), 2);
  EXPECT_EQ((got[{"job_duration_seconds_bucket", {{"job", "backup"}, {"le", "0.25"}}}]), 1);
  EXPECT_EQ((got[{"job_duration_seconds_bucket", {{"job", "backup"}, {"le", "5"}}}]), 1);
  EXPECT_EQ((got[{"job_duration_seconds_bucket", {{"job", "backup"}, {"le", "10"}}}]), 2);
  EXPECT_EQ((got[{"job_duration_seconds_count", {{"job", "backup"}}}]), 2);
  EXPECT_EQ(got.count({"jobs_total", {{"job", "noop"}, {"status", "ok"}}}), 0u);  // dropped
  EXPECT_EQ(got.size(), 1u + 12u + 2u);  // 11 default bounds + Inf, sum, count
}

// Mistakes an operator makes in a rule file: each is a load error naming the file and the
// line of the offending key or value.
TEST(RuleYamlTest, MistakesNameFileAndLine) {
  const fs::path dir = fs::temp_directory_path() / ("logship-rule-yaml-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string head = "rules:\n  - name: r\n    patterns: ['%{WORD:w} %{NUMBER:n}']\n";  // lines 1-3
  struct Case {
    std::string body;  // from line 4
    int line;
    std::string want;
  } cases[] = {
      {"    timestamp: {field: t, timezone: Mars/Olympus}\n", 4, "time zone 'Mars/Olympus'"},
      {"    timestamp: {field: t, format: [ISO8601, dd/MMM/yyyy:HH:mm:ss Q]}\n", 4, "unsupported pattern letter 'Q'"},
      {"    timestamp: {field: t, zone: UTC}\n", 4, "unknown key 'zone' in timestamp"},
      {"    convert: {n: number}\n", 4, "convert type 'number' (expected int, float or string)"},
      {"    rename: [w, x]\n", 4, "'rename' must be a mapping"},
      {"    add_fields: {x: '%{w'}\n", 4, "add_fields.x: unterminated %{"},
      {"    drop:\n      - {field: w, equal: a}\n", 5, "unknown key 'equal' in drop condition"},
      {"    drop:\n      - {field: w}\n", 5, "a drop condition needs a test"},
      {"    drop:\n      - {field: n, gt: many}\n", 5, "'gt' must be a number"},
      {"    drop:\n      - {field: w, matches: '(?<=a)b'}\n", 5, "'matches' does not compile"},
      {"    metrics:\n      - {name: lat, type: histogram}\n", 5, "histogram 'lat' needs a 'field'"},
      {"    metrics:\n      - name: lat\n        type: histogram\n        field: n\n        buckets: [1, 0.5]\n", 8,
       "'buckets' must be ascending"},
      {"    metrics:\n      - {name: c, type: gauge}\n", 5, "metric type 'gauge'"},
      {"    metrics:\n      - {name: h, type: histogram, field: n, labels: {le: x}}\n", 5, "label 'le' is reserved"},
      {"    metrics:\n      - {name: c, labels: [my-field]}\n", 5, "label name 'my-field'"},
      {"    ecs_compatibility: v2\n", 4, "ecs_compatibility 'v2'"},
      {"    when: {type: a, hosts: 'web-*'}\n", 4, "unknown key 'hosts' in when"},
      {"    add_tags: {a: b}\n", 4, "'add_tags' must be a string or a list of strings"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string path = (dir / ("r" + std::to_string(++i) + ".yaml")).string();
    std::ofstream(path) << head << c.body;
    auto r = LoadRuleSet({path}, {SrcDir() + "/rules/patterns"});
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.body;
    const std::string at = path + ":" + std::to_string(c.line) + ":";
    EXPECT_EQ(r.status().message().rfind(at, 0), 0u) << "want " << at << " in: " << r.status().message();
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << "want '" << c.want << "' in: " << r.status().message();
  }
  // A rule file in a directory: the directory's *.yaml files load in name order, and a
  // duplicate rule name across files names both places.
  fs::create_directories(dir / "d");
  std::ofstream(dir / "d" / "a.yaml") << head;
  std::ofstream(dir / "d" / "b.yml") << "# second\n" << head;
  std::ofstream(dir / "d" / "notes.txt") << "not a rule file";
  auto r = LoadRuleSet({(dir / "d").string()}, {SrcDir() + "/rules/patterns"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find((dir / "d" / "b.yml").string() + ":3: duplicate rule name 'r' (first defined at " +
                                      (dir / "d" / "a.yaml").string() + ":2)"),
            std::string::npos)
      << r.status().message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace logship::rules
