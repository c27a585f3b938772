#include "alerter/notify/notifier.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "alerter/notify/log/log_notifier.h"

namespace logship::alerter {
namespace {

Page SamplePage() {
  Page p;
  p.dedup_key = "0123456789abcdef";
  p.action = PageAction::kTrigger;
  p.severity = Severity::kCritical;
  p.alert = "RequestRate";
  p.group = "http";
  p.metric = "http_requests";
  p.labels = {{"alertname", "RequestRate"}, {"host", "web-1"}, {"team", "web"}};
  p.annotations = {{"summary", "rate on web-1 is 233/s"}};
  p.value = 233.5;
  p.time_ms = 1'700'000'000'123;
  p.starts_ms = 1'700'000'000'000;
  return p;
}

TEST(NotifierTest, EventsV2FullAndMinimal) {
  Page p = SamplePage();
  p.url = "http://127.0.0.1:9465/api/v1/alerts/0123456789abcdef";
  auto j = PageToEventsV2(p, "key");
  EXPECT_EQ(j["routing_key"], "key");
  EXPECT_EQ(j["client"], "logship");
  EXPECT_EQ(j["client_url"], p.url);
  EXPECT_EQ(j["payload"]["class"], "http_requests");
  EXPECT_EQ(j["payload"]["component"], "RequestRate");
  EXPECT_EQ(j["payload"]["group"], "http");
  p.action = PageAction::kResolve;
  auto minimal = PageToEventsV2(p, "key", /*full_payload=*/false);
  EXPECT_EQ(minimal, (nlohmann::json{{"routing_key", "key"}, {"event_action", "resolve"}, {"dedup_key", p.dedup_key}}));
  EXPECT_TRUE(PageToEventsV2(p, "", true).contains("payload"));
  EXPECT_FALSE(PageToEventsV2(p, "", true).contains("routing_key"));
}

TEST(NotifierTest, StoreJsonRoundTrip) {
  Page p = SamplePage();
  p.previous_severity = Severity::kWarning;
  p.repeat = 3;
  p.flapping = true;
  p.acked_by = "ana";
  p.comment = "looking";
  p.url = "http://x/y";
  auto back = PageFromStoreJson(PageToStoreJson(p));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(PageToStoreJson(*back), PageToStoreJson(p));
  EXPECT_EQ(back->previous_severity, Severity::kWarning);
  EXPECT_EQ(back->labels, p.labels);
  EXPECT_FALSE(PageFromStoreJson(nlohmann::json::object()).ok());
}

TEST(NotifierTest, RoutingLabelsAddSeverityInOrder) {
  Page p = SamplePage();
  EXPECT_EQ(RoutingLabels(p), (Labels{{"alertname", "RequestRate"}, {"host", "web-1"}, {"severity", "critical"},
                                      {"team", "web"}}));
  p.labels = {{"alertname", "X"}, {"severity", "ignored"}};
  p.severity = Severity::kWarning;
  EXPECT_EQ(RoutingLabels(p), (Labels{{"alertname", "X"}, {"severity", "warning"}}));
}

std::string TempDir() {
  auto dir = std::filesystem::temp_directory_path() / ("logship_notifier_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

NotifierConfig Config(std::string name, std::string type, std::string url, std::string token = "") {
  NotifierConfig c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.url = std::move(url);
  c.token.value = std::move(token);
  return c;
}

TEST(BuildNotifiersTest, BuildsEveryTypeAndValidates) {
  std::string dir = TempDir();
  auto none = BuildNotifiers({}, dir);
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->size(), 1u);
  EXPECT_EQ(dynamic_cast<LogNotifier*>((*none)[0].get())->path(), dir + "/pages.jsonl");

  NotifierConfig slack = Config("chat", "slack", "");
  slack.url_secret.value = "https://hooks.slack.com/services/T/B/X";
  auto all = BuildNotifiers({Config("hook", "webhook", "https://example.com/hook"),
                             Config("pd", "pagerduty", "", "routing"),
                             Config("am", "alertmanager", "http://127.0.0.1:9093"),
                             Config("og", "opsgenie", "", "genie"), slack, Config("file", "log", "")},
                            dir);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 6u);
  std::vector<std::string> types;
  for (const auto& n : *all) types.push_back(n->type());
  EXPECT_EQ(types, (std::vector<std::string>{"webhook", "pagerduty", "alertmanager", "opsgenie", "slack", "log"}));
  EXPECT_TRUE((*all)[1]->traits().escalates_itself);   // pagerduty
  EXPECT_FALSE((*all)[2]->traits().takes_acknowledge);  // alertmanager
  EXPECT_GT((*all)[2]->traits().resend_interval.count(), 0);
  EXPECT_FALSE((*all)[4]->traits().escalates_itself);  // slack: logship repeats

  for (const auto& bad : {Config("x", "sms", ""), Config("x", "webhook", ""), Config("x", "pagerduty", ""),
                          Config("x", "opsgenie", ""), Config("x", "webhook", "ftp://host/x")}) {
    EXPECT_EQ(BuildNotifiers({bad}, dir).status().code(), StatusCode::kInvalidArgument) << bad.type << " " << bad.url;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace logship::alerter
