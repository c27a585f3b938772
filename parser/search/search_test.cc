#include "parser/search/search.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "parser/rules/rule_set.h"
#include "parser/sinks/sqlite/sqlite_sink.h"
#include "tests/support/subprocess.h"

namespace logship::search {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z

std::string SrcDir() { return ::logship::testing::SourceDir(); }

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = (fs::temp_directory_path() / ("logship-search-" + std::to_string(rd()) + std::to_string(rd()))).string();
    auto rules = rules::LoadRuleSet({SrcDir() + "/rules/parse/nginx.yaml"}, {SrcDir() + "/rules/patterns"});
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    ManualClock clock(kT0);
    auto sink = SqliteSink::Open({dir_, 7}, clock);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    struct L {
      const char* id;
      const char* host;
      std::string raw;
      int64_t ingest;
    } lines[] = {
        {"e1", "web-1", Access("14/Nov/2023:22:00:00", "GET /api/users HTTP/1.1", 200, "512"), kT0},
        {"e2", "web-1", Access("14/Nov/2023:22:01:00", "POST /api/orders HTTP/1.1", 503, "-"), kT0},
        {"e3", "web-2", Access("14/Nov/2023:22:02:00", "GET /static/app.js HTTP/1.1", 404, "1500"), kT0},
        {"e4", "web-2", Access("13/Nov/2023:10:00:00", "GET /api/health HTTP/1.1", 500, "20"), kT0},
        {"e5", "web-1", "disk quota exceeded for user alice", kT0 - 5 * kSec},
    };
    std::vector<ParsedEvent> batch;
    for (const auto& l : lines) {
      Event e;
      e.id = l.id;
      e.host = l.host;
      e.source = "/var/log/nginx/access.log";
      e.type = "nginx";
      e.raw = l.raw;
      e.time_ns = l.ingest;
      batch.push_back(rules.value()->Parse(std::move(e)));
    }
    ASSERT_TRUE(sink.value()->Write(batch).ok());
    ASSERT_EQ(sink.value()->inserted_total(), 5u);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Access(const char* time, const char* req, int status, const char* bytes) {
    return std::string("10.0.0.1 - - [") + time + " +0000] \"" + req + "\" " + std::to_string(status) + " " +
           bytes + " \"-\" \"curl/8.0\"";
  }

  std::vector<std::string> Ids(const std::string& q, size_t limit = 20, int64_t from = INT64_MIN,
                               int64_t to = INT64_MAX) {
    SearchRequest r;
    r.data_dir = dir_;
    r.query = q;
    r.limit = limit;
    r.from_ns = from;
    r.to_ns = to;
    auto hits = Search(r);
    EXPECT_TRUE(hits.ok()) << q << ": " << hits.status().ToString();
    std::vector<std::string> ids;
    if (hits.ok())
      for (const auto& h : hits.value()) ids.push_back(h.id);
    return ids;
  }

  using V = std::vector<std::string>;
  std::string dir_;
};

TEST_F(SearchTest, NewestFirstAcrossDaysWithLimit) {
  // 14 Nov's events are in three shard files (e5 and e1 share one): the day is merged.
  ASSERT_EQ(sqlite::ShardOfId("e5"), sqlite::ShardOfId("e1"));
  ASSERT_NE(sqlite::ShardOfId("e5"), sqlite::ShardOfId("e3"));
  ASSERT_NE(sqlite::ShardOfId("e3"), sqlite::ShardOfId("e2"));
  ASSERT_NE(sqlite::ShardOfId("e2"), sqlite::ShardOfId("e1"));
  EXPECT_EQ(Ids(""), (V{"e5", "e3", "e2", "e1", "e4"}));
  EXPECT_EQ(Ids("", 2), (V{"e5", "e3"}));
}

TEST_F(SearchTest, FieldEqualityTypedAndBuiltins) {
  EXPECT_EQ(Ids("response:503"), V{"e2"});
  EXPECT_EQ(Ids("verb:GET"), (V{"e3", "e1", "e4"}));
  EXPECT_EQ(Ids("host:web-2"), (V{"e3", "e4"}));
  EXPECT_EQ(Ids("@host:web-2 verb:GET response:404"), V{"e3"});
  EXPECT_EQ(Ids("id:e4"), V{"e4"});
  EXPECT_EQ(Ids("verb:get"), V{});  // values are case-sensitive
  EXPECT_EQ(Ids("agent:\"curl/8.0\" response:200"), V{"e1"});
}

TEST_F(SearchTest, NumericComparisons) {
  EXPECT_EQ(Ids("response>=500"), (V{"e2", "e4"}));
  EXPECT_EQ(Ids("response>500"), V{"e2"});
  EXPECT_EQ(Ids("bytes<1000"), (V{"e1", "e4"}));  // e2 has no bytes ("-")
  EXPECT_EQ(Ids("bytes<=1500 bytes>512"), V{"e3"});
  EXPECT_EQ(Ids("httpversion>=1.1"), (V{"e3", "e2", "e1", "e4"}));  // text field holding a number
}

TEST_F(SearchTest, WildcardsOnFields) {
  EXPECT_EQ(Ids("request:/api/*"), (V{"e2", "e1", "e4"}));
  EXPECT_EQ(Ids("request:*.js"), V{"e3"});
  EXPECT_EQ(Ids("host:web-*"), (V{"e5", "e3", "e2", "e1", "e4"}));
  EXPECT_EQ(Ids("request:\"/api/*\""), V{});  // quoted: '*' is literal
}

TEST_F(SearchTest, FreeTextAndPhrases) {
  EXPECT_EQ(Ids("quota"), V{"e5"});
  EXPECT_EQ(Ids("\"quota exceeded\""), V{"e5"});
  EXPECT_EQ(Ids("\"exceeded quota\""), V{});
  EXPECT_EQ(Ids("orders"), V{"e2"});
  EXPECT_EQ(Ids("api health"), V{"e4"});
  EXPECT_EQ(Ids("ord*"), V{"e2"});
  EXPECT_EQ(Ids("GET api response>=500"), V{"e4"});
  EXPECT_EQ(Ids("nothinglikethis"), V{});
}

TEST_F(SearchTest, TimeRange) {
  int64_t day_start = 1699920000 * kSec;  // 2023-11-14T00:00:00Z
  EXPECT_EQ(Ids("", 20, day_start), (V{"e5", "e3", "e2", "e1"}));
  EXPECT_EQ(Ids("", 20, INT64_MIN, day_start), V{"e4"});
  auto from = ParseTimeArg("2023-11-14T22:00:30Z", 0);
  auto to = ParseTimeArg("2023-11-14T22:01:30Z", 0);
  ASSERT_TRUE(from.ok() && to.ok());
  EXPECT_EQ(Ids("", 20, from.value(), to.value()), V{"e2"});
}

TEST(ParseTest, QueryLanguage) {
  auto t = ParseQuery(R"(status>=500 path:/api/* host:"web 1" error "disk full" size<1.5e3)");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t.value().size(), 6u);
  EXPECT_EQ(t.value()[0].kind, Term::Kind::kCompare);
  EXPECT_EQ(t.value()[0].op, ">=");
  EXPECT_EQ(t.value()[0].number, 500);
  EXPECT_EQ(t.value()[1].kind, Term::Kind::kGlob);
  EXPECT_EQ(t.value()[2].kind, Term::Kind::kEquals);
  EXPECT_EQ(t.value()[2].value, "web 1");
  EXPECT_EQ(t.value()[3].kind, Term::Kind::kText);
  EXPECT_EQ(t.value()[4].kind, Term::Kind::kPhrase);
  EXPECT_EQ(t.value()[4].value, "disk full");
  EXPECT_EQ(t.value()[5].number, 1500);
  EXPECT_FALSE(ParseQuery("status>=abc").ok());
  EXPECT_FALSE(ParseQuery("\"unterminated").ok());
  EXPECT_FALSE(ParseQuery("field:").ok());
}

TEST(ParseTest, TimeArgs) {
  const int64_t now = kT0;
  EXPECT_EQ(ParseTimeArg("15m", now).value(), now - 900 * kSec);
  EXPECT_EQ(ParseTimeArg("2h", now).value(), now - 7200 * kSec);
  EXPECT_EQ(ParseTimeArg("1d", now).value(), now - 86400 * kSec);
  EXPECT_EQ(ParseTimeArg("2023-11-14T22:13:20Z", 0).value(), kT0);
  EXPECT_EQ(ParseTimeArg("2023-11-15T00:13:20+02:00", 0).value(), kT0);
  EXPECT_FALSE(ParseTimeArg("yesterday", now).ok());
  EXPECT_FALSE(ParseTimeArg("15x", now).ok());
  EXPECT_EQ(FormatRfc3339(kT0 + 5'000'000), "2023-11-14T22:13:20.005Z");
}

TEST_F(SearchTest, Formats) {
  SearchRequest r;
  r.data_dir = dir_;
  r.query = "response:503";
  auto hits = Search(r);
  ASSERT_TRUE(hits.ok());
  std::string table = FormatTable(hits.value());
  EXPECT_NE(table.find("2023-11-14T22:01:00.000Z  web-1"), std::string::npos) << table;
  std::string json = FormatJsonLines(hits.value());
  EXPECT_NE(json.find(R"("response":503)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("id":"e2")"), std::string::npos) << json;
}

TEST_F(SearchTest, MissingDirAndBadQuery) {
  SearchRequest r;
  r.data_dir = dir_ + "/nope";
  EXPECT_EQ(Search(r).status().code(), StatusCode::kNotFound);
  r.data_dir = dir_;
  r.query = "host>3";
  EXPECT_EQ(Search(r).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SearchTest, CommandLine) {
  const std::string bin = ::logship::testing::LogshipBinary();
  std::string cmd = bin + " search --data-dir " + dir_ + " --format json --limit 1 'response>=500' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_TRUE(p);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(R"("id":"e2")"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

  p = popen((std::string(bin) + " search --data-dir " + dir_ + " 'x>=y' 2>&1").c_str(), "r");
  ASSERT_TRUE(p);
  out.clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  rc = pclose(p);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("needs a number"), std::string::npos) << out;
}

}  // namespace
}  // namespace logship::search
