// The alerter API over a real socket: the bearer token (constant-time compared, GET calls
// too unless open_reads), health without it, listing, acknowledging and silencing through
// the dispatcher, and the errors a client gets for bad requests. Also the generated token
// file (mode 0600, reused).
#include "alerter/api/api_server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "alerter/api/api_token.h"
#include "alerter/notify/log/log_notifier.h"
#include "core/http/http_client.h"

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;
constexpr int64_t kT0 = 1'700'000'000'000;

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("logship_api_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    clock_.SetNs(kT0 * 1'000'000);
    std::vector<std::unique_ptr<Notifier>> n;
    auto log = LogNotifier::Create("log", (dir_ / "pages.jsonl").string());
    ASSERT_TRUE(log.ok());
    n.push_back(std::move(*log));
    DispatcherOptions o;
    o.clock = &clock_;
    auto d = PageDispatcher::Open((dir_ / "state.db").string(), RouteConfig{}, {}, std::move(n), o);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dispatcher_ = std::move(*d);
  }
  void TearDown() override {
    server_.reset();
    dispatcher_.reset();
    std::filesystem::remove_all(dir_);
  }
  void StartServer(bool open_reads = false) {
    ApiServerOptions o;
    o.listen = "127.0.0.1:0";
    o.token = "s3cret-token";
    o.open_reads = open_reads;
    auto s = ApiServer::Start(o, dispatcher_.get());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    ASSERT_GT(server_->port(), 0);
  }
  // Opens an incident for host `host`.
  void Fire(const std::string& key, const std::string& host) {
    Page p;
    p.dedup_key = key;
    p.alert = "Cpu";
    p.group = "host";
    p.labels = {{"alertname", "Cpu"}, {"host", host}};
    p.value = 0.97;
    p.time_ms = kT0;
    EvaluationOutput out;
    out.pages.push_back(p);
    std::vector<bool> failed;
    ASSERT_TRUE(dispatcher_->Submit(out, &failed).ok());
  }
  // Status code and JSON body (null when not JSON). The client's GET reports non-2xx as an
  // error status ("HTTP 401"), so the code is read from its message.
  std::pair<long, nlohmann::json> Call(const std::string& method, const std::string& path, const std::string& token,
                                       const std::string& body = "") {
    HttpClient::Options ho;
    ho.max_response_bytes = 1 << 20;
    HttpClient http(ho);
    HttpHeaders h;
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    const std::string url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    Result<HttpResponse> r = method == "GET" ? http.Get(url, h, milliseconds(5000))
                                             : http.PostAnyStatus(url, body, h, milliseconds(5000));
    if (!r.ok()) {
      const std::string& m = r.status().message();
      auto at = m.find("HTTP ");
      return {at == std::string::npos ? -1 : std::stol(m.substr(at + 5, 3)), nullptr};
    }
    return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  std::unique_ptr<PageDispatcher> dispatcher_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiServerTest, EveryCallButHealthNeedsTheToken) {
  StartServer();
  EXPECT_EQ(Call("GET", "/api/v1/health", "").first, 200);
  EXPECT_EQ(Call("GET", "/api/v1/alerts", "").first, 401);
  EXPECT_EQ(Call("GET", "/api/v1/alerts", "s3cret-tokeX").first, 401);
  EXPECT_EQ(Call("GET", "/api/v1/alerts", "s3cret-token-longer").first, 401);
  EXPECT_EQ(Call("POST", "/api/v1/silences", "", R"({"matchers":["host=a"],"duration":"1h"})").first, 401);
  auto [code, body] = Call("GET", "/api/v1/alerts", "s3cret-token");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(body, (nlohmann::json{{"alerts", nlohmann::json::array()}}));
}

TEST_F(ApiServerTest, OpenReadsStillGuardWrites) {
  StartServer(/*open_reads=*/true);
  EXPECT_EQ(Call("GET", "/api/v1/alerts", "").first, 200);
  EXPECT_EQ(Call("GET", "/api/v1/silences", "").first, 200);
  Fire("00000000000000aa", "a");
  EXPECT_EQ(Call("POST", "/api/v1/alerts/00000000000000aa/ack", "", "{}").first, 401);
}

TEST_F(ApiServerTest, ListAcknowledgeAndSilence) {
  StartServer();
  Fire("0123456789abcdef", "web-1");
  auto [code, list] = Call("GET", "/api/v1/alerts", "s3cret-token");
  ASSERT_EQ(code, 200);
  ASSERT_EQ(list["alerts"].size(), 1u);
  EXPECT_EQ(list["alerts"][0]["id"], "0123456789abcdef");
  EXPECT_EQ(list["alerts"][0]["status"], "firing");
  EXPECT_EQ(list["alerts"][0]["labels"]["host"], "web-1");

  // By a unique prefix; the second ack is idempotent.
  auto [ack_code, ack] = Call("POST", "/api/v1/alerts/0123/ack", "s3cret-token", R"({"by":"alice","comment":"mine"})");
  EXPECT_EQ(ack_code, 200);
  EXPECT_EQ(ack["acknowledged"], true);
  EXPECT_EQ(ack["acknowledgedBy"], "alice");
  EXPECT_EQ(ack["ackComment"], "mine");
  EXPECT_EQ(Call("POST", "/api/v1/alerts/0123456789abcdef/ack", "s3cret-token", "{}").first, 200);
  EXPECT_EQ(Call("POST", "/api/v1/alerts/ffffffff/ack", "s3cret-token", "{}").first, 404);
  EXPECT_EQ(Call("GET", "/api/v1/alerts/0123/ack", "s3cret-token").first, 405);

  auto [sil_code, sil] = Call("POST", "/api/v1/silences", "s3cret-token",
                              R"({"matchers":["host=web-1"],"duration":"2h","createdBy":"bob","comment":"deploy"})");
  ASSERT_EQ(sil_code, 201);
  EXPECT_EQ(sil["state"], "active");
  EXPECT_EQ(sil["endsAt"], kT0 + 2 * 3600'000);
  dispatcher_->RunOnce();
  EXPECT_EQ(Call("GET", "/api/v1/alerts/0123456789abcdef", "s3cret-token").second["muted"], true);

  const std::string id = sil["id"];
  auto [exp_code, expired] = Call("POST", "/api/v1/silences/" + id + "/expire", "s3cret-token", "{}");
  EXPECT_EQ(exp_code, 200);
  EXPECT_EQ(expired["state"], "expired");
  EXPECT_EQ(Call("GET", "/api/v1/silences", "s3cret-token").second["silences"].size(), 0u);
  EXPECT_EQ(Call("GET", "/api/v1/silences?all=1", "s3cret-token").second["silences"].size(), 1u);
}

TEST_F(ApiServerTest, BadSilencesAreRejectedWithAReason) {
  StartServer();
  const std::string t = "s3cret-token";
  EXPECT_EQ(Call("POST", "/api/v1/silences", t, "not json").first, 400);
  EXPECT_EQ(Call("POST", "/api/v1/silences", t, R"({"matchers":[],"duration":"1h","createdBy":"a","comment":"c"})").first,
            400);
  EXPECT_EQ(Call("POST", "/api/v1/silences", t, R"({"matchers":["host"],"duration":"1h","createdBy":"a","comment":"c"})")
                .first,
            400);
  EXPECT_EQ(Call("POST", "/api/v1/silences", t, R"({"matchers":["host=a"],"createdBy":"a","comment":"c"})").first, 400);
  EXPECT_EQ(Call("POST", "/api/v1/silences", t, R"({"matchers":["host=a"],"duration":"1h","comment":"c"})").first, 400);
  EXPECT_EQ(Call("POST", "/api/v1/silences", t,
                 R"({"matchers":["host=~("],"duration":"1h","createdBy":"a","comment":"c"})")
                .first,
            400);
  EXPECT_EQ(Call("GET", "/api/v1/nothing", t).first, 404);
  EXPECT_TRUE(dispatcher_->ListSilences(true).empty());
}

TEST(ApiTokenTest, GeneratedOnceWithMode0600) {
  auto dir = std::filesystem::temp_directory_path() / ("logship_api_token_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = ApiTokenPath(dir.string());
  auto first = LoadOrCreateApiToken(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto again = LoadOrCreateApiToken(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace logship::alerter
