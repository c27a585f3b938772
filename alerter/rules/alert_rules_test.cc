#include "alerter/rules/alert_rules.h"
#include "tests/support/subprocess.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;

constexpr const char* kGood = R"(groups:
  - name: http
    interval: 15s
    rules:
      - alert: RequestRate
        metric: http_requests
        match: {status: '=~5..', method: '!=HEAD', path: '/api', env: '!~dev|test'}
        function: rate
        window: 1m
        by: [service, host]
        warning: {above: 50}
        critical: {above: 200}
        for: 30s
        labels: {team: web}
        annotations: {summary: 'rate on {{ $labels.host }} is {{ $value }}/s'}
      - alert: Idle
        metric: host_cpu_utilisation
        function: last
        window: 30s
        warning: {below: 0.01}
)";

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("10s"), milliseconds(10000));
  EXPECT_EQ(*ParseDuration("1m"), milliseconds(60000));
  EXPECT_EQ(*ParseDuration("1h30m"), milliseconds(5400000));
  EXPECT_EQ(*ParseDuration("2d"), milliseconds(172800000));
  EXPECT_EQ(*ParseDuration("0s"), milliseconds(0));
  for (const char* bad : {"", "10", "1.5m", "10x", "s", "-1s", "1m 2s"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(ParseAlertRulesTest, ParsesAFullRule) {
  auto rules = ParseAlertRules(kGood, "good.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 2u);
  const AlertRule& r = (*rules)[0];
  EXPECT_EQ(r.group, "http");
  EXPECT_EQ(r.alert, "RequestRate");
  EXPECT_EQ(r.metric, "http_requests");
  EXPECT_EQ(r.function, RuleFunction::kRate);
  EXPECT_EQ(r.window, milliseconds(60000));
  EXPECT_EQ(r.interval, milliseconds(15000));
  EXPECT_EQ(r.for_duration, milliseconds(30000));
  EXPECT_EQ(r.by, (std::vector<std::string>{"host", "service"}));
  ASSERT_TRUE(r.warning && r.critical);
  EXPECT_EQ(r.warning->direction, Condition::Direction::kAbove);
  EXPECT_EQ(r.warning->threshold, 50);
  EXPECT_EQ(r.critical->threshold, 200);
  EXPECT_EQ(r.labels, (Labels{{"team", "web"}}));
  EXPECT_EQ(r.origin, "good.yaml:5");
  ASSERT_EQ(r.matchers.size(), 4u);

  auto sample = [](std::string status, std::string method, std::string env) {
    Sample s;
    s.name = "http_requests";
    s.labels = {{"env", env}, {"method", method}, {"path", "/api"}, {"status", status}};
    return s;
  };
  EXPECT_TRUE(r.Selects(sample("503", "GET", "prod")));
  EXPECT_FALSE(r.Selects(sample("200", "GET", "prod")));
  EXPECT_FALSE(r.Selects(sample("5030", "GET", "prod"))) << "regex must be anchored";
  EXPECT_FALSE(r.Selects(sample("500", "HEAD", "prod")));
  EXPECT_FALSE(r.Selects(sample("500", "GET", "dev")));
  Sample other = sample("500", "GET", "prod");
  other.name = "http_bytes";
  EXPECT_FALSE(r.Selects(other));

  const AlertRule& idle = (*rules)[1];
  EXPECT_EQ(idle.interval, milliseconds(15000));
  EXPECT_EQ(idle.warning->direction, Condition::Direction::kBelow);
  EXPECT_TRUE(idle.warning->Holds(0.005));
  EXPECT_FALSE(idle.warning->Holds(0.5));
  EXPECT_FALSE(idle.critical.has_value());
}

struct BadCase {
  std::string yaml;
  std::string expected;  // substring of the message, which starts with "bad.yaml:<line>:"
};

TEST(ParseAlertRulesTest, ErrorsNameFileAndLine) {
  const std::string head = "groups:\n  - name: g\n    rules:\n      - alert: A\n";
  const std::string base = "        metric: m\n        function: avg\n        window: 1m\n";
  std::vector<BadCase> cases = {
      {head + base + "        warning: {above: 1}\n        treshold: 3\n",
       "bad.yaml:9: unknown key \"treshold\" in rule"},
      {head + "        metric: m\n        function: avg\n        window: 1x\n        warning: {above: 1}\n",
       "bad.yaml:7: \"window\": bad duration \"1x\""},
      {head + "        function: avg\n        window: 1m\n        warning: {above: 1}\n",
       "bad.yaml:4: missing required key \"metric\""},
      {head + "        metric: m\n        window: 1m\n        warning: {above: 1}\n",
       "bad.yaml:4: rule A: missing required key \"function\""},
      {head + "        metric: m\n        function: median\n        window: 1m\n        warning: {above: 1}\n",
       "bad.yaml:6: \"function\" must be one of"},
      {head + base, "bad.yaml:4: rule A: needs \"warning\" and/or \"critical\""},
      {head + base + "        warning: {above: lots}\n", "bad.yaml:8: \"warning.above\" must be a number"},
      {head + base + "        warning: {over: 3}\n", "bad.yaml:8: unknown key \"over\" in warning"},
      {head + base + "        warning: {above: 5}\n        critical: {above: 2}\n",
       "bad.yaml:9: rule A: the critical threshold must be at or beyond"},
      {head + base + "        warning: {above: 5}\n        critical: {below: 9}\n",
       "bad.yaml:9: rule A: warning and critical must both be above/at_least or both below/at_most"},
      {head + base + "        warning: {at_least: 5}\n        critical: {at_most: 9}\n",
       "bad.yaml:9: rule A: warning and critical must both be above/at_least or both below/at_most"},
      {head + base + "        warning: {at_least: many}\n", "bad.yaml:8: \"warning.at_least\" must be a number"},
      {head + base + "        warning: {above: 1}\n        for: soon\n", "bad.yaml:9: \"for\": bad duration"},
      {head + base + "        warning: {above: 1}\n        match: {status: '=~5(('}\n",
       "bad.yaml:9: matcher for \"status\": bad regex"},
      {head + base + "        warning: {above: 1}\n        annotations: {summary: '{{ $vlue }}'}\n",
       "bad.yaml:9: annotation \"summary\": unknown template expression \"{{ $vlue }}\""},
      {"groups:\n  - name: g\n    interval: 10 s\n    rules: []\n", "bad.yaml:3: \"interval\": bad duration"},
      {"groups:\n  - name: g\n    rulez: []\n", "bad.yaml:3: unknown key \"rulez\" in group"},
      {"groups:\n  - name: g\n    rules:\n      - alert: A\n" + base + "        warning: {above: 1}\n" +
           "      - alert: A\n" + base + "        warning: {above: 1}\n",
       "bad.yaml:9: duplicate alert \"A\" in group \"g\""},
      {"groups:\n  - name: g\n    rules: [\n", "bad.yaml:4: "},  // YAML syntax error
      {"alerts: []\n", "bad.yaml:1: unknown key \"alerts\" in rule file"},
  };
  for (const auto& c : cases) {
    auto rules = ParseAlertRules(c.yaml, "bad.yaml");
    ASSERT_FALSE(rules.ok()) << c.yaml;
    EXPECT_EQ(rules.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(rules.status().message().find(c.expected), std::string::npos)
        << "got: " << rules.status().message() << "\nexpected: " << c.expected;
  }
}

TEST(TemplateTest, Expands) {
  Labels labels = {{"host", "web-1"}};
  EXPECT_EQ(ExpandTemplate("{{ $labels.host }} at {{$value}}/s {{ $severity }} {{ $alert }}{{ $labels.nope }}",
                           labels, 233.33333333, "critical", "Rate"),
            "web-1 at 233.333/s critical Rate");
  EXPECT_TRUE(CheckTemplate("plain").ok());
  EXPECT_FALSE(CheckTemplate("{{ $labels. }}").ok());
  EXPECT_FALSE(CheckTemplate("{{ $value").ok());
}

TEST(LoadAlertRulesTest, ShippedDefaultRulesLoad) {
  std::string dir = ::logship::testing::SourceDir() + "/rules/alerts";
  auto set = LoadAlertRules({dir});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ((*set)->rules.size(), 5u);
  EXPECT_EQ((*set)->max_window, milliseconds(120000));  // NodeCpuHigh
  const AlertRule& cpu = (*set)->rules[0];
  EXPECT_EQ(cpu.alert, "HostCpuHigh");
  EXPECT_EQ(cpu.function, RuleFunction::kAvg);
  EXPECT_EQ(cpu.window, milliseconds(30000));
  EXPECT_EQ(cpu.for_duration, milliseconds(120000));
  EXPECT_EQ(cpu.warning->method, Condition::Method::kBaseline);  // off this host's baseline
  EXPECT_EQ(cpu.critical->threshold, 0.95);  // critical at >= 95% busy
  EXPECT_TRUE(cpu.critical->Holds(0.95));
  EXPECT_FALSE(cpu.critical->Holds(0.9499));
  const AlertRule& rate = (*set)->rules[1];
  EXPECT_EQ(rate.warning->baseline->direction, BaselineDirection::kBoth);
  EXPECT_EQ(rate.critical->baseline->min_ratio, 0.1);  // collapse
  EXPECT_EQ(rate.critical->baseline->max_ratio, 5);    // flood
  const AlertRule& errors = (*set)->rules[2];
  Sample s;
  s.name = "http_requests";
  s.labels = {{"host", "a"}, {"status", "502"}};
  EXPECT_TRUE(errors.Selects(s));
  s.labels = {{"host", "a"}, {"status", "200"}};
  EXPECT_FALSE(errors.Selects(s));
  const AlertRule& node = (*set)->rules[3];
  EXPECT_EQ(node.alert, "NodeCpuHigh");
  EXPECT_EQ(node.counter, CounterKind::kAuto);  // cumulative: node_exporter types it a counter
  ASSERT_TRUE(node.divide_by.has_value());
  EXPECT_TRUE(node.divide_by->matchers.empty());  // busy modes / all modes
  s.name = "node_cpu_seconds_total";
  for (const char* mode : {"idle", "iowait", "steal"}) {
    s.labels = {{"cpu", "0"}, {"mode", mode}};
    EXPECT_FALSE(node.Selects(s)) << mode;
  }
  s.labels = {{"cpu", "0"}, {"mode", "softirq"}};
  EXPECT_TRUE(node.Selects(s));
  EXPECT_EQ((*set)->rules[4].metric, "up");
  EXPECT_FALSE(LoadAlertRules({dir + "/missing.yaml"}).ok());
}

TEST(ParseAlertRulesTest, InclusiveAndStrictThresholds) {
  const std::string head = "groups:\n  - name: g\n    rules:\n      - alert: A\n        metric: m\n"
                           "        function: avg\n        window: 1m\n";
  auto cond = [&](const std::string& c) {
    auto rules = ParseAlertRules(head + "        warning: " + c + "\n", "t.yaml");
    EXPECT_TRUE(rules.ok()) << rules.status().ToString();
    return rules.ok() ? *(*rules)[0].warning : Condition{};
  };
  Condition above = cond("{above: 95}"), at_least = cond("{at_least: 95}");
  Condition below = cond("{below: 5}"), at_most = cond("{at_most: 5}");
  EXPECT_FALSE(above.Holds(95));
  EXPECT_TRUE(above.Holds(95.01));
  EXPECT_TRUE(at_least.Holds(95));
  EXPECT_FALSE(at_least.Holds(94.99));
  EXPECT_FALSE(below.Holds(5));
  EXPECT_TRUE(below.Holds(4.99));
  EXPECT_TRUE(at_most.Holds(5));
  EXPECT_FALSE(at_most.Holds(5.01));
  // Mixed strict / inclusive of one direction is fine; critical must be at or beyond.
  auto rules = ParseAlertRules(head + "        warning: {above: 80}\n        critical: {at_least: 95}\n", "t.yaml");
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
}

TEST(ParseAlertRulesTest, BaselineConditions) {
  const std::string yaml = R"(groups:
  - name: g
    rules:
      - alert: Cpu
        metric: cpu
        function: avg
        window: 1m
        warning: {baseline: {method: mad, window: 1h, k: 4, direction: both, min_history: 30m, min_value: 0.1}}
        critical: {above: 0.95}
      - alert: Rate
        metric: req
        function: rate
        window: 1m
        warning: {baseline: {method: seasonal, season: 7d, bucket: 1h, window: 1h, k: 4, min_rate: 1}}
        critical: {baseline: {method: ewma, alpha: 0.2, k: 0, min_ratio: 0.1, max_ratio: 5}}
)";
  auto rules = ParseAlertRules(yaml, "b.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  const AlertRule& cpu = (*rules)[0];
  ASSERT_EQ(cpu.warning->method, Condition::Method::kBaseline);
  EXPECT_EQ(cpu.warning->baseline->method, BaselineMethod::kMad);
  EXPECT_EQ(cpu.warning->baseline->window, milliseconds(3'600'000));
  EXPECT_EQ(cpu.warning->baseline->k, 4);
  EXPECT_EQ(cpu.warning->baseline->direction, BaselineDirection::kBoth);
  EXPECT_EQ(cpu.warning->baseline->min_history, milliseconds(1'800'000));
  EXPECT_EQ(cpu.warning->baseline->min_value, 0.1);
  EXPECT_EQ(cpu.critical->method, Condition::Method::kStatic);
  const AlertRule& rate = (*rules)[1];
  EXPECT_EQ(rate.warning->baseline->method, BaselineMethod::kSeasonal);
  EXPECT_EQ(rate.warning->baseline->season, milliseconds(7 * 86'400'000LL));
  EXPECT_EQ(rate.warning->baseline->min_value, 1);
  EXPECT_EQ(rate.critical->baseline->alpha, 0.2);
  EXPECT_EQ(rate.critical->baseline->max_ratio, 5);
}

TEST(ParseAlertRulesTest, BaselineErrorsNameFileAndLine) {
  const std::string head =
      "groups:\n  - name: g\n    rules:\n      - alert: A\n        metric: m\n        function: avg\n"
      "        window: 1m\n";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"        warning: {baseline: {method: mad, windw: 1h}}\n",
       "bad.yaml:8: unknown key \"windw\" in warning.baseline"},
      {"        warning: {baseline: {method: median}}\n",
       "bad.yaml:8: \"warning.baseline.method\" must be one of mean, ewma, mad, seasonal"},
      {"        warning: {baseline: {k: 3}}\n", "bad.yaml:8: \"warning.baseline\": missing required key \"method\""},
      {"        warning: {baseline: {method: mad, window: 1x}}\n",
       "bad.yaml:8: \"warning.baseline.window\": bad duration"},
      {"        warning: {baseline: {method: mad, k: -1}}\n", "bad.yaml:8: \"warning.baseline.k\" must be >= 0"},
      {"        warning: {baseline: {method: mad, direction: up}}\n",
       "bad.yaml:8: \"warning.baseline.direction\" must be one of above, below, both"},
      {"        warning: {baseline: {method: mad, alpha: 0.5}}\n",
       "bad.yaml:8: \"warning.baseline.alpha\" applies to method ewma only"},
      {"        warning: {baseline: {method: seasonal, season: 7d, bucket: 30m}}\n",
       "bad.yaml:8: \"warning.baseline\": season / bucket must be at most 168 buckets"},
      {"        warning: {baseline: {method: mad, k: 0}}\n",
       "bad.yaml:8: \"warning.baseline\": k is 0 and no max_ratio / min_ratio"},
      {"        warning: {baseline: {method: mad, direction: above, min_ratio: 0.1}}\n",
       "bad.yaml:8: \"warning.baseline.min_ratio\" needs direction below or both"},
      {"        warning: {baseline: {method: mad}, above: 3}\n",
       "bad.yaml:8: \"warning\" needs exactly one of above: N, at_least: N, below: N, at_most: N or baseline"},
  };
  for (const auto& [tail, want] : cases) {
    auto rules = ParseAlertRules(head + tail, "bad.yaml");
    ASSERT_FALSE(rules.ok()) << tail;
    EXPECT_EQ(rules.status().message().rfind(want, 0), 0u) << rules.status().message();
  }
}

}  // namespace
}  // namespace logship::alerter
