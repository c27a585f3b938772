// Alerter: evaluates alert rules over metric samples and sends pages.
//
// Time is DATA time, kept per metric: a rule's evaluation clock is the newest sample time
// seen for its metric minus `lateness`, and the rule is evaluated at each multiple of its
// group's interval up to that clock, so a replayed backlog produces the same pages as
// live traffic. Clocks are per metric because sources run at different times: a parser
// working through an hour-old backlog must not have its buckets judged late because live
// host metrics already arrived for now. Delta
// counters for the same series and timestamp are added (several parsers each send a
// partial delta per bucket); gauges keep the last value written for a timestamp.
//
// Thread-compatible: one thread calls Ingest()/Evaluate(); the accessors are for that
// same thread (or after it stopped).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alerter/baseline/baseline.h"
#include "alerter/dispatch/page_sink.h"
#include "alerter/notify/notifier.h"
#include "alerter/rules/alert_rules.h"
#include "alerter/state/alert_state.h"
#include "logship/config.h"
#include "logship/event.h"
#include "logship/status.h"

namespace logship::alerter {

struct AlerterOptions {
  // How far behind the newest sample time the evaluation clock stays, so buckets still
  // being filled by slower parsers are not judged (alerter.lateness).
  Millis lateness{10000};
  // How many PageRecords pages_sent() keeps (the oldest are dropped; counters are kept).
  size_t max_page_records = 10000;
  // Flap detection (alerter/state/alert_state.h); disabled unless set (the daemon takes it
  // from alerter.flap).
  FlapPolicy flap{Millis(0), 0, 0};
};

struct PageRecord {
  Page page;
  AlertTransition transition = AlertTransition::kNone;  // trigger/escalate/downgrade/resolve
  bool delivered = false;  // the sink took it (a direct sink: every notifier returned Ok)
  // The baseline (expected value) of the paged severity's condition, when it is a
  // baseline condition that was past its warm-up at this evaluation.
  std::optional<double> baseline;
};

struct AlerterStats {
  uint64_t samples_received = 0;
  uint64_t samples_unused = 0;  // no rule selects them
  uint64_t samples_late = 0;    // older than any future evaluation can use: dropped
  uint64_t triggers_warning = 0;
  uint64_t triggers_critical = 0;
  uint64_t escalations = 0;
  uint64_t downgrades = 0;
  uint64_t resolves = 0;
  uint64_t notify_failures = 0;  // pages some notifier gave up on (direct sinks)
  uint64_t submit_failures = 0;  // evaluations the sink could not take yet (retried)
  uint64_t evaluations = 0;      // rule steps evaluated
};

class Alerter {
 public:
  // Loads config.rule_files and sends pages straight to config.notify (BuildNotifiers(),
  // DirectPageSink: no persistence, routing or repeats; the daemons use a PageDispatcher).
  static Result<std::unique_ptr<Alerter>> Create(const AlerterConfig& config,
                                                 const std::string& data_dir,
                                                 AlerterOptions options = {});
  // With rules and notifiers already built (tests, `alerter backtest`); a DirectPageSink.
  static std::unique_ptr<Alerter> Create(std::shared_ptr<const RuleSet> rules,
                                         std::vector<std::unique_ptr<Notifier>> notifiers,
                                         AlerterOptions options = {});
  // Pages and state changes go to `sink` (not owned; outlives the Alerter).
  static std::unique_ptr<Alerter> Create(std::shared_ptr<const RuleSet> rules, PageSink* sink,
                                         AlerterOptions options = {});
  ~Alerter();

  // Resumes from what the sink persisted (call before the first Ingest()): the alert
  // states of rules that still exist, and each rule's last evaluated step (a restored rule
  // evaluates again once it has both passed that step and seen a full window of new data).
  // An open alert of a rule that no longer exists is resolved.
  Status Restore(const EvaluatorSnapshot& snapshot);
  // "<group>/<alert>": a rule's key in the persisted state.
  static std::string RuleKey(const AlertRule& rule);

  // Adds samples (any order, any batch size). Samples no rule selects are ignored.
  // Call Evaluate() after each batch: it moves the prune horizon (points before it are
  // dropped as their series are next touched, here or by a step).
  void Ingest(std::span<const Sample> samples);
  // The same, with `cumulative` parallel to `samples` (or empty): a 1 marks the sample's
  // metric as a cumulative counter (a scraped TYPE counter, histogram or summary count),
  // which rate/increase rules with `counter: auto` then read with reset handling.
  void Ingest(std::span<const Sample> samples, std::span<const uint8_t> cumulative);

  // Evaluates every rule at each of its steps up to data_clock_ms(), hands the state
  // changes and pages to the sink (once, at the end), then moves each metric's prune
  // horizon (points before it are dropped lazily: see Prune() in alerter.cc). When the
  // sink cannot take them (its disk failed), they are kept and handed over again with
  // the next Evaluate().
  void Evaluate();

  // Newest sample time minus lateness over all metrics; -1 before the first sample.
  int64_t data_clock_ms() const;
  // The same for one metric: the clock of the rules on that metric.
  int64_t data_clock_ms(const std::string& metric) const;

  const std::vector<PageRecord>& pages_sent() const { return pages_; }
  const AlerterStats& stats() const { return stats_; }
  // Alerts currently pending or firing (e.g. for an API, or to persist).
  std::vector<AlertState> active_alerts() const;
  const RuleSet& rules() const { return *rules_; }
  size_t series_count() const;

 private:
  struct Point {
    double sum = 0;   // counters: deltas added
    double last = 0;  // gauges: the last value written for this timestamp
  };
  // Learned-baseline state of one group of a rule (only for baseline conditions).
  // Kept for every group ever seen (not yet forgotten when a group goes away).
  // When warning and critical are baselines that learn the same way (SameLearning() in
  // alerter.cc), `critical` stays null and `warning` serves both.
  struct GroupBaselines {
    std::unique_ptr<BaselineEstimator> warning, critical;
  };
  static constexpr uint32_t kNoRule = std::numeric_limits<uint32_t>::max();
  struct Series {  // its labels are the key of series_'s map
    // By time_ms, ascending, times unique. A flat array: points arrive in time order (a
    // new one is appended), a step reads a short run of them, and the points before the
    // prune horizon are a prefix (dropped by Ingest() or a step, see Prune()).
    std::vector<std::pair<int64_t, Point>> points;
    // Per rule: -1 unknown, else bits: kSelected (the rule's matchers hold), kDivisor
    // (its divide_by matchers hold); 0: neither.
    std::vector<int8_t> selected;
    // The baselines of this series' group under one baseline rule (the rule at index
    // baselines_rule), so its steps find them without walking RuleRuntime::baselines;
    // set when the series is the first of its group. Valid while the Alerter lives:
    // baselines entries are never erased. Other baseline rules selecting it walk the map.
    GroupBaselines* baselines = nullptr;
    uint32_t baselines_rule = kNoRule;
  };
  struct RuleRuntime {
    int64_t last_step_ms = -1;  // the last evaluated step; -1 before the first
    bool restored = false;      // last_step_ms came from Restore(): wait for a full window again
    std::map<Labels, AlertState> states;  // pending and firing alerts, by group labels
    std::map<Labels, GroupBaselines> baselines;
  };

  Alerter(std::shared_ptr<const RuleSet> rules, std::unique_ptr<PageSink> owned_sink, PageSink* sink,
          AlerterOptions options);
  static constexpr int8_t kSelected = 1, kDivisor = 2;
  int8_t RuleSelection(size_t rule_index, const std::string& name, const Labels& labels, Series& series);
  bool RuleSelects(size_t rule_index, const std::string& name, const Labels& labels, Series& series) {
    return RuleSelection(rule_index, name, labels, series) != 0;
  }
  // Whether rule `i`'s rate/increase reads cumulative counters (rule.counter, or `auto`
  // and the metric was ingested as cumulative).
  bool ReadsCumulative(size_t rule_index) const;
  int64_t NextStep(size_t rule_index) const;
  void EvaluateRule(size_t rule_index, int64_t t);
  void SendPage(const AlertRule& rule, const AlertState& state, AlertTransition transition,
                int64_t t, std::optional<double> baseline, int64_t opened_at_ms);
  void Prune();
  void Flush();  // hands pending_ to the sink

  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<PageSink> owned_sink_;  // set when the Alerter made its own (direct) sink
  PageSink* sink_;
  AlerterOptions options_;
  EvaluationOutput pending_;                 // not yet taken by the sink
  std::vector<PageRecord> pending_records_;  // parallel to pending_.pages
  std::vector<int64_t> progress_written_;    // per rule: the last step handed to the sink
  // metric name -> series labels -> series.
  std::map<std::string, std::map<Labels, Series>> series_;
  std::vector<RuleRuntime> runtime_;  // parallel to rules_->rules
  // EvaluateRule()'s per-group working array (alerter.cc), kept between steps: at 100,000
  // groups it is ~11 MB, which a fresh allocation would page in (and fault) every step.
  struct StepScratch;
  std::unique_ptr<StepScratch> scratch_;
  struct MetricClock {
    int64_t newest_ms = -1;
    int64_t oldest_ms = -1;  // the first data time seen: rules wait a full window after it
    int64_t prune_horizon_ms = std::numeric_limits<int64_t>::min();  // older samples are late
    bool cumulative = false;  // ingested as a cumulative counter (Ingest's `cumulative`)
  };
  std::map<std::string, MetricClock> clocks_;  // by metric name
  // Points before this time can no longer be used by any step: pruned, and dropped on arrival.
  std::vector<PageRecord> pages_;
  AlerterStats stats_;
};

}  // namespace logship::alerter
