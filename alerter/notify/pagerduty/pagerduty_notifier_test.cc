// PagerDuty Events API v2 bodies, checked field by field against a local HTTP receiver.
#include "alerter/notify/pagerduty/pagerduty_notifier.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/http_receiver.h"
#include "tests/support/metric_values.h"

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;
using testing::CannedResponse;
using testing::HttpReceiver;

constexpr const char* kKey = "R0UT1NGKEY0123456789abcdefabcdef";

Page SamplePage() {
  Page p;
  p.dedup_key = "9f2c4b1a7d3e5f60";
  p.action = PageAction::kTrigger;
  p.severity = Severity::kWarning;
  p.alert = "RequestRate";
  p.group = "http";
  p.metric = "http_requests";
  p.labels = {{"alertname", "RequestRate"}, {"host", "web-1"}, {"team", "web"}};
  p.annotations = {{"runbook", "https://wiki/rate"}, {"summary", "request rate on web-1 is 170/s"}};
  p.value = 170;
  p.time_ms = 1'700'000'230'000;
  p.starts_ms = 1'700'000'230'000;
  p.url = "http://127.0.0.1:9465/api/v1/alerts/9f2c4b1a7d3e5f60";
  return p;
}

struct Fixture {
  std::unique_ptr<HttpReceiver> receiver;
  std::vector<Millis> sleeps;
  std::unique_ptr<PagerDutyNotifier> notifier;
};

Fixture Make(const std::string& name, int max_attempts = 4) {
  Fixture f;
  auto r = HttpReceiver::Start();
  EXPECT_TRUE(r.ok());
  f.receiver = std::move(*r);
  CannedResponse accepted;
  accepted.status = 202;
  accepted.body = R"({"status":"success","message":"Event processed","dedup_key":"9f2c4b1a7d3e5f60"})";
  f.receiver->SetDefaultResponse(accepted);
  NotifierConfig c;
  c.name = name;
  c.type = "pagerduty";
  c.url = f.receiver->url("/v2/enqueue");
  c.token.value = kKey;
  c.timeout = milliseconds(2000);
  HttpDeliveryOptions o;
  o.max_attempts = max_attempts;
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(10000);
  auto* sleeps = &f.sleeps;
  o.sleep = [sleeps](Millis d) {
    sleeps->push_back(d);
    return true;
  };
  f.notifier = std::make_unique<PagerDutyNotifier>(c, o);
  return f;
}

TEST(PagerDutyNotifierTest, TriggerBodyFieldByField) {
  Fixture f = Make("pd-trigger");
  ASSERT_TRUE(f.notifier->Notify(SamplePage()).ok());
  ASSERT_EQ(f.receiver->request_count(), 1u);
  auto req = f.receiver->requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/v2/enqueue");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_EQ(req.Header("Authorization"), "") << "the Events API authenticates by routing_key";
  auto j = nlohmann::json::parse(req.body);
  // Exactly these top-level fields.
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"routing_key", "event_action", "dedup_key", "client", "client_url", "payload"}));
  EXPECT_EQ(j["routing_key"], kKey);
  EXPECT_EQ(j["event_action"], "trigger");
  EXPECT_EQ(j["dedup_key"], "9f2c4b1a7d3e5f60");
  EXPECT_EQ(j["client"], "logship");
  EXPECT_EQ(j["client_url"], "http://127.0.0.1:9465/api/v1/alerts/9f2c4b1a7d3e5f60");
  const auto& p = j["payload"];
  keys.clear();
  for (auto it = p.begin(); it != p.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"summary", "source", "severity", "timestamp", "component", "group", "class",
                                         "custom_details"}));
  EXPECT_EQ(p["summary"], "request rate on web-1 is 170/s");
  EXPECT_EQ(p["source"], "web-1");
  EXPECT_EQ(p["severity"], "warning");
  EXPECT_EQ(p["timestamp"], "2023-11-14T22:17:10.000Z");
  EXPECT_EQ(p["component"], "RequestRate");
  EXPECT_EQ(p["group"], "http");
  EXPECT_EQ(p["class"], "http_requests");
  EXPECT_EQ(p["custom_details"]["value"], 170.0);
  EXPECT_EQ(p["custom_details"]["labels"],
            (nlohmann::json{{"alertname", "RequestRate"}, {"host", "web-1"}, {"team", "web"}}));
  EXPECT_EQ(p["custom_details"]["annotations"],
            (nlohmann::json{{"runbook", "https://wiki/rate"}, {"summary", "request rate on web-1 is 170/s"}}));
}

TEST(PagerDutyNotifierTest, SeverityMappingAndAckResolveBodies) {
  Fixture f = Make("pd-actions");
  Page p = SamplePage();
  p.severity = Severity::kCritical;
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  p.action = PageAction::kAcknowledge;
  p.acked_by = "ana";
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  p.action = PageAction::kResolve;
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  auto reqs = f.receiver->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(reqs[0].body)["payload"]["severity"], "critical");
  EXPECT_EQ(nlohmann::json::parse(reqs[1].body),
            (nlohmann::json{{"routing_key", kKey}, {"event_action", "acknowledge"}, {"dedup_key", "9f2c4b1a7d3e5f60"}}));
  EXPECT_EQ(nlohmann::json::parse(reqs[2].body),
            (nlohmann::json{{"routing_key", kKey}, {"event_action", "resolve"}, {"dedup_key", "9f2c4b1a7d3e5f60"}}));
}

TEST(PagerDutyNotifierTest, RateLimitIsRetriedAfterRetryAfter) {
  Fixture f = Make("pd-429");
  CannedResponse limited;
  limited.status = 429;
  limited.headers = {{"Retry-After", "3"}};
  f.receiver->EnqueueResponse(limited);
  f.receiver->EnqueueStatuses({502});
  ASSERT_TRUE(f.notifier->Notify(SamplePage()).ok());
  auto reqs = f.receiver->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].body, reqs[2].body) << "a retry resends the same event";
  // Backoff 100 ms, but the server asked for 3 s; then 200 ms after the 502.
  EXPECT_EQ(f.sleeps, (std::vector<Millis>{milliseconds(3000), milliseconds(200)}));
  EXPECT_EQ(testing::MetricValue("logship_alerter_notify_retries_total", {{"notifier", "pd-429"}, {"type", "pagerduty"}}),
            2);
  EXPECT_EQ(testing::MetricValue("logship_alerter_notify_sent_total", {{"notifier", "pd-429"}}), 1);
}

TEST(PagerDutyNotifierTest, ExhaustedRetriesAreRetryableWithTheServersWait) {
  Fixture f = Make("pd-5xx", 2);
  CannedResponse limited;
  limited.status = 429;
  limited.headers = {{"Retry-After", "7"}};
  f.receiver->SetDefaultResponse(limited);
  Status st = f.notifier->Notify(SamplePage());
  EXPECT_EQ(st.code(), StatusCode::kRetryable);
  EXPECT_EQ(f.receiver->request_count(), 2u);
  EXPECT_EQ(f.notifier->last_retry_after(), milliseconds(7000)) << "the outbox waits at least this long";
  EXPECT_EQ(testing::MetricValue("logship_alerter_notify_errors_total", {{"notifier", "pd-5xx"}, {"kind", "retryable"}}),
            1);
}

TEST(PagerDutyNotifierTest, FourXxIsPermanentCountedAndKeyNeverInMessage) {
  Fixture f = Make("pd-400");
  CannedResponse bad;
  bad.status = 400;
  bad.body = R"({"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]})";
  f.receiver->EnqueueResponse(bad);
  Status st = f.notifier->Notify(SamplePage());
  EXPECT_EQ(st.code(), StatusCode::kPermanent);
  EXPECT_EQ(f.receiver->request_count(), 1u) << "a 4xx is not retried";
  EXPECT_TRUE(f.sleeps.empty());
  EXPECT_EQ(st.message().find(kKey), std::string::npos);
  EXPECT_EQ(testing::MetricValue("logship_alerter_notify_errors_total", {{"notifier", "pd-400"}, {"kind", "permanent"}}),
            1);
}

}  // namespace
}  // namespace logship::alerter
