#include "alerter/alerter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "alerter/notify/webhook/webhook_notifier.h"
#include "tests/support/http_receiver.h"
#include "tests/support/subprocess.h"

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;
using testing::HttpReceiver;

constexpr int64_t kT0 = 1'700'000'000'000;  // bucket-aligned (multiple of 10 s)
constexpr int64_t kBucket = 10'000;

std::shared_ptr<const RuleSet> Rules(const std::string& yaml) {
  auto rules = ParseAlertRules(yaml, "test.yaml");
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  auto set = MakeRuleSet(std::move(*rules));
  EXPECT_TRUE(set.ok());
  return *set;
}

// A notifier that records pages in memory.
class RecordingNotifier final : public Notifier {
 public:
  explicit RecordingNotifier(std::vector<Page>* out) : out_(out) {}
  Status Notify(const Page& page) override {
    out_->push_back(page);
    return Status::Ok();
  }
  const std::string& name() const override { return name_; }

 private:
  std::vector<Page>* out_;
  std::string name_ = "recording";
};

std::unique_ptr<WebhookNotifier> Webhook(const HttpReceiver& r) {
  NotifierConfig c;
  c.name = "hook";
  c.type = "webhook";
  c.url = r.url("/v2/enqueue");
  c.token.value = "routing-123";
  WebhookNotifier::Options o;
  o.sleep = [](Millis) { return true; };
  return std::make_unique<WebhookNotifier>(c, o);
}

Sample Delta(const std::string& host, const std::string& status, int64_t t, double v) {
  return Sample{"http_requests", {{"host", host}, {"status", status}}, t, v};
}

constexpr const char* kRateRule = R"(groups:
  - name: http
    interval: 10s
    rules:
      - alert: RequestRate
        metric: http_requests
        function: rate
        window: 1m
        by: [host]
        warning: {above: 50}
        critical: {above: 150}
        for: 30s
        labels: {team: web}
        annotations: {summary: 'request rate on {{ $labels.host }} is {{ $value }}/s'}
)";

// Normal 20/s, a burst of 200/s for 2 minutes, back to normal. Each 10 s bucket arrives as
// two partial deltas (two parsers) in shuffled batches, far faster than real time.
std::vector<Sample> BurstTraffic(const std::string& host, int buckets, int burst_from,
                                 int burst_buckets) {
  std::vector<Sample> out;
  for (int b = 0; b < buckets; ++b) {
    bool burst = b >= burst_from && b < burst_from + burst_buckets;
    double total = (burst ? 200.0 : 20.0) * 10;
    int64_t t = kT0 + b * kBucket;
    out.push_back(Delta(host, "200", t, total * 0.6));
    out.push_back(Delta(host, "200", t, total * 0.3));
    out.push_back(Delta(host, "500", t, total * 0.1));
  }
  return out;
}

// Feeds samples in time order, shuffled within runs of `span` samples (parsers deliver
// out of order, but not later than the lateness allowance), `batch` at a time, evaluating
// after each batch.
void Feed(Alerter& a, std::vector<Sample> samples, size_t batch, unsigned seed, size_t span = 6) {
  std::stable_sort(samples.begin(), samples.end(),
                   [](const Sample& x, const Sample& y) { return x.time_ms < y.time_ms; });
  std::mt19937 rng(seed);
  for (size_t i = 0; i < samples.size(); i += span) {
    std::shuffle(samples.begin() + i, samples.begin() + std::min(samples.size(), i + span), rng);
  }
  for (size_t i = 0; i < samples.size(); i += batch) {
    size_t n = std::min(batch, samples.size() - i);
    a.Ingest(std::span<const Sample>(samples.data() + i, n));
    a.Evaluate();
  }
}

TEST(AlerterTest, TrafficBurstIsOneIncidentWarningCriticalResolve) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(Webhook(**receiver));
  auto alerter = Alerter::Create(Rules(kRateRule), std::move(notifiers));

  // 10 min: burst from minute 3 for 2 minutes; web-2 stays normal throughout.
  auto samples = BurstTraffic("web-1", 60, 18, 12);
  auto quiet = BurstTraffic("web-2", 60, 0, 0);
  samples.insert(samples.end(), quiet.begin(), quiet.end());
  std::stable_sort(samples.begin(), samples.end(),
                   [](const Sample& a, const Sample& b) { return a.time_ms < b.time_ms; });
  Feed(*alerter, samples, 7, 1);

  ASSERT_TRUE((*receiver)->WaitForRequests(3, milliseconds(5000)));
  auto reqs = (*receiver)->requests();
  ASSERT_EQ(reqs.size(), 3u) << "expected trigger(warning), trigger(critical), resolve";
  std::vector<nlohmann::json> bodies;
  for (const auto& r : reqs) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/v2/enqueue");
    EXPECT_EQ(r.Header("Authorization"), "Bearer routing-123");
    bodies.push_back(nlohmann::json::parse(r.body));
  }
  const std::string key = MakeDedupKey("http", "RequestRate", {{"host", "web-1"}});
  for (const auto& b : bodies) {
    EXPECT_EQ(b["routing_key"], "routing-123");
    EXPECT_EQ(b["dedup_key"], key) << "one incident, one dedup key";
    EXPECT_EQ(b["payload"]["source"], "web-1");
    EXPECT_EQ(b["payload"]["custom_details"]["labels"]["host"], "web-1");
    EXPECT_EQ(b["payload"]["custom_details"]["labels"]["team"], "web");
    EXPECT_EQ(b["payload"]["custom_details"]["labels"]["alertname"], "RequestRate");
  }
  // Bucket b covers [kT0 + 10s*b, +10s). Window 1m at step t holds buckets [t-60s, t).
  // With k burst buckets in the window the rate is 20 + 30k: warning (>50) from k=2 (step
  // kT0+200s), held 30 s -> trigger at +230s with k=5 (170/s, already critical, but
  // critical must hold 30 s itself: from +230s) -> escalate at +260s (200/s).
  EXPECT_EQ(bodies[0]["event_action"], "trigger");
  EXPECT_EQ(bodies[0]["payload"]["severity"], "warning");
  EXPECT_EQ(bodies[0]["payload"]["timestamp"], FormatTimestamp(kT0 + 230'000));
  EXPECT_DOUBLE_EQ(bodies[0]["payload"]["custom_details"]["value"].get<double>(), 170.0);
  EXPECT_EQ(bodies[0]["payload"]["summary"], "request rate on web-1 is 170/s");

  EXPECT_EQ(bodies[1]["event_action"], "trigger");
  EXPECT_EQ(bodies[1]["payload"]["severity"], "critical");
  EXPECT_EQ(bodies[1]["payload"]["timestamp"], FormatTimestamp(kT0 + 260'000));
  EXPECT_DOUBLE_EQ(bodies[1]["payload"]["custom_details"]["value"].get<double>(), 200.0);

  // Burst buckets 18..29; the window is clear of them (rate 50, not above) at step
  // kT0 + 60s*... : k=1 at step 350 s (buckets 29..34) -> 50/s -> resolve. Critical cleared
  // at 320 s (k=4, 140/s) and the downgrade would be due at 350 s: the resolve comes first.
  EXPECT_EQ(bodies[2]["event_action"], "resolve");
  EXPECT_EQ(bodies[2]["payload"]["timestamp"], FormatTimestamp(kT0 + 350'000));
  EXPECT_EQ(bodies[2]["payload"]["severity"], "critical");

  const AlerterStats& s = alerter->stats();
  EXPECT_EQ(s.triggers_warning, 1u);
  EXPECT_EQ(s.triggers_critical, 0u);
  EXPECT_EQ(s.escalations, 1u);
  EXPECT_EQ(s.downgrades, 0u);
  EXPECT_EQ(s.resolves, 1u);
  EXPECT_EQ(s.notify_failures, 0u);
  EXPECT_EQ(alerter->pages_sent().size(), 3u);
  EXPECT_TRUE(alerter->active_alerts().empty());
  // Bounded memory: only a window (+ the lateness) of buckets per series remains.
  EXPECT_EQ(alerter->series_count(), 4u);
}

// A live gauge (host CPU, now) arrives before a parser's hour-old backlog of request
// deltas. Each metric keeps its own data clock, so the backlog is judged, not dropped late.
TEST(AlerterTest, LiveGaugesDoNotMakeABacklogLate) {
  std::vector<Page> pages;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
  std::string rules = std::string(kRateRule) + R"(  - name: host
    interval: 10s
    rules:
      - alert: Cpu
        metric: host_cpu_utilisation
        function: avg
        window: 30s
        warning: {above: 0.99}
)";
  auto alerter = Alerter::Create(Rules(rules), std::move(notifiers));
  const int64_t now = kT0 + 3600'000;
  for (int i = 0; i < 10; ++i) {
    Sample cpu{"host_cpu_utilisation", {{"host", "web-1"}}, now + i * 1000, 0.1};
    alerter->Ingest(std::span<const Sample>(&cpu, 1));
    alerter->Evaluate();
  }
  Feed(*alerter, BurstTraffic("web-1", 60, 18, 12), 7, 3);
  EXPECT_EQ(alerter->stats().samples_late, 0u);
  ASSERT_EQ(pages.size(), 3u) << "expected trigger(warning), trigger(critical), resolve";
  EXPECT_EQ(pages[0].severity, Severity::kWarning);
  EXPECT_EQ(pages[1].severity, Severity::kCritical);
  EXPECT_EQ(pages[2].action, PageAction::kResolve);
  EXPECT_EQ(alerter->data_clock_ms("host_cpu_utilisation"), now + 9000 - 10'000);
}

TEST(AlerterTest, SameResultWhateverTheBatching) {
  for (size_t batch : {1u, 50u, 100000u}) {
    std::vector<Page> pages;
    std::vector<std::unique_ptr<Notifier>> notifiers;
    notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
    auto alerter = Alerter::Create(Rules(kRateRule), std::move(notifiers));
    Feed(*alerter, BurstTraffic("web-1", 60, 18, 12), batch, 7);
    ASSERT_EQ(pages.size(), 3u) << "batch " << batch;
    EXPECT_EQ(pages[0].time_ms, kT0 + 230'000);
    EXPECT_EQ(pages[1].time_ms, kT0 + 260'000);
    EXPECT_EQ(pages[2].action, PageAction::kResolve);
  }
}

TEST(AlerterTest, ServerErrorRuleSelectsOnlyFiveHundreds) {
  std::vector<Page> pages;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
  auto alerter = Alerter::Create(Rules(R"(groups:
  - name: http
    rules:
      - alert: Errors
        metric: http_requests
        match: {status: '=~5..'}
        function: rate
        window: 1m
        by: [host]
        warning: {above: 5}
        critical: {above: 19}
)"),
                                 std::move(notifiers));
  // 10% of 200/s are 500s: 20/s during the burst; 2/s otherwise.
  Feed(*alerter, BurstTraffic("web-1", 60, 18, 12), 30, 3);
  ASSERT_FALSE(pages.empty());
  EXPECT_EQ(pages.front().severity, Severity::kWarning);
  EXPECT_EQ(alerter->stats().escalations, 1u);
  EXPECT_EQ(pages.back().action, PageAction::kResolve);
}

constexpr const char* kCpuRule = R"(groups:
  - name: host
    interval: 10s
    rules:
      - alert: HostCpuHigh
        metric: host_cpu_utilisation
        function: avg
        window: 30s
        by: [host]
        warning: {above: 0.80}
        critical: {above: 0.95}
        for: 20s
)";

std::vector<Sample> Cpu(const std::string& host, const std::vector<double>& values) {
  std::vector<Sample> out;
  for (size_t i = 0; i < values.size(); ++i) {
    out.push_back({"host_cpu_utilisation", {{"host", host}}, kT0 + int64_t(i) * kBucket, values[i]});
  }
  return out;
}

TEST(AlerterTest, CpuGaugeWarnsEscalatesDowngradesAndResolves) {
  std::vector<Page> pages;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
  auto alerter = Alerter::Create(Rules(kCpuRule), std::move(notifiers));
  std::vector<double> v(10, 0.3);
  for (int i = 0; i < 6; ++i) v.push_back(0.9);    // warning level
  for (int i = 0; i < 8; ++i) v.push_back(0.99);   // critical level
  for (int i = 0; i < 8; ++i) v.push_back(0.85);   // back to warning
  for (int i = 0; i < 10; ++i) v.push_back(0.2);   // fine
  auto samples = Cpu("db-1", v);
  auto other = Cpu("db-2", std::vector<double>(v.size(), 0.5));
  samples.insert(samples.end(), other.begin(), other.end());
  Feed(*alerter, samples, 5, 11, 2);

  ASSERT_EQ(pages.size(), 4u);
  for (const auto& p : pages) {
    EXPECT_EQ(p.dedup_key, MakeDedupKey("host", "HostCpuHigh", {{"host", "db-1"}}));
    EXPECT_EQ(p.labels, (Labels{{"alertname", "HostCpuHigh"}, {"host", "db-1"}}));
  }
  EXPECT_EQ(pages[0].action, PageAction::kTrigger);
  EXPECT_EQ(pages[0].severity, Severity::kWarning);
  EXPECT_EQ(pages[1].action, PageAction::kTrigger);
  EXPECT_EQ(pages[1].severity, Severity::kCritical);
  EXPECT_EQ(pages[2].action, PageAction::kTrigger);
  EXPECT_EQ(pages[2].severity, Severity::kWarning);
  EXPECT_EQ(pages[3].action, PageAction::kResolve);
  EXPECT_LT(pages[0].time_ms, pages[1].time_ms);
  // avg over (t-30s, t]: 0.9 from the point at index 10; the avg is above 0.8 once two
  // of the three points are 0.9 (0.7) ... three (0.9): at index 12 -> +20 s -> index 14.
  EXPECT_EQ(pages[0].time_ms, kT0 + 140'000);
  EXPECT_NEAR(pages[0].value, 0.9, 1e-9);
  EXPECT_EQ(alerter->stats().downgrades, 1u);
}

TEST(AlerterTest, ForKeepsASingleSpikeFromPaging) {
  constexpr const char* kSpikeRule = R"(groups:
  - name: host
    rules:
      - alert: Spike
        metric: host_cpu_utilisation
        function: last
        window: 10s
        warning: {above: 0.8}
        for: 30s
)";
  std::vector<double> v(10, 0.3);
  v.push_back(0.99);  // a spike of 20 s: two points
  v.push_back(0.99);
  for (int i = 0; i < 10; ++i) v.push_back(0.3);

  std::vector<Page> pages;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
  auto alerter = Alerter::Create(Rules(kSpikeRule), std::move(notifiers));
  Feed(*alerter, Cpu("web-1", v), 3, 5, 1);
  EXPECT_TRUE(pages.empty());
  EXPECT_TRUE(alerter->active_alerts().empty());

  // Control: the same spike with `for: 0s` pages, so the rule does see it.
  std::string no_for = kSpikeRule;
  no_for.replace(no_for.find("for: 30s"), 8, "for: 0s");
  std::vector<Page> pages2;
  std::vector<std::unique_ptr<Notifier>> notifiers2;
  notifiers2.push_back(std::make_unique<RecordingNotifier>(&pages2));
  auto control = Alerter::Create(Rules(no_for), std::move(notifiers2));
  Feed(*control, Cpu("web-1", v), 3, 5, 1);
  ASSERT_EQ(pages2.size(), 2u);
  EXPECT_EQ(pages2[0].action, PageAction::kTrigger);
  EXPECT_EQ(pages2[1].action, PageAction::kResolve);
}

TEST(AlerterTest, LateAndUnusedSamplesAreCountedAndIgnored) {
  std::vector<Page> pages;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
  auto alerter = Alerter::Create(Rules(kCpuRule), std::move(notifiers));
  Feed(*alerter, Cpu("web-1", std::vector<double>(30, 0.1)), 10, 1, 1);
  std::vector<Sample> extra = {{"host_cpu_utilisation", {{"host", "web-1"}}, kT0, 0.99},
                               {"disk_free", {{"host", "web-1"}}, kT0 + 290'000, 1}};
  alerter->Ingest(extra);
  alerter->Evaluate();
  EXPECT_EQ(alerter->stats().samples_late, 1u);
  EXPECT_EQ(alerter->stats().samples_unused, 1u);
  EXPECT_EQ(alerter->data_clock_ms(), kT0 + 290'000 - 10'000);
  EXPECT_TRUE(pages.empty());
}

TEST(AlerterTest, CreateLoadsShippedRulesAndBuildsNotifiers) {
  AlerterConfig config;
  config.rule_files = {::logship::testing::SourceDir() + "/rules/alerts/default.yaml"};
  auto dir = ::testing::TempDir() + "alerter_create_test";
  auto alerter = Alerter::Create(config, dir);
  ASSERT_TRUE(alerter.ok()) << alerter.status().ToString();
  EXPECT_EQ((*alerter)->rules().rules.size(), 5u);  // host, http (2), node (2)

  config.rule_files = {"/nonexistent/rules.yaml"};
  EXPECT_FALSE(Alerter::Create(config, dir).ok());
}

// A gauge at 0.30 +- noise for 3 hours, then 0.70 for 10 minutes, then back: the baseline
// warning pages once (after its warm-up, never before) and carries the baseline value;
// the static critical (0.95) never fires.
TEST(AlerterTest, BaselineWarningPagesOnceOnAShift) {
  auto rules = Rules(R"(groups:
  - name: host
    interval: 10s
    rules:
      - alert: CpuOffBaseline
        metric: cpu
        function: avg
        window: 30s
        warning: {baseline: {method: mad, window: 1h, k: 4, direction: above, min_history: 30m, min_value: 0.2}}
        critical: {above: 0.95}
        for: 1m
)");
  std::vector<Page> pages;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
  AlerterOptions o;
  o.lateness = milliseconds(0);
  auto alerter = Alerter::Create(rules, std::move(notifiers), o);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> noise(-0.02, 0.02);
  const int shift_from = 3 * 360, shift_to = shift_from + 60;  // 10 s points
  std::vector<Sample> batch;
  for (int i = 0; i < shift_to + 120; ++i) {
    double v = (i >= shift_from && i < shift_to ? 0.70 : 0.30) + noise(rng);
    batch.push_back(Sample{"cpu", {{"host", "a"}}, kT0 + i * kBucket, v});
    if (batch.size() == 100) {
      alerter->Ingest(batch);
      alerter->Evaluate();
      batch.clear();
    }
  }
  alerter->Ingest(batch);
  alerter->Evaluate();
  const auto& recs = alerter->pages_sent();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].transition, AlertTransition::kTrigger);
  EXPECT_EQ(recs[0].page.severity, Severity::kWarning);
  EXPECT_GE(recs[0].page.time_ms, kT0 + shift_from * kBucket + 60'000);
  EXPECT_LE(recs[0].page.time_ms, kT0 + shift_from * kBucket + 120'000);
  ASSERT_TRUE(recs[0].baseline.has_value());
  EXPECT_NEAR(*recs[0].baseline, 0.30, 0.05);
  EXPECT_EQ(recs[1].transition, AlertTransition::kResolve);
}

}  // namespace
}  // namespace logship::alerter

namespace logship::alerter {
namespace {

// Label matchers (!=, !~), aggregation of several series into `by` groups, keep_firing_for
// and the annotation template, end to end through Ingest()/Evaluate().
TEST(AlerterTest, MatchersSelectAndGroupsSumTheirSeries) {
  std::vector<Page> pages;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
  auto alerter = Alerter::Create(Rules(R"(groups:
  - name: http
    rules:
      - alert: Busy
        metric: http_requests
        match: {method: '!=HEAD', path: '!~/health.*'}
        function: rate
        window: 10s
        by: [host, dc]
        warning: {at_least: 30}
        keep_firing_for: 30s
        annotations: {summary: '{{ $labels.host }}/{{ $labels.dc }} at {{ $value }}/s ({{ $severity }})'}
)"),
                                 std::move(notifiers));
  // Per 10 s bucket on web-1/eu: GET /a and POST /b (selected) 100 each, 20/s together;
  // 150 each in a burst: 30/s, exactly the (inclusive) threshold, which neither reaches
  // alone. HEAD /a and GET /healthz 1000 each are never selected. web-1/us: the same.
  // Buckets 6..11 burst, bucket 12 is quiet (a 10 s dip, bridged by keep_firing_for 30s),
  // 13..14 burst again, then quiet.
  std::vector<Sample> in;
  for (int b = 0; b < 30; ++b) {
    const int64_t t = kT0 + b * kBucket;
    const bool burst = (b >= 6 && b < 12) || b == 13 || b == 14;
    const double v = burst ? 150 : 100;
    for (const char* dc : {"eu", "us"}) {
      in.push_back({"http_requests", {{"dc", dc}, {"host", "web-1"}, {"method", "GET"}, {"path", "/a"}}, t, v});
      in.push_back({"http_requests", {{"dc", dc}, {"host", "web-1"}, {"method", "POST"}, {"path", "/b"}}, t, v});
      in.push_back({"http_requests", {{"dc", dc}, {"host", "web-1"}, {"method", "HEAD"}, {"path", "/a"}}, t, 1000});
      in.push_back({"http_requests", {{"dc", dc}, {"host", "web-1"}, {"method", "GET"}, {"path", "/healthz"}}, t, 1000});
    }
  }
  Feed(*alerter, in, 16, 7);
  // One incident per (host, dc) group: a trigger and, 30 s after the last burst, one resolve.
  ASSERT_EQ(pages.size(), 4u);
  std::map<std::string, std::vector<PageAction>> by_dc;
  for (const auto& p : pages) {
    std::string dc;
    for (const auto& [k, v] : p.labels) {
      if (k == "dc") dc = v;
    }
    by_dc[dc].push_back(p.action);
    if (p.action == PageAction::kTrigger) {
      ASSERT_EQ(p.annotations.size(), 1u);
      EXPECT_EQ(p.annotations[0].second, "web-1/" + dc + " at 30/s (warning)");
    }
  }
  for (const char* dc : {"eu", "us"}) {
    EXPECT_EQ(by_dc[dc], (std::vector<PageAction>{PageAction::kTrigger, PageAction::kResolve})) << dc;
  }
}

}  // namespace
}  // namespace logship::alerter

namespace logship::alerter {
namespace {

// A group's learned baseline belongs to the group, not to the series that made it: when
// the group's first series goes quiet (and is forgotten once its points age out), the
// other series' values keep being judged against the same, warmed-up estimator.
TEST(AlerterTest, GroupBaselineOutlivesItsFirstSeries) {
  auto rules = Rules(R"(groups:
  - name: http
    interval: 10s
    rules:
      - alert: RateOffBaseline
        metric: http_requests
        function: rate
        window: 30s
        by: [host]
        warning: {baseline: {method: ewma, window: 5m, k: 4, direction: above, min_points: 30}}
)");
  std::vector<Page> pages;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<RecordingNotifier>(&pages));
  AlerterOptions o;
  o.lateness = milliseconds(0);
  auto alerter = Alerter::Create(rules, std::move(notifiers), o);
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> noise(-5, 5);
  // Buckets 0..179: status 200 and 500 at 10/s each (the group at 20/s). From 180 the
  // 200 series stops (the group drops to 10/s: not "above"); from 200 the 500 series
  // bursts to 60/s, 20 buckets after the change: a fresh estimator would still be
  // warming up then (30 points) and would learn the burst as normal.
  size_t series_after_quiet = 0;
  for (int b = 0; b < 240; ++b) {
    const int64_t t = kT0 + b * kBucket;
    std::vector<Sample> batch;
    if (b < 180) batch.push_back(Delta("web-1", "200", t, 100 + noise(rng)));
    batch.push_back(Delta("web-1", "500", t, (b >= 200 ? 600 : 100) + noise(rng)));
    alerter->Ingest(batch);
    alerter->Evaluate();
    if (b == 195) series_after_quiet = alerter->series_count();
  }
  EXPECT_EQ(series_after_quiet, 1u);  // the quiet series' points aged out: it is forgotten
  const auto& recs = alerter->pages_sent();
  // One incident: the trigger, then the resolve once the EWMA has taken in the burst
  // (it learns every value; its spread widens with the jump).
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].transition, AlertTransition::kResolve);
  EXPECT_EQ(recs[0].transition, AlertTransition::kTrigger);
  EXPECT_GE(recs[0].page.time_ms, kT0 + 200 * kBucket);
  EXPECT_LE(recs[0].page.time_ms, kT0 + 204 * kBucket);
  ASSERT_TRUE(recs[0].baseline.has_value());
  // Learned from ~20/s, moving towards 10/s over the 20 quiet buckets (time constant 5m).
  EXPECT_GT(*recs[0].baseline, 10);
  EXPECT_LT(*recs[0].baseline, 20);
}

}  // namespace
}  // namespace logship::alerter
