#include "alerter/notify/alertmanager/alertmanager_notifier.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/http_receiver.h"

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;
using testing::HttpReceiver;

constexpr int64_t kNow = 1'700'000'300'000;

Page SamplePage() {
  Page p;
  p.dedup_key = "9f2c4b1a7d3e5f60";
  p.severity = Severity::kWarning;
  p.alert = "HostCpuHigh";
  p.group = "host";
  p.labels = {{"alertname", "HostCpuHigh"}, {"host", "db-1"}};
  p.annotations = {{"runbook", "https://wiki/cpu"}};
  p.value = 0.91;
  p.time_ms = 1'700'000'230'000;
  p.starts_ms = 1'700'000'200'000;
  p.url = "http://127.0.0.1:9465/api/v1/alerts/9f2c4b1a7d3e5f60";
  return p;
}

struct Fixture {
  std::unique_ptr<HttpReceiver> receiver;
  ManualClock clock{kNow * 1'000'000};
  std::unique_ptr<AlertmanagerNotifier> notifier;
};

std::unique_ptr<Fixture> Make(const std::string& token = "") {
  auto f = std::make_unique<Fixture>();
  auto r = HttpReceiver::Start();
  EXPECT_TRUE(r.ok());
  f->receiver = std::move(*r);
  NotifierConfig c;
  c.name = "am";
  c.type = "alertmanager";
  c.url = f->receiver->url("/");  // a trailing slash is fine
  c.token.value = token;
  c.resend_interval = milliseconds(60000);
  HttpDeliveryOptions o;
  o.sleep = [](Millis) { return true; };
  f->notifier = std::make_unique<AlertmanagerNotifier>(c, o, f->clock);
  return f;
}

TEST(AlertmanagerNotifierTest, FiringAlertFieldByField) {
  auto f = Make();
  ASSERT_TRUE(f->notifier->Notify(SamplePage()).ok());
  ASSERT_EQ(f->receiver->request_count(), 1u);
  auto req = f->receiver->requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/api/v2/alerts");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_EQ(req.Header("Authorization"), "");
  auto j = nlohmann::json::parse(req.body);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  const auto& a = j[0];
  EXPECT_EQ(a["labels"], (nlohmann::json{{"alertname", "HostCpuHigh"}, {"host", "db-1"}, {"severity", "warning"}}));
  EXPECT_EQ(a["annotations"]["runbook"], "https://wiki/cpu");
  EXPECT_EQ(a["annotations"]["summary"], "HostCpuHigh warning: 0.91 {host=\"db-1\"}");
  EXPECT_EQ(a["startsAt"], "2023-11-14T22:16:40.000Z");
  EXPECT_EQ(a["endsAt"], FormatTimestamp(kNow + 4 * 60000)) << "expires by itself if logship stops re-sending";
  EXPECT_EQ(a["generatorURL"], "http://127.0.0.1:9465/api/v1/alerts/9f2c4b1a7d3e5f60");
  EXPECT_EQ(a.size(), 5u);
}

TEST(AlertmanagerNotifierTest, SeverityChangeEndsTheOldLabelSet) {
  auto f = Make("am-token");
  Page p = SamplePage();
  p.severity = Severity::kCritical;
  p.previous_severity = Severity::kWarning;
  ASSERT_TRUE(f->notifier->Notify(p).ok());
  auto req = f->receiver->requests()[0];
  EXPECT_EQ(req.Header("Authorization"), "Bearer am-token");
  auto j = nlohmann::json::parse(req.body);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["labels"]["severity"], "warning");
  EXPECT_EQ(j[0]["endsAt"], FormatTimestamp(p.time_ms));
  EXPECT_EQ(j[1]["labels"]["severity"], "critical");
  EXPECT_EQ(j[1]["startsAt"], FormatTimestamp(p.starts_ms));
  EXPECT_EQ(j[1]["endsAt"], FormatTimestamp(kNow + 240000));
}

TEST(AlertmanagerNotifierTest, ResolveSetsEndsAtAndAcknowledgeSendsNothing) {
  auto f = Make();
  Page p = SamplePage();
  p.action = PageAction::kAcknowledge;
  ASSERT_TRUE(f->notifier->Notify(p).ok());
  EXPECT_EQ(f->receiver->request_count(), 0u);
  p.action = PageAction::kResolve;
  p.time_ms = 1'700'000'290'000;
  ASSERT_TRUE(f->notifier->Notify(p).ok());
  auto j = nlohmann::json::parse(f->receiver->requests().at(0).body);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["labels"]["severity"], "warning");
  EXPECT_EQ(j[0]["endsAt"], "2023-11-14T22:18:10.000Z");
  // A resolve in the future (data ahead of this clock) is clamped to now.
  p.time_ms = kNow + 3'600'000;
  ASSERT_TRUE(f->notifier->Notify(p).ok());
  EXPECT_EQ(nlohmann::json::parse(f->receiver->requests().at(1).body)[0]["endsAt"], FormatTimestamp(kNow));
}

}  // namespace
}  // namespace logship::alerter
