// rate()/increase() over cumulative counters (alerter/counter_rate.h) and what rules do
// with them: reset handling, `counter:` auto/delta/cumulative, `divide_by`, `min_samples`.
#include "alerter/counter_rate.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>
#include <vector>

#include "alerter/alerter.h"

namespace logship::alerter {
namespace {

using Points = std::vector<std::pair<int64_t, double>>;  // (ms, value)

std::optional<double> Increase(const Points& p, int64_t start, int64_t end) {
  return CumulativeIncrease(
      p.begin(), p.end(), start, end, [](auto it) { return it->first; }, [](auto it) { return it->second; });
}

TEST(CumulativeIncreaseTest, SteadyCounterExtrapolatesToTheWindowEdges) {
  // Window (0, 60 s], a point every 15 s from 5 s: 45 s sampled, 5 s and 10 s to the edges
  // (both under 1.1 x 15 s), so the 45 counted are stretched over 60 s.
  EXPECT_DOUBLE_EQ(*Increase({{5000, 100}, {20000, 115}, {35000, 130}, {50000, 145}}, 0, 60000), 60.0);
}

TEST(CumulativeIncreaseTest, AResetInTheMiddleOfTheWindowCountsFromZero) {
  // 100 -> 115 (+15), reset to 5 (+5: it counted from 0), -> 20 (+15): 35 over 45 s.
  EXPECT_DOUBLE_EQ(*Increase({{5000, 100}, {20000, 115}, {35000, 5}, {50000, 20}}, 0, 60000), 35.0 * 60 / 45);
  // Two resets, one of them to exactly 0.
  EXPECT_DOUBLE_EQ(*Increase({{5000, 50}, {20000, 0}, {35000, 30}, {50000, 3}}, 0, 60000), (0 + 30 + 3) * 60.0 / 45);
  // Never negative, unlike last - first.
  auto after_restart = Increase({{5000, 1000}, {20000, 2}, {35000, 4}, {50000, 6}}, 0, 60000);
  ASSERT_TRUE(after_restart.has_value());
  EXPECT_GT(*after_restart, 0);
}

TEST(CumulativeIncreaseTest, ACounterThatStartsInTheWindowIsNotExtrapolatedBeforeZero) {
  // Starts at 0 at 35 s: 35 s to the start is over 1.1 x 15 s, and the counter was 0 there
  // anyway, so only the end is extrapolated (10 s).
  EXPECT_DOUBLE_EQ(*Increase({{35000, 0}, {50000, 15}}, 0, 60000), 25.0);
}

TEST(CumulativeIncreaseTest, GapsToTheEdgesAreExtrapolatedByHalfASpacing) {
  // Points at 30 s and 40 s in (0, 60 s]: 30 s and 20 s to the edges, both over 11 s, so
  // 5 s each way: 10 counted over 10 s becomes 20.
  EXPECT_DOUBLE_EQ(*Increase({{30000, 1000}, {40000, 1010}}, 0, 60000), 20.0);
}

TEST(CumulativeIncreaseTest, FewerThanTwoPointsHaveNoValue) {
  EXPECT_FALSE(Increase({}, 0, 60000).has_value());
  EXPECT_FALSE(Increase({{5000, 1}}, 0, 60000).has_value());
}

// --- Rules over cumulative counters -------------------------------------------------

constexpr int64_t kT0 = 1'700'000'000'000;  // a multiple of 10 s

class Recorder final : public Notifier {
 public:
  Status Notify(const Page& page) override {
    pages.push_back(page);
    return Status::Ok();
  }
  const std::string& name() const override { return name_; }
  std::vector<Page> pages;

 private:
  std::string name_ = "recorder";
};

struct Harness {
  explicit Harness(const std::string& yaml) {
    auto parsed = ParseAlertRules(yaml, "test.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    auto set = MakeRuleSet(std::move(*parsed));
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    auto rec = std::make_unique<Recorder>();
    recorder = rec.get();
    std::vector<std::unique_ptr<Notifier>> n;
    n.push_back(std::move(rec));
    AlerterOptions o;
    o.lateness = Millis(0);
    alerter = Alerter::Create(*set, std::move(n), o);
  }
  void Feed(const std::vector<Sample>& samples, bool cumulative) {
    std::vector<uint8_t> flags(samples.size(), cumulative ? 1 : 0);
    for (const Sample& s : samples) {
      alerter->Ingest(std::span<const Sample>(&s, 1), std::span<const uint8_t>(flags.data(), 1));
      alerter->Evaluate();
    }
  }
  // The values paged for `alert`, in order.
  std::vector<double> Values(const std::string& alert) const {
    std::vector<double> out;
    for (const auto& p : recorder->pages) {
      if (p.alert == alert && p.action == PageAction::kTrigger) out.push_back(p.value);
    }
    return out;
  }
  std::unique_ptr<Alerter> alerter;
  Recorder* recorder = nullptr;
};

// A counter scraped every 15 s that counts `per_second` events/s; before point `reset_at`
// its process restarts (the counter starts again from 0 and counted 5 s worth since).
std::vector<Sample> RestartingCounter(const std::string& name, const Labels& labels, int points, int reset_at,
                                      double per_second) {
  std::vector<Sample> out;
  double v = 5000;
  for (int k = 0; k < points; ++k) {
    if (k == reset_at) v = per_second * 5;
    out.push_back(Sample{name, labels, kT0 + 5000 + k * 15000, v});
    v += per_second * 15;
  }
  return out;
}

// Rate pages while the rate is above 0; RateDrop would page if a reset made it look low.
std::string RateRules(const std::string& counter = "") {
  std::string line = counter.empty() ? "" : "        counter: " + counter + "\n";
  return R"(groups:
  - name: node
    interval: 15s
    rules:
      - alert: Rate
        metric: requests_total
        function: rate
        window: 1m
        warning: {above: 0}
)" + line + R"(      - alert: RateDrop
        metric: requests_total
        function: rate
        window: 1m
        warning: {below: 1}
)" + line;
}

TEST(CumulativeRuleTest, ScrapedCountersAreReadAsCumulativeWithResets) {
  Harness h(RateRules());
  h.Feed(RestartingCounter("requests_total", {{"instance", "a:1"}}, 20, 10, 2), /*cumulative=*/true);
  auto values = h.Values("Rate");
  ASSERT_EQ(values.size(), 1u) << "one incident, paged at the first evaluation";
  EXPECT_NEAR(values[0], 2.0, 1e-9);
  // The windows around the restart lost 10 of 30 events at most: never below 1/s, never
  // negative, and the alert above 0 never resolved.
  EXPECT_TRUE(h.Values("RateDrop").empty());
  for (const auto& p : h.recorder->pages) EXPECT_NE(p.action, PageAction::kResolve);
  ASSERT_EQ(h.alerter->active_alerts().size(), 1u);
  EXPECT_NEAR(h.alerter->active_alerts()[0].value, 2.0, 1e-9) << "after the reset left the window";
}

TEST(CumulativeRuleTest, UnflaggedCountersAreDeltasUnlessTheRuleSaysCumulative) {
  const auto samples = RestartingCounter("requests_total", {{"instance", "a:1"}}, 20, 10, 2);
  Harness deltas(RateRules());
  deltas.Feed(samples, /*cumulative=*/false);
  ASSERT_FALSE(deltas.Values("Rate").empty());
  EXPECT_GT(deltas.Values("Rate")[0], 50) << "the running totals summed as if they were deltas";

  Harness cumulative(RateRules("cumulative"));
  cumulative.Feed(samples, /*cumulative=*/false);
  ASSERT_EQ(cumulative.Values("Rate").size(), 1u);
  EXPECT_NEAR(cumulative.Values("Rate")[0], 2.0, 1e-9);
  EXPECT_TRUE(cumulative.Values("RateDrop").empty());

  Harness delta(RateRules("delta"));
  delta.Feed(samples, /*cumulative=*/true);
  ASSERT_FALSE(delta.Values("Rate").empty());
  EXPECT_GT(delta.Values("Rate")[0], 50) << "counter: delta wins over the scrape's TYPE";
}

TEST(CumulativeRuleTest, DivideByGivesTheBusyFractionOfNodeCpuSeconds) {
  // Two CPUs scraped every 15 s; each second: idle 0.7, iowait 0.1, steal 0.05, user 0.1,
  // system 0.05. Busy (all but idle, iowait, steal) = 0.15 of the total.
  std::vector<Sample> samples;
  const std::map<std::string, double> per_second = {
      {"idle", 0.7}, {"iowait", 0.1}, {"steal", 0.05}, {"user", 0.1}, {"system", 0.05}};
  for (int k = 0; k < 12; ++k) {
    for (const char* cpu : {"0", "1"}) {
      for (const auto& [mode, r] : per_second) {
        samples.push_back(Sample{"node_cpu_seconds_total",
                                 {{"cpu", cpu}, {"instance", "n:9100"}, {"mode", mode}},
                                 kT0 + 5000 + k * 15000,
                                 1000 + r * 15 * k});
      }
    }
  }
  Harness h(R"(groups:
  - name: node
    interval: 15s
    rules:
      - alert: CpuBusy
        metric: node_cpu_seconds_total
        match: {mode: '!~idle|iowait|steal'}
        divide_by: {match: {}}
        function: rate
        window: 1m
        by: [instance]
        warning: {above: 0.1}
)");
  h.Feed(samples, /*cumulative=*/true);
  auto values = h.Values("CpuBusy");
  ASSERT_EQ(values.size(), 1u);
  EXPECT_NEAR(values[0], 0.15, 1e-9);
  EXPECT_EQ(h.recorder->pages[0].labels, (Labels{{"alertname", "CpuBusy"}, {"instance", "n:9100"}}));
}

TEST(CumulativeRuleTest, MinSamplesKeepsSparseSeriesQuiet) {
  // A gauge that reports once a minute: avg over 1m is one point, under min_samples 3.
  auto rule = [](int min_samples) {
    return std::string(R"(groups:
  - name: g
    interval: 10s
    rules:
      - alert: Hot
        metric: temp
        function: avg
        window: 1m
        warning: {above: 50}
        min_samples: )") + std::to_string(min_samples) + "\n";
  };
  std::vector<Sample> sparse, dense;
  for (int k = 0; k < 10; ++k) sparse.push_back(Sample{"temp", {}, kT0 + k * 60000, 90});
  for (int k = 0; k < 60; ++k) dense.push_back(Sample{"temp", {}, kT0 + k * 10000, 90});
  Harness quiet(rule(3)), loud(rule(0)), dense_guarded(rule(3));
  quiet.Feed(sparse, false);
  loud.Feed(sparse, false);
  dense_guarded.Feed(dense, false);
  EXPECT_TRUE(quiet.Values("Hot").empty());
  EXPECT_FALSE(loud.Values("Hot").empty());
  EXPECT_FALSE(dense_guarded.Values("Hot").empty()) << "6 points a window pass the guard";
}

TEST(CumulativeRuleTest, RuleKeysAreValidatedWithFileAndLine) {
  auto bad = [](const std::string& extra) {
    std::string yaml = R"(groups:
  - name: g
    rules:
      - alert: A
        metric: m
        function: avg
        window: 1m
        warning: {above: 1}
)" + extra;
    auto r = ParseAlertRules(yaml, "bad.yaml");
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(bad("        counter: cumulative\n"), "bad.yaml:9: \"counter\" applies to function rate or increase only");
  EXPECT_EQ(bad("        min_samples: -1\n"), "bad.yaml:9: \"min_samples\" must be a whole number from 0 to 1e9, got -1");
  EXPECT_EQ(bad("        divide_by: {min_value: 1}\n"),
            "bad.yaml:9: \"divide_by\": missing required key \"match\" ({} for all series of the metric)");
  EXPECT_NE(bad("        divide_by: {match: {}, nope: 1}\n").find("bad.yaml:9: unknown key \"nope\""), std::string::npos);
  EXPECT_NE(bad("        divide_by: {match: {mode: '=~('}}\n").find("bad.yaml:9:"), std::string::npos);
}

}  // namespace
}  // namespace logship::alerter
