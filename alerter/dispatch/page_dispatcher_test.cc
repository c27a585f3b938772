// The dispatcher on a manual clock: routing, repeats until acknowledged, escalation,
// silences, inhibition, severity changes, retries, and a restart in the middle of an
// incident (the state file is reopened).
#include "alerter/dispatch/page_dispatcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <set>
#include <thread>
#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "alerter/notify/pagerduty/pagerduty_notifier.h"
#include "tests/support/http_receiver.h"
#include "tests/support/metric_values.h"

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kT0 = 1'700'000'000'000;

// Shared between a FakeReceiver and the test, so it survives the dispatcher.
struct Inbox {
  std::vector<Page> pages;
  std::deque<Status> results;  // what the next Notify() calls return (then Ok)
  Millis retry_after{0};
  std::vector<std::string> Actions() const {
    std::vector<std::string> out;
    for (const auto& p : pages) {
      std::string a = PageActionName(p.action);
      if (p.action == PageAction::kTrigger) a += std::string(":") + SeverityName(p.severity);
      if (p.repeat > 0) a += ":repeat" + std::to_string(p.repeat);
      out.push_back(a);
    }
    return out;
  }
};

class FakeReceiver final : public Notifier {
 public:
  FakeReceiver(std::string name, Inbox* inbox, NotifierTraits traits)
      : name_(std::move(name)), inbox_(inbox), traits_(traits) {}
  Status Notify(const Page& page) override {
    inbox_->pages.push_back(page);
    if (inbox_->results.empty()) return Status::Ok();
    Status st = inbox_->results.front();
    inbox_->results.pop_front();
    return st;
  }
  const std::string& name() const override { return name_; }
  std::string type() const override { return "fake"; }
  NotifierTraits traits() const override { return traits_; }
  Millis last_retry_after() const override { return inbox_->retry_after; }

 private:
  std::string name_;
  Inbox* inbox_;
  NotifierTraits traits_;
};

const NotifierTraits kChat{false, true, Millis(0)};     // like Slack / webhook: logship repeats
const NotifierTraits kPager{true, true, Millis(0)};     // like PagerDuty: escalates itself
const NotifierTraits kManager{true, false, Millis(kMinute)};  // like Alertmanager

Page Trigger(const std::string& key, Severity sev, Labels labels, int64_t t = kT0) {
  Page p;
  p.dedup_key = key;
  p.action = PageAction::kTrigger;
  p.severity = sev;
  p.alert = "Cpu";
  p.group = "host";
  labels.emplace_back("alertname", "Cpu");
  std::sort(labels.begin(), labels.end());
  p.labels = std::move(labels);
  p.value = 0.9;
  p.time_ms = t;
  p.starts_ms = t;
  return p;
}

Page Resolve(Page p, int64_t t) {
  p.action = PageAction::kResolve;
  p.time_ms = t;
  return p;
}

class PageDispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("logship_dispatch_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    clock_.SetNs(kT0 * 1'000'000);
  }
  void TearDown() override {
    d_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)opens the dispatcher on the same state file with receivers chat, pager, am.
  void Open(RouteConfig route = {}, std::vector<InhibitRuleConfig> inhibit = AlerterConfig{}.inhibit_rules) {
    d_.reset();
    std::vector<std::unique_ptr<Notifier>> n;
    n.push_back(std::make_unique<FakeReceiver>("chat", &chat_, kChat));
    n.push_back(std::make_unique<FakeReceiver>("pager", &pager_, kPager));
    n.push_back(std::make_unique<FakeReceiver>("am", &am_, kManager));
    DispatcherOptions o;
    o.clock = &clock_;
    o.initial_backoff = milliseconds(1000);
    o.external_url = "http://127.0.0.1:9465";
    auto d = PageDispatcher::Open((dir_ / "state.db").string(), route, inhibit, std::move(n), o);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    d_ = std::move(*d);
  }
  void Submit(std::vector<Page> pages) {
    EvaluationOutput out;
    out.pages = std::move(pages);
    std::vector<bool> failed;
    ASSERT_TRUE(d_->Submit(out, &failed).ok());
  }
  void Advance(int64_t ms) { clock_.AdvanceNs(ms * 1'000'000); }

  std::filesystem::path dir_;
  ManualClock clock_;
  Inbox chat_, pager_, am_;
  std::unique_ptr<PageDispatcher> d_;
};

RouteConfig OnlyTo(std::vector<std::string> receivers, int64_t repeat_ms = 4 * 3600'000, int64_t escalate_ms = 0) {
  RouteConfig r;
  r.receivers = std::move(receivers);
  r.repeat_interval = milliseconds(repeat_ms);
  r.escalate_after = milliseconds(escalate_ms);
  return r;
}

TEST_F(PageDispatcherTest, TriggerOnceResolveOnceAndIdempotentResubmits) {
  Open();
  Page t = Trigger("00000000000000a1", Severity::kWarning, {{"host", "web-1"}});
  Submit({t});
  EXPECT_EQ(d_->outbox_size(), 3u) << "written before anything is sent";
  d_->RunOnce();
  EXPECT_EQ(chat_.Actions(), (std::vector<std::string>{"trigger:warning"}));
  EXPECT_EQ(pager_.Actions(), (std::vector<std::string>{"trigger:warning"}));
  EXPECT_EQ(am_.Actions(), (std::vector<std::string>{"trigger:warning"}));
  EXPECT_EQ(chat_.pages[0].url, "http://127.0.0.1:9465/api/v1/alerts/00000000000000a1");
  Submit({t});  // the same trigger again (a replay): nothing new
  d_->RunOnce();
  EXPECT_EQ(chat_.pages.size(), 1u);
  Submit({Resolve(t, kT0 + kMinute)});
  Submit({Resolve(t, kT0 + kMinute)});
  d_->RunOnce();
  EXPECT_EQ(chat_.Actions(), (std::vector<std::string>{"trigger:warning", "resolve"}));
  EXPECT_EQ(pager_.Actions(), (std::vector<std::string>{"trigger:warning", "resolve"}));
  EXPECT_EQ(d_->outbox_size(), 0u);
  auto inc = d_->GetIncident("0000000000");
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ((*inc)["status"], "resolved");
}

TEST_F(PageDispatcherTest, RepeatsUntilAcknowledgedAndForwardsTheAck) {
  Open(OnlyTo({"chat", "pager"}, /*repeat=*/10 * kMinute));
  Page t = Trigger("00000000000000b1", Severity::kCritical, {{"host", "db-1"}});
  Submit({t});
  d_->RunOnce();
  for (int i = 0; i < 3; ++i) {
    Advance(10 * kMinute);
    d_->RunOnce();
  }
  EXPECT_EQ(chat_.Actions(), (std::vector<std::string>{"trigger:critical", "trigger:critical:repeat1",
                                                       "trigger:critical:repeat2", "trigger:critical:repeat3"}));
  EXPECT_EQ(pager_.Actions(), (std::vector<std::string>{"trigger:critical"})) << "PagerDuty repeats by itself";
  auto acked = d_->Acknowledge("00000000000000b1", "ana", "looking");
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ((*acked)["acknowledgedBy"], "ana");
  d_->RunOnce();
  for (int i = 0; i < 5; ++i) {
    Advance(10 * kMinute);
    d_->RunOnce();
  }
  EXPECT_EQ(chat_.pages.size(), 5u) << "no repeat after the acknowledgement";
  EXPECT_EQ(chat_.pages.back().action, PageAction::kAcknowledge);
  EXPECT_EQ(chat_.pages.back().acked_by, "ana");
  EXPECT_EQ(pager_.Actions(), (std::vector<std::string>{"trigger:critical", "acknowledge"}));
  // A second acknowledgement is a no-op; a resolved alert cannot be acknowledged.
  ASSERT_TRUE(d_->Acknowledge("00000000000000b1", "bob", "").ok());
  Submit({Resolve(t, kT0 + 60 * kMinute)});
  d_->RunOnce();
  EXPECT_EQ(pager_.Actions(), (std::vector<std::string>{"trigger:critical", "acknowledge", "resolve"}));
  EXPECT_EQ(d_->Acknowledge("00000000000000b1", "bob", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d_->Acknowledge("ffff", "bob", "").status().code(), StatusCode::kNotFound);
}

TEST_F(PageDispatcherTest, EscalatesToTheNextReceiverAfterUnacknowledgedMinutes) {
  Open(OnlyTo({"chat", "pager"}, 0, /*escalate=*/15 * kMinute));
  Submit({Trigger("00000000000000c1", Severity::kWarning, {{"host", "a"}})});
  Submit({Trigger("00000000000000c2", Severity::kWarning, {{"host", "b"}})});
  d_->RunOnce();
  EXPECT_EQ(chat_.pages.size(), 2u);
  EXPECT_TRUE(pager_.pages.empty());
  Advance(14 * kMinute);
  d_->RunOnce();
  EXPECT_TRUE(pager_.pages.empty());
  ASSERT_TRUE(d_->Acknowledge("00000000000000c2", "ana", "").ok());  // b is taken care of
  Advance(1 * kMinute);
  d_->RunOnce();
  ASSERT_EQ(pager_.pages.size(), 1u) << "only the unacknowledged one escalates";
  EXPECT_EQ(pager_.pages[0].dedup_key, "00000000000000c1");
  EXPECT_EQ(testing::MetricValue("logship_alerter_dispatch_escalations_total", {{"receiver", "pager"}}), 1);
}

TEST_F(PageDispatcherTest, SilenceMutesUntilItExpires) {
  Open(OnlyTo({"chat"}));
  Silence s;
  s.matchers = {*ParseMatcherExpression("host=~web-.*")};
  s.created_by = "ana";
  s.comment = "deploy";
  s.ends_ms = kT0 + 30 * kMinute;
  auto added = d_->AddSilence(s);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  Page muted = Trigger("00000000000000d1", Severity::kCritical, {{"host", "web-1"}});
  Page other = Trigger("00000000000000d2", Severity::kCritical, {{"host", "db-1"}});
  Submit({muted, other});
  d_->RunOnce();
  ASSERT_EQ(chat_.pages.size(), 1u);
  EXPECT_EQ(chat_.pages[0].dedup_key, "00000000000000d2");
  auto inc = d_->GetIncident("00000000000000d1");
  EXPECT_EQ((*inc)["muted"], true);
  EXPECT_EQ((*inc)["mutedBy"], "silence " + added->id);
  // Expiring the silence un-mutes: the still-firing alert is sent now.
  Advance(5 * kMinute);
  ASSERT_TRUE(d_->ExpireSilence(added->id).ok());
  d_->RunOnce();
  ASSERT_EQ(chat_.pages.size(), 2u);
  EXPECT_EQ(chat_.pages[1].dedup_key, "00000000000000d1");
  EXPECT_TRUE(d_->ListSilences(false).empty());
  EXPECT_EQ(d_->ListSilences(true).size(), 1u);
}

TEST_F(PageDispatcherTest, AlertSilencedThroughoutResolvesSilently) {
  Open(OnlyTo({"chat"}));
  Silence s;
  s.matchers = {*ParseMatcherExpression("host=web-1")};
  s.created_by = "ana";
  s.comment = "maintenance";
  s.ends_ms = kT0 + 30 * kMinute;
  ASSERT_TRUE(d_->AddSilence(s).ok());
  Page t = Trigger("00000000000000e1", Severity::kWarning, {{"host", "web-1"}});
  Submit({t});
  d_->RunOnce();
  Submit({Resolve(t, kT0 + kMinute)});
  d_->RunOnce();
  EXPECT_TRUE(chat_.pages.empty());
  EXPECT_FALSE(d_->AddSilence(Silence{}).ok()) << "a silence needs matchers";
}

TEST_F(PageDispatcherTest, CriticalInhibitsTheWarningOfTheSameSeries) {
  Open(OnlyTo({"chat"}));
  Page crit = Trigger("00000000000000f1", Severity::kCritical, {{"host", "a"}});
  crit.alert = "RateCollapse";
  crit.labels = {{"alertname", "RateCollapse"}, {"host", "a"}};
  Page warn_a = Trigger("00000000000000f2", Severity::kWarning, {{"host", "a"}});
  Page warn_b = Trigger("00000000000000f3", Severity::kWarning, {{"host", "b"}});
  Submit({warn_a, crit, warn_b});  // order within one evaluation does not matter
  d_->RunOnce();
  std::set<std::string> keys;
  for (const auto& p : chat_.pages) keys.insert(p.dedup_key);
  EXPECT_EQ(keys, (std::set<std::string>{"00000000000000f1", "00000000000000f3"}));
  EXPECT_EQ((*d_->GetIncident("00000000000000f2"))["mutedBy"], "inhibited by 00000000000000f1");
  // The critical resolves: the warning is no longer inhibited and is sent.
  Submit({Resolve(crit, kT0 + kMinute)});
  d_->RunOnce();
  ASSERT_EQ(chat_.pages.size(), 4u);
  EXPECT_EQ(chat_.pages[3].dedup_key, "00000000000000f2");
}

TEST_F(PageDispatcherTest, EscalationToCriticalRetriggersRearmsAndRoutesBySeverity) {
  RouteConfig root = OnlyTo({"chat"}, 10 * kMinute);
  RouteConfig crit;
  crit.match = {{"severity", "critical"}};
  crit.receivers = {"chat", "pager"};
  root.routes = {crit};
  Open(root);
  Page w = Trigger("0000000000000a01", Severity::kWarning, {{"host", "a"}});
  Submit({w});
  d_->RunOnce();
  ASSERT_TRUE(d_->Acknowledge("0000000000000a01", "ana", "").ok());
  d_->RunOnce();
  EXPECT_EQ(chat_.Actions(), (std::vector<std::string>{"trigger:warning", "acknowledge"}));
  EXPECT_TRUE(pager_.pages.empty());
  Page c = w;
  c.severity = Severity::kCritical;
  c.previous_severity = Severity::kWarning;
  Submit({c});
  d_->RunOnce();
  EXPECT_EQ(chat_.Actions(), (std::vector<std::string>{"trigger:warning", "acknowledge", "trigger:critical"}));
  EXPECT_EQ(chat_.pages.back().dedup_key, "0000000000000a01") << "the same incident";
  EXPECT_EQ(chat_.pages.back().previous_severity, Severity::kWarning);
  EXPECT_EQ(pager_.Actions(), (std::vector<std::string>{"trigger:critical"}));
  EXPECT_EQ((*d_->GetIncident("0000000000000a01"))["acknowledged"], false) << "critical re-arms the incident";
  Advance(10 * kMinute);
  d_->RunOnce();
  EXPECT_EQ(chat_.Actions().back(), "trigger:critical:repeat1") << "repeats resume";
}

TEST_F(PageDispatcherTest, AlertmanagerIsResentOnItsInterval) {
  Open(OnlyTo({"am"}));
  Submit({Trigger("0000000000000b01", Severity::kWarning, {{"host", "a"}})});
  d_->RunOnce();
  Advance(kMinute / 2);
  d_->RunOnce();
  EXPECT_EQ(am_.pages.size(), 1u);
  Advance(kMinute / 2);
  d_->RunOnce();
  EXPECT_EQ(am_.pages.size(), 2u);
  ASSERT_TRUE(d_->Acknowledge("0000000000000b01", "ana", "").ok());
  d_->RunOnce();
  Advance(kMinute);
  d_->RunOnce();
  EXPECT_EQ(am_.Actions(), (std::vector<std::string>{"trigger:warning", "trigger:warning", "trigger:warning"}))
      << "no acknowledge to Alertmanager, and active alerts keep being re-sent";
}

TEST_F(PageDispatcherTest, RetryableStaysInTheOutboxPermanentIsDropped) {
  Open(OnlyTo({"chat", "pager"}));
  chat_.results = {Status::Retryable("HTTP 503"), Status::Retryable("HTTP 429")};
  chat_.retry_after = milliseconds(5000);
  pager_.results = {Status::Permanent("HTTP 400")};
  Page t = Trigger("0000000000000c01", Severity::kWarning, {{"host", "a"}});
  Submit({t, Resolve(t, kT0 + 1)});
  d_->RunOnce();
  EXPECT_EQ(chat_.pages.size(), 1u) << "the resolve waits behind the failed trigger";
  EXPECT_EQ(pager_.Actions(), (std::vector<std::string>{"trigger:warning", "resolve"}));
  Advance(4000);
  d_->RunOnce();
  EXPECT_EQ(chat_.pages.size(), 1u) << "Retry-After 5 s is honoured";
  Advance(1000);
  d_->RunOnce();
  EXPECT_EQ(chat_.pages.size(), 2u);  // 429 again
  Advance(5000);
  d_->RunOnce();
  EXPECT_EQ(chat_.Actions(), (std::vector<std::string>{"trigger:warning", "trigger:warning", "trigger:warning", "resolve"}));
  EXPECT_EQ(d_->outbox_size(), 0u);
  EXPECT_EQ(testing::MetricValue("logship_alerter_dispatch_dropped_total", {{"receiver", "pager"}, {"reason", "permanent"}}),
            1);
}

// A restart in the middle of an incident: the trigger is delivered once, a re-submitted
// trigger after the restart does not page again, and the resolve still goes out, once.
// A notification written but not sent before the "crash" is sent after it.
TEST_F(PageDispatcherTest, RestartInTheMiddleOfAnIncident) {
  Open(OnlyTo({"chat", "pager"}, 10 * kMinute));
  Page t = Trigger("0000000000000d01", Severity::kCritical, {{"host", "a"}});
  Submit({t});
  d_->RunOnce();
  Page t2 = Trigger("0000000000000d02", Severity::kWarning, {{"host", "b"}});
  Submit({t2});  // written, not yet sent: the process dies here
  Open(OnlyTo({"chat", "pager"}, 10 * kMinute));
  EXPECT_EQ(d_->outbox_size(), 2u);
  d_->RunOnce();
  EXPECT_EQ(chat_.Actions(), (std::vector<std::string>{"trigger:critical", "trigger:warning"}));
  Submit({t});  // the evaluator, restored, still sees it firing
  d_->RunOnce();
  EXPECT_EQ(chat_.pages.size(), 2u) << "no second trigger";
  Advance(10 * kMinute);
  d_->RunOnce();
  EXPECT_EQ(chat_.Actions().size(), 4u) << "the repeat clock survived the restart";
  ASSERT_TRUE(d_->Acknowledge("0000000000000d01", "ana", "").ok());
  Open(OnlyTo({"chat", "pager"}, 10 * kMinute));
  d_->RunOnce();
  Advance(30 * kMinute);
  d_->RunOnce();
  Submit({Resolve(t, kT0 + 45 * kMinute)});
  d_->RunOnce();
  Open(OnlyTo({"chat", "pager"}, 10 * kMinute));
  Submit({Resolve(t, kT0 + 45 * kMinute)});
  d_->RunOnce();
  int triggers = 0, resolves = 0;
  for (const auto& p : pager_.pages) {
    if (p.dedup_key != "0000000000000d01") continue;
    triggers += p.action == PageAction::kTrigger;
    resolves += p.action == PageAction::kResolve;
  }
  EXPECT_EQ(triggers, 1);
  EXPECT_EQ(resolves, 1);
  EXPECT_EQ(pager_.Actions(), (std::vector<std::string>{"trigger:critical", "trigger:warning", "acknowledge", "resolve"}));
}

// With a real PagerDuty notifier against a local receiver: the bodies of a whole incident.
TEST_F(PageDispatcherTest, PagerDutyIncidentBodies) {
  auto rx = testing::HttpReceiver::Start();
  ASSERT_TRUE(rx.ok());
  testing::CannedResponse accepted;
  accepted.status = 202;
  (*rx)->SetDefaultResponse(accepted);
  NotifierConfig c;
  c.name = "pd";
  c.type = "pagerduty";
  c.url = (*rx)->url("/v2/enqueue");
  c.token.value = "routing-key-1";
  std::vector<std::unique_ptr<Notifier>> n;
  n.push_back(std::make_unique<PagerDutyNotifier>(c));
  DispatcherOptions o;
  o.clock = &clock_;
  auto d = PageDispatcher::Open((dir_ / "pd.db").string(), RouteConfig{}, {}, std::move(n), o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Page t = Trigger("0000000000000e01", Severity::kWarning, {{"host", "web-1"}});
  EvaluationOutput out;
  out.pages = {t};
  std::vector<bool> failed;
  ASSERT_TRUE((*d)->Submit(out, &failed).ok());
  (*d)->RunOnce();
  ASSERT_TRUE((*d)->Acknowledge("0000000000000e01", "ana", "").ok());
  out.pages = {Resolve(t, kT0 + kMinute)};
  ASSERT_TRUE((*d)->Submit(out, &failed).ok());
  (*d)->RunOnce();
  auto reqs = (*rx)->requests();
  ASSERT_EQ(reqs.size(), 3u);
  std::vector<std::string> actions;
  for (const auto& r : reqs) {
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["routing_key"], "routing-key-1");
    EXPECT_EQ(j["dedup_key"], "0000000000000e01");
    actions.push_back(j["event_action"]);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"trigger", "acknowledge", "resolve"}));
  EXPECT_EQ(nlohmann::json::parse(reqs[0].body)["payload"]["severity"], "warning");
}

// With the delivery threads running, a receiver that hangs (a timeout, a slow endpoint)
// holds up only its own notifications: the other receiver gets the trigger at once.
class BlockingReceiver final : public Notifier {
 public:
  BlockingReceiver(std::string name, Millis delay) : name_(std::move(name)), delay_(delay) {}
  Status Notify(const Page&) override {
    std::this_thread::sleep_for(delay_);
    ++sent_;
    return Status::Ok();
  }
  const std::string& name() const override { return name_; }
  std::string type() const override { return "fake"; }
  NotifierTraits traits() const override { return kPager; }
  Millis last_retry_after() const override { return Millis(0); }
  int sent() const { return sent_.load(); }

 private:
  std::string name_;
  Millis delay_;
  std::atomic<int> sent_{0};
};

TEST_F(PageDispatcherTest, ASlowReceiverDelaysNoOther) {
  std::vector<std::unique_ptr<Notifier>> n;
  auto slow = std::make_unique<BlockingReceiver>("slow", milliseconds(3000));
  auto fast = std::make_unique<BlockingReceiver>("fast", milliseconds(0));
  BlockingReceiver* slow_rx = slow.get();
  BlockingReceiver* fast_rx = fast.get();
  n.push_back(std::move(slow));  // first in the config: it used to be tried first, in line
  n.push_back(std::move(fast));
  std::filesystem::create_directories(dir_);
  auto d = PageDispatcher::Open((dir_ / "slow.db").string(), RouteConfig{}, {}, std::move(n), DispatcherOptions{});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  (*d)->Start();
  EvaluationOutput out;
  out.pages = {Trigger("00000000000000f1", Severity::kCritical, {{"host", "web-1"}}),
               Trigger("00000000000000f2", Severity::kCritical, {{"host", "web-2"}})};
  std::vector<bool> failed;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE((*d)->Submit(out, &failed).ok());
  while (fast_rx->sent() < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(fast_rx->sent(), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000)) << "the fast receiver waited for the slow one";
  EXPECT_EQ(slow_rx->sent(), 0);
  (*d)->Stop();  // the slow one finishes what it has
  EXPECT_EQ(slow_rx->sent(), 2);
  EXPECT_EQ((*d)->outbox_size(), 0u);
}

}  // namespace
}  // namespace logship::alerter
