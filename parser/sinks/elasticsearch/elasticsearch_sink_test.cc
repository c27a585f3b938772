#include "parser/sinks/elasticsearch/elasticsearch_sink.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/support/http_receiver.h"
#include "tests/support/subprocess.h"

// No Elasticsearch server can be installed here (not in Debian). These tests run the sink
// against tests/support/HttpReceiver answering as Elasticsearch does; the reply shapes
// are those of the Bulk API reference,
// https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html
// (items in request order, {"create": {"_index", "_id", "status", "error": {"type",
// "reason", ...}}}, 409 version_conflict_engine_exception for an existing _id, 429
// es_rejected_execution_exception when the write queue is full), and whole-request errors
// as {"error": {"root_cause": [...], "type", "reason"}, "status": N}.

namespace logship::elasticsearch {
namespace {

using namespace std::string_literals;
using nlohmann::json;
using testing::CannedResponse;
using testing::HttpReceiver;
using testing::ReceivedRequest;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z

ParsedEvent Pe(std::string id, int64_t t = kT0, std::string raw = "GET /x") {
  ParsedEvent p;
  p.event.id = std::move(id);
  p.event.time_ns = t;
  p.event.host = "web-1";
  p.event.source = "/var/log/nginx/access.log";
  p.event.type = "nginx";
  p.event.offset = 7;
  p.event.raw = std::move(raw);
  p.fields.push_back({"response", int64_t{200}});
  p.fields.push_back({"http.request.method", std::string("GET")});
  return p;
}

CannedResponse Reply(int status, std::string body) {
  CannedResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string ErrorBody(const std::string& type, const std::string& reason, int status) {
  json e = {{"type", type}, {"reason", reason}};
  return json{{"error", {{"root_cause", json::array({e})}, {"type", type}, {"reason", reason}}}, {"status", status}}
      .dump();
}

// An index that behaves like Elasticsearch's for `create`: stores documents by (_index,
// _id), answers 409 for an id it has, and fails items on demand.
class FakeIndex {
 public:
  // Ids whose document is rejected with 400 mapper_parsing_exception, every time.
  std::set<std::string> reject;
  // Ids answered 429 es_rejected_execution_exception this many more times.
  std::map<std::string, int> busy;

  CannedResponse Handle(const ReceivedRequest& req) {
    std::lock_guard<std::mutex> lock(mu_);
    std::istringstream lines(req.body);
    std::string action_line, doc_line;
    json items = json::array();
    bool errors = false;
    while (std::getline(lines, action_line)) {
      if (!std::getline(lines, doc_line)) return Reply(400, ErrorBody("parse_exception", "missing source line", 400));
      json action = json::parse(action_line, nullptr, false);
      json doc = json::parse(doc_line, nullptr, false);
      if (!action.contains("create") || doc.is_discarded()) {
        return Reply(400, ErrorBody("illegal_argument_exception", "Malformed action/metadata line", 400));
      }
      const std::string index = action["create"]["_index"], id = action["create"]["_id"];
      json item = {{"_index", index}, {"_id", id}};
      if (reject.count(id)) {
        item["status"] = 400;
        item["error"] = {{"type", "mapper_parsing_exception"},
                         {"reason", "failed to parse field [response] of type [long] in document with id '" + id + "'"},
                         {"index", index}};
      } else if (busy[id] > 0) {
        --busy[id];
        item["status"] = 429;
        item["error"] = {{"type", "es_rejected_execution_exception"},
                         {"reason", "rejected execution of coordinating operation"}};
      } else if (docs_.count(index + "/" + id)) {
        item["status"] = 409;
        item["error"] = {{"type", "version_conflict_engine_exception"},
                         {"reason", "[" + id + "]: version conflict, document already exists (current version [1])"},
                         {"index", index},
                         {"shard", "0"}};
      } else {
        docs_[index + "/" + id] = doc;
        item["_version"] = 1;
        item["result"] = "created";
        item["status"] = 201;
      }
      errors = errors || item["status"] != 201;
      items.push_back({{"create", item}});
    }
    // The sink asks for filter_path=errors,items.*.status,items.*.error; a real server
    // would drop the other keys. Answer the full shape: the sink must not care.
    return Reply(200, json{{"took", 3}, {"errors", errors}, {"items", items}}.dump());
  }
  std::map<std::string, json> docs() {
    std::lock_guard<std::mutex> lock(mu_);
    return docs_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, json> docs_;  // "index/id" -> _source
};

class ElasticsearchSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = HttpReceiver::Start();
    ASSERT_TRUE(r.ok());
    es_ = std::move(r.value());
    es_->SetHandler([this](const ReceivedRequest& req) { return index_.Handle(req); });
    dir_ = testing::MakeTempDir("logship-es");
    config_.url = es_->url("");
    config_.dead_letter_path = dir_ + "/dead.jsonl";
    config_.retry_backoff = Millis(1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ElasticsearchSink> Sink() {
    auto s = ElasticsearchSink::Create(config_);
    EXPECT_TRUE(s.ok());
    return std::move(s.value());
  }
  std::vector<json> DeadLetters() {
    std::vector<json> out;
    std::ifstream in(config_.dead_letter_path);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }

  std::unique_ptr<HttpReceiver> es_;
  FakeIndex index_;
  std::string dir_;
  ElasticsearchSinkConfig config_;
};

TEST(IndexNameTest, DatePattern) {
  EXPECT_EQ(IndexName("logs-%Y.%m.%d", kT0), "logs-2023.11.14");
  EXPECT_EQ(IndexName("logs-%Y.%m.%d-%H", kT0), "logs-2023.11.14-22");
  EXPECT_EQ(IndexName("a%%b%q", kT0), "a%b%q");
  EXPECT_EQ(IndexName("plain", kT0), "plain");
}

TEST(DocumentJsonTest, FieldsTimestampAndRawBytes) {
  ParsedEvent e = Pe("h:1", kT0 + 5, "bad \xff byte");
  e.fields.push_back({"tags", std::string("collides")});
  e.tags = {"_grokparsefailure"};
  json d = json::parse(DocumentJson(e));
  EXPECT_EQ(d["@timestamp"], "2023-11-14T22:13:20.000000005Z");
  EXPECT_EQ(d["message"], "bad \xEF\xBF\xBD byte");  // U+FFFD: Elasticsearch only takes UTF-8
  EXPECT_EQ(d["event.original"], d["message"]);
  EXPECT_EQ(d["logship.raw_base64"], "YmFkIP8gYnl0ZQ==");  // the exact bytes
  EXPECT_EQ(d["logship.id"], "h:1");
  EXPECT_EQ(d["logship.offset"], 7);
  EXPECT_EQ(d["response"], 200);
  EXPECT_EQ(d["http.request.method"], "GET");
  EXPECT_EQ(d["tags"], json::array({"_grokparsefailure"}));
  EXPECT_EQ(d["parsed.tags"], "collides");
  e.fields.push_back({"message", std::string("the message")});
  EXPECT_EQ(json::parse(DocumentJson(e))["message"], "the message");
  EXPECT_FALSE(json::parse(DocumentJson(Pe("x"))).contains("logship.raw_base64"));
}

TEST(ParseBulkReplyTest, ShapesFromTheReference) {
  // The failed-actions example of the Bulk API reference (create item added as 409).
  const char* body = R"j({"took":486,"errors":true,"items":[
    {"update":{"_index":"index1","_type":"_doc","_id":"5","status":404,
      "error":{"type":"document_missing_exception","reason":"[_doc][5]: document missing",
               "index_uuid":"aAsFqTI0Tc2W0LCWgPNrOA","shard":"0","index":"index1"}}},
    {"create":{"_index":"index1","_type":"_doc","_id":"7","_version":1,"result":"created",
      "_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},
    {"create":{"_index":"index1","_id":"8","status":409,"error":{"type":"version_conflict_engine_exception",
      "reason":"[8]: version conflict, document already exists (current version [1])"}}},
    {"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected"}}},
    {"create":{"status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}}]})j";
  auto r = ParseBulkReply(body, 5);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at(0).outcome, ItemOutcome::kReject);
  EXPECT_NE(r->at(0).error.find("document_missing_exception"), std::string::npos);
  EXPECT_EQ(r->at(1).outcome, ItemOutcome::kStored);
  EXPECT_EQ(r->at(2).outcome, ItemOutcome::kDuplicate);
  EXPECT_EQ(r->at(3).outcome, ItemOutcome::kRetry);
  EXPECT_EQ(r->at(4).outcome, ItemOutcome::kRetry);
  EXPECT_EQ(ParseBulkReply(body, 4).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ParseBulkReply("not json", 1).status().code(), StatusCode::kCorruption);
  // filter_path=errors,items.*.status,items.*.error with no errors.
  EXPECT_TRUE(ParseBulkReply(R"({"errors":false,"items":[{"create":{"status":201}}]})", 1).ok());
}

TEST_F(ElasticsearchSinkTest, CreateActionsWithIdsIntoDailyIndices) {
  config_.user = "elastic";
  config_.password.value = "changeme";
  auto sink = Sink();
  std::vector<ParsedEvent> batch = {Pe("a:1", kT0), Pe("a:2", kT0 + 86'400 * kSec)};
  ASSERT_TRUE(sink->Write(batch).ok());
  auto reqs = es_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/_bulk?filter_path=errors,items.*.status,items.*.error");
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/x-ndjson");
  EXPECT_EQ(reqs[0].Header("Authorization"), "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
  EXPECT_EQ(reqs[0].body.back(), '\n');
  auto docs = index_.docs();
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_TRUE(docs.count("logs-2023.11.14/a:1"));
  EXPECT_TRUE(docs.count("logs-2023.11.15/a:2"));
  EXPECT_EQ(sink->created_total(), 2u);
}

TEST_F(ElasticsearchSinkTest, ApiKeyHeader) {
  config_.api_key.value = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
  auto sink = Sink();
  ASSERT_TRUE(sink->Write(std::vector<ParsedEvent>{Pe("k")}).ok());
  EXPECT_EQ(es_->requests().at(0).Header("Authorization"), "ApiKey " + config_.api_key.value);
}

TEST_F(ElasticsearchSinkTest, ReplayedEventsAre409AndCountAsStored) {
  auto sink = Sink();
  std::vector<ParsedEvent> batch = {Pe("r:1"), Pe("r:2"), Pe("r:3")};
  ASSERT_TRUE(sink->Write(batch).ok());
  ASSERT_TRUE(sink->Write(batch).ok());
  EXPECT_EQ(sink->created_total(), 3u);
  EXPECT_EQ(sink->duplicates_total(), 3u);
  EXPECT_EQ(index_.docs().size(), 3u);
  EXPECT_TRUE(DeadLetters().empty());
}

TEST_F(ElasticsearchSinkTest, BusyItemsAreRetriedAloneWithBackoff) {
  index_.busy["b:2"] = 2;  // 429 twice, then accepted
  auto sink = Sink();
  ASSERT_TRUE(sink->Write(std::vector<ParsedEvent>{Pe("b:1"), Pe("b:2"), Pe("b:3")}).ok());
  auto reqs = es_->requests();
  ASSERT_EQ(reqs.size(), 3u);
  // The retries carry only the busy item.
  EXPECT_EQ(std::count(reqs[1].body.begin(), reqs[1].body.end(), '\n'), 2);
  EXPECT_NE(reqs[2].body.find("\"b:2\""), std::string::npos);
  EXPECT_EQ(index_.docs().size(), 3u);
  EXPECT_EQ(sink->duplicates_total(), 0u);
}

TEST_F(ElasticsearchSinkTest, WholeRequestFailuresAreRetriedThenRetryable) {
  es_->EnqueueResponse(Reply(503, ErrorBody("cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]", 503)));
  es_->EnqueueResponse(Reply(429, ErrorBody("es_rejected_execution_exception", "rejected", 429)));
  auto sink = Sink();
  ASSERT_TRUE(sink->Write(std::vector<ParsedEvent>{Pe("w:1")}).ok());
  EXPECT_EQ(es_->request_count(), 3u);

  config_.max_retries = 2;
  auto sink2 = Sink();
  for (int i = 0; i < 3; ++i) es_->EnqueueResponse(Reply(502, "bad gateway"));
  Status st = sink2->Write(std::vector<ParsedEvent>{Pe("w:2"), Pe("w:1")});
  EXPECT_EQ(st.code(), StatusCode::kRetryable) << st.ToString();
  EXPECT_NE(st.message().find("HTTP 502"), std::string::npos) << st.message();
  // The parser retries the batch: it goes through now (w:1 is a 409).
  ASSERT_TRUE(sink2->Write(std::vector<ParsedEvent>{Pe("w:2"), Pe("w:1")}).ok());
  EXPECT_EQ(index_.docs().size(), 2u);
}

TEST_F(ElasticsearchSinkTest, RetryAfterIsHonoured) {
  CannedResponse busy = Reply(429, ErrorBody("es_rejected_execution_exception", "rejected", 429));
  busy.headers = {{"Retry-After", "1"}};
  es_->EnqueueResponse(busy);
  auto sink = Sink();
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(sink->Write(std::vector<ParsedEvent>{Pe("ra")}).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(es_->request_count(), 2u);
}

TEST_F(ElasticsearchSinkTest, ConnectionRefusedIsRetryable) {
  config_.url = "http://127.0.0.1:1";
  config_.max_retries = 1;
  auto sink = Sink();
  Status st = sink->Write(std::vector<ParsedEvent>{Pe("c")});
  EXPECT_EQ(st.code(), StatusCode::kRetryable) << st.ToString();
}

TEST_F(ElasticsearchSinkTest, RejectedItemsGoToTheDeadLetterFileOnce) {
  index_.reject = {"d:2"};
  index_.busy["d:3"] = 100;  // stays busy: the write fails Retryable after the retries
  config_.max_retries = 1;
  auto sink = Sink();
  std::vector<ParsedEvent> batch = {Pe("d:1"), Pe("d:2"), Pe("d:3")};
  Status st = sink->Write(batch);
  EXPECT_EQ(st.code(), StatusCode::kRetryable) << st.ToString();
  auto letters = DeadLetters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0]["id"], "d:2");
  EXPECT_EQ(letters[0]["status"], 400);
  EXPECT_EQ(letters[0]["index"], "logs-2023.11.14");
  EXPECT_EQ(letters[0]["error"]["type"], "mapper_parsing_exception");
  EXPECT_EQ(letters[0]["event"]["logship.id"], "d:2");
  EXPECT_EQ(letters[0]["event"]["message"], "GET /x");
  // The retried batch sends only d:3; d:1 and d:2 were handled already.
  index_.busy["d:3"] = 0;
  size_t before = es_->request_count();
  ASSERT_TRUE(sink->Write(batch).ok());
  auto reqs = es_->requests();
  ASSERT_EQ(reqs.size(), before + 1);
  EXPECT_EQ(std::count(reqs.back().body.begin(), reqs.back().body.end(), '\n'), 2);
  EXPECT_EQ(DeadLetters().size(), 1u);
  EXPECT_EQ(sink->dead_lettered_total(), 1u);
  EXPECT_EQ(index_.docs().size(), 2u);
}

TEST_F(ElasticsearchSinkTest, DeadLetterFileIsBounded) {
  for (int i = 0; i < 50; ++i) index_.reject.insert("x:" + std::to_string(i));
  config_.dead_letter_max_bytes = 4096;
  auto sink = Sink();
  std::vector<ParsedEvent> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(Pe("x:" + std::to_string(i)));
  ASSERT_TRUE(sink->Write(batch).ok());
  EXPECT_LE(std::filesystem::file_size(config_.dead_letter_path), 4096u);
  EXPECT_GT(sink->dead_lettered_total(), 0u);
  EXPECT_GT(sink->dropped_total(), 0u);
  EXPECT_EQ(sink->dead_lettered_total() + sink->dropped_total(), 50u);
  EXPECT_EQ(DeadLetters().size(), sink->dead_lettered_total());
}

TEST_F(ElasticsearchSinkTest, AuthFailuresArePermanent) {
  es_->SetHandler(nullptr);
  es_->SetDefaultResponse(Reply(401, ErrorBody("security_exception", "missing authentication credentials for REST request [/_bulk]", 401)));
  auto sink = Sink();
  Status st = sink->Write(std::vector<ParsedEvent>{Pe("p")});
  EXPECT_EQ(st.code(), StatusCode::kPermanent) << st.ToString();
  EXPECT_NE(st.message().find("security_exception: missing authentication credentials"), std::string::npos)
      << st.message();
  EXPECT_EQ(es_->request_count(), 1u);  // not retried
}

TEST_F(ElasticsearchSinkTest, SplitsRequestsByBytes) {
  config_.batch_max_bytes = 4096;
  auto sink = Sink();
  std::vector<ParsedEvent> batch;
  for (int i = 0; i < 60; ++i) batch.push_back(Pe("s:" + std::to_string(i), kT0, std::string(300, 'y')));
  ASSERT_TRUE(sink->Write(batch).ok());
  EXPECT_GT(es_->request_count(), 5u);
  for (const auto& r : es_->requests()) EXPECT_LE(r.body.size(), 4096u);
  EXPECT_EQ(index_.docs().size(), 60u);
}

TEST_F(ElasticsearchSinkTest, AMalformedReplyIsRetryable) {
  es_->EnqueueResponse(Reply(200, R"({"took":1,"errors":false,"items":[]})"));
  config_.max_retries = 0;
  auto sink = Sink();
  Status st = sink->Write(std::vector<ParsedEvent>{Pe("m")});
  EXPECT_EQ(st.code(), StatusCode::kRetryable) << st.ToString();
  EXPECT_NE(st.message().find("0 items for 1 actions"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace logship::elasticsearch
