// Conformance of the shipped pattern library (rules/patterns/) with Logstash's: every
// pattern of both namings compiles, every top-level log pattern has sample lines for
// both namings, and each sample gives exactly the fields and types Logstash gives for it
// (cases in rules/patterns/tests/*.yaml; format in docs/grok.md, "Testing rules").
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <set>

#include <unistd.h>

#include "parser/grok/grok.h"
#include "parser/rules/rule_cases.h"
#include "tests/support/subprocess.h"

namespace logship::grok {
namespace {

std::string SrcDir() { return ::logship::testing::SourceDir(); }

const PatternLibrary& Library(PatternNaming naming) {
  static std::map<PatternNaming, PatternLibrary*> libs;
  auto& lib = libs[naming];
  if (lib == nullptr) {
    lib = new PatternLibrary();
    Status st = lib->LoadDirectory(SrcDir() + "/rules/patterns", naming);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  return *lib;
}

std::vector<std::string> CaseFiles() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(SrcDir() + "/rules/patterns/tests")) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(PatternConformanceTest, EveryPatternOfBothNamingsCompiles) {
  for (PatternNaming naming : {PatternNaming::kLegacy, PatternNaming::kEcsV1}) {
    const PatternLibrary& lib = Library(naming);
    EXPECT_GT(lib.size(), 300u) << PatternNamingDir(naming);
    for (const auto& name : lib.Names()) {
      auto g = Grok::Compile("%{" + name + "}", lib);
      EXPECT_TRUE(g.ok()) << PatternNamingDir(naming) << " " << name << ": " << g.status().ToString();
    }
  }
}

TEST(PatternConformanceTest, BothNamingsDefineTheSameNames) {
  // ECS adds a few helpers (URIQUERY, CISCO_*_USER, ...); every legacy name exists in ECS
  // except the legacy-only HAPROXYERROR and the nginx/POSTGRESQL extras both share.
  std::set<std::string> ecs;
  for (const auto& n : Library(PatternNaming::kEcsV1).Names()) ecs.insert(n);
  for (const auto& n : Library(PatternNaming::kLegacy).Names()) {
    if (n == "HAPROXYERROR") continue;  // Logstash has no ECS version of it
    EXPECT_TRUE(ecs.count(n)) << n << " is defined for legacy but not for ECS";
  }
}

// The log formats the library exists for: each must have cases for both namings.
const char* kTopLevel[] = {
    "COMBINEDAPACHELOG", "COMMONAPACHELOG", "HTTPD_ERRORLOG", "NGINX_ACCESS", "NGINX_ERROR",
    "SYSLOGLINE", "SYSLOGBASE", "SYSLOG5424LINE", "SYSLOGPAMSESSION", "CRONLOG",
    "HAPROXYHTTP", "HAPROXYHTTPBASE", "HAPROXYTCP", "JAVASTACKTRACEPART", "CATALINALOG", "TOMCATLOG",
    "ELB_ACCESS_LOG", "S3_ACCESS_LOG", "CLOUDFRONT_ACCESS_LOG", "POSTGRESQL", "REDISLOG", "REDISMONLOG",
    "MONGO_LOG", "MONGO3_LOG", "MONGO_SLOWQUERY", "NAGIOSLOGLINE", "SQUID3", "BIND9", "CISCO_TAGGED_SYSLOG",
    "CISCOFW106001", "CISCOFW106023", "CISCOFW106100", "CISCOFW302013_302014_302015_302016",
    "CISCOFW304001", "CISCOFW313001_313004_313008", "CISCOFW733100", "NETSCREENSESSIONLOG", "SHOREWALL",
    "SFW2", "EXIM", "RT_FLOW1", "RT_FLOW2", "RT_FLOW3", "BACULA_LOGLINE", "MCOLLECTIVE",
    "MCOLLECTIVEAUDIT", "RAILS3", "RUBY_LOGGER", "MAVEN_VERSION",
    // More Cisco ASA messages (tests/cisco_asa.yaml).
    "CISCOFW104001", "CISCOFW104003", "CISCOFW105005", "CISCOFW105008", "CISCOFW106006_106007_106010",
    "CISCOFW106014", "CISCOFW106015", "CISCOFW106021", "CISCOFW106100_2_3", "CISCOFW110002", "CISCOFW302010",
    "CISCOFW302020_302021", "CISCOFW305011", "CISCOFW321001", "CISCOFW402117", "CISCOFW419002", "CISCOFW500004",
    "CISCOFW602303_602304", "CISCOFW710001_710002_710003_710005_710006",
    "BRO_HTTP", "BRO_DNS", "BRO_CONN", "BRO_FILES",
};
// Log formats Logstash defines for ECS naming only (patterns/ecs-v1/zeek).
const char* kTopLevelEcsOnly[] = {"ZEEK_HTTP", "ZEEK_DNS", "ZEEK_CONN", "ZEEK_FILES"};

TEST(PatternConformanceTest, EveryLogPatternHasCasesForBothNamings) {
  std::map<std::string, std::set<std::string>> covered;  // pattern -> {"legacy", "ecs"}
  for (const auto& file : CaseFiles()) {
    auto cases = rules::LoadRuleCases(file);
    ASSERT_TRUE(cases.ok()) << cases.status().ToString();
    for (const auto& c : cases.value()) {
      std::string name = c.expression;
      if (name.starts_with("%{") && name.ends_with("}")) name = name.substr(2, name.size() - 3);
      if (c.legacy.given) covered[name].insert("legacy");
      if (c.ecs.given) covered[name].insert("ecs");
    }
  }
  for (const char* name : kTopLevel) {
    EXPECT_TRUE(covered[name].count("legacy")) << name << ": no legacy case in rules/patterns/tests/";
    EXPECT_TRUE(covered[name].count("ecs")) << name << ": no ECS case in rules/patterns/tests/";
  }
  for (const char* name : kTopLevelEcsOnly) {
    EXPECT_TRUE(covered[name].count("ecs")) << name << ": no ECS case in rules/patterns/tests/";
    EXPECT_EQ(Library(PatternNaming::kLegacy).Find(name), nullptr) << name << " is ECS-only in Logstash";
  }
}

TEST(PatternConformanceTest, SampleLinesGiveLogstashFields) {
  rules::LibraryProvider provider = [](PatternNaming n) -> Result<const PatternLibrary*> { return &Library(n); };
  rules::CaseRunner runner(nullptr, provider);
  size_t total = 0;
  for (const auto& file : CaseFiles()) {
    auto cases = rules::LoadRuleCases(file);
    ASSERT_TRUE(cases.ok()) << cases.status().ToString();
    for (const auto& c : cases.value()) {
      ASSERT_FALSE(c.expression.empty()) << c.origin << ": conformance cases test patterns (pattern: NAME)";
      for (const auto& r : runner.Run(c)) {
        ++total;
        std::string diffs;
        for (const auto& d : r.diffs) diffs += "\n  " + d;
        EXPECT_TRUE(r.passed) << r.title << diffs;
      }
    }
  }
  EXPECT_GT(total, 100u);
}

// Matching through the segmented fast path must give what one full RE2 match gives.
TEST(PatternConformanceTest, SegmentedExtractionAgreesOnEverySample) {
  for (const auto& file : CaseFiles()) {
    auto cases = rules::LoadRuleCases(file);
    ASSERT_TRUE(cases.ok());
    for (const auto& c : cases.value()) {
      for (PatternNaming n : {PatternNaming::kLegacy, PatternNaming::kEcsV1}) {
        if (!(n == PatternNaming::kLegacy ? c.legacy.given : c.ecs.given)) continue;
        auto g = Grok::Compile(c.expression, Library(n));
        ASSERT_TRUE(g.ok()) << g.status().ToString();
        std::vector<Field> a, b;
        bool ma = g.value()->Match(c.line, &a), mb = g.value()->MatchFullCapture(c.line, &b);
        EXPECT_EQ(ma, mb) << c.origin;
        ASSERT_EQ(a.size(), b.size()) << c.origin;
        for (size_t i = 0; i < a.size(); ++i) {
          EXPECT_EQ(a[i].name, b[i].name) << c.origin;
          EXPECT_TRUE(a[i].value == b[i].value) << c.origin << " " << a[i].name;
        }
      }
    }
  }
}

TEST(PatternConformanceTest, APatternThatCannotCompileFailsWithNameFileAndOffset) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("logship-patterns-" + std::to_string(::getpid()));
  fs::create_directories(dir / "legacy");
  {
    std::ofstream(dir / "legacy" / "base") << "WORD \\b\\w+\\b\n";
    std::ofstream(dir / "site") << "# site patterns\nGOOD %{WORD}\nBAD %{WORD} (?<=x)y\n";
  }
  PatternLibrary lib;
  ASSERT_TRUE(lib.LoadDirectory(dir.string()).ok());
  EXPECT_TRUE(Grok::Compile("%{GOOD}", lib).ok());
  auto r = Grok::Compile("%{BAD:b}", lib);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("grok pattern BAD (" + (dir / "site").string() + ":3)"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("lookaround (?<= at offset 8"), std::string::npos) << r.status().message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace logship::grok
