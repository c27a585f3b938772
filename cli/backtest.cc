#include "cli/backtest.h"

#include <fnmatch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "alerter/backtest/backtest.h"
#include "alerter/backtest/nab_score.h"
#include "alerter/backtest/series_reader.h"
#include "alerter/rules/alert_rules.h"

namespace logship::cli {
namespace {

using alerter::RuleSet;
namespace bt = alerter::backtest;

struct BacktestArgs {
  std::vector<std::string> rules;
  std::string input;
  std::string metric;
  std::string format = "table";
  std::string nab;
  std::string alert;
  double reference_k = 3.0;
  std::string reference_window = "7d";
};

[[noreturn]] void Fail(const std::string& msg) {
  std::cerr << "logship alerter backtest: " << msg << "\n";
  throw CLI::RuntimeError(1);
}

std::shared_ptr<const RuleSet> LoadRules(const std::string& path) {
  auto rules = alerter::LoadAlertRules({path});
  if (!rules.ok()) Fail(rules.status().message());
  if ((*rules)->rules.empty()) Fail(path + ": no rules");
  return *rules;
}

// The typical spacing of the series (the median gap), for the reference detector's step.
int64_t MedianStep(const std::vector<bt::SeriesPoint>& points) {
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < points.size(); ++i) gaps.push_back(points[i].time_ms - points[i - 1].time_ms);
  if (gaps.empty()) return 60'000;
  std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
  return std::max<int64_t>(1000, gaps[gaps.size() / 2]);
}

// The rolling z-score reference: value outside rolling mean +- k * stddev over `window`,
// evaluated at every point, paging at once (for: 0). No label information is used.
std::shared_ptr<const RuleSet> RollingZRules(int64_t step_ms, double k, alerter::Millis window) {
  alerter::AlertRule rule;
  rule.group = "reference";
  rule.alert = "RollingZ";
  rule.metric = "value";
  rule.function = alerter::RuleFunction::kLast;
  rule.window = alerter::Millis(step_ms);
  rule.interval = alerter::Millis(step_ms);
  auto spec = std::make_shared<alerter::BaselineSpec>();
  spec->method = alerter::BaselineMethod::kMean;
  spec->direction = alerter::BaselineDirection::kBoth;
  spec->window = window;
  spec->k = k;
  spec->min_points = 20;
  alerter::Condition c;
  c.method = alerter::Condition::Method::kBaseline;
  c.baseline = std::move(spec);
  rule.warning = c;
  rule.origin = "built-in rolling z-score";
  std::vector<alerter::AlertRule> v;
  v.push_back(std::move(rule));
  return *alerter::MakeRuleSet(std::move(v));
}

void RunTimeline(const BacktestArgs& a) {
  if (a.rules.size() != 1) Fail("give exactly one --rules FILE with --input");
  auto rules = LoadRules(a.rules[0]);
  auto points = bt::ReadSeries(a.input);
  if (!points.ok()) Fail(points.status().message());
  auto timeline = bt::RunBacktest(rules, *points, a.metric);
  std::cout << (a.format == "json" ? bt::FormatTimelineJson(timeline) : bt::FormatTimelineTable(timeline));
}

void RunNab(const BacktestArgs& a) {
  auto windows = bt::LoadNabWindows(a.nab + "/windows.json");
  if (!windows.ok()) Fail(windows.status().message());
  // --rules entries: "GLOB=FILE" applies FILE to series whose file name matches GLOB;
  // a bare FILE applies to every series. The first matching entry wins.
  struct Entry {
    std::string glob;
    std::shared_ptr<const RuleSet> rules;
    std::string path;
  };
  std::vector<Entry> entries;
  for (const auto& r : a.rules) {
    size_t eq = r.find('=');
    std::string glob = eq == std::string::npos ? "*" : r.substr(0, eq);
    std::string path = eq == std::string::npos ? r : r.substr(eq + 1);
    entries.push_back(Entry{glob, LoadRules(path), path});
  }
  auto ref_window = alerter::ParseDuration(a.reference_window);
  if (!ref_window.ok()) Fail("--reference-window: " + ref_window.status().message());

  struct Row {
    std::string file, rules;
    bt::NabSeriesScore ours, ref;
  };
  std::vector<Row> rows;
  for (const auto& [file, wins] : *windows) {
    const Entry* e = nullptr;
    for (const auto& en : entries) {
      if (::fnmatch(en.glob.c_str(), file.c_str(), 0) == 0) {
        e = &en;
        break;
      }
    }
    if (!e) continue;  // no rules for this series: not scored
    auto points = bt::ReadSeries(a.nab + "/" + file);
    if (!points.ok()) Fail(points.status().message());
    std::vector<int64_t> times;
    for (const auto& p : *points) times.push_back(p.time_ms);
    auto ours = bt::ScoreNab(times, wins, bt::Detections(bt::RunBacktest(e->rules, *points, a.metric), a.alert));
    auto ref_rules = RollingZRules(MedianStep(*points), a.reference_k, *ref_window);
    auto ref = bt::ScoreNab(times, wins, bt::Detections(bt::RunBacktest(ref_rules, *points, "value")));
    rows.push_back(Row{file, e->path, ours, ref});
  }
  if (rows.empty()) Fail("no series in " + a.nab + "/windows.json matched a --rules entry");
  std::vector<bt::NabSeriesScore> ours, ref;
  for (const auto& r : rows) {
    ours.push_back(r.ours);
    ref.push_back(r.ref);
  }
  if (a.format == "json") {
    nlohmann::json out = nlohmann::json::array();
    auto js = [](const bt::NabSeriesScore& s) {
      return nlohmann::json{{"score", s.Normalized()}, {"raw", s.raw},        {"windows", s.windows},
                            {"tp", s.true_positives},  {"fp", s.false_positives}, {"fn", s.false_negatives}};
    };
    for (const auto& r : rows) {
      out.push_back({{"series", r.file}, {"rules", r.rules}, {"detector", js(r.ours)}, {"rolling_z", js(r.ref)}});
    }
    out.push_back({{"series", "TOTAL"}, {"detector", {{"score", bt::NabTotal(ours)}}},
                   {"rolling_z", {{"score", bt::NabTotal(ref)}}}});
    for (const auto& o : out) std::cout << o.dump() << "\n";
    return;
  }
  char line[512];
  std::snprintf(line, sizeof(line), "%-34s %4s | %3s %4s %3s %9s %8s | %3s %4s %3s %9s %8s\n", "series",
                "win", "tp", "fp", "fn", "raw", "score", "tp", "fp", "fn", "raw", "rolling-z");
  std::cout << line;
  for (const auto& r : rows) {
    // A series without windows has no normalised score (perfect == null): show its raw.
    auto score = [](const bt::NabSeriesScore& s) {
      char b[32];
      if (s.windows == 0) std::snprintf(b, sizeof(b), "-");
      else std::snprintf(b, sizeof(b), "%.1f", s.Normalized());
      return std::string(b);
    };
    std::snprintf(line, sizeof(line), "%-34s %4zu | %3zu %4zu %3zu %9.3f %8s | %3zu %4zu %3zu %9.3f %8s\n",
                  r.file.c_str(), r.ours.windows, r.ours.true_positives, r.ours.false_positives,
                  r.ours.false_negatives, r.ours.raw, score(r.ours).c_str(), r.ref.true_positives,
                  r.ref.false_positives, r.ref.false_negatives, r.ref.raw, score(r.ref).c_str());
    std::cout << line;
  }
  std::snprintf(line, sizeof(line), "%-34s %4s | %27s %8.1f | %27s %8.1f\n", "TOTAL (NAB standard, 0..100)", "",
                "", bt::NabTotal(ours), "", bt::NabTotal(ref));
  std::cout << line;
}

}  // namespace

void AddBacktestCommand(CLI::App& parent) {
  auto args = std::make_shared<BacktestArgs>();
  CLI::App* sub = parent.add_subcommand("backtest", "Replay a recorded series through alert rules");
  sub->footer(
      "Input: timestamp,value CSV (header optional; ISO-8601 or epoch s/ms, UTC) or JSON lines\n"
      "{\"timestamp\": T, \"value\": V}. With --nab DIR, every series in DIR/windows.json that\n"
      "a --rules [GLOB=]FILE entry matches is scored with NAB's standard profile (detections:\n"
      "the first trigger of each incident), next to a rolling z-score reference.\n"
      "Example: logship alerter backtest --rules cpu.yaml --input ec2_cpu.csv --metric host_cpu_utilisation");
  sub->add_option("--rules", args->rules, "Rule file ([GLOB=]FILE with --nab; repeatable)")->required();
  auto* input = sub->add_option("--input", args->input, "The series (CSV or JSON lines)");
  auto* nab = sub->add_option("--nab", args->nab, "A NAB-style corpus directory (windows.json + CSVs)");
  input->excludes(nab);
  nab->excludes(input);
  sub->add_option("--metric", args->metric, "Sample name for the series (default: the first rule's metric)");
  sub->add_option("--alert", args->alert, "With --nab: the alert whose triggers count (default: any)");
  sub->add_option("--reference-k", args->reference_k, "With --nab: the rolling z-score's k")->capture_default_str();
  sub->add_option("--reference-window", args->reference_window, "With --nab: the rolling z-score's window")
      ->capture_default_str();
  sub->add_option("--format", args->format, "Output format")->capture_default_str()->check(
      CLI::IsMember({"table", "json"}));
  sub->callback([args] {
    if (args->nab.empty() && args->input.empty()) Fail("give --input FILE or --nab DIR");
    if (!args->nab.empty()) RunNab(*args);
    else RunTimeline(*args);
    std::cout.flush();
    throw CLI::Success();
  });
}

}  // namespace logship::cli
