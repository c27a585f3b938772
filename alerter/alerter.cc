#include "alerter/alerter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <set>

#include "alerter/alerter_probe.h"

namespace logship::alerter {
namespace {

constexpr int64_t kNoStep = std::numeric_limits<int64_t>::max();

int64_t AlignUp(int64_t t, int64_t step) {
  int64_t q = t / step;
  if (q * step < t) ++q;
  return q * step;
}
int64_t AlignDown(int64_t t, int64_t step) {
  int64_t q = t / step;
  if (q * step > t) --q;
  return q * step;
}

// The group a series belongs to: its values of the rule's `by` labels (absent ones omitted).
Labels GroupOf(const AlertRule& rule, const Labels& labels) {
  Labels g;
  for (const auto& name : rule.by) {
    for (const auto& [k, v] : labels) {
      if (k == name) {
        if (!v.empty()) g.emplace_back(k, v);
        break;
      }
    }
  }
  return g;
}

// Where a severity's condition is checked. A baseline condition is judged against the
// band its estimator expected before this value (`band`, from BaselineEstimator::Expected()).
bool ConditionHolds(const Condition& c, double value, const std::optional<BaselineBand>& band) {
  switch (c.method) {
    case Condition::Method::kStatic: return c.Holds(value);
    case Condition::Method::kBaseline: return BaselineHolds(*c.baseline, band, value);
  }
  return false;
}

bool IsBaseline(const std::optional<Condition>& c) {
  return c && c->method == Condition::Method::kBaseline;
}

// Whether two baseline conditions learn the same state (the fields an estimator reads;
// the others only decide whether a value is off the band), so one estimator serves both.
bool SameLearning(const BaselineSpec& a, const BaselineSpec& b) {
  return a.method == b.method && a.window == b.window && a.alpha == b.alpha &&
         a.season == b.season && a.bucket == b.bucket && a.min_history == b.min_history &&
         a.min_points == b.min_points;
}

struct GroupAcc {
  double sum = 0;  // counters: deltas; gauges: sum of points
  size_t n = 0;    // gauges: points
  double max = -std::numeric_limits<double>::infinity();
  double min = std::numeric_limits<double>::infinity();
  double last_sum = 0;  // gauges: sum over series of each series' newest point
  size_t last_n = 0;
};

}  // namespace

Result<std::unique_ptr<Alerter>> Alerter::Create(const AlerterConfig& config,
                                                 const std::string& data_dir,
                                                 AlerterOptions options) {
  auto rules = LoadAlertRules(config.rule_files);
  if (!rules.ok()) return rules.status();
  auto notifiers = BuildNotifiers(config.notify, data_dir);
  if (!notifiers.ok()) return notifiers.status();
  return Create(std::move(*rules), std::move(*notifiers), options);
}

std::unique_ptr<Alerter> Alerter::Create(std::shared_ptr<const RuleSet> rules,
                                         std::vector<std::unique_ptr<Notifier>> notifiers,
                                         AlerterOptions options) {
  return std::unique_ptr<Alerter>(new Alerter(std::move(rules), std::move(notifiers), options));
}

Alerter::Alerter(std::shared_ptr<const RuleSet> rules,
                 std::vector<std::unique_ptr<Notifier>> notifiers, AlerterOptions options)
    : rules_(std::move(rules)),
      notifiers_(std::move(notifiers)),
      options_(options),
      runtime_(rules_->rules.size()) {}

Alerter::~Alerter() = default;

int64_t Alerter::data_clock_ms() const {
  int64_t newest = -1;
  for (const auto& [name, mc] : clocks_) newest = std::max(newest, mc.newest_ms);
  return newest < 0 ? -1 : newest - options_.lateness.count();
}

int64_t Alerter::data_clock_ms(const std::string& metric) const {
  auto it = clocks_.find(metric);
  if (it == clocks_.end() || it->second.newest_ms < 0) return -1;
  return it->second.newest_ms - options_.lateness.count();
}

size_t Alerter::series_count() const {
  size_t n = 0;
  for (const auto& [name, by_labels] : series_) n += by_labels.size();
  return n;
}

std::vector<AlertState> Alerter::active_alerts() const {
  std::vector<AlertState> out;
  for (const auto& rt : runtime_) {
    for (const auto& [labels, state] : rt.states) out.push_back(state);
  }
  return out;
}

bool Alerter::RuleSelects(size_t i, const std::string& name, Series& series) {
  int8_t& sel = series.selected[i];
  if (sel < 0) {
    const AlertRule& rule = rules_->rules[i];
    bool yes = rule.metric == name;
    for (const auto& m : rule.matchers) yes = yes && m.Matches(series.labels);
    sel = yes ? 1 : 0;
  }
  return sel == 1;
}

void Alerter::Ingest(std::span<const Sample> samples) {
  const size_t nrules = rules_->rules.size();
  uint64_t late = 0, ignored = 0;
  for (const Sample& s : samples) {
    bool named = false;
    for (const auto& rule : rules_->rules) named = named || rule.metric == s.name;
    if (!named) {
      ++ignored;
      continue;
    }
    MetricClock& mc = clocks_[s.name];
    if (s.time_ms < mc.prune_horizon_ms) {
      ++late;
      continue;
    }
    mc.newest_ms = std::max(mc.newest_ms, s.time_ms);
    mc.oldest_ms = mc.oldest_ms < 0 ? s.time_ms : std::min(mc.oldest_ms, s.time_ms);

    Labels sorted;
    const Labels* labels = &s.labels;
    if (!std::is_sorted(s.labels.begin(), s.labels.end())) {
      sorted = s.labels;
      std::sort(sorted.begin(), sorted.end());
      labels = &sorted;
    }
    auto& by_labels = series_[s.name];
    auto it = by_labels.find(*labels);
    if (it == by_labels.end()) {
      Series fresh;
      fresh.labels = *labels;
      fresh.selected.assign(nrules, -1);
      bool any = false;
      for (size_t i = 0; i < nrules; ++i) any = RuleSelects(i, s.name, fresh) || any;
      if (!any) {
        ++ignored;
        if (by_labels.empty()) series_.erase(s.name);
        continue;
      }
      it = by_labels.emplace(*labels, std::move(fresh)).first;
    }
    Point& p = it->second.points[s.time_ms];
    p.sum += s.value;  // delta counters: partial deltas of one bucket add up
    p.last = s.value;  // gauges: a re-sent point replaces
  }
  stats_.samples_received += samples.size();
  stats_.samples_late += late;
  stats_.samples_unused += ignored;
  AlerterProbe::Received(samples.size());
  if (late) AlerterProbe::DroppedLate(late);
  if (ignored) AlerterProbe::Ignored(ignored);
}

int64_t Alerter::NextStep(size_t i) const {
  const AlertRule& rule = rules_->rules[i];
  const int64_t interval = rule.interval.count();
  if (runtime_[i].last_step_ms >= 0) return runtime_[i].last_step_ms + interval;
  auto it = clocks_.find(rule.metric);
  if (it == clocks_.end() || it->second.oldest_ms < 0) return kNoStep;
  // Warm-up: the first step has a full window of data behind it.
  return AlignUp(it->second.oldest_ms + rule.window.count(), interval);
}

void Alerter::Evaluate() {
  std::vector<int64_t> clocks(rules_->rules.size());
  for (size_t i = 0; i < rules_->rules.size(); ++i) clocks[i] = data_clock_ms(rules_->rules[i].metric);
  while (true) {
    size_t best = rules_->rules.size();
    int64_t best_t = kNoStep;
    for (size_t i = 0; i < rules_->rules.size(); ++i) {
      int64_t t = NextStep(i);
      if (clocks[i] >= 0 && t <= clocks[i] && t < best_t) {
        best = i;
        best_t = t;
      }
    }
    if (best == rules_->rules.size()) break;
    EvaluateRule(best, best_t);
  }
  Prune();
}

void Alerter::EvaluateRule(size_t i, int64_t t) {
  const AlertRule& rule = rules_->rules[i];
  RuleRuntime& rt = runtime_[i];
  const int64_t w = rule.window.count();
  const bool counter = IsCounterFunction(rule.function);
  rt.last_step_ms = t;
  ++stats_.evaluations;

  // Groups as a vector sorted by labels (series arrive in label order, so a group's series
  // are usually adjacent and no sort is needed); then merged in order with the alert
  // states and the baselines, so no group's labels are looked up in a map.
  std::vector<std::pair<Labels, GroupAcc>> groups;
  bool groups_sorted = true;
  int64_t next_point = kNoStep;  // the earliest point after this step's window (gap skipping)
  if (auto sit = series_.find(rule.metric); sit != series_.end()) {
    for (auto& [labels, series] : sit->second) {
      if (!RuleSelects(i, rule.metric, series) || series.points.empty()) continue;
      // Counters: buckets starting in [t-w, t). Gauges: points in (t-w, t].
      auto lo = counter ? series.points.lower_bound(t - w) : series.points.upper_bound(t - w);
      auto hi = counter ? series.points.lower_bound(t) : series.points.upper_bound(t);
      if (hi != series.points.end()) next_point = std::min(next_point, hi->first);
      // A counter series counts (possibly as 0) once it has started; a gauge only with points.
      if (counter ? series.points.begin()->first >= t : lo == hi) continue;
      Labels g = GroupOf(rule, labels);
      if (groups.empty() || groups.back().first != g) {
        if (!groups.empty() && g < groups.back().first) groups_sorted = false;
        groups.emplace_back(std::move(g), GroupAcc{});
      }
      GroupAcc& acc = groups.back().second;
      for (auto p = lo; p != hi; ++p) {
        if (counter) {
          acc.sum += p->second.sum;
        } else {
          acc.sum += p->second.last;
          acc.n++;
          acc.max = std::max(acc.max, p->second.last);
          acc.min = std::min(acc.min, p->second.last);
        }
      }
      if (!counter && lo != hi) {
        acc.last_sum += std::prev(hi)->second.last;
        acc.last_n++;
      }
    }
  }
  if (!groups_sorted) {
    // A group's series were not adjacent: sort (stable: series order within a group is
    // kept) and combine the partial accumulators of each group.
    std::stable_sort(groups.begin(), groups.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t out = 0;
    for (size_t k = 1; k < groups.size(); ++k) {
      if (groups[k].first == groups[out].first) {
        GroupAcc& a = groups[out].second;
        const GroupAcc& b = groups[k].second;
        a.sum += b.sum;
        a.n += b.n;
        a.max = std::max(a.max, b.max);
        a.min = std::min(a.min, b.min);
        a.last_sum += b.last_sum;
        a.last_n += b.last_n;
      } else if (++out != k) {
        groups[out] = std::move(groups[k]);
      }
    }
    groups.resize(out + 1);
  }

  if (groups.empty() && rt.states.empty()) {
    // Nothing to judge until the next point arrives: skip the empty steps in between.
    const int64_t interval = rule.interval.count();
    int64_t resume = next_point == kNoStep ? AlignDown(data_clock_ms(rule.metric), interval)
                                           : (counter ? AlignUp(next_point + 1, interval)
                                                      : AlignUp(next_point, interval)) -
                                                 interval;
    rt.last_step_ms = std::max(t, resume);
    return;
  }

  auto value_of = [&](const GroupAcc* acc) -> std::optional<double> {
    if (acc == nullptr) return counter ? std::optional<double>(0) : std::nullopt;
    switch (rule.function) {
      case RuleFunction::kRate: return acc->sum / (static_cast<double>(w) / 1000.0);
      case RuleFunction::kIncrease: return acc->sum;
      case RuleFunction::kAvg: return acc->n ? std::optional<double>(acc->sum / acc->n) : std::nullopt;
      case RuleFunction::kMax: return acc->n ? std::optional<double>(acc->max) : std::nullopt;
      case RuleFunction::kMin: return acc->n ? std::optional<double>(acc->min) : std::nullopt;
      case RuleFunction::kLast:
        return acc->last_n ? std::optional<double>(acc->last_sum / acc->last_n) : std::nullopt;
    }
    return std::nullopt;
  };

  const bool has_baseline = IsBaseline(rule.warning) || IsBaseline(rule.critical);
  // Warning and critical baselines that learn the same way share one estimator.
  const bool shared_estimator = IsBaseline(rule.warning) && IsBaseline(rule.critical) &&
                                SameLearning(*rule.warning->baseline, *rule.critical->baseline);
  size_t gi = 0;
  auto state_cursor = rt.states.begin();  // the first state not yet visited
  auto bit = rt.baselines.begin();        // a position at or before the next group's baselines
  // Every group with a value or an alert state, in label order.
  while (gi < groups.size() || state_cursor != rt.states.end()) {
    const Labels* g = nullptr;
    const GroupAcc* acc = nullptr;
    bool has_state = false;
    if (state_cursor == rt.states.end()) {
      g = &groups[gi].first;
      acc = &groups[gi++].second;
    } else if (gi == groups.size()) {
      g = &state_cursor->first;
      has_state = true;
    } else {
      auto c = groups[gi].first <=> state_cursor->first;
      has_state = c >= 0;
      if (c <= 0) {
        g = &groups[gi].first;
        acc = &groups[gi++].second;
      } else {
        g = &state_cursor->first;
      }
    }
    std::optional<double> value = value_of(acc);
    GroupBaselines* gb = nullptr;
    if (has_baseline) {
      // Groups come in order: a few steps forward usually finds the entry.
      for (int n = 0; n < 8 && bit != rt.baselines.end() && bit->first < *g; ++n) ++bit;
      if (bit != rt.baselines.end() && bit->first < *g) bit = rt.baselines.lower_bound(*g);
      if (bit == rt.baselines.end() || bit->first != *g) bit = rt.baselines.emplace_hint(bit, *g, GroupBaselines{});
      gb = &bit->second;
      if (IsBaseline(rule.warning) && !gb->warning) gb->warning = MakeBaselineEstimator(*rule.warning->baseline);
      if (IsBaseline(rule.critical) && !shared_estimator && !gb->critical) {
        gb->critical = MakeBaselineEstimator(*rule.critical->baseline);
      }
      const BaselineEstimator* critical_est = shared_estimator ? gb->warning.get() : gb->critical.get();
      gb->warning_band = gb->warning ? gb->warning->Expected(t) : std::nullopt;
      gb->critical_band = critical_est ? critical_est->Expected(t) : std::nullopt;
    }
    std::optional<Severity> level;
    if (value) {
      if (rule.critical && ConditionHolds(*rule.critical, *value, gb ? gb->critical_band : std::nullopt)) {
        level = Severity::kCritical;
      } else if (rule.warning && ConditionHolds(*rule.warning, *value, gb ? gb->warning_band : std::nullopt)) {
        level = Severity::kWarning;
      }
      // The estimators learn every value, anomalous ones included (a lasting shift becomes
      // the new normal after about one window).
      if (gb && gb->warning) gb->warning->Add(t, *value);
      if (gb && gb->critical) gb->critical->Add(t, *value);
    }
    std::map<Labels, AlertState>::iterator sit;
    if (has_state) {
      sit = state_cursor++;
    } else {
      if (!level) continue;
      AlertState fresh;
      fresh.dedup_key = MakeDedupKey(rule.group, rule.alert, *g);
      fresh.labels = *g;
      sit = rt.states.emplace_hint(state_cursor, *g, std::move(fresh));
    }
    AlertState& st = sit->second;
    if (value) st.value = *value;
    AlertTransition tr = StepAlert(st, level, t, rule.for_duration);
    if (tr != AlertTransition::kNone) {
      std::optional<double> baseline;
      if (gb) {
        const auto& band = st.severity == Severity::kCritical ? gb->critical_band : gb->warning_band;
        if (band) baseline = band->center;
      }
      SendPage(rule, st, tr, t, baseline);
    }
    if (st.phase == AlertPhase::kInactive) rt.states.erase(sit);  // `g` may dangle from here
  }
}

void Alerter::SendPage(const AlertRule& rule, const AlertState& state, AlertTransition tr,
                       int64_t t, std::optional<double> baseline) {
  Page page;
  page.dedup_key = state.dedup_key;
  page.action = tr == AlertTransition::kResolve ? PageAction::kResolve : PageAction::kTrigger;
  page.severity = state.severity;
  page.alert = rule.alert;
  page.group = rule.group;
  std::map<std::string, std::string> labels(state.labels.begin(), state.labels.end());
  for (const auto& [k, v] : rule.labels) labels[k] = v;  // rule labels win
  labels["alertname"] = rule.alert;
  page.labels.assign(labels.begin(), labels.end());
  for (const auto& [k, tmpl] : rule.annotations) {
    page.annotations.emplace_back(
        k, ExpandTemplate(tmpl, page.labels, state.value, SeverityName(state.severity), rule.alert));
  }
  page.value = state.value;
  page.time_ms = t;

  switch (tr) {
    case AlertTransition::kTrigger:
      (state.severity == Severity::kCritical ? stats_.triggers_critical : stats_.triggers_warning)++;
      break;
    case AlertTransition::kEscalate: stats_.escalations++; break;
    case AlertTransition::kDowngrade: stats_.downgrades++; break;
    case AlertTransition::kResolve: stats_.resolves++; break;
    case AlertTransition::kNone: break;
  }
  AlerterProbe::Page(AlertTransitionName(tr), SeverityName(state.severity));

  PageRecord record{page, tr, true, baseline};
  for (auto& n : notifiers_) {
    Status st = n->Notify(page);
    if (!st.ok()) {
      record.delivered = false;
      spdlog::error("alerter: page {} ({} {}) not delivered by {}: {}", page.dedup_key,
                    page.alert, AlertTransitionName(tr), n->name(), st.ToString());
    }
  }
  if (!record.delivered) stats_.notify_failures++;
  pages_.push_back(std::move(record));
  if (pages_.size() > options_.max_page_records && options_.max_page_records > 0) {
    pages_.erase(pages_.begin(), pages_.begin() + pages_.size() / 2);
  }
}

void Alerter::Prune() {
  // Every future step of rule i reads points at or after NextStep(i) - window; per metric,
  // the horizon is the earliest of those over the rules on that metric.
  for (auto& [metric, mc] : clocks_) {
    int64_t horizon = kNoStep;
    bool warming = false;
    for (size_t i = 0; i < rules_->rules.size(); ++i) {
      if (rules_->rules[i].metric != metric) continue;
      int64_t next = NextStep(i);
      if (next == kNoStep || runtime_[i].last_step_ms < 0) warming = true;
      else horizon = std::min(horizon, next - rules_->rules[i].window.count());
    }
    if (!warming && horizon != kNoStep) mc.prune_horizon_ms = std::max(mc.prune_horizon_ms, horizon);
  }
  for (auto nit = series_.begin(); nit != series_.end();) {
    auto& by_labels = nit->second;
    const int64_t horizon = clocks_[nit->first].prune_horizon_ms;
    for (auto sit = by_labels.begin(); sit != by_labels.end();) {
      auto& points = sit->second.points;
      points.erase(points.begin(), points.lower_bound(horizon));
      sit = points.empty() ? by_labels.erase(sit) : std::next(sit);
    }
    nit = by_labels.empty() ? series_.erase(nit) : std::next(nit);
  }
  size_t pending = 0, firing = 0;
  for (const auto& rt : runtime_) {
    for (const auto& [g, st] : rt.states) (st.phase == AlertPhase::kFiring ? firing : pending)++;
  }
  AlerterProbe::SetGauges(pending, firing, series_count(), data_clock_ms() / 1000.0);
}

}  // namespace logship::alerter
