#include "parser/sinks/clickhouse/clickhouse_sink.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/queue/in_process.h"
#include "parser/rules/rule_set.h"
#include "parser/search/clickhouse_search.h"
#include "parser/worker/parser_worker.h"
#include "tests/support/clickhouse_server.h"
#include "tests/support/events.h"

namespace logship::clickhouse {
namespace {

using namespace std::string_literals;
using testing::ClickHouseServer;
using testing::ClickHouseServerOptions;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kDay = 86'400 * kSec;
constexpr int64_t kT0 = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z

ParsedEvent Pe(std::string id, int64_t t, std::string raw) {
  ParsedEvent p;
  p.event.id = std::move(id);
  p.event.time_ns = t;
  p.event.host = "web-1";
  p.event.source = "/var/log/nginx/access.log";
  p.event.type = "nginx";
  p.event.offset = 42;
  p.event.raw = std::move(raw);
  p.fields.push_back({"response", int64_t{503}});
  p.fields.push_back({"verb", std::string("GET")});
  p.fields.push_back({"took", 0.5});
  p.fields.push_back({"httpversion", std::string("1.1")});
  p.tags.push_back("nginx");
  return p;
}

// --- No server needed -------------------------------------------------------------------

TEST(ClassifyClickHouseReplyTest, CodesDecide) {
  const std::string ctx = "http://h:8123 INSERT";
  EXPECT_TRUE(ClassifyClickHouseReply(200, "", ctx).ok());
  Status auth = ClassifyClickHouseReply(
      401, "Code: 193, e.displayText() = DB::Exception: Wrong password for user default, e.what() = DB::Exception\n",
      ctx);
  EXPECT_EQ(auth.code(), StatusCode::kPermanent);
  EXPECT_NE(auth.message().find("Code 193: Wrong password for user default"), std::string::npos) << auth.message();
  EXPECT_NE(auth.message().find("parser.clickhouse.user"), std::string::npos);
  // 18.16 answers a row that does not parse with HTTP 500: the code, not the status, decides.
  EXPECT_EQ(ClassifyClickHouseReply(500, "Code: 27, e.displayText() = DB::Exception: Cannot parse input", ctx).code(),
            StatusCode::kPermanent);
  EXPECT_EQ(ClassifyClickHouseReply(500, "Code: 252, e.displayText() = DB::Exception: Too many parts", ctx).code(),
            StatusCode::kRetryable);
  EXPECT_EQ(ClassifyClickHouseReply(500, "Code: 241, e.displayText() = DB::Exception: Memory limit", ctx).code(),
            StatusCode::kRetryable);
  EXPECT_EQ(ClassifyClickHouseReply(404, "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist.", ctx)
                .code(),
            StatusCode::kRetryable);
  EXPECT_EQ(ClassifyClickHouseReply(400, "Code: 62, e.displayText() = DB::Exception: Syntax error", ctx).code(),
            StatusCode::kPermanent);
  // Newer servers: "Code: 516. DB::Exception: ...".
  EXPECT_EQ(ClassifyClickHouseReply(516, "Code: 516. DB::Exception: default: Authentication failed", ctx).code(),
            StatusCode::kPermanent);
  // No code (a proxy in front): the HTTP status decides.
  EXPECT_EQ(ClassifyClickHouseReply(502, "<html>bad gateway</html>", ctx).code(), StatusCode::kRetryable);
  EXPECT_EQ(ClassifyClickHouseReply(429, "", ctx).code(), StatusCode::kRetryable);
  EXPECT_EQ(ClassifyClickHouseReply(403, "forbidden", ctx).code(), StatusCode::kPermanent);
  EXPECT_EQ(ExceptionCode("Code: 1000, e.displayText() = x"), 1000);
  EXPECT_EQ(ExceptionCode("no code here"), -1);
}

TEST(QuoteTest, StringsAndIdentifiers) {
  EXPECT_EQ(QuoteString("it's"), "'it\\'s'");
  EXPECT_EQ(QuoteString("a\\'b"), "'a\\\\\\'b'");
  EXPECT_EQ(QuoteString("n\0ul"s), "'n\\0ul'");
  EXPECT_EQ(QuoteIdentifier("ev`il"), "`ev\\`il`");
}

TEST(AppendRowTest, OneJsonObjectPerLineWithTypedArrays) {
  ParsedEvent e = Pe("e1", kT0, "GET / \"quoted\"\ttab");
  e.event.syslog = SyslogHeader{3, 6, "nginx", "12", "-", "-"};
  std::string row;
  AppendRow(e, &row);
  ASSERT_EQ(row.back(), '\n');
  ASSERT_EQ(row.find('\n'), row.size() - 1);
  auto j = nlohmann::json::parse(row);
  EXPECT_EQ(j["day"], "2023-11-14");
  EXPECT_EQ(j["time_ns"], kT0);
  EXPECT_EQ(j["raw"], "GET / \"quoted\"\ttab");
  EXPECT_EQ(j["field_names"], (nlohmann::json{"response", "verb", "took", "httpversion", "syslog.facility",
                                              "syslog.severity", "syslog.app", "syslog.procid", "syslog.msgid"}));
  EXPECT_EQ(j["field_values"], (nlohmann::json{"503", "GET", "0.5", "1.1", "3", "6", "nginx", "12", "-"}));
  // Text that is wholly a number ("1.1", "12") is comparable too.
  EXPECT_EQ(j["num_names"], (nlohmann::json{"response", "took", "httpversion", "syslog.facility", "syslog.severity",
                                            "syslog.procid"}));
  EXPECT_EQ(j["num_values"], (nlohmann::json{503, 0.5, 1.1, 3, 6, 12}));
  EXPECT_EQ(nlohmann::json::parse(j["fields"].get<std::string>())["response"], 503);
  // Before 1970 the Date column clamps to its first day.
  row.clear();
  AppendRow(Pe("old", -5 * kDay, "x"), &row);
  EXPECT_EQ(nlohmann::json::parse(row)["day"], "1970-01-01");
}

// --- Against a real clickhouse-server ---------------------------------------------------

class ClickHouseSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ClickHouseServer::Available()) GTEST_SKIP() << "clickhouse-server not installed (scripts/setup --test)";
    server_ = std::make_unique<ClickHouseServer>(ClickHouseServerOptions{"/usr/sbin/clickhouse-server", "s3cret"});
    ASSERT_TRUE(server_->Start().ok());
    config_ = server_->sink_config();
  }

  std::string Query(const std::string& sql) {
    ClickHouseClient client(config_);
    auto r = client.Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() ? r.value() : "";
  }
  std::string Table() { return "logship_test.events"; }
  std::vector<std::string> SearchIds(const std::string& q, size_t limit = 1000) {
    search::SearchRequest req;
    req.query = q;
    req.limit = limit;
    auto hits = search::SearchClickHouse(config_, req);
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    std::vector<std::string> ids;
    if (hits.ok())
      for (const auto& h : hits.value()) ids.push_back(h.id);
    return ids;
  }

  std::unique_ptr<ClickHouseServer> server_;
  ClickHouseSinkConfig config_;
};

TEST_F(ClickHouseSinkTest, CreatesTableAndRowsLandWithExactBytes) {
  auto sink = ClickHouseSink::Create(config_);
  ASSERT_TRUE(sink.ok());
  std::vector<ParsedEvent> batch;
  for (int i = 0; i < 20; ++i) {
    ParsedEvent p;
    p.event = testing::MakeTestEvent(i);  // NUL bytes, invalid UTF-8, CR/LF, syslog headers
    batch.push_back(std::move(p));
  }
  ASSERT_TRUE((*sink)->Write(batch).ok());
  EXPECT_EQ(Query("SELECT count() FROM " + Table() + " FORMAT TabSeparated"), "20\n");
  EXPECT_EQ((*sink)->rows_sent_total(), 20u);
  EXPECT_EQ(Query("SELECT engine, partition_key, sorting_key FROM system.tables WHERE database = 'logship_test' "
                  "AND name = 'events' FORMAT TabSeparated"),
            "ReplacingMergeTree\tday\thost, id\n");
  search::SearchRequest req;
  req.limit = 100;
  auto hits = search::SearchClickHouse(config_, req);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 20u);
  for (const auto& h : hits.value()) {
    const Event* want = nullptr;
    for (const auto& b : batch)
      if (b.event.id == h.id) want = &b.event;
    ASSERT_NE(want, nullptr) << h.id;
    EXPECT_EQ(h.raw, want->raw) << h.id;  // every byte back, NUL and invalid UTF-8 included
    EXPECT_EQ(h.host, want->host);
    EXPECT_EQ(h.source, want->source);
    EXPECT_EQ(h.offset, want->offset);
    EXPECT_EQ(h.time_ns, want->time_ns);
  }
}

TEST_F(ClickHouseSinkTest, ReplayedBatchIsStoredOnce) {
  auto sink = ClickHouseSink::Create(config_);
  ASSERT_TRUE(sink.ok());
  std::vector<ParsedEvent> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(Pe("id-" + std::to_string(i), kT0 + i * kSec, "line"));
  ASSERT_TRUE((*sink)->Write(batch).ok());
  ASSERT_TRUE((*sink)->Write(batch).ok());  // the parser crashed before acknowledging
  ASSERT_TRUE((*sink)->Write(std::span(batch).subspan(10, 5)).ok());
  // Until ClickHouse merges, both copies are in the table; search deduplicates.
  EXPECT_EQ(SearchIds("").size(), 50u);
  EXPECT_EQ(Query("SELECT count() FROM " + Table() + " FINAL FORMAT TabSeparated"), "50\n");
  Query("OPTIMIZE TABLE " + Table() + " FINAL");
  EXPECT_EQ(Query("SELECT count() FROM " + Table() + " FORMAT TabSeparated"), "50\n");
}

TEST_F(ClickHouseSinkTest, SplitsWritesByBytesAndGzipIsOptional) {
  for (bool compress : {true, false}) {
    config_.compress = compress;
    config_.batch_max_bytes = 4096;
    config_.table = compress ? "gz" : "plain";
    auto sink = ClickHouseSink::Create(config_);
    ASSERT_TRUE(sink.ok());
    std::vector<ParsedEvent> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(Pe("id-" + std::to_string(i), kT0, std::string(200, 'x')));
    ASSERT_TRUE((*sink)->Write(batch).ok());
    EXPECT_GT((*sink)->inserts_total(), 5u);
    EXPECT_EQ(Query("SELECT uniqExact(id) FROM logship_test." + config_.table + " FORMAT TabSeparated"), "100\n");
  }
}

TEST_F(ClickHouseSinkTest, BadCredentialsArePermanentWithTheServersReason) {
  config_.password.value = "wrong";
  auto sink = ClickHouseSink::Create(config_);
  ASSERT_TRUE(sink.ok());
  Status st = (*sink)->Write(std::vector<ParsedEvent>{Pe("a", kT0, "x")});
  EXPECT_EQ(st.code(), StatusCode::kPermanent) << st.ToString();
  EXPECT_NE(st.message().find("Code 193"), std::string::npos) << st.message();
  config_.user = "nobody";
  auto sink2 = ClickHouseSink::Create(config_);
  Status st2 = (*sink2)->Write({});
  EXPECT_EQ(st2.code(), StatusCode::kPermanent) << st2.ToString();
}

TEST_F(ClickHouseSinkTest, ServerDownIsRetryableAndADroppedTableIsRecreated) {
  auto sink = ClickHouseSink::Create(config_);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write(std::vector<ParsedEvent>{Pe("a", kT0, "x")}).ok());
  server_->Kill();
  Status down = (*sink)->Write(std::vector<ParsedEvent>{Pe("b", kT0, "x")});
  EXPECT_EQ(down.code(), StatusCode::kRetryable) << down.ToString();
  ASSERT_TRUE(server_->Start().ok());
  Query("DROP TABLE " + Table());
  Status gone = (*sink)->Write(std::vector<ParsedEvent>{Pe("b", kT0, "x")});
  EXPECT_EQ(gone.code(), StatusCode::kRetryable) << gone.ToString();
  ASSERT_TRUE((*sink)->Write(std::vector<ParsedEvent>{Pe("b", kT0, "x")}).ok());
  EXPECT_EQ(SearchIds(""), std::vector<std::string>{"b"});
}

TEST_F(ClickHouseSinkTest, RetentionDropsDayPartitionsPastTheLimit) {
  ManualClock clock(kT0);
  config_.retention_days = 7;
  auto sink = ClickHouseSink::Create(config_, clock);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write(std::vector<ParsedEvent>{Pe("old", kT0 - 8 * kDay, "x"), Pe("edge", kT0 - 5 * kDay, "x"),
                                                      Pe("new", kT0, "x")})
                  .ok());
  // The first write applied retention before inserting: "old" went in after it.
  EXPECT_EQ(SearchIds("").size(), 3u);
  // A new day: the next write checks again. Kept: a day whose end is within 7 days
  // (day + retention_days > today), as the SQLite sink does.
  clock.AdvanceNs(kDay);
  ASSERT_TRUE((*sink)->Write({}).ok());
  EXPECT_EQ(SearchIds(""), (std::vector<std::string>{"new", "edge"}));
  EXPECT_EQ((*sink)->partitions_dropped_total(), 1u);
}

TEST(ClickHouseTlsTest, HttpsWithTheServersCertificateAndVerificationFailure) {
  if (!ClickHouseServer::Available()) GTEST_SKIP() << "clickhouse-server not installed (scripts/setup --test)";
  ClickHouseServerOptions options;
  options.password = "tls-pw";
  options.tls = true;
  ClickHouseServer server(options);
  Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  ClickHouseSinkConfig config = server.sink_config();
  config.url = server.https_url();
  config.ca_file = server.ca_file();
  auto sink = ClickHouseSink::Create(config);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write(std::vector<ParsedEvent>{Pe("tls", kT0, "over https")}).ok());
  search::SearchRequest req;
  auto hits = search::SearchClickHouse(config, req);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ(hits->at(0).raw, "over https");
  // Without the CA the self-signed certificate is refused: Permanent, not retried forever.
  config.ca_file = "";
  auto unverified = ClickHouseSink::Create(config);
  Status st = (*unverified)->Write({});
  EXPECT_EQ(st.code(), StatusCode::kPermanent) << st.ToString();
  config.verify_tls = false;
  auto insecure = ClickHouseSink::Create(config);
  EXPECT_TRUE((*insecure)->Write({}).ok());
}

// The server is killed and restarted while a parser worker writes: the worker retries,
// and every event is stored exactly once.
TEST_F(ClickHouseSinkTest, ServerKilledMidRunLosesNothing) {
  auto rules = rules::LoadRuleSet({}, {});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  config_.flush_interval = Millis(50);
  auto sink = ClickHouseSink::Create(config_);
  ASSERT_TRUE(sink.ok());
  InProcessQueue<Event> queue(InProcessQueueOptions{200, true});
  ParserConfig pc;
  pc.batch_max_events = 100;
  pc.batch_wait = Millis(20);
  ParserWorker worker(pc, rules.value(), &queue.consumer(), sink->get(), nullptr);
  worker.Start();
  constexpr int kEvents = 3000;
  std::atomic<int> published{0};
  std::thread producer([&] {
    for (int i = 0; i < kEvents; i += 50) {
      std::vector<Event> batch;
      for (int k = i; k < i + 50; ++k) {
        Event e = testing::MakeTestEvent(k);
        e.time_ns = kT0 + k * 1000;
        batch.push_back(std::move(e));
      }
      ASSERT_TRUE(queue.producer().Publish(batch).ok());
      published += 50;
    }
  });
  auto wait_until = [](auto cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!cond() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(Millis(10));
    return cond();
  };
  ASSERT_TRUE(wait_until([&] { return published.load() >= 600; }));
  server_->Kill();
  ASSERT_TRUE(wait_until([&] { return worker.stats().sink_retries >= 2; }));
  ASSERT_TRUE(server_->Start().ok());
  producer.join();
  ASSERT_TRUE(wait_until([&] { return worker.stats().committed >= kEvents; }));
  worker.Stop();
  EXPECT_GE(worker.stats().sink_retries, 2u);
  EXPECT_EQ(Query("SELECT count(), uniqExact(id) FROM " + Table() + " FINAL FORMAT TabSeparated"), "3000\t3000\n");
}

}  // namespace
}  // namespace logship::clickhouse
