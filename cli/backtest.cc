#include "cli/backtest.h"

#include <fnmatch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <limits>
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
  std::string reference = "nab-gaussian";
  double reference_threshold = 1.0;
  std::string detections = "triggers";
  bool loo = false;
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

// The alert names of a rule set, in file order: the candidates of a --loo selection.
std::vector<std::string> AlertNames(const RuleSet& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules.rules) {
    if (std::find(out.begin(), out.end(), r.alert) == out.end()) out.push_back(r.alert);
  }
  return out;
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
    std::vector<std::string> candidates;  // --loo: one per alert; else one ("" or --alert)
  };
  std::vector<Entry> entries;
  for (const auto& r : a.rules) {
    size_t eq = r.find('=');
    std::string glob = eq == std::string::npos ? "*" : r.substr(0, eq);
    std::string path = eq == std::string::npos ? r : r.substr(eq + 1);
    auto rules = LoadRules(path);
    std::vector<std::string> candidates = a.loo ? AlertNames(*rules) : std::vector<std::string>{a.alert};
    entries.push_back(Entry{glob, std::move(rules), path, std::move(candidates)});
  }
  auto ref_window = alerter::ParseDuration(a.reference_window);
  if (!ref_window.ok()) Fail("--reference-window: " + ref_window.status().message());

  struct Row {
    std::string file;
    size_t entry = 0;
    std::vector<bt::NabSeriesScore> candidates;  // parallel to the entry's candidates
    size_t chosen = 0;
    std::string note;
    bt::NabSeriesScore ref;
  };
  std::vector<Row> rows;
  for (const auto& [file, wins] : *windows) {
    size_t ei = entries.size();
    for (size_t k = 0; k < entries.size(); ++k) {
      if (::fnmatch(entries[k].glob.c_str(), file.c_str(), 0) == 0) {
        ei = k;
        break;
      }
    }
    if (ei == entries.size()) continue;  // no rules for this series: not scored
    const Entry& e = entries[ei];
    auto points = bt::ReadSeries(a.nab + "/" + file);
    if (!points.ok()) Fail(points.status().message());
    std::vector<int64_t> times;
    std::vector<double> values;
    for (const auto& p : *points) {
      times.push_back(p.time_ms);
      values.push_back(p.value);
    }
    Row row{file, ei, {}, 0, "", {}};
    const auto timeline = bt::RunBacktest(e.rules, *points, a.metric);
    for (const auto& c : e.candidates) {
      auto det = a.detections == "firing" ? bt::FiringRows(timeline, times, c) : bt::Detections(timeline, c);
      row.candidates.push_back(bt::ScoreNab(times, wins, std::move(det)));
    }
    // The reference: NAB's own windowedGaussian (rows flagged at score >= threshold), or
    // our rolling mean +- k sigma rule (incident triggers, like our detectors).
    std::vector<int64_t> ref_det;
    if (a.reference == "nab-gaussian") {
      auto scores = bt::NabWindowedGaussianScores(values);
      for (size_t i = 0; i < scores.size(); ++i) {
        if (scores[i] >= a.reference_threshold) ref_det.push_back(times[i]);
      }
    } else if (a.reference == "rolling-z") {
      ref_det = bt::Detections(bt::RunBacktest(RollingZRules(MedianStep(*points), a.reference_k, *ref_window),
                                               *points, "value"));
    }
    row.ref = bt::ScoreNab(times, wins, std::move(ref_det));
    rows.push_back(std::move(row));
  }
  if (rows.empty()) Fail("no series in " + a.nab + "/windows.json matched a --rules entry");

  // --loo: each series is scored with the candidate that scores best (NAB total) on the
  // OTHER series of its entry; ties go to the earlier candidate in the file.
  for (auto& row : rows) {
    if (!a.loo) continue;
    const Entry& e = entries[row.entry];
    size_t others = 0;
    double best = -std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < e.candidates.size(); ++c) {
      std::vector<bt::NabSeriesScore> train;
      for (const auto& o : rows) {
        if (&o != &row && o.entry == row.entry) train.push_back(o.candidates[c]);
      }
      others = train.size();
      // No other series with windows: no basis to choose; keep the first candidate.
      double total = 0, perfect = 0;
      for (const auto& t : train) perfect += t.perfect;
      if (perfect == 0) break;
      total = bt::NabTotal(train);
      if (total > best) {
        best = total;
        row.chosen = c;
      }
    }
    char note[160];
    if (others == 0 || best == -std::numeric_limits<double>::infinity()) {
      std::snprintf(note, sizeof(note), "%s (first: nothing to fit on)", e.candidates[row.chosen].c_str());
    } else {
      std::snprintf(note, sizeof(note), "%s (%.1f on the other %zu)", e.candidates[row.chosen].c_str(), best, others);
    }
    row.note = note;
  }

  std::vector<bt::NabSeriesScore> ours, ref;
  for (const auto& r : rows) {
    ours.push_back(r.candidates[r.chosen]);
    ref.push_back(r.ref);
  }
  const std::string ref_name = a.reference == "nab-gaussian" ? "nab-gaussian"
                               : a.reference == "rolling-z"  ? "rolling-z"
                                                             : "none";
  if (a.format == "json") {
    auto js = [](const bt::NabSeriesScore& s) {
      return nlohmann::json{{"score", s.windows ? nlohmann::json(s.Normalized()) : nlohmann::json(nullptr)},
                            {"raw", s.raw}, {"windows", s.windows}, {"tp", s.true_positives},
                            {"fp", s.false_positives}, {"fn", s.false_negatives}};
    };
    for (const auto& r : rows) {
      nlohmann::json o = {{"series", r.file},
                          {"rules", entries[r.entry].path},
                          {"detector", js(r.candidates[r.chosen])},
                          {"reference", js(r.ref)}};
      if (a.loo) {
        o["chosen"] = entries[r.entry].candidates[r.chosen];
        // Every candidate's score on this series, so a grid can be inspected whole.
        nlohmann::json all = nlohmann::json::object();
        for (size_t c = 0; c < r.candidates.size(); ++c) all[entries[r.entry].candidates[c]] = js(r.candidates[c]);
        o["candidates"] = std::move(all);
      }
      std::cout << o.dump() << "\n";
    }
    std::cout << nlohmann::json{{"series", "TOTAL"},
                                {"detections", a.detections},
                                {"detector", {{"score", bt::NabTotal(ours)}}},
                                {"reference", {{"name", ref_name}, {"score", bt::NabTotal(ref)}}}}
                     .dump()
              << "\n";
    return;
  }
  char line[768];
  std::snprintf(line, sizeof(line), "%-32s %3s | %3s %4s %3s %8s %7s | %3s %4s %3s %8s %7s%s\n", "series", "win", "tp",
                "fp", "fn", "raw", "score", "tp", "fp", "fn", "raw", "ref", a.loo ? " | chosen by leave-one-out" : "");
  std::cout << line;
  auto score = [](const bt::NabSeriesScore& s) {
    // A series without windows has no normalised score (perfect == null): see its raw.
    char b[32];
    if (s.windows == 0) std::snprintf(b, sizeof(b), "-");
    else std::snprintf(b, sizeof(b), "%.1f", s.Normalized());
    return std::string(b);
  };
  for (const auto& r : rows) {
    const auto& o = r.candidates[r.chosen];
    std::snprintf(line, sizeof(line), "%-32s %3zu | %3zu %4zu %3zu %8.3f %7s | %3zu %4zu %3zu %8.3f %7s%s%s\n",
                  r.file.c_str(), o.windows, o.true_positives, o.false_positives, o.false_negatives, o.raw,
                  score(o).c_str(), r.ref.true_positives, r.ref.false_positives, r.ref.false_negatives, r.ref.raw,
                  score(r.ref).c_str(), a.loo ? " | " : "", r.note.c_str());
    std::cout << line;
  }
  std::snprintf(line, sizeof(line), "%-36s | %24s %7.1f | %24s %7.1f\n", "TOTAL (NAB standard, 0..100)", "",
                bt::NabTotal(ours), "", bt::NabTotal(ref));
  std::cout << line;
  std::cout << "detections: " << (a.detections == "firing" ? "every row while an alert fires" : "incident triggers")
            << "; reference: " << ref_name;
  if (a.reference == "nab-gaussian") std::cout << " (NAB windowedGaussian, rows with score >= " << a.reference_threshold << ")";
  if (a.reference == "rolling-z") std::cout << " (k " << a.reference_k << ", window " << a.reference_window << ")";
  std::cout << "\n";
}

}  // namespace

void AddBacktestCommand(CLI::App& parent) {
  auto args = std::make_shared<BacktestArgs>();
  CLI::App* sub = parent.add_subcommand("backtest", "Replay a recorded series through alert rules");
  sub->footer(
      "Input: timestamp,value CSV (header optional; ISO-8601 or epoch s/ms, UTC) or JSON lines\n"
      "{\"timestamp\": T, \"value\": V}. With --nab DIR, every series in DIR/windows.json that\n"
      "a --rules [GLOB=]FILE entry matches is scored with NAB's standard profile (detections:\n"
      "the first trigger of each incident, or --detections firing), next to a reference detector.\n"
      "Example: logship alerter backtest --rules cpu.yaml --input ec2_cpu.csv --metric host_cpu_utilisation");
  sub->add_option("--rules", args->rules, "Rule file ([GLOB=]FILE with --nab; repeatable)")->required();
  auto* input = sub->add_option("--input", args->input, "The series (CSV or JSON lines)");
  auto* nab = sub->add_option("--nab", args->nab, "A NAB-style corpus directory (windows.json + CSVs)");
  input->excludes(nab);
  nab->excludes(input);
  sub->add_option("--metric", args->metric, "Sample name for the series (default: the first rule's metric)");
  sub->add_option("--alert", args->alert, "With --nab: the alert whose triggers count (default: any; --loo: every alert is a candidate)");
  sub->add_option("--reference", args->reference,
                  "With --nab: the reference detector scored beside ours: NAB's windowedGaussian (its published "
                  "rolling z-score), our rolling mean +- k sigma rule, or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"nab-gaussian", "rolling-z", "none"}));
  sub->add_option("--reference-threshold", args->reference_threshold,
                  "With --reference nab-gaussian: rows with an anomaly score >= this are detections (NAB's "
                  "optimised threshold for the standard profile is 1.0)")
      ->capture_default_str();
  sub->add_option("--detections", args->detections,
                  "With --nab: what counts as a detection of ours: each incident's trigger (a page), or every "
                  "row while an alert fires (NAB's per-row reading)")
      ->capture_default_str()
      ->check(CLI::IsMember({"triggers", "firing"}));
  sub->add_flag("--loo", args->loo,
                "With --nab: each alert of a rule file is a candidate; every series is scored with the candidate "
                "that scores best on the other series of the same --rules entry (leave-one-out)");
  sub->add_option("--reference-k", args->reference_k, "With --reference rolling-z: k")->capture_default_str();
  sub->add_option("--reference-window", args->reference_window, "With --reference rolling-z: its window")
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
