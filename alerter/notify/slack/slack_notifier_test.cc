#include "alerter/notify/slack/slack_notifier.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/http_receiver.h"

namespace logship::alerter {
namespace {

using testing::HttpReceiver;

Page SamplePage() {
  Page p;
  p.dedup_key = "9f2c4b1a7d3e5f60";
  p.severity = Severity::kCritical;
  p.alert = "HostCpuHigh";
  p.group = "host";
  p.labels = {{"alertname", "HostCpuHigh"}, {"host", "db-1"}};
  p.annotations = {{"runbook", "https://wiki/cpu"}, {"summary", "CPU on db-1 at 97%"}};
  p.value = 0.97;
  p.time_ms = 1'700'000'230'000;
  p.url = "http://127.0.0.1:9465/api/v1/alerts/9f2c4b1a7d3e5f60";
  return p;
}

struct Fixture {
  std::unique_ptr<HttpReceiver> receiver;
  std::unique_ptr<SlackNotifier> notifier;
};

Fixture Make() {
  Fixture f;
  auto r = HttpReceiver::Start();
  EXPECT_TRUE(r.ok());
  f.receiver = std::move(*r);
  NotifierConfig c;
  c.name = "chat";
  c.type = "slack";
  c.url_secret.value = f.receiver->url("/services/T0001/B0002/s3cr3tXYZ");
  HttpDeliveryOptions o;
  o.sleep = [](Millis) { return true; };
  f.notifier = std::make_unique<SlackNotifier>(c, o);
  return f;
}

TEST(SlackNotifierTest, TriggerMessageFieldByField) {
  Fixture f = Make();
  Page p = SamplePage();
  p.repeat = 2;
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  auto req = f.receiver->requests().at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/services/T0001/B0002/s3cr3tXYZ");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  auto j = nlohmann::json::parse(req.body);
  EXPECT_EQ(j["text"], ":rotating_light: [CRITICAL] CPU on db-1 at 97% (repeat 2)");
  ASSERT_EQ(j["attachments"].size(), 1u);
  const auto& a = j["attachments"][0];
  EXPECT_EQ(a["color"], "#d00000");
  EXPECT_EQ(a["title"], "HostCpuHigh (host)");
  EXPECT_EQ(a["title_link"], "http://127.0.0.1:9465/api/v1/alerts/9f2c4b1a7d3e5f60");
  EXPECT_EQ(a["text"], "runbook: https://wiki/cpu");
  EXPECT_EQ(a["footer"], "logship · 9f2c4b1a7d3e5f60");
  EXPECT_EQ(a["ts"], 1'700'000'230);
  EXPECT_EQ(a["fields"], (nlohmann::json{{{"title", "severity"}, {"value", "critical"}, {"short", true}},
                                        {{"title", "value"}, {"value", "0.97"}, {"short", true}},
                                        {{"title", "host"}, {"value", "db-1"}, {"short", true}}}));
}

TEST(SlackNotifierTest, ResolveAndAcknowledgeMessages) {
  Fixture f = Make();
  Page p = SamplePage();
  p.action = PageAction::kAcknowledge;
  p.acked_by = "ana";
  p.comment = "on it";
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  p.action = PageAction::kResolve;
  p.comment.clear();
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  auto reqs = f.receiver->requests();
  ASSERT_EQ(reqs.size(), 2u);
  auto ack = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(ack["text"], ":eyes: [ACKNOWLEDGED by ana] CPU on db-1 at 97%");
  EXPECT_EQ(ack["attachments"][0]["fields"].back()["value"], "on it");
  auto resolve = nlohmann::json::parse(reqs[1].body);
  EXPECT_EQ(resolve["text"], ":white_check_mark: [RESOLVED] CPU on db-1 at 97%");
  EXPECT_EQ(resolve["attachments"][0]["color"], "#2eb886");
}

TEST(SlackNotifierTest, TheWebhookUrlNeverAppearsInErrors) {
  Fixture f = Make();
  f.receiver->EnqueueStatuses({404});
  Status st = f.notifier->Notify(SamplePage());
  EXPECT_EQ(st.code(), StatusCode::kPermanent);
  EXPECT_EQ(st.message().find("s3cr3tXYZ"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("404"), std::string::npos);
}

}  // namespace
}  // namespace logship::alerter
