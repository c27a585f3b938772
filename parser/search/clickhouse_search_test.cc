#include "parser/search/clickhouse_search.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "parser/rules/rule_set.h"
#include "parser/sinks/clickhouse/clickhouse_sink.h"
#include "tests/support/clickhouse_server.h"
#include "tests/support/subprocess.h"

namespace logship::search {
namespace {

using namespace std::string_literals;
using testing::ClickHouseServer;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z

std::string SrcDir() { return ::logship::testing::SourceDir(); }

std::string Access(const char* time, const char* req, int status, const char* bytes) {
  return std::string("10.0.0.1 - - [") + time + " +0000] \"" + req + "\" " + std::to_string(status) + " " + bytes +
         " \"-\" \"curl/8.0\"";
}

// No server: the SQL text keeps every user value inside a literal.
TEST(BuildClickHouseQueryTest, UserValuesAreEscapedLiterals) {
  auto terms = ParseQuery(R"(verb:"GET') OR 1=1 --" path:/a'b* status>=5e2 x\'y "it's")");
  ASSERT_TRUE(terms.ok()) << terms.status().ToString();
  SearchRequest req;
  req.limit = 7;
  auto sql = BuildClickHouseQuery(terms.value(), req, "db", "t`x");
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  const std::string& s = sql.value();
  EXPECT_NE(s.find(R"('GET\') OR 1=1 --')"), std::string::npos) << s;
  EXPECT_NE(s.find("`db`.`t\\`x` FINAL"), std::string::npos) << s;
  EXPECT_NE(s.find("v >= 500"), std::string::npos) << s;
  EXPECT_NE(s.find("LIMIT 7 FORMAT RowBinary"), std::string::npos) << s;
  // Outside literals, no quote from the query survives: strip literals and look.
  std::string outside;
  bool in = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (in && s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == '\'') {
      in = !in;
      continue;
    }
    if (!in) outside.push_back(s[i]);
  }
  EXPECT_FALSE(in) << "unbalanced literal in " << s;
  EXPECT_EQ(outside.find("OR 1=1"), std::string::npos) << outside;
  EXPECT_EQ(outside.find("--"), std::string::npos) << outside;
  EXPECT_EQ(BuildClickHouseQuery(ParseQuery("host>3").value(), req, "db", "t").status().code(),
            StatusCode::kInvalidArgument);
}

class ClickHouseSearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!ClickHouseServer::Available()) return;
    server_ = new ClickHouseServer(testing::ClickHouseServerOptions{"/usr/sbin/clickhouse-server", "pw'x"});
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    config_ = new ClickHouseSinkConfig(server_->sink_config());
    auto rules = rules::LoadRuleSet({SrcDir() + "/rules/parse/nginx.yaml"}, {SrcDir() + "/rules/patterns"});
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    auto sink = ClickHouseSink::Create(*config_);
    ASSERT_TRUE(sink.ok());
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
        {"e6", "db'1", "O'Brien said \\\"hi\\\" \0 Ärger"s, kT0 - 10 * kSec},
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
    batch.back().fields.push_back({"note", "O'Brien \\ said \"hi\" `x`"s});
    ASSERT_TRUE((*sink)->Write(batch).ok());
    ASSERT_TRUE((*sink)->Write(batch).ok());  // replayed: search shows each once
  }
  static void TearDownTestSuite() {
    delete server_;
    delete config_;
    server_ = nullptr;
    config_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "clickhouse-server not installed (scripts/setup --test)";
  }

  std::vector<std::string> Ids(const std::string& q, size_t limit = 20, int64_t from = INT64_MIN,
                               int64_t to = INT64_MAX) {
    SearchRequest r;
    r.query = q;
    r.limit = limit;
    r.from_ns = from;
    r.to_ns = to;
    auto hits = SearchClickHouse(*config_, r);
    EXPECT_TRUE(hits.ok()) << q << ": " << hits.status().ToString();
    std::vector<std::string> ids;
    if (hits.ok())
      for (const auto& h : hits.value()) ids.push_back(h.id);
    return ids;
  }

  using V = std::vector<std::string>;
  static ClickHouseServer* server_;
  static ClickHouseSinkConfig* config_;
};
ClickHouseServer* ClickHouseSearchTest::server_ = nullptr;
ClickHouseSinkConfig* ClickHouseSearchTest::config_ = nullptr;

// The same cases as the SQLite search (search_test.cc): one language, two stores.
TEST_F(ClickHouseSearchTest, NewestFirstAcrossDaysWithLimit) {
  EXPECT_EQ(Ids(""), (V{"e5", "e6", "e3", "e2", "e1", "e4"}));
  EXPECT_EQ(Ids("", 2), (V{"e5", "e6"}));
}

TEST_F(ClickHouseSearchTest, FieldEqualityTypedAndBuiltins) {
  EXPECT_EQ(Ids("response:503"), V{"e2"});
  EXPECT_EQ(Ids("verb:GET"), (V{"e3", "e1", "e4"}));
  EXPECT_EQ(Ids("host:web-2"), (V{"e3", "e4"}));
  EXPECT_EQ(Ids("@host:web-2 verb:GET response:404"), V{"e3"});
  EXPECT_EQ(Ids("id:e4"), V{"e4"});
  EXPECT_EQ(Ids("verb:get"), V{});  // values are case-sensitive
  EXPECT_EQ(Ids("agent:\"curl/8.0\" response:200"), V{"e1"});
  EXPECT_EQ(Ids("offset:0"), (V{"e5", "e6", "e3", "e2", "e1", "e4"}));
}

TEST_F(ClickHouseSearchTest, NumericComparisons) {
  EXPECT_EQ(Ids("response>=500"), (V{"e2", "e4"}));
  EXPECT_EQ(Ids("response>500"), V{"e2"});
  EXPECT_EQ(Ids("bytes<1000"), (V{"e1", "e4"}));  // e2 has no bytes ("-")
  EXPECT_EQ(Ids("bytes<=1500 bytes>512"), V{"e3"});
  EXPECT_EQ(Ids("httpversion>=1.1"), (V{"e3", "e2", "e1", "e4"}));  // text field holding a number
  EXPECT_EQ(Ids("response:503.0"), V{"e2"});
}

TEST_F(ClickHouseSearchTest, WildcardsOnFields) {
  EXPECT_EQ(Ids("request:/api/*"), (V{"e2", "e1", "e4"}));
  EXPECT_EQ(Ids("request:*.js"), V{"e3"});
  EXPECT_EQ(Ids("host:web-*"), (V{"e5", "e3", "e2", "e1", "e4"}));
  EXPECT_EQ(Ids("request:\"/api/*\""), V{});  // quoted: '*' is literal
  EXPECT_EQ(Ids("request:/api/(*"), V{});     // regex metacharacters are literal
  EXPECT_EQ(Ids("request:/api/.*"), V{});
}

TEST_F(ClickHouseSearchTest, FreeTextAndPhrases) {
  EXPECT_EQ(Ids("quota"), V{"e5"});
  EXPECT_EQ(Ids("QUOTA"), V{"e5"});
  EXPECT_EQ(Ids("\"quota exceeded\""), V{"e5"});
  EXPECT_EQ(Ids("\"exceeded quota\""), V{});
  EXPECT_EQ(Ids("orders"), V{"e2"});
  EXPECT_EQ(Ids("order"), V{});  // tokens, not substrings
  EXPECT_EQ(Ids("api health"), V{"e4"});
  EXPECT_EQ(Ids("ord*"), V{"e2"});
  EXPECT_EQ(Ids("GET api response>=500"), V{"e4"});
  EXPECT_EQ(Ids("nothinglikethis"), V{});
  EXPECT_EQ(Ids("ärger"), V{"e6"});  // case folding beyond ASCII
}

TEST_F(ClickHouseSearchTest, TimeRange) {
  int64_t day_start = 1699920000 * kSec;  // 2023-11-14T00:00:00Z
  EXPECT_EQ(Ids("", 20, day_start), (V{"e5", "e6", "e3", "e2", "e1"}));
  EXPECT_EQ(Ids("", 20, INT64_MIN, day_start), V{"e4"});
  auto from = ParseTimeArg("2023-11-14T22:00:30Z", 0);
  auto to = ParseTimeArg("2023-11-14T22:01:30Z", 0);
  ASSERT_TRUE(from.ok() && to.ok());
  EXPECT_EQ(Ids("", 20, from.value(), to.value()), V{"e2"});
}

TEST_F(ClickHouseSearchTest, QuotesBackslashesAndInjectionAttemptsAreJustValues) {
  EXPECT_EQ(Ids(R"(note:"O'Brien \\ said \"hi\" `x`")"), V{"e6"});
  EXPECT_EQ(Ids("note:O'Brien*"), V{"e6"});
  EXPECT_EQ(Ids("host:db'1"), V{"e6"});
  EXPECT_EQ(Ids("O'Brien"), V{"e6"});
  EXPECT_EQ(Ids(R"(verb:"GET') OR 1=1 --")"), V{});
  EXPECT_EQ(Ids(R"(host:x' OR '1'='1)"), V{});
  EXPECT_EQ(Ids(R"(verb:"x\\' OR 1=1) FORMAT TabSeparated --")"), V{});
  EXPECT_EQ(Ids("id:\"e1\0\"'"s), V{});
  EXPECT_EQ(Ids(R"("'); DROP TABLE events; --")"), V{});
  EXPECT_EQ(Ids(""), (V{"e5", "e6", "e3", "e2", "e1", "e4"}));  // the table is still there
}

TEST_F(ClickHouseSearchTest, HitsCarryFieldsTagsAndRawBytes) {
  SearchRequest r;
  r.query = "id:e6";
  auto hits = SearchClickHouse(*config_, r);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ(hits->at(0).raw, "O'Brien said \\\"hi\\\" \0 Ärger"s);
  EXPECT_EQ(hits->at(0).host, "db'1");
  EXPECT_NE(hits->at(0).tags_json.find("_grokparsefailure"), std::string::npos) << hits->at(0).tags_json;
  r.query = "response:503";
  hits = SearchClickHouse(*config_, r);
  ASSERT_TRUE(hits.ok());
  std::string json = FormatJsonLines(hits.value());
  EXPECT_NE(json.find(R"("response":503)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("id":"e2")"), std::string::npos) << json;
}

TEST_F(ClickHouseSearchTest, MissingTableAndBadQuery) {
  ClickHouseSinkConfig other = *config_;
  other.table = "nothing_here";
  SearchRequest r;
  EXPECT_EQ(SearchClickHouse(other, r).status().code(), StatusCode::kNotFound);
  r.query = "host>3";
  EXPECT_EQ(SearchClickHouse(*config_, r).status().code(), StatusCode::kInvalidArgument);
}

// `logship search -c` with parser.sink: clickhouse and the password from the environment.
TEST_F(ClickHouseSearchTest, CommandLineReadsTheSinkFromTheConfig) {
  const std::string bin = ::logship::testing::LogshipBinary();
  std::string dir = testing::MakeTempDir("logship-chsearch");
  std::ofstream(dir + "/logship.yaml") << "data_dir: " << dir << "\nparser:\n  sink: clickhouse\n  clickhouse:\n"
                                       << "    url: " << server_->url() << "\n    database: logship_test\n"
                                       << "    password: {env: LOGSHIP_TEST_CH_PASSWORD}\n";
  std::string cmd = "LOGSHIP_TEST_CH_PASSWORD=\"pw'x\" " + std::string(bin) + " search -c " + dir +
                    "/logship.yaml --format json --limit 1 'response>=500' 2>&1";
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
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace logship::search
