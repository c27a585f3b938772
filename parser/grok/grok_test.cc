#include "parser/grok/grok.h"
#include "tests/support/subprocess.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

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

std::unique_ptr<const Grok> MustCompile(std::string_view expr, const PatternLibrary& lib = Shipped()) {
  auto r = Grok::Compile(expr, lib);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

const Field* Find(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

std::string Str(const std::vector<Field>& fields, std::string_view name) {
  const Field* f = Find(fields, name);
  if (!f) return "<absent>";
  if (auto* s = std::get_if<std::string>(&f->value)) return *s;
  return "<not a string>";
}

TEST(GrokTest, NginxCombinedLine) {
  auto g = MustCompile("%{NGINX_ACCESS}");
  ASSERT_TRUE(g);
  std::vector<Field> f;
  ASSERT_TRUE(g->Match(
      R"L(203.0.113.7 - alice [10/Oct/2023:13:55:36 +0200] "GET /api/users?id=7 HTTP/1.1" 200 2326 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)")L",
      &f));
  EXPECT_EQ(Str(f, "clientip"), "203.0.113.7");
  EXPECT_EQ(Str(f, "ident"), "-");
  EXPECT_EQ(Str(f, "auth"), "alice");
  EXPECT_EQ(Str(f, "timestamp"), "10/Oct/2023:13:55:36 +0200");
  EXPECT_EQ(Str(f, "verb"), "GET");
  EXPECT_EQ(Str(f, "request"), "/api/users?id=7");
  EXPECT_EQ(Str(f, "httpversion"), "1.1");
  ASSERT_TRUE(Find(f, "response"));
  EXPECT_EQ(std::get<int64_t>(Find(f, "response")->value), 200);
  ASSERT_TRUE(Find(f, "bytes"));
  EXPECT_EQ(std::get<int64_t>(Find(f, "bytes")->value), 2326);
  EXPECT_EQ(Str(f, "referrer"), "https://example.com/start");
  EXPECT_EQ(Str(f, "agent"), "Mozilla/5.0 (X11; Linux x86_64)");
  EXPECT_FALSE(Find(f, "rawrequest"));
}

TEST(GrokTest, NginxBytesDashAndIpv6Client) {
  auto g = MustCompile("%{NGINX_ACCESS}");
  ASSERT_TRUE(g);
  std::vector<Field> f;
  ASSERT_TRUE(g->Match(
      R"(2001:db8::8a2e:370:7334 - - [01/Jan/2024:00:00:01 +0000] "HEAD / HTTP/1.0" 304 - "-" "curl/8.0")",
      &f));
  EXPECT_EQ(Str(f, "clientip"), "2001:db8::8a2e:370:7334");
  EXPECT_FALSE(Find(f, "bytes"));
  EXPECT_EQ(std::get<int64_t>(Find(f, "response")->value), 304);
  EXPECT_EQ(Str(f, "referrer"), "-");

  f.clear();
  ASSERT_TRUE(g->Match(R"(::1 - - [01/Jan/2024:00:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "x")", &f));
  EXPECT_EQ(Str(f, "clientip"), "::1");
  f.clear();
  ASSERT_TRUE(g->Match(
      R"(::ffff:192.0.2.1 - - [01/Jan/2024:00:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "x")", &f));
  EXPECT_EQ(Str(f, "clientip"), "::ffff:192.0.2.1");
}

TEST(GrokTest, NginxGarbageRequestGoesToRawrequest) {
  auto g = MustCompile("%{NGINX_ACCESS}");
  std::vector<Field> f;
  ASSERT_TRUE(g->Match(
      R"(198.51.100.2 - - [01/Jan/2024:00:00:01 +0000] "\x16\x03\x01\x02\x00" 400 157 "-" "-")", &f));
  EXPECT_EQ(Str(f, "rawrequest"), R"(\x16\x03\x01\x02\x00)");
  EXPECT_FALSE(Find(f, "verb"));
}

TEST(GrokTest, Ipv6Forms) {
  auto g = MustCompile("^%{IPV6:ip}$");
  for (const char* ok : {"::", "::1", "1::", "fe80::1%eth0", "2001:db8:0:0:0:0:2:1", "2001:db8::2:1",
                         "1:2:3:4:5:6:7:8", "::ffff:10.0.0.1", "64:ff9b::192.0.2.33"}) {
    std::vector<Field> f;
    EXPECT_TRUE(g->Match(ok, &f)) << ok;
    EXPECT_EQ(Str(f, "ip"), ok);
  }
  for (const char* bad : {"1:2:3:4:5:6:7:8:9", "12345::", "1::2::3", ":1", "g::1", "1.2.3.4"}) {
    std::vector<Field> f;
    EXPECT_FALSE(g->Match(bad, &f)) << bad;
  }
}

TEST(GrokTest, Ipv4RejectsOutOfRange) {
  auto g = MustCompile("^%{IPV4:ip}$");
  std::vector<Field> f;
  EXPECT_TRUE(g->Match("255.255.255.255", &f));
  EXPECT_FALSE(g->Match("256.1.1.1", &f));
  EXPECT_FALSE(g->Match("1.2.3", &f));
}

TEST(GrokTest, TypedAndNestedFields) {
  auto g = MustCompile("%{INT:[http][response][status_code]:int} %{NUMBER:took:float} %{WORD:w}");
  std::vector<Field> f;
  ASSERT_TRUE(g->Match("x 503 0.25 abc", &f));
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].name, "http.response.status_code");
  EXPECT_EQ(std::get<int64_t>(f[0].value), 503);
  EXPECT_DOUBLE_EQ(std::get<double>(f[1].value), 0.25);
  EXPECT_EQ(std::get<std::string>(f[2].value), "abc");
}

TEST(GrokTest, IntOfFractionTruncatesAndUnconvertibleStaysString) {
  PatternLibrary lib;
  lib.Add("ANY", "\\S+");
  auto g = MustCompile("%{ANY:a:int} %{ANY:b:int} %{ANY:c:float}", lib);
  std::vector<Field> f;
  ASSERT_TRUE(g->Match("12.7 abc +3", &f));
  EXPECT_EQ(std::get<int64_t>(f[0].value), 12);
  EXPECT_EQ(std::get<std::string>(f[1].value), "abc");
  EXPECT_DOUBLE_EQ(std::get<double>(f[2].value), 3.0);
}

TEST(GrokTest, InlineNamedGroupsAndRewrites) {
  PatternLibrary lib;
  lib.Add("ATOM", "(?>a+)b");
  auto g = MustCompile("(?<first>\\w+)\\s+(?<[x][y]>\\h+)(?P<z>z)?(?'q'Q)?\\s*%{ATOM:at}", lib);
  std::vector<Field> f;
  ASSERT_TRUE(g->Match("hello \t 4f2 aab", &f));
  EXPECT_EQ(Str(f, "first"), "hello");
  EXPECT_EQ(Str(f, "x.y"), "4f2");  // Ruby's \h is a hex digit
  EXPECT_FALSE(Find(f, "z"));  // did not participate
  EXPECT_EQ(Str(f, "at"), "aab");
  // Unnamed groups become non-capturing: only the named ones are RE2 groups.
  EXPECT_EQ(g->regex().NumberOfCapturingGroups(), 5);
}

TEST(GrokTest, PossessiveQuantifiersAndCharClasses) {
  PatternLibrary lib;
  // [\h[:digit:]]++ is possessive (greedy in RE2); x{2}+ is, in Ruby, (?:x{2})+.
  lib.Add("P", "[\\h[:digit:]]++x{2}+");
  auto g = MustCompile("^%{P:p}$", lib);
  std::vector<Field> f;
  ASSERT_TRUE(g->Match("12abxxxx", &f));
  EXPECT_EQ(Str(f, "p"), "12abxxxx");
  EXPECT_FALSE(g->Match("12abxxx", &f));  // an odd number of x: (?:x{2})+ does not match
  f.clear();
  EXPECT_TRUE(MustCompile("%{P:p}", lib)->Match("- 1 2xx", &f));
  EXPECT_EQ(Str(f, "p"), "2xx");
}

TEST(GrokTest, RubySyntaxIsTranslated) {
  PatternLibrary lib;
  std::vector<Field> f;
  // (?m) is Ruby's dot-all; `.` matches newline anyway (Logstash compiles with MULTILINE).
  auto g = MustCompile("(?m)^a(?<rest>.*)$", lib);
  ASSERT_TRUE(g->Match("a1\n2", &f));
  EXPECT_EQ(Str(f, "rest"), "1\n2");
  // (?i) and (?#comments) and a quantifier on a quantified atom ((?:.?)* in RE2).
  f.clear();
  ASSERT_TRUE(MustCompile("(?i)ab(?#skip me)c(?<x>[^d]?*)d{,2}$", lib)->Match("xABCzz dd", &f));
  EXPECT_EQ(Str(f, "x"), "zz ");
  // Nested classes are unions: [[[:alnum:]]_] and [a[bc]].
  f.clear();
  ASSERT_TRUE(MustCompile("^(?<u>[[[:alnum:]]_]+)-(?<v>[a[bc]]+)$", lib)->Match("A_9-cab", &f));
  EXPECT_EQ(Str(f, "u"), "A_9");
  EXPECT_EQ(Str(f, "v"), "cab");
  // \R is a line break, \e escape, negated classes match newlines too.
  f.clear();
  ASSERT_TRUE(MustCompile("^a\\Rb(?<n>[^x]+)\\e$", lib)->Match("a\r\nb\nz\x1b", &f));
  EXPECT_EQ(Str(f, "n"), "\nz");
}

TEST(GrokTest, ConstructsWithoutAnRe2EquivalentFailWithPatternAndOffset) {
  struct Case {
    const char* regex;
    const char* want;
  } cases[] = {
      {"ab(?=c)", "lookaround (?= at offset 2"},
      {"a(?<!b)", "lookaround (?<! at offset 1"},
      {"(a)x\\1", "backreference \\1 at offset 4"},
      {"(?<n>a)\\k<n>", "backreference or subexpression call \\k at offset 7"},
      {"\\Gabc", "\\G at offset 0"},
      {"(?x) a b", "extended mode (?x) at offset 0"},
      {"[a-z&&[^aeiou]]", "class intersection && at offset 4"},
      {"[a[^b]]", "negated class nested in a class at offset 2"},
      {"x[ab", "unterminated character class at offset 1"},
  };
  for (const auto& c : cases) {
    PatternLibrary lib;
    lib.Add("P", c.regex, "my.pat:7");
    auto r = Grok::Compile("%{WORD} %{P:p}", [&] {
      lib.Add("WORD", "\\w+");
      return lib;
    }());
    ASSERT_FALSE(r.ok()) << c.regex;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("grok pattern P (my.pat:7)"), std::string::npos) << m;
    EXPECT_NE(m.find(c.want), std::string::npos) << "want '" << c.want << "' in: " << m;
  }
}

TEST(GrokTest, Re2ErrorsGiveTheOffsetInTheDefinition) {
  PatternLibrary lib;
  lib.Add("INNER", "a{2,1}", "lib:3");
  lib.Add("OUTER", "x %{INNER}", "lib:4");
  auto r = Grok::Compile("%{OUTER}", lib);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("grok pattern INNER (lib:3) does not compile"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("at offset 1 of its definition"), std::string::npos) << r.status().message();
}

TEST(GrokTest, LoadDirectoryPicksTheNamingSubdirectoryAndLetsSiteFilesOverride) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("logship-naming-" + std::to_string(::getpid()));
  fs::create_directories(dir / "legacy");
  fs::create_directories(dir / "ecs-v1");
  std::ofstream(dir / "legacy" / "a") << "F %{WORD:clientip}\nWORD \\w+\nKEEP legacy\n";
  std::ofstream(dir / "ecs-v1" / "a") << "F %{WORD:[source][address]}\nWORD \\w+\nKEEP ecs\n";
  std::ofstream(dir / "site") << "KEEP site\n";
  for (auto [naming, field] : {std::pair{PatternNaming::kLegacy, "clientip"},
                               std::pair{PatternNaming::kEcsV1, "source.address"}}) {
    PatternLibrary lib;
    ASSERT_TRUE(lib.LoadDirectory(dir.string(), naming).ok());
    auto g = MustCompile("%{F}", lib);
    std::vector<Field> f;
    ASSERT_TRUE(g->Match("host1", &f));
    EXPECT_EQ(Str(f, field), "host1");
    EXPECT_EQ(lib.Find("KEEP")->regex, "site");  // the directory's own files win
  }
  EXPECT_EQ(PatternNamingFromName("disabled"), PatternNaming::kLegacy);
  EXPECT_EQ(PatternNamingFromName("v8"), PatternNaming::kEcsV1);
  EXPECT_FALSE(PatternNamingFromName("ecs"));
  fs::remove_all(dir);
}

TEST(GrokTest, UndefinedPatternIsNamed) {
  PatternLibrary lib;
  lib.Add("OUTER", "a %{MISSING}");
  auto r = Grok::Compile("%{OUTER}", lib);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("OUTER"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("MISSING"), std::string::npos) << r.status().message();
}

TEST(GrokTest, BadRegexNamesInnermostPatternAndOrigin) {
  PatternLibrary lib;
  ASSERT_TRUE(lib.AddText("# c\nGOOD [a-z]+\nBROKEN x[a-\n\nTOP %{GOOD} %{BROKEN}\n", "mine.pat").ok());
  auto r = Grok::Compile("%{TOP:t}", lib);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("grok pattern BROKEN (mine.pat:3)"), std::string::npos) << m;
  EXPECT_NE(m.find("unterminated character class at offset 1"), std::string::npos) << m;
}

TEST(GrokTest, LookaroundRejectedWithPatternName) {
  PatternLibrary lib;
  lib.Add("LB", "(?<![0-9])x", "f:1");
  auto r = Grok::Compile("%{LB}", lib);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("LB (f:1)"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("lookaround"), std::string::npos);
}

TEST(GrokTest, CycleAndDepthLimit) {
  PatternLibrary lib;
  lib.Add("A", "x%{B}");
  lib.Add("B", "y%{A}");
  auto r = Grok::Compile("%{A}", lib);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cycle"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("A -> B -> A"), std::string::npos) << r.status().message();

  PatternLibrary deep;
  deep.Add("P0", "x");
  for (int i = 1; i <= 40; ++i) deep.Add("P" + std::to_string(i), "%{P" + std::to_string(i - 1) + "}");
  auto d = Grok::Compile("%{P40}", deep);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("deeper"), std::string::npos) << d.status().message();
  EXPECT_TRUE(Grok::Compile("%{P20}", deep).ok());
}

TEST(GrokTest, ExponentialExpansionIsBounded) {
  PatternLibrary lib;
  lib.Add("E0", "ab");
  for (int i = 1; i <= 30; ++i) {
    std::string p = "%{E" + std::to_string(i - 1) + "}";
    lib.Add("E" + std::to_string(i), p + p);
  }
  auto r = Grok::Compile("%{E30}", lib);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exceeds"), std::string::npos) << r.status().message();
}

TEST(GrokTest, BadPatternFileLinesNameFileAndLine) {
  PatternLibrary lib;
  Status st = lib.AddText("OK x\nBAD-NAME y\n", "p.txt");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("p.txt:2"), std::string::npos) << st.message();
  EXPECT_FALSE(lib.AddText("LONELY\n", "q").ok());
  EXPECT_FALSE(Grok::Compile("%{NUMBER:x:bool}", Shipped()).ok());
}

TEST(GrokTest, InvalidUtf8AndNulBytes) {
  auto g = MustCompile("%{NGINX_ACCESS}");
  std::string line =
      "10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] \"GET /caf\xe9\xff\xfe HTTP/1.1\" 200 1 \"-\" \"ag\xc3\x28nt";
  line.push_back('\0');
  line += "x\"";
  std::vector<Field> f;
  ASSERT_TRUE(g->Match(line, &f));
  EXPECT_EQ(Str(f, "request"), "/caf\xe9\xff\xfe");
  EXPECT_EQ(Str(f, "agent"), std::string("ag\xc3\x28nt\0x", 8));

  auto any = MustCompile("%{GREEDYDATA:all}");
  std::string bytes;
  for (int i = 1; i < 256; ++i)
    if (i != '\n') bytes.push_back(static_cast<char>(i));
  bytes.push_back('\0');
  f.clear();
  ASSERT_TRUE(any->Match(bytes, &f));
  EXPECT_EQ(Str(f, "all"), bytes);
}

TEST(GrokTest, OneMebibyteLine) {
  auto g = MustCompile("%{NGINX_ACCESS}");
  std::string agent(1 << 20, 'a');
  std::string line = "10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"" + agent + "\"";
  std::vector<Field> f;
  ASSERT_TRUE(g->Match(line, &f));
  EXPECT_EQ(Str(f, "agent").size(), agent.size());
  std::string junk(1 << 20, 'x');
  f.clear();
  EXPECT_FALSE(g->Match(junk, &f));
  EXPECT_TRUE(f.empty());
}

TEST(GrokTest, ShippedPatternsAllCompile) {
  for (const char* name :
       {"USERNAME", "USER", "INT", "BASE10NUM", "NUMBER", "WORD", "NOTSPACE", "SPACE", "DATA",
        "GREEDYDATA", "QUOTEDSTRING", "UUID", "IP", "IPV4", "IPV6", "HOSTNAME", "IPORHOST",
        "HOSTPORT", "PATH", "UNIXPATH", "URIPATH", "URIPARAM", "URIPATHPARAM", "URI", "MONTH",
        "MONTHDAY", "YEAR", "HOUR", "MINUTE", "SECOND", "TIME", "DATE_US", "DATE_EU",
        "ISO8601_TIMEZONE", "TIMESTAMP_ISO8601", "HTTPDATE", "SYSLOGTIMESTAMP", "SYSLOGBASE",
        "LOGLEVEL", "MAC", "EMAILADDRESS", "HTTPD_COMMONLOG", "HTTPD_COMBINEDLOG",
        "COMMONAPACHELOG", "COMBINEDAPACHELOG", "NGINX_ACCESS", "DATESTAMP_RFC2822", "URN"}) {
    auto r = Grok::Compile(std::string("%{") + name + "}", Shipped());
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
  }
}

TEST(GrokTest, CommonPatternsSemantics) {
  std::vector<Field> f;
  EXPECT_TRUE(MustCompile("^%{TIMESTAMP_ISO8601:t}$")->Match("2024-02-29T23:59:60.123+05:30", &f));
  EXPECT_TRUE(MustCompile("^%{TIMESTAMP_ISO8601:t}$")->Match("2024-02-29 23:59:01Z", &f));
  EXPECT_TRUE(MustCompile("^%{SYSLOGTIMESTAMP:t}$")->Match("Oct  1 22:14:15", &f));
  EXPECT_TRUE(MustCompile("^%{UUID:u}$")->Match("123e4567-e89b-12d3-a456-426614174000", &f));
  EXPECT_TRUE(MustCompile("^%{URI:u}$")->Match("https://user@example.com:8443/a/b?c=d&e=f", &f));
  EXPECT_TRUE(MustCompile("^%{QUOTEDSTRING:q}$")->Match(R"("a \"quoted\" word")", &f));
  EXPECT_TRUE(MustCompile("^%{LOGLEVEL:l}$")->Match("WARNING", &f));
  EXPECT_TRUE(MustCompile("^%{HOSTPORT:h}$")->Match("db-1.example.org:5432", &f));
  EXPECT_FALSE(MustCompile("^%{HTTPDATE:t}$")->Match("10/Foo/2023:13:55:36 +0000", &f));
  f.clear();
  ASSERT_TRUE(MustCompile("%{COMBINEDAPACHELOG}")->Match(
      R"(127.0.0.1 - frank@example.com [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://x/" "Moz \"q\"")",
      &f));
  EXPECT_EQ(Str(f, "auth"), "frank@example.com");
  EXPECT_EQ(Str(f, "agent"), R"("Moz \"q\"")");  // legacy %{QS:agent} keeps the quotes, as Logstash
}

}  // namespace
}  // namespace logship::grok
