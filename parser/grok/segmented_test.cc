// Differential test of segmented capture extraction (segmented.h): Grok::Match must give
// exactly what the full-capture RE2 match (Grok::MatchFullCapture) gives, on valid lines,
// unusual-but-valid lines and near misses.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

#include "parser/grok/grok.h"
#include "tests/support/subprocess.h"

namespace logship::grok {
namespace {

std::string SrcDir() { return ::logship::testing::SourceDir(); }

const PatternLibrary& Shipped() {
  static const PatternLibrary* lib = [] {
    auto* l = new PatternLibrary();
    Status st = l->LoadDirectory(SrcDir() + "/rules/patterns");
    EXPECT_TRUE(st.ok()) << st.ToString();
    return l;
  }();
  return *lib;
}

std::string Show(const std::vector<Field>& fields) {
  std::string out;
  for (const auto& f : fields) {
    out += f.name + "=";
    if (auto* s = std::get_if<std::string>(&f.value)) out += "\"" + *s + "\"";
    else if (auto* i = std::get_if<int64_t>(&f.value)) out += std::to_string(*i) + "i";
    else out += std::to_string(std::get<double>(f.value)) + "f";
    out += " ";
  }
  return out;
}

// Runs both paths; returns whether the line matched. Fails the test on any difference.
bool ExpectSame(const Grok& g, const std::string& line) {
  std::vector<Field> fast, full;
  bool a = g.Match(line, &fast);
  bool b = g.MatchFullCapture(line, &full);
  EXPECT_EQ(a, b) << g.expression() << " on: " << line;
  bool same = fast.size() == full.size();
  for (size_t i = 0; same && i < fast.size(); ++i)
    same = fast[i].name == full[i].name && fast[i].value == full[i].value;
  EXPECT_TRUE(same) << g.expression() << " on: " << line << "\n segmented: " << Show(fast)
                    << "\n full:      " << Show(full);
  return b;
}

class LineGen {
 public:
  explicit LineGen(uint32_t seed) : rng_(seed) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Int(0, static_cast<int>(v.size()) - 1)]; }

  std::string Client() {
    static const std::vector<std::string> hosts = {
        "203.0.113.7", "10.0.0.1", "255.255.255.255", "2001:db8::1", "::1", "fe80::1%eth0",
        "2001:db8:85a3::8a2e:370:7334", "::ffff:192.0.2.128", "1:2:3:4:5:6:7:8",
        "proxy.example.com", "host-1", "a.b.c.", "300.1.1.1", "1.2.3", "::", "fe80::"};
    return Pick(hosts);
  }
  std::string User() {
    static const std::vector<std::string> users = {"-", "alice", "bob.smith", "x@example.com",
                                                   "a_b-c", "-"};
    return Pick(users);
  }
  std::string Request() {
    static const std::vector<std::string> reqs = {
        "GET /api/users?id=7 HTTP/1.1", "POST /login HTTP/2.0", "GET / HTTP/1.0",
        "GET /a\\x22b HTTP/1.1",            // nginx-escaped quote
        "GET /a\"b HTTP/1.1",               // bare quote in the URL
        "GET /a\" 200 1 \"x HTTP/1.1",      // a quote that looks like the next fields
        "-", "", "\\x16\\x03\\x01", "GARBAGE", "GET /nospace", "GET  /double HTTP/1.1",
        "get /lower HTTP/1.1", "GET /x HTTP/1.1 extra", "GET /\xff\xfe\x80 HTTP/1.1",
        std::string("GET /nul\0x HTTP/1.1", 19)};
    return Pick(reqs);
  }
  std::string Quoted() {
    static const std::vector<std::string> vals = {
        "-", "", "https://example.com/start", "Mozilla/5.0 (X11; Linux x86_64)",
        "with \\\"escaped\\\" quotes", "trailing backslash \\\\", "caf\xc3\xa9 \xff\xfe",
        "curl/8.0"};
    return Pick(vals);
  }
  std::string Nginx() {
    std::string bytes = Int(0, 3) == 0 ? "-" : std::to_string(Int(0, 99999));
    std::string status = Pick(std::vector<std::string>{"200", "404", "500", "301", "0"});
    return Client() + " " + User() + " " + User() + " [10/Oct/2023:13:55:36 +0200] \"" +
           Request() + "\" " + status + " " + bytes + " \"" + Quoted() + "\" \"" + Quoted() + "\"";
  }
  std::string Syslog() {
    static const std::vector<std::string> progs = {"sshd[1234]", "kernel", "CRON[77]",
                                                   "systemd-logind[1]", "app/worker[9]"};
    std::string ts = Pick(std::vector<std::string>{"Oct 10 13:55:36", "Jan  1 00:00:00",
                                                   "Feb 29 23:59:60"});
    std::string facility = Int(0, 3) == 0 ? "<4.3> " : "";
    return ts + " " + facility + Pick(std::vector<std::string>{"web-1", "10.1.2.3", "db.example.org"}) +
           " " + Pick(progs) + ": " + Quoted() + " " + Request();
  }
  // A near miss: one random byte deleted, replaced or inserted, or junk around the line.
  std::string Mutate(std::string s) {
    static const std::string junk = " \"[]-:/.\\0aZ\xff";
    switch (Int(0, 4)) {
      case 0:
        if (!s.empty()) s.erase(Int(0, static_cast<int>(s.size()) - 1), 1);
        break;
      case 1:
        if (!s.empty()) s[Int(0, static_cast<int>(s.size()) - 1)] = junk[Int(0, junk.size() - 1)];
        break;
      case 2:
        s.insert(s.begin() + Int(0, static_cast<int>(s.size())), junk[Int(0, junk.size() - 1)]);
        break;
      case 3:
        s = "prefix " + s + " suffix";
        break;
      default:
        s = s + "\n" + s;
    }
    return s;
  }

 private:
  std::mt19937 rng_;
};

TEST(SegmentedTest, NginxIsSegmentedWithoutTheBigProgram) {
  auto g = Grok::Compile("%{NGINX_ACCESS}", Shipped());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE(g.value()->segmented());
  const std::string plan = g.value()->DescribeSegmentation();
  // clientip, ident, auth and timestamp are placed by their separators alone.
  EXPECT_NE(plan.find("span to ' ': group g1"), std::string::npos) << plan;
  EXPECT_NE(plan.find("span to ']'"), std::string::npos) << plan;
  // The closing quote sits at the end of the match: the agent is placed without a regex.
  EXPECT_NE(plan.find("span to end: group g12"), std::string::npos) << plan;
  EXPECT_NE(plan.find("span to end - 1:"), std::string::npos) << plan;
  // The request, (?:%{WORD:verb} ...|%{DATA:rawrequest}), is matched branch by branch.
  EXPECT_NE(plan.find("(head: 2 branches in order)"), std::string::npos) << plan;
  // bytes, (?:%{NUMBER:bytes:int}|-), is placed by comparing its piece with "-".
  EXPECT_NE(plan.find("choice of 1 literals, else group 10"), std::string::npos) << plan;
}

TEST(SegmentedTest, ChoiceOfLiteralsAndOneGroup) {
  // "5" is matched by the NUMBER branch, which comes first: the group takes it. "-" is
  // not a NUMBER: the literal branch is taken and y is not set.
  auto g = Grok::Compile("(?:-|%{INT:x}) (?:%{NUMBER:y}|-|5)", Shipped());
  ASSERT_TRUE(g.ok());
  EXPECT_NE(g.value()->DescribeSegmentation().find("choice of 2 literals"), std::string::npos)
      << g.value()->DescribeSegmentation();
  for (const char* line : {"- -", "-5 5", "7 -", "- 5", "+3 4.5", "- --", "-- 5", "x 5"}) {
    SCOPED_TRACE(line);
    ExpectSame(*g.value(), line);
  }
  std::vector<Field> f;
  ASSERT_TRUE(g.value()->Match("- 5", &f));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].name, "y");
  f.clear();
  ASSERT_TRUE(g.value()->Match("-5 -", &f));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].name, "x");
  // A branch with an assertion depends on its context: no choice step is planned.
  auto w = Grok::Compile("(?:%{WORD:w}|-) x", Shipped());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w.value()->DescribeSegmentation().find("choice"), std::string::npos);
}

TEST(SegmentedTest, TrailingGreedyDataMatchesOnlyThePrefixWithCaptures) {
  for (const char* expr : {"%{SYSLOGLINE}", "%{SYSLOGBASE} %{GREEDYDATA:message}"}) {
    auto g = Grok::Compile(expr, Shipped());
    ASSERT_TRUE(g.ok()) << expr;
    EXPECT_FALSE(g.value()->segmented()) << expr;
    EXPECT_TRUE(g.value()->trailing_greedy()) << expr;
  }
  // Not the shape: lazy, anchored after, not captured.
  for (const char* expr : {"%{WORD:a} %{DATA:b}", "%{WORD:a} %{GREEDYDATA:b}$", "%{WORD:a} .*",
                           "%{WORD:a} (?i)%{GREEDYDATA:b}"}) {
    auto g = Grok::Compile(expr, Shipped());
    ASSERT_TRUE(g.ok()) << expr;
    EXPECT_FALSE(g.value()->trailing_greedy()) << expr;
  }
}

// Grok::Prefilter must match every line the expression matches.
TEST(SegmentedTest, PrefilterIsASuperset) {
  const std::vector<std::string> exprs = {
      "%{NGINX_ACCESS}", "%{HTTPD_COMBINEDLOG}", "%{SYSLOGLINE}", "%{IPORHOST:h} x",
      "%{SYSLOGBASE} %{GREEDYDATA:message}", "^%{IP:ip}$", "%{MONTH} +%{MONTHDAY}",
      "%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level}", "\\b%{HOSTNAME:h}\\b"};
  LineGen gen(99);
  std::vector<std::string> lines;
  for (int i = 0; i < 600; ++i) lines.push_back(gen.Nginx());
  for (int i = 0; i < 300; ++i) lines.push_back(gen.Syslog());
  for (int i = 0; i < 900; ++i) lines.push_back(gen.Mutate(i % 3 == 0 ? gen.Syslog() : gen.Nginx()));
  for (const char* l : {"", "1.2.3.4", "2001:db8::1", "web-1 x", "-- x", "Jan  1", "2024-01-02 03:04:05 INFO"})
    lines.push_back(l);
  for (const auto& expr : exprs) {
    auto g = Grok::Compile(expr, Shipped());
    ASSERT_TRUE(g.ok()) << expr;
    re2::RE2 approx(g.value()->Prefilter(), GrokRe2Options(64 << 20));
    ASSERT_TRUE(approx.ok()) << expr << ": " << approx.error();
    EXPECT_LT(approx.ProgramSize(), g.value()->regex().ProgramSize() + 1) << expr;
    for (const auto& line : lines) {
      if (g.value()->Matches(line)) {
        EXPECT_TRUE(re2::RE2::PartialMatch(line, approx)) << expr << " on: " << line;
      }
    }
  }
}

TEST(SegmentedTest, TopLevelAlternationIsNotSegmented) {
  auto g = Grok::Compile("%{INT:a}|%{WORD:b}", Shipped());
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g.value()->segmented());
}

TEST(SegmentedTest, SameResultsAsFullCapture) {
  const std::vector<std::string> exprs = {
      "%{NGINX_ACCESS}",
      "%{HTTPD_COMBINEDLOG}",
      "%{HTTPD_COMMONLOG}",
      "%{SYSLOGLINE}",
      "%{SYSLOGBASE} %{GREEDYDATA:message}",
      "^%{IPORHOST:client} %{USER:ident}",
      "%{IP:ip} %{WORD:w}",
      "%{DATA:head}:%{GREEDYDATA:tail}",
      "%{NOTSPACE:a} %{NOTSPACE:b}$",
      "\\[%{HTTPDATE:ts}\\] \"%{WORD:verb}",
      "(?:%{INT:num}|%{WORD:word})-%{NOTSPACE:rest}",
      "%{QS:q} %{NUMBER:n:int}",
      "%{WORD:a}%{WORD:b} %{INT:c:int}",  // adjacent fields: merged into one span
      "(?<x>[^ ]*) (?<y>[a-z]+)? (?<z>.*)",
      "%{USER:u}@%{HOSTNAME:h}\\b",
      "%{IPORHOST:a} %{IPORHOST:a} %{IPORHOST:b}",  // duplicate field names
      "%{WORD:a} \"%{DATA:b}\"",                     // closing literals at the end
      "%{WORD:a} (?<b>.*)xy",
      "(?<a>.*) \"%{DATA:b}\" \"%{DATA:c}\"",      // splits at quotes, several candidates
      "%{DATA:a}\" %{INT:b} %{GREEDYDATA:c}",
      "%{WORD:a} (?<b>[^ ]*)(?: x(?<c>[0-9]*))?\" (?<d>.*)",
      "(?:-|%{INT:x}) (?:%{NUMBER:y}|-|5)",                  // choice steps
      "%{NOTSPACE:a} (?:%{NUMBER:n:int}|-|) \"%{DATA:q}\"", // choice with an empty literal
      "%{IPORHOST:h} (?:\\[%{POSINT:pid}\\])?%{GREEDYDATA:rest}",  // trailing greedy
      "%{WORD:a}%{GREEDYDATA:b}",
      // a split head that is an alternation: its branches are tried in order
      "%{WORD:m} \"(?:%{WORD:verb} %{NOTSPACE:req}(?: HTTP/%{NUMBER:v})?|%{DATA:raw})\" %{INT:status}",
      "%{WORD:m} \"(?:%{INT:n}|%{WORD:verb} %{NOTSPACE:req}|(?<raw>[^x]*))\" %{INT:status}",
  };
  LineGen gen(20240517);
  std::vector<std::string> lines;
  for (int i = 0; i < 1500; ++i) lines.push_back(gen.Nginx());
  for (int i = 0; i < 300; ++i) lines.push_back(gen.Syslog());
  for (int i = 0; i < 1500; ++i) lines.push_back(gen.Mutate(i % 4 == 0 ? gen.Syslog() : gen.Nginx()));
  lines.push_back("");
  lines.push_back("a:b c:d");
  lines.push_back("12-abc 12 x-y");
  lines.push_back("\"q\\\"x\" 42 'single' 7");
  lines.push_back("abc def ghi");
  lines.push_back("abc  xyz");
  lines.push_back("1.2.3.4 1.2.3.4 host");
  lines.push_back("abc \"def\" \"g\"");
  lines.push_back("abc \"d\" \"e\" \"f\" \"g\"");
  lines.push_back("abc \"\" \"\"");
  lines.push_back("abc defxy");
  lines.push_back("abc xyxy");
  lines.push_back("a\" 1 b\" 2 c");
  lines.push_back("a\" x\" 2 c");
  lines.push_back("a b x12\" d\" e");
  lines.push_back("a b\" x1\" e");
  for (const char* l : {"\"GET /x HTTP/1.1\" 200", "\"12\" 200", "\"GET\" 200", "\"- x\" 200",
                        "\"GET /a b\" 200", "\"GET /a HTTP/x\" 200", "\"\" 200", "\"ab x\" 2",
                        "\"GET /a\" 1\" 2", "\"a\" b\" 3"}) {
    lines.push_back(std::string("req ") + l);
  }
  for (const auto& expr : exprs) {
    auto g = Grok::Compile(expr, Shipped());
    ASSERT_TRUE(g.ok()) << expr << ": " << g.status().ToString();
    int matched = 0;
    for (const auto& line : lines) matched += ExpectSame(*g.value(), line);
    SCOPED_TRACE(expr);
    RecordProperty(expr, matched);
    if (expr == "%{NGINX_ACCESS}") {
      EXPECT_TRUE(g.value()->segmented());
      EXPECT_GT(matched, 1500);  // the generated valid lines match, and some near misses
    }
  }
}

}  // namespace
}  // namespace logship::grok
