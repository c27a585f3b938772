#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "alerter/notify/log_notifier.h"
#include "alerter/notify/notifier.h"
#include "alerter/notify/webhook_notifier.h"
#include "tests/support/http_receiver.h"

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;
using testing::CannedResponse;
using testing::HttpReceiver;

Page SamplePage() {
  Page p;
  p.dedup_key = "0123456789abcdef";
  p.action = PageAction::kTrigger;
  p.severity = Severity::kCritical;
  p.alert = "RequestRate";
  p.group = "http";
  p.labels = {{"alertname", "RequestRate"}, {"host", "web-1"}, {"team", "web"}};
  p.annotations = {{"summary", "rate on web-1 is 233/s"}};
  p.value = 233.5;
  p.time_ms = 1'700'000'000'123;
  return p;
}

struct Fixture {
  std::unique_ptr<HttpReceiver> receiver;
  std::vector<Millis> sleeps;
  std::unique_ptr<WebhookNotifier> notifier;
};

Fixture Make(const std::string& token = "", int max_attempts = 4) {
  Fixture f;
  auto r = HttpReceiver::Start();
  EXPECT_TRUE(r.ok());
  f.receiver = std::move(*r);
  NotifierConfig c;
  c.name = "pd";
  c.type = "webhook";
  c.url = f.receiver->url("/v2/enqueue");
  c.token.value = token;
  c.timeout = milliseconds(2000);
  WebhookNotifier::Options o;
  o.max_attempts = max_attempts;
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(5000);
  auto* sleeps = &f.sleeps;
  o.sleep = [sleeps](Millis d) { sleeps->push_back(d); };
  f.notifier = std::make_unique<WebhookNotifier>(c, o);
  return f;
}

TEST(WebhookNotifierTest, PostsEventsV2WithTokenAsRoutingKeyAndBearer) {
  Fixture f = Make("s3cr3t");
  ASSERT_TRUE(f.notifier->Notify(SamplePage()).ok());
  ASSERT_TRUE(f.receiver->WaitForRequests(1, milliseconds(5000)));
  auto req = f.receiver->requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/v2/enqueue");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_EQ(req.Header("Authorization"), "Bearer s3cr3t");
  auto j = nlohmann::json::parse(req.body);
  EXPECT_EQ(j["routing_key"], "s3cr3t");
  EXPECT_EQ(j["event_action"], "trigger");
  EXPECT_EQ(j["dedup_key"], "0123456789abcdef");
  EXPECT_EQ(j["payload"]["summary"], "rate on web-1 is 233/s");
  EXPECT_EQ(j["payload"]["source"], "web-1");
  EXPECT_EQ(j["payload"]["severity"], "critical");
  EXPECT_EQ(j["payload"]["timestamp"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["payload"]["custom_details"]["value"], 233.5);
  EXPECT_EQ(j["payload"]["custom_details"]["labels"]["host"], "web-1");
  EXPECT_EQ(j["payload"]["custom_details"]["labels"]["team"], "web");
  EXPECT_EQ(f.notifier->last_attempts(), 1);
}

TEST(WebhookNotifierTest, NoTokenMeansNoRoutingKeyAndNoAuthorization) {
  Fixture f = Make("");
  Page p = SamplePage();
  p.action = PageAction::kResolve;
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  ASSERT_TRUE(f.receiver->WaitForRequests(1, milliseconds(5000)));
  auto req = f.receiver->requests()[0];
  EXPECT_EQ(req.Header("Authorization"), "");
  auto j = nlohmann::json::parse(req.body);
  EXPECT_FALSE(j.contains("routing_key"));
  EXPECT_EQ(j["event_action"], "resolve");
}

TEST(WebhookNotifierTest, RetriesA500ThenSucceeds) {
  Fixture f = Make();
  f.receiver->EnqueueStatuses({500, 200});
  ASSERT_TRUE(f.notifier->Notify(SamplePage()).ok());
  ASSERT_TRUE(f.receiver->WaitForRequests(2, milliseconds(5000)));
  auto reqs = f.receiver->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].body, reqs[1].body) << "a retry must resend the same event";
  EXPECT_EQ(f.notifier->last_attempts(), 2);
  EXPECT_EQ(f.sleeps, (std::vector<Millis>{milliseconds(100)}));
}

TEST(WebhookNotifierTest, BacksOffExponentiallyAndHonoursRetryAfter) {
  Fixture f = Make("", 5);
  CannedResponse busy;
  busy.status = 429;
  busy.headers = {{"Retry-After", "2"}};
  f.receiver->EnqueueStatuses({503, 503});
  f.receiver->EnqueueResponse(busy);
  f.receiver->EnqueueStatuses({200});
  ASSERT_TRUE(f.notifier->Notify(SamplePage()).ok());
  EXPECT_EQ(f.notifier->last_attempts(), 4);
  EXPECT_EQ(f.sleeps,
            (std::vector<Millis>{milliseconds(100), milliseconds(200), milliseconds(2000)}));
}

TEST(WebhookNotifierTest, GivesUpAfterMaxAttempts) {
  Fixture f = Make("", 3);
  CannedResponse down;
  down.status = 503;
  f.receiver->SetDefaultResponse(down);
  Status st = f.notifier->Notify(SamplePage());
  EXPECT_EQ(st.code(), StatusCode::kRetryable);
  EXPECT_EQ(f.receiver->request_count(), 3u);
  EXPECT_EQ(f.sleeps.size(), 2u);
}

TEST(WebhookNotifierTest, PermanentFailureIsNotRetriedAndTokenNotInMessage) {
  Fixture f = Make("s3cr3t");
  f.receiver->EnqueueStatuses({400});
  Status st = f.notifier->Notify(SamplePage());
  EXPECT_EQ(st.code(), StatusCode::kPermanent);
  EXPECT_EQ(f.receiver->request_count(), 1u);
  EXPECT_TRUE(f.sleeps.empty());
  EXPECT_EQ(st.message().find("s3cr3t"), std::string::npos);
}

std::string TempDir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("logship_notify_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(LogNotifierTest, AppendsOneJsonLinePerPage) {
  std::string dir = TempDir();
  auto n = LogNotifier::Create("log", dir + "/sub/pages.jsonl");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  Page p = SamplePage();
  ASSERT_TRUE((*n)->Notify(p).ok());
  p.action = PageAction::kResolve;
  ASSERT_TRUE((*n)->Notify(p).ok());
  std::ifstream in(dir + "/sub/pages.jsonl");
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["action"], "trigger");
  EXPECT_EQ(lines[1]["action"], "resolve");
  EXPECT_EQ(lines[0]["dedup_key"], "0123456789abcdef");
  EXPECT_EQ(lines[0]["severity"], "critical");
  EXPECT_EQ(lines[0]["alert"], "RequestRate");
  EXPECT_EQ(lines[0]["value"], 233.5);
  EXPECT_EQ(lines[0]["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(lines[0]["labels"]["host"], "web-1");
  std::filesystem::remove_all(dir);
}

TEST(BuildNotifiersTest, BuildsAndValidates) {
  std::string dir = TempDir();
  auto none = BuildNotifiers({}, dir);
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->size(), 1u);
  EXPECT_EQ(dynamic_cast<LogNotifier*>((*none)[0].get())->path(), dir + "/pages.jsonl");

  auto config = [](std::string name, std::string type, std::string url) {
    NotifierConfig c;
    c.name = std::move(name);
    c.type = std::move(type);
    c.url = std::move(url);
    return c;
  };
  NotifierConfig hook = config("pd", "webhook", "https://events.pagerduty.com/v2/enqueue");
  NotifierConfig log = config("file", "log", "");
  auto both = BuildNotifiers({hook, log}, dir);
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0]->name(), "pd");
  EXPECT_EQ((*both)[1]->name(), "file");

  NotifierConfig bad = config("x", "slack", "");
  EXPECT_EQ(BuildNotifiers({bad}, dir).status().code(), StatusCode::kInvalidArgument);
  NotifierConfig nourl = config("x", "webhook", "");
  EXPECT_EQ(BuildNotifiers({nourl}, dir).status().code(), StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace logship::alerter
