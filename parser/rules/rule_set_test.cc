#include "parser/rules/rule_set.h"
#include "tests/support/subprocess.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

namespace logship::rules {
namespace {

std::string SrcDir() { return ::logship::testing::SourceDir(); }

const grok::PatternLibrary& Lib() {
  static const grok::PatternLibrary* lib = [] {
    auto* l = new grok::PatternLibrary();
    EXPECT_TRUE(l->LoadDirectory(SrcDir() + "/rules/patterns").ok());
    return l;
  }();
  return *lib;
}

std::shared_ptr<const RuleSet> Shipped() {
  auto r = LoadRuleSet({SrcDir() + "/rules/parse/nginx.yaml"}, {SrcDir() + "/rules/patterns"});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : nullptr;
}

Event Ev(std::string raw, std::string type = "nginx", std::string host = "web-1") {
  Event e;
  e.id = "id";
  e.time_ns = 1'700'000'000'000'000'000;  // 2023-11-14
  e.host = std::move(host);
  e.source = "/var/log/nginx/access.log";
  e.type = std::move(type);
  e.raw = std::move(raw);
  return e;
}

const FieldValue* Get(const ParsedEvent& p, std::string_view name) {
  for (const auto& f : p.fields)
    if (f.name == name) return &f.value;
  return nullptr;
}

constexpr const char* kLine =
    R"(203.0.113.7 - - [10/Oct/2023:13:55:36 +0200] "GET /index.html HTTP/1.1" 404 153 "-" "curl/8.1")";

TEST(RuleSetTest, ParsesNginxAndReplacesTime) {
  auto rs = Shipped();
  ASSERT_TRUE(rs);
  ParsedEvent p = rs->Parse(Ev(kLine));
  EXPECT_TRUE(p.tags.empty());
  ASSERT_TRUE(Get(p, "response"));
  EXPECT_EQ(std::get<int64_t>(*Get(p, "response")), 404);
  EXPECT_EQ(std::get<std::string>(*Get(p, "clientip")), "203.0.113.7");
  // 2023-10-10T11:55:36Z
  EXPECT_EQ(p.event.time_ns, 1696938936LL * 1'000'000'000);
  EXPECT_EQ(p.event.raw, kLine);
}

TEST(RuleSetTest, NoMatchTagsAndKeepsRaw) {
  auto rs = Shipped();
  ParsedEvent p = rs->Parse(Ev("this is not an access log line"));
  ASSERT_EQ(p.tags.size(), 1u);
  EXPECT_EQ(p.tags[0], "_grokparsefailure");
  EXPECT_TRUE(p.fields.empty());
  EXPECT_EQ(p.event.raw, "this is not an access log line");
  EXPECT_EQ(p.event.time_ns, 1'700'000'000'000'000'000);
}

TEST(RuleSetTest, UnknownTypeKeptRawWithoutTag) {
  auto rs = Shipped();
  ParsedEvent p = rs->Parse(Ev(kLine, "syslog"));
  EXPECT_TRUE(p.tags.empty());
  EXPECT_TRUE(p.fields.empty());
}

TEST(RuleSetTest, InvalidUtf8NulAndHugeLines) {
  auto rs = Shipped();
  std::string line = R"(10.1.2.3 - - [10/Oct/2023:13:55:36 +0000] "GET /)";
  line += std::string("\xff\xfe\0\xc3", 4);
  line += R"( HTTP/1.1" 200 - "-" "x")";
  ParsedEvent p = rs->Parse(Ev(line));
  EXPECT_TRUE(p.tags.empty());
  EXPECT_EQ(std::get<std::string>(*Get(p, "request")), std::string("/\xff\xfe\0\xc3", 5));
  EXPECT_EQ(Get(p, "bytes"), nullptr);

  std::string big(1 << 20, '\0');
  ParsedEvent q = rs->Parse(Ev(big));
  ASSERT_EQ(q.tags.size(), 1u);
  EXPECT_EQ(q.event.raw.size(), big.size());
}

TEST(RuleSetTest, FirstMatchingPatternWinsWithPrefilter) {
  const char* yaml = R"(
rules:
  - name: multi
    when: {type: app, source: '/var/log/app/*'}
    patterns:
      - '^%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:msg}'
      - '^%{SYSLOGTIMESTAMP:ts} %{WORD:prog}: %{GREEDYDATA:msg}'
      - '^%{GREEDYDATA:msg}$'
    timestamp: {field: ts, format: ISO8601}
  - name: other-app
    when: {type: app}
    patterns: ['%{WORD:word}']
)";
  auto r = ParseRuleSet(yaml, "t.yaml", Lib());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto rs = r.value();
  ASSERT_TRUE(rs->rules()[0]->set);

  Event e = Ev("2024-01-02T03:04:05.5Z ERROR disk full", "app");
  e.source = "/var/log/app/x.log";
  ParsedEvent p = rs->Parse(e);
  EXPECT_EQ(std::get<std::string>(*Get(p, "level")), "ERROR");
  EXPECT_EQ(p.event.time_ns, 1704164645'500'000'000);

  e.raw = "Oct  1 22:14:15 sshd: accepted";
  p = rs->Parse(e);
  EXPECT_EQ(std::get<std::string>(*Get(p, "prog")), "sshd");
  ASSERT_EQ(p.tags.size(), 1u);  // ts is not ISO8601
  EXPECT_EQ(p.tags[0], "_dateparsefailure");

  e.raw = "anything";
  p = rs->Parse(e);
  EXPECT_EQ(std::get<std::string>(*Get(p, "msg")), "anything");

  e.source = "/srv/other.log";  // source glob fails: the second rule applies
  e.raw = "hello world";
  p = rs->Parse(e);
  EXPECT_EQ(std::get<std::string>(*Get(p, "word")), "hello");
}

// The set is a prefilter (Grok::Prefilter over-approximates): a pattern it reports that
// does not really match is skipped, and the trace names the pattern that did match.
TEST(RuleSetTest, PrefilterCandidateThatDoesNotMatchIsSkipped) {
  const char* yaml = R"(
rules:
  - name: multi
    patterns:
      - '%{IPORHOST:host} x'
      - '%{GREEDYDATA:all}'
)";
  auto r = ParseRuleSet(yaml, "t.yaml", Lib());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto rs = r.value();
  const Rule& rule = *rs->rules()[0];
  ASSERT_TRUE(rule.set);
  // IPORHOST is approximated by a class of its bytes, repeated: the prefilter of the first
  // pattern matches "-- x" (an empty host before " x"), the pattern itself does not.
  re2::RE2 approx(rule.patterns[0]->Prefilter(), grok::GrokRe2Options(8 << 20));
  ASSERT_TRUE(re2::RE2::PartialMatch("-- x", approx));
  ASSERT_FALSE(rule.patterns[0]->Matches("-- x"));

  ParseTrace trace;
  ParsedEvent p = rs->Parse(Ev("-- x", "app"), &trace);
  EXPECT_EQ(trace.pattern, 1);
  EXPECT_EQ(Get(p, "host"), nullptr);
  EXPECT_EQ(std::get<std::string>(*Get(p, "all")), "-- x");

  p = rs->Parse(Ev("web-1 x", "app"), &trace);
  EXPECT_EQ(trace.pattern, 0);
  EXPECT_EQ(std::get<std::string>(*Get(p, "host")), "web-1");
}

// [@metadata] fields are removed only from rules that can produce them; the others skip
// the sweep, and a rename into [@metadata] still removes the field.
TEST(RuleSetTest, MetadataFieldsAreNeverStored) {
  const char* yaml = R"(
rules:
  - name: meta
    when: {type: a}
    patterns: ['%{WORD:[@metadata][w]} %{INT:n:int}']
    add_fields: {copy: '%{[@metadata][w]}'}
  - name: renamed
    when: {type: b}
    patterns: ['%{WORD:w} %{INT:n:int}']
    rename: {w: '@metadata'}
  - name: plain
    when: {type: c}
    patterns: ['%{WORD:w} %{INT:n:int}']
)";
  auto r = ParseRuleSet(yaml, "t.yaml", Lib());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto rs = r.value();
  EXPECT_TRUE(rs->Find("meta")->may_add_metadata);
  EXPECT_TRUE(rs->Find("renamed")->may_add_metadata);
  EXPECT_FALSE(rs->Find("plain")->may_add_metadata);
  for (const char* type : {"a", "b", "c"}) {
    ParsedEvent p = rs->Parse(Ev("hello 42", type));
    for (const auto& f : p.fields) EXPECT_FALSE(f.name.starts_with("@metadata")) << type << ": " << f.name;
    EXPECT_EQ(std::get<int64_t>(*Get(p, "n")), 42) << type;
  }
  ParsedEvent p = rs->Parse(Ev("hello 42", "a"));
  EXPECT_EQ(std::get<std::string>(*Get(p, "copy")), "hello");
  p = rs->Parse(Ev("hello 42", "c"));
  EXPECT_EQ(std::get<std::string>(*Get(p, "w")), "hello");
}

// Select remembers its last answer per thread: alternating events and rule sets must
// still each get their own rule.
TEST(RuleSetTest, SelectionCacheFollowsEventAndRuleSet) {
  const char* yaml_a = R"(
rules:
  - {name: a-web, when: {type: app, source: '/web/*'}, patterns: ['%{WORD:w}']}
  - {name: a-db, when: {type: app, host: 'db-*'}, patterns: ['%{WORD:w}']}
  - {name: a-any, when: {type: app}, patterns: ['%{WORD:w}']}
)";
  const char* yaml_b = R"(
rules:
  - {name: b-any, when: {type: app}, patterns: ['%{WORD:w}']}
)";
  auto a = ParseRuleSet(yaml_a, "a.yaml", Lib());
  auto b = ParseRuleSet(yaml_b, "b.yaml", Lib());
  ASSERT_TRUE(a.ok() && b.ok());
  Event web = Ev("x", "app");
  web.source = "/web/1.log";
  Event db = Ev("x", "app", "db-1");
  Event other = Ev("x", "app");
  Event untyped = Ev("x", "nginx");
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(a.value()->Select(web)->name, "a-web");
    EXPECT_EQ(a.value()->Select(web)->name, "a-web");
    EXPECT_EQ(b.value()->Select(web)->name, "b-any");  // same event, other rule set
    EXPECT_EQ(a.value()->Select(db)->name, "a-db");
    EXPECT_EQ(a.value()->Select(other)->name, "a-any");
    EXPECT_EQ(a.value()->Select(untyped), nullptr);
    EXPECT_EQ(a.value()->Select(other)->name, "a-any");
  }
}

TEST(RuleSetTest, ErrorsNameFileAndLine) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"rules:\n  - name: a\n    patterns: ['%{WORD}']\n    bogus: 1\n", "t.yaml:4: unknown key 'bogus'"},
      {"rules:\n  - name: a\n    when: {typ: x}\n    patterns: ['%{WORD}']\n", "t.yaml:3: unknown key 'typ'"},
      {"rules:\n  - name: a\n    patterns: ['%{NOPE}']\n", "t.yaml:3: rule 'a': grok expression: undefined pattern NOPE"},
      {"rules:\n  - name: a\n    patterns: []\n", "t.yaml:3:"},
      {"rules:\n  - name: a\n    patterns: ['x']\n    timestamp: {field: t, format: RFC}\n", "t.yaml:4: rule 'a': timestamp format 'RFC': unsupported pattern letter 'R'"},
      {"rules:\n  - name: a\n    patterns: ['x']\n  - name: a\n    patterns: ['y']\n", "t.yaml:4: duplicate rule name 'a'"},
      {"rules:\n  - name: a\n    patterns: ['x']\n    metrics:\n      - name: 'bad-name'\n", "t.yaml:5: metric name 'bad-name'"},
      {"rules:\n  - name: a\n    patterns: ['x']\n    metrics:\n      - {name: m, labels: {s: '%{x'}}\n", "t.yaml:5: label 's': unterminated"},
      {"rules: [\n", "t.yaml:"},
      {"rulez: []\n", "t.yaml:1: unknown key 'rulez'"},
      {"rules:\n  - name: a\n    patterns: ['(x']\n", "does not compile"},
  };
  for (const auto& c : cases) {
    auto r = ParseRuleSet(c.yaml, "t.yaml", Lib());
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << "want '" << c.want << "' in: " << r.status().message();
  }
  auto missing = LoadRuleSet({"/nonexistent/rules.yaml"}, {SrcDir() + "/rules/patterns"});
  EXPECT_FALSE(missing.ok());
}

TEST(RuleSetTest, ParseIsThreadSafe) {
  auto rs = Shipped();
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        ParsedEvent p = rs->Parse(Ev(kLine));
        if (p.tags.empty() && Get(p, "response")) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 8000);
}

TEST(DerivedCountersTest, CountsPerLabelsAndBucketAsDeltas) {
  auto rs = Shipped();
  DerivedCounters dc(rs);
  auto line = [](const char* time, int status) {
    return "1.2.3.4 - - [" + std::string(time) + " +0000] \"GET / HTTP/1.1\" " + std::to_string(status) +
           " 1 \"-\" \"-\"";
  };
  dc.Observe(rs->Parse(Ev(line("10/Oct/2023:13:55:31", 200))));
  dc.Observe(rs->Parse(Ev(line("10/Oct/2023:13:55:39", 200))));
  dc.Observe(rs->Parse(Ev(line("10/Oct/2023:13:55:40", 200))));
  dc.Observe(rs->Parse(Ev(line("10/Oct/2023:13:55:33", 500))));
  dc.Observe(rs->Parse(Ev(line("10/Oct/2023:13:55:33", 500), "nginx", "web-2")));
  dc.Observe(rs->Parse(Ev("garbage")));          // parse failure: not counted
  dc.Observe(rs->Parse(Ev(kLine, "syslog")));     // no rule: not counted

  std::vector<Sample> s = dc.TakeDeltas();
  const int64_t t30 = 1696946130000;  // 2023-10-10T13:55:30Z in ms
  ASSERT_EQ(s.size(), 4u);
  for (const auto& x : s) EXPECT_EQ(x.name, "http_requests");
  EXPECT_EQ(s[0].labels, (Labels{{"host", "web-1"}, {"status", "200"}}));
  EXPECT_EQ(s[0].time_ms, t30);
  EXPECT_EQ(s[0].value, 2);
  EXPECT_EQ(s[1].labels, (Labels{{"host", "web-1"}, {"status", "200"}}));
  EXPECT_EQ(s[1].time_ms, t30 + 10000);
  EXPECT_EQ(s[1].value, 1);
  EXPECT_EQ(s[2].labels, (Labels{{"host", "web-1"}, {"status", "500"}}));
  EXPECT_EQ(s[2].value, 1);
  EXPECT_EQ(s[3].labels, (Labels{{"host", "web-2"}, {"status", "500"}}));

  EXPECT_TRUE(dc.TakeDeltas().empty());  // deltas: nothing new
  dc.Observe(rs->Parse(Ev(line("10/Oct/2023:13:55:31", 200))));
  s = dc.TakeDeltas();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].value, 1);
  EXPECT_EQ(s[0].time_ms, t30);
}

TEST(DerivedCountersTest, ListLabelsAndBucketWidth) {
  const char* yaml = R"(
rules:
  - name: r
    when: {type: t}
    patterns: ['%{WORD:[http][verb]} %{INT:code:int}']
    metrics:
      - name: reqs
        labels: ['[http][verb]', code, '@type']
      - name: all
)";
  auto r = ParseRuleSet(yaml, "t.yaml", Lib());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  DerivedCounters dc(r.value(), 60'000);
  Event e = Ev("GET 200", "t");
  e.time_ns = 125'000'000'000;  // 125 s
  dc.Observe(r.value()->Parse(e));
  auto s = dc.TakeDeltas();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "all");
  EXPECT_TRUE(s[0].labels.empty());
  EXPECT_EQ(s[0].time_ms, 120'000);
  EXPECT_EQ(s[1].labels, (Labels{{"code", "200"}, {"http_verb", "GET"}, {"type", "t"}}));
}

TEST(TimestampTest, Formats) {
  EXPECT_EQ(ParseTimestamp("10/Oct/2000:13:55:36 -0700", TimestampFormat::kHttpDate, 0),
            971211336LL * 1'000'000'000);
  EXPECT_EQ(ParseTimestamp("2000-10-10T20:55:36Z", TimestampFormat::kIso8601, 0), 971211336LL * 1'000'000'000);
  EXPECT_EQ(ParseTimestamp("2000-10-10 22:55:36.25+02:00", TimestampFormat::kIso8601, 0),
            971211336LL * 1'000'000'000 + 250'000'000);
  EXPECT_EQ(ParseTimestamp("2000-10-10T20:55:36", TimestampFormat::kIso8601, 0), 971211336LL * 1'000'000'000);
  EXPECT_EQ(ParseTimestamp("971211336", TimestampFormat::kUnix, 0), 971211336LL * 1'000'000'000);
  EXPECT_EQ(ParseTimestamp("971211336.5", TimestampFormat::kUnix, 0), 971211336LL * 1'000'000'000 + 500'000'000);
  EXPECT_EQ(ParseTimestamp("971211336123", TimestampFormat::kUnixMs, 0), 971211336123LL * 1'000'000);
  // Syslog: no year. Reference 2000-10-11: same year. Reference 2001-01-01: Oct is last year.
  int64_t ref = 971262000LL * 1'000'000'000;
  EXPECT_EQ(ParseTimestamp("Oct 10 20:55:36", TimestampFormat::kSyslog, ref), 971211336LL * 1'000'000'000);
  int64_t jan = 978307200LL * 1'000'000'000;
  EXPECT_EQ(ParseTimestamp("Oct 10 20:55:36", TimestampFormat::kSyslog, jan), 971211336LL * 1'000'000'000);
  EXPECT_EQ(ParseTimestamp("Dec 31 23:59:59", TimestampFormat::kSyslog, jan), 978307199LL * 1'000'000'000);
  for (const char* bad : {"", "10/Foo/2000:13:55:36 -0700", "32/Oct/2000:13:55:36 +0000",
                          "10/Oct/2000:13:55:36 +0000x"}) {
    EXPECT_FALSE(ParseTimestamp(bad, TimestampFormat::kHttpDate, 0)) << bad;
  }
  EXPECT_FALSE(ParseTimestamp("2000-13-01T00:00:00Z", TimestampFormat::kIso8601, 0));
  EXPECT_FALSE(ParseTimestamp("abc", TimestampFormat::kUnix, 0));
}

}  // namespace
}  // namespace logship::rules
