#include "alerter/notify/opsgenie/opsgenie_notifier.h"

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
  p.dedup_key = "9f2c4b1a7d3e5f60";
  p.severity = Severity::kCritical;
  p.alert = "HostCpuHigh";
  p.group = "host";
  p.labels = {{"alertname", "HostCpuHigh"}, {"host", "db-1"}};
  p.annotations = {{"runbook", "https://wiki/cpu"}, {"summary", "CPU on db-1 at 97%"}};
  p.value = 0.97;
  p.time_ms = 1'700'000'230'000;
  return p;
}

struct Fixture {
  std::unique_ptr<HttpReceiver> receiver;
  std::unique_ptr<OpsgenieNotifier> notifier;
};

Fixture Make(const std::string& name) {
  Fixture f;
  auto r = HttpReceiver::Start();
  EXPECT_TRUE(r.ok());
  f.receiver = std::move(*r);
  CannedResponse accepted;
  accepted.status = 202;
  accepted.body = R"({"result":"Request will be processed","took":0.2,"requestId":"43a29c5c"})";
  f.receiver->SetDefaultResponse(accepted);
  NotifierConfig c;
  c.name = name;
  c.type = "opsgenie";
  c.url = f.receiver->url("");
  c.token.value = "genie-key-123";
  HttpDeliveryOptions o;
  o.sleep = [](Millis) { return true; };
  f.notifier = std::make_unique<OpsgenieNotifier>(c, o);
  return f;
}

TEST(OpsgenieNotifierTest, CreateAckCloseByAliasFieldByField) {
  Fixture f = Make("og");
  Page p = SamplePage();
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  p.action = PageAction::kAcknowledge;
  p.acked_by = "ana";
  p.comment = "restarting the job";
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  p.action = PageAction::kResolve;
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  auto reqs = f.receiver->requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& r : reqs) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.Header("Authorization"), "GenieKey genie-key-123");
    EXPECT_EQ(r.Header("Content-Type"), "application/json");
  }
  EXPECT_EQ(reqs[0].path, "/v2/alerts");
  auto create = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(create["message"], "CPU on db-1 at 97%");
  EXPECT_EQ(create["alias"], "9f2c4b1a7d3e5f60");
  EXPECT_EQ(create["description"], "CPU on db-1 at 97%\nrunbook: https://wiki/cpu");
  EXPECT_EQ(create["tags"], (nlohmann::json{"HostCpuHigh", "critical"}));
  EXPECT_EQ(create["details"], (nlohmann::json{{"alertname", "HostCpuHigh"},
                                               {"host", "db-1"},
                                               {"value", "0.97"},
                                               {"severity", "critical"}}));
  EXPECT_EQ(create["entity"], "db-1");
  EXPECT_EQ(create["source"], "logship");
  EXPECT_EQ(create["priority"], "P1");
  EXPECT_EQ(create.size(), 8u);

  EXPECT_EQ(reqs[1].path, "/v2/alerts/9f2c4b1a7d3e5f60/acknowledge?identifierType=alias");
  EXPECT_EQ(nlohmann::json::parse(reqs[1].body),
            (nlohmann::json{{"user", "ana"}, {"source", "logship"}, {"note", "restarting the job"}}));
  EXPECT_EQ(reqs[2].path, "/v2/alerts/9f2c4b1a7d3e5f60/close?identifierType=alias");
  auto close = nlohmann::json::parse(reqs[2].body);
  EXPECT_EQ(close["user"], "logship");
  EXPECT_EQ(close["source"], "logship");
}

TEST(OpsgenieNotifierTest, WarningIsP3AndA422IsPermanent) {
  Fixture f = Make("og-422");
  Page p = SamplePage();
  p.severity = Severity::kWarning;
  f.receiver->EnqueueStatuses({429, 422});
  Status st = f.notifier->Notify(p);
  EXPECT_EQ(st.code(), StatusCode::kPermanent);
  ASSERT_EQ(f.receiver->request_count(), 2u);
  EXPECT_EQ(nlohmann::json::parse(f.receiver->requests()[1].body)["priority"], "P3");
  EXPECT_EQ(st.message().find("genie-key-123"), std::string::npos);
  EXPECT_EQ(testing::MetricValue("logship_alerter_notify_errors_total", {{"notifier", "og-422"}, {"kind", "permanent"}}),
            1);
}

TEST(OpsgenieNotifierTest, AnEscalationRaisesThePriorityOfTheOpenAlert) {
  Fixture f = Make("og-escalate");
  Page p = SamplePage();
  p.severity = Severity::kWarning;
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  p.severity = Severity::kCritical;
  p.previous_severity = Severity::kWarning;
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  auto reqs = f.receiver->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(reqs[0].body)["priority"], "P3");
  EXPECT_EQ(reqs[1].path, "/v2/alerts");  // the create on the open alias: count + 1, a note
  EXPECT_EQ(reqs[2].method, "PUT");
  EXPECT_EQ(reqs[2].path, "/v2/alerts/9f2c4b1a7d3e5f60/priority?identifierType=alias");
  EXPECT_EQ(reqs[2].Header("Authorization"), "GenieKey genie-key-123");
  EXPECT_EQ(nlohmann::json::parse(reqs[2].body), (nlohmann::json{{"priority", "P1"}}));

  // A repeat at the same severity sends no priority update.
  p.previous_severity.reset();
  p.repeat = 1;
  ASSERT_TRUE(f.notifier->Notify(p).ok());
  EXPECT_EQ(f.receiver->request_count(), 4u);
}

}  // namespace
}  // namespace logship::alerter
