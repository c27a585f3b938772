#include "alerter/notify/webhook/webhook_notifier.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/http_receiver.h"
#include "tests/support/metric_values.h"

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

Fixture Make(const std::string& token = "", int max_attempts = 4, const std::string& name = "hook") {
  Fixture f;
  auto r = HttpReceiver::Start();
  EXPECT_TRUE(r.ok());
  f.receiver = std::move(*r);
  NotifierConfig c;
  c.name = name;
  c.type = "webhook";
  c.url = f.receiver->url("/v2/enqueue");
  c.token.value = token;
  c.timeout = milliseconds(2000);
  WebhookNotifier::Options o;
  o.max_attempts = max_attempts;
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(5000);
  auto* sleeps = &f.sleeps;
  o.sleep = [sleeps](Millis d) {
    sleeps->push_back(d);
    return true;
  };
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

TEST(WebhookNotifierTest, AcknowledgeAndResolveCarryTheFullPayload) {
  Fixture f = Make("");
  Page p = SamplePage();
  p.action = PageAction::kAcknowledge;
  p.acked_by = "ana";
  p.comment = "on it";
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  p.action = PageAction::kResolve;
  p.acked_by.clear();
  p.comment.clear();
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  auto reqs = f.receiver->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].Header("Authorization"), "");
  auto ack = nlohmann::json::parse(reqs[0].body);
  EXPECT_FALSE(ack.contains("routing_key"));
  EXPECT_EQ(ack["event_action"], "acknowledge");
  EXPECT_EQ(ack["payload"]["custom_details"]["acknowledged_by"], "ana");
  EXPECT_EQ(ack["payload"]["custom_details"]["comment"], "on it");
  auto resolve = nlohmann::json::parse(reqs[1].body);
  EXPECT_EQ(resolve["event_action"], "resolve");
  EXPECT_EQ(resolve["payload"]["summary"], "rate on web-1 is 233/s");
}

TEST(WebhookNotifierTest, RetriesA500ThenSucceeds) {
  Fixture f = Make();
  f.receiver->EnqueueStatuses({500, 200});
  ASSERT_TRUE(f.notifier->Notify(SamplePage()).ok());
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
  EXPECT_EQ(f.sleeps, (std::vector<Millis>{milliseconds(100), milliseconds(200), milliseconds(2000)}));
}

TEST(WebhookNotifierTest, GivesUpAfterMaxAttemptsAndCountsIt) {
  Fixture f = Make("", 3, "hook-gives-up");
  CannedResponse down;
  down.status = 503;
  f.receiver->SetDefaultResponse(down);
  Status st = f.notifier->Notify(SamplePage());
  EXPECT_EQ(st.code(), StatusCode::kRetryable);
  EXPECT_EQ(f.receiver->request_count(), 3u);
  EXPECT_EQ(f.sleeps.size(), 2u);
  EXPECT_EQ(testing::MetricValue("logship_alerter_notify_errors_total",
                                 {{"notifier", "hook-gives-up"}, {"kind", "retryable"}}),
            1);
  EXPECT_EQ(testing::MetricValue("logship_alerter_notify_retries_total", {{"notifier", "hook-gives-up"}}), 2);
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

}  // namespace
}  // namespace logship::alerter
