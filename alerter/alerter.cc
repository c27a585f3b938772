#include "alerter/alerter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <compare>
#include <limits>
#include <optional>
#include <set>

#include "alerter/alerter_probe.h"
#include "alerter/counter_rate.h"

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

// The group a series belongs to: its values of the rule's `by` labels (absent and empty
// ones omitted).
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

// Reads a group's labels one pair at a time, without building them: either a group's own
// labels (`by` null), or a series' labels read through a rule's `by` in place, yielding
// exactly the pairs GroupOf() would build, in order. REQUIRES: the series' labels are
// sorted (Ingest() sorts them) and `by` is sorted and unique (the rule parser's).
class GroupCursor {
 public:
  GroupCursor(const Labels& labels, const std::vector<std::string>* by) : labels_(labels), by_(by) {}
  // The next pair; null at the end.
  const std::pair<std::string, std::string>* Next() {
    if (by_ == nullptr) return i_ < labels_.size() ? &labels_[i_++] : nullptr;
    while (i_ < labels_.size() && j_ < by_->size()) {
      const auto& l = labels_[i_];
      const int c = l.first.compare((*by_)[j_]);
      if (c < 0) {
        ++i_;
      } else if (c > 0) {
        ++j_;
      } else {
        // The first pair of that name decides, as in GroupOf() (an empty value: absent).
        ++i_;
        ++j_;
        if (!l.second.empty()) return &l;
      }
    }
    return nullptr;
  }

 private:
  const Labels& labels_;
  const std::vector<std::string>* by_;
  size_t i_ = 0, j_ = 0;
};

// Compares two groups as their built Labels would compare.
std::strong_ordering CompareGroups(GroupCursor a, GroupCursor b) {
  while (true) {
    const auto* x = a.Next();
    const auto* y = b.Next();
    if (x == nullptr || y == nullptr) {
      return x == y ? std::strong_ordering::equal : x == nullptr ? std::strong_ordering::less
                                                                 : std::strong_ordering::greater;
    }
    if (auto c = *x <=> *y; c != 0) return c;
  }
}

// A series' points: the first at or after `t`, the first after `t`.
template <class Points>
auto PointsFrom(Points& points, int64_t t) {
  return std::lower_bound(points.begin(), points.end(), t, [](const auto& p, int64_t x) { return p.first < x; });
}
template <class Points>
auto PointsAfter(Points& points, int64_t t) {
  return std::upper_bound(points.begin(), points.end(), t, [](int64_t x, const auto& p) { return x < p.first; });
}
// Drops a series' points before `horizon` (no future step reads them).
template <class Points>
void DropBefore(Points& points, int64_t horizon) {
  if (!points.empty() && points.front().first < horizon) points.erase(points.begin(), PointsFrom(points, horizon));
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

// The fields of an AlertState worth persisting, without copying its labels.
struct DurableView {
  AlertPhase phase;
  Severity severity, paged;
  int64_t warning_since, critical_since, critical_clear_since, clear_since, fired_at;
  bool open, flapping;
  size_t flips;
  int64_t last_flip;
  explicit DurableView(const AlertState& s)
      : phase(s.phase),
        severity(s.severity),
        paged(s.paged_severity),
        warning_since(s.warning_since_ms),
        critical_since(s.critical_since_ms),
        critical_clear_since(s.critical_clear_since_ms),
        clear_since(s.clear_since_ms),
        fired_at(s.fired_at_ms),
        open(s.open),
        flapping(s.flapping),
        flips(s.flips.size()),
        last_flip(s.flips.empty() ? -1 : s.flips.back()) {}
  bool operator==(const DurableView&) const = default;
};

// How much data time may pass before a rule's progress is persisted without other news.
constexpr int64_t kProgressEveryMs = 60'000;

// What the series of one group contribute at a step (to the rule's side or its divisor's).
struct Agg {
  double sum = 0;  // delta counters: deltas; cumulative: each series' increase; gauges: points
  double max = -std::numeric_limits<double>::infinity();
  double min = std::numeric_limits<double>::infinity();
  double last_sum = 0;  // gauges: sum over series of each series' newest point
  uint32_t n = 0;       // gauges: points
  uint32_t last_n = 0;  // gauges: series with a point
  uint32_t points = 0;  // points in the window, any kind (min_samples)
  bool has = false;     // some series contributed
  void Merge(const Agg& b) {
    sum += b.sum;
    max = std::max(max, b.max);
    min = std::min(min, b.min);
    last_sum += b.last_sum;
    n += b.n;
    last_n += b.last_n;
    points += b.points;
    has = has || b.has;
  }
};
struct GroupAcc {
  Agg num;  // the series the rule selects
  Agg den;  // the divide_by series (only with divide_by)
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
  auto sink = std::make_unique<DirectPageSink>(std::move(notifiers));
  PageSink* raw = sink.get();
  return std::unique_ptr<Alerter>(new Alerter(std::move(rules), std::move(sink), raw, options));
}

std::unique_ptr<Alerter> Alerter::Create(std::shared_ptr<const RuleSet> rules, PageSink* sink,
                                         AlerterOptions options) {
  return std::unique_ptr<Alerter>(new Alerter(std::move(rules), nullptr, sink, options));
}

Alerter::Alerter(std::shared_ptr<const RuleSet> rules, std::unique_ptr<PageSink> owned_sink, PageSink* sink,
                 AlerterOptions options)
    : rules_(std::move(rules)),
      owned_sink_(std::move(owned_sink)),
      sink_(sink),
      options_(options),
      progress_written_(rules_->rules.size(), -1),
      runtime_(rules_->rules.size()),
      scratch_(std::make_unique<StepScratch>()) {}

struct Alerter::StepScratch {
  struct Group {
    const Labels* labels;  // its first series' labels (read through the rule's `by`)
    Series* series;        // its first series
    GroupAcc acc;
  };
  std::vector<Group> groups;  // one rule step's groups; cleared at each step
};

Alerter::~Alerter() = default;

std::string Alerter::RuleKey(const AlertRule& rule) { return rule.group + "/" + rule.alert; }

Status Alerter::Restore(const EvaluatorSnapshot& snapshot) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < rules_->rules.size(); ++i) index[RuleKey(rules_->rules[i])] = i;
  size_t restored = 0, orphaned = 0;
  for (const auto& [key, state] : snapshot.states) {
    auto it = index.find(key);
    if (it != index.end()) {
      runtime_[it->second].states[state.labels] = state;
      ++restored;
      continue;
    }
    // The rule is gone (edited away): close what it left open, forget the state.
    ++orphaned;
    if (state.open) {
      Page page;
      page.dedup_key = state.dedup_key;
      page.action = PageAction::kResolve;
      page.severity = state.paged_severity;
      size_t slash = key.find('/');
      page.group = key.substr(0, slash);
      page.alert = slash == std::string::npos ? key : key.substr(slash + 1);
      std::map<std::string, std::string> labels(state.labels.begin(), state.labels.end());
      labels["alertname"] = page.alert;
      page.labels.assign(labels.begin(), labels.end());
      page.annotations = {{"summary", page.alert + " resolved: its rule was removed"}};
      page.value = state.value;
      page.time_ms = std::max<int64_t>(state.last_eval_ms, 0);
      page.starts_ms = std::max<int64_t>(state.fired_at_ms, 0);
      pending_.pages.push_back(page);
      pending_records_.push_back(PageRecord{page, AlertTransition::kResolve, false, std::nullopt});
      stats_.resolves++;
    }
    StateChange gone;
    gone.rule = key;
    gone.state.dedup_key = state.dedup_key;
    gone.erased = true;
    pending_.states.push_back(std::move(gone));
  }
  for (const auto& [key, ms] : snapshot.progress) {
    auto it = index.find(key);
    if (it == index.end()) continue;
    runtime_[it->second].last_step_ms = ms;
    runtime_[it->second].restored = true;
    progress_written_[it->second] = ms;
  }
  if (restored || orphaned) {
    spdlog::info("alerter: restored {} alert state(s); {} of removed rules", restored, orphaned);
  }
  Flush();
  return Status::Ok();
}

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
    for (const auto& [labels, state] : rt.states) {
      if (state.phase != AlertPhase::kInactive || state.open) out.push_back(state);
    }
  }
  return out;
}

int8_t Alerter::RuleSelection(size_t i, const std::string& name, const Labels& labels, Series& series) {
  int8_t& sel = series.selected[i];
  if (sel < 0) {
    const AlertRule& rule = rules_->rules[i];
    sel = 0;
    if (rule.metric == name) {
      bool yes = true;
      for (const auto& m : rule.matchers) yes = yes && m.Matches(labels);
      if (yes) sel |= kSelected;
      if (rule.divide_by) {
        yes = true;
        for (const auto& m : rule.divide_by->matchers) yes = yes && m.Matches(labels);
        if (yes) sel |= kDivisor;
      }
    }
  }
  return sel;
}

bool Alerter::ReadsCumulative(size_t i) const {
  const AlertRule& rule = rules_->rules[i];
  if (!IsCounterFunction(rule.function) || rule.counter == CounterKind::kDelta) return false;
  if (rule.counter == CounterKind::kCumulative) return true;
  auto it = clocks_.find(rule.metric);
  return it != clocks_.end() && it->second.cumulative;
}

void Alerter::Ingest(std::span<const Sample> samples) { Ingest(samples, {}); }

void Alerter::Ingest(std::span<const Sample> samples, std::span<const uint8_t> cumulative) {
  const size_t nrules = rules_->rules.size();
  uint64_t late = 0, ignored = 0;
  for (size_t k = 0; k < samples.size(); ++k) {
    const Sample& s = samples[k];
    bool named = false;
    for (const auto& rule : rules_->rules) named = named || rule.metric == s.name;
    if (!named) {
      ++ignored;
      continue;
    }
    MetricClock& mc = clocks_[s.name];
    if (k < cumulative.size() && cumulative[k]) mc.cumulative = true;
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
      fresh.selected.assign(nrules, -1);
      bool any = false;
      for (size_t i = 0; i < nrules; ++i) any = RuleSelects(i, s.name, *labels, fresh) || any;
      if (!any) {
        ++ignored;
        if (by_labels.empty()) series_.erase(s.name);
        continue;
      }
      it = by_labels.emplace(*labels, std::move(fresh)).first;
    }
    auto& points = it->second.points;
    DropBefore(points, mc.prune_horizon_ms);  // see Prune()
    auto pit = points.end();
    if (points.empty() || points.back().first < s.time_ms) {
      points.emplace_back(s.time_ms, Point{});  // the usual case: the newest point
      pit = std::prev(points.end());
    } else if (pit = PointsFrom(points, s.time_ms); pit->first != s.time_ms) {
      pit = points.emplace(pit, s.time_ms, Point{});
    }
    Point& p = pit->second;
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
  auto it = clocks_.find(rule.metric);
  if (runtime_[i].last_step_ms >= 0) {
    const int64_t next = runtime_[i].last_step_ms + interval;
    if (!runtime_[i].restored) return next;
    // After a restart: past the persisted step, and a full window of new data behind it.
    if (it == clocks_.end() || it->second.oldest_ms < 0) return kNoStep;
    return std::max(next, AlignUp(it->second.oldest_ms + rule.window.count(), interval));
  }
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
  Flush();
}

void Alerter::Flush() {
  const bool news = !pending_.pages.empty() || !pending_.states.empty();
  for (size_t i = 0; i < rules_->rules.size(); ++i) {
    const int64_t step = runtime_[i].last_step_ms;
    if (step < 0 || step == progress_written_[i]) continue;
    if (news || progress_written_[i] < 0 || step - progress_written_[i] >= kProgressEveryMs) {
      pending_.progress.emplace_back(RuleKey(rules_->rules[i]), step);
      progress_written_[i] = step;
    }
  }
  if (pending_.empty()) return;
  std::vector<bool> failed;
  Status st = sink_->Submit(pending_, &failed);
  if (!st.ok()) {
    stats_.submit_failures++;
    AlerterProbe::SubmitFailed();
    spdlog::error("alerter: {} page(s) and {} state change(s) not taken yet (retried after the next evaluation): {}",
                  pending_.pages.size(), pending_.states.size(), st.ToString());
    return;
  }
  for (size_t i = 0; i < pending_records_.size(); ++i) {
    PageRecord& rec = pending_records_[i];
    rec.delivered = i >= failed.size() || !failed[i];
    if (!rec.delivered) stats_.notify_failures++;
    pages_.push_back(std::move(rec));
  }
  if (pages_.size() > options_.max_page_records && options_.max_page_records > 0) {
    pages_.erase(pages_.begin(), pages_.begin() + pages_.size() / 2);
  }
  pending_ = EvaluationOutput();
  pending_records_.clear();
}

void Alerter::EvaluateRule(size_t i, int64_t t) {
  const AlertRule& rule = rules_->rules[i];
  RuleRuntime& rt = runtime_[i];
  const int64_t w = rule.window.count();
  const bool counter = IsCounterFunction(rule.function);
  const AlertTiming timing = TimingOf(rule);
  rt.last_step_ms = t;
  rt.restored = false;
  ++stats_.evaluations;

  // Counters are delta (buckets) or cumulative (running totals, read like Prometheus).
  const bool cumulative = ReadsCumulative(i);
  const bool delta = counter && !cumulative;

  // Groups as a vector sorted by labels (series arrive in label order, so a group's series
  // are usually adjacent and no sort is needed); then merged in order with the alert
  // states and the baselines, so no group's labels are looked up in a map. A group is
  // named by the labels of its first series, read through `by` in place (GroupCursor):
  // its Labels are only built for a new alert state or baseline entry.
  auto series_group = [&](const Labels& series_labels) { return GroupCursor(series_labels, &rule.by); };
  auto own_group = [](const Labels& group_labels) { return GroupCursor(group_labels, nullptr); };
  std::vector<StepScratch::Group>& groups = scratch_->groups;
  groups.clear();
  bool groups_sorted = true;
  int64_t next_point = kNoStep;  // the earliest point after this step's window (gap skipping)
  if (auto sit = series_.find(rule.metric); sit != series_.end()) {
    auto& by_labels = sit->second;
    const int64_t horizon = clocks_[rule.metric].prune_horizon_ms;
    for (auto it = by_labels.begin(); it != by_labels.end();) {
      // Points no step reads any more go first (see Prune()); a series left without
      // points is forgotten.
      DropBefore(it->second.points, horizon);
      if (it->second.points.empty()) {
        it = by_labels.erase(it);
        continue;
      }
      const Labels& labels = it->first;
      Series& series = it->second;
      ++it;
      const int8_t sel = RuleSelection(i, rule.metric, labels, series);
      if (sel == 0) continue;
      // Delta counters: buckets starting in [t-w, t). Gauges, cumulative counters: points in (t-w, t].
      auto lo = delta ? PointsFrom(series.points, t - w) : PointsAfter(series.points, t - w);
      auto hi = delta ? PointsFrom(series.points, t) : PointsAfter(series.points, t);
      if (hi != series.points.end()) next_point = std::min(next_point, hi->first);
      // A delta counter series counts (possibly as 0) once it has started; a cumulative one
      // with two points in the window; a gauge with one.
      std::optional<double> increase;
      if (cumulative) {
        increase = CumulativeIncrease(
            lo, hi, t - w, t, [](auto it) { return it->first; }, [](auto it) { return it->second.last; });
        if (!increase) continue;
      } else if (delta ? series.points.begin()->first >= t : lo == hi) {
        continue;
      }
      const auto order = groups.empty() ? std::strong_ordering::greater
                                        : CompareGroups(series_group(labels), series_group(*groups.back().labels));
      if (order != 0) {
        if (order < 0) groups_sorted = false;
        groups.push_back(StepScratch::Group{&labels, &series, GroupAcc{}});
      }
      auto add = [&](Agg& acc) {
        acc.has = true;
        if (cumulative) {
          acc.sum += *increase;
          acc.points += static_cast<uint32_t>(std::distance(lo, hi));
          return;
        }
        for (auto p = lo; p != hi; ++p) {
          acc.points++;
          if (delta) {
            acc.sum += p->second.sum;
          } else {
            acc.sum += p->second.last;
            acc.n++;
            acc.max = std::max(acc.max, p->second.last);
            acc.min = std::min(acc.min, p->second.last);
          }
        }
        if (!delta && lo != hi) {
          acc.last_sum += std::prev(hi)->second.last;
          acc.last_n++;
        }
      };
      if (sel & kSelected) add(groups.back().acc.num);
      if (sel & kDivisor) add(groups.back().acc.den);
    }
  }
  if (!groups_sorted) {
    // A group's series were not adjacent: sort (stable: series order within a group is
    // kept) and combine the partial accumulators of each group.
    std::stable_sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
      return CompareGroups(series_group(*a.labels), series_group(*b.labels)) < 0;
    });
    size_t out = 0;
    for (size_t k = 1; k < groups.size(); ++k) {
      if (CompareGroups(series_group(*groups[k].labels), series_group(*groups[out].labels)) == 0) {
        groups[out].acc.num.Merge(groups[k].acc.num);
        groups[out].acc.den.Merge(groups[k].acc.den);
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
                                           : (delta ? AlignUp(next_point + 1, interval)
                                                    : AlignUp(next_point, interval)) -
                                                 interval;
    rt.last_step_ms = std::max(t, resume);
    return;
  }

  // The function's value over one side (the selected series or the divisor's).
  auto agg_value = [&](const Agg* acc) -> std::optional<double> {
    // A started delta counter without events in the window is 0; anything else without
    // data has no value.
    if (acc == nullptr || !acc->has) return delta ? std::optional<double>(0) : std::nullopt;
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
  // A group's value: the guards, then the function (divided by the divisor's).
  auto value_of = [&](const GroupAcc* acc) -> std::optional<double> {
    const Agg* num = acc ? &acc->num : nullptr;
    const Agg* den = acc ? &acc->den : nullptr;
    if (rule.min_samples > 0) {
      const Agg* guarded = rule.divide_by ? den : num;
      if (guarded == nullptr || guarded->points < rule.min_samples) return std::nullopt;
    }
    std::optional<double> v = agg_value(num);
    if (!rule.divide_by || !v) return v;
    std::optional<double> d = agg_value(den);
    if (!d || *d == 0 || *d < rule.divide_by->min_value) return std::nullopt;
    return *v / *d;
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
    // The group: a series' labels read through `by` (a group with a value), or an alert
    // state's own labels (a group without one).
    const Labels* g = nullptr;
    bool g_series = false;
    Series* first_series = nullptr;  // the group's first series (a group with a value)
    const GroupAcc* acc = nullptr;
    bool has_state = false;
    auto take_group = [&] {
      g = groups[gi].labels;
      g_series = true;
      first_series = groups[gi].series;
      acc = &groups[gi++].acc;
    };
    if (state_cursor == rt.states.end()) {
      take_group();
    } else if (gi == groups.size()) {
      g = &state_cursor->first;
      has_state = true;
    } else {
      auto c = CompareGroups(series_group(*groups[gi].labels), own_group(state_cursor->first));
      has_state = c >= 0;
      if (c <= 0) {
        take_group();
      } else {
        g = &state_cursor->first;
      }
    }
    auto g_cursor = [&] { return g_series ? series_group(*g) : own_group(*g); };
    auto g_labels = [&] { return g_series ? GroupOf(rule, *g) : *g; };  // built: new entries only
    std::optional<double> value = value_of(acc);
    GroupBaselines* gb = nullptr;
    // The bands the estimators expected before this value (nullopt: no baseline verdict).
    std::optional<BaselineBand> warning_band, critical_band;
    if (has_baseline) {
      if (first_series != nullptr && first_series->baselines_rule == i) {
        gb = first_series->baselines;
      } else {
        // Not cached (a group's new first series, a second baseline rule on the series,
        // or a group with only an alert state): walk. Groups come in order, so a few
        // steps forward usually find the entry; one three-way comparison per entry.
        std::strong_ordering c = std::strong_ordering::greater;
        for (int n = 0; n < 8 && bit != rt.baselines.end(); ++n, ++bit) {
          c = CompareGroups(own_group(bit->first), g_cursor());
          if (c >= 0) break;
        }
        if (bit != rt.baselines.end() && c < 0) {
          bit = rt.baselines.lower_bound(g_labels());
          c = bit == rt.baselines.end() ? std::strong_ordering::greater
                                        : CompareGroups(own_group(bit->first), g_cursor());
        } else if (bit == rt.baselines.end()) {
          c = std::strong_ordering::greater;
        }
        if (c != 0) bit = rt.baselines.emplace_hint(bit, g_labels(), GroupBaselines{});
        gb = &bit->second;
        if (first_series != nullptr && first_series->baselines_rule == kNoRule) {
          first_series->baselines = gb;
          first_series->baselines_rule = static_cast<uint32_t>(i);
        }
      }
      if (IsBaseline(rule.warning) && !gb->warning) gb->warning = MakeBaselineEstimator(*rule.warning->baseline);
      if (IsBaseline(rule.critical) && !shared_estimator && !gb->critical) {
        gb->critical = MakeBaselineEstimator(*rule.critical->baseline);
      }
      warning_band = gb->warning ? gb->warning->Expected(t) : std::nullopt;
      if (shared_estimator) {
        critical_band = warning_band;
      } else if (gb->critical) {
        critical_band = gb->critical->Expected(t);
      }
    }
    std::optional<Severity> level;
    if (value) {
      if (rule.critical && ConditionHolds(*rule.critical, *value, gb ? critical_band : std::nullopt)) {
        level = Severity::kCritical;
      } else if (rule.warning && ConditionHolds(*rule.warning, *value, gb ? warning_band : std::nullopt)) {
        level = Severity::kWarning;
      }
      // The estimators learn every value, anomalous ones included (a lasting shift becomes
      // the new normal after about one window).
      if (gb && gb->warning) gb->warning->Add(t, *value);
      if (gb && gb->critical) gb->critical->Add(t, *value);
      // No verdict is not recovery: an open alert whose paged severity is a baseline
      // condition still warming up (after a restart) keeps that severity.
      if (has_state && gb && state_cursor->second.open) {
        const Severity held = state_cursor->second.paged_severity;
        const auto& cond = held == Severity::kCritical ? rule.critical : rule.warning;
        const auto& band = held == Severity::kCritical ? critical_band : warning_band;
        if (IsBaseline(cond) && !band && (!level || *level < held)) level = held;
      }
    }
    std::map<Labels, AlertState>::iterator sit;
    if (has_state) {
      sit = state_cursor++;
    } else {
      if (!level) continue;
      Labels key = g_labels();
      AlertState fresh;
      fresh.dedup_key = MakeDedupKey(rule.group, rule.alert, key);
      fresh.labels = key;
      sit = rt.states.emplace_hint(state_cursor, std::move(key), std::move(fresh));
    }
    AlertState& st = sit->second;
    if (st.last_eval_ms >= t) continue;  // a restored state already judged at this step
    if (value) st.value = *value;
    const DurableView before(st);
    const bool fresh_state = st.last_eval_ms < 0;
    const int64_t opened_at = st.fired_at_ms;
    AlertTransition tr = StepAlert(st, level, t, timing, options_.flap);
    if (tr != AlertTransition::kNone) {
      std::optional<double> baseline;
      if (gb) {
        const auto& band = st.paged_severity == Severity::kCritical ? critical_band : warning_band;
        if (band) baseline = band->center;
      }
      SendPage(rule, st, tr, t, baseline, tr == AlertTransition::kResolve ? opened_at : st.fired_at_ms);
    }
    if (st.Idle()) {
      if (!fresh_state) pending_.states.push_back(StateChange{RuleKey(rule), AlertState{st.dedup_key}, true});
      rt.states.erase(sit);  // `g` may dangle from here
    } else if (fresh_state || !(DurableView(st) == before)) {
      pending_.states.push_back(StateChange{RuleKey(rule), st, false});
    }
  }
}

void Alerter::SendPage(const AlertRule& rule, const AlertState& state, AlertTransition tr,
                       int64_t t, std::optional<double> baseline, int64_t opened_at_ms) {
  Page page;
  page.dedup_key = state.dedup_key;
  page.action = tr == AlertTransition::kResolve ? PageAction::kResolve : PageAction::kTrigger;
  page.severity = state.paged_severity;
  page.alert = rule.alert;
  page.group = rule.group;
  page.metric = rule.metric;
  page.starts_ms = std::max<int64_t>(opened_at_ms, 0);
  page.flapping = state.flapping;
  if (tr == AlertTransition::kEscalate) page.previous_severity = Severity::kWarning;
  if (tr == AlertTransition::kDowngrade) page.previous_severity = Severity::kCritical;
  std::map<std::string, std::string> labels(state.labels.begin(), state.labels.end());
  for (const auto& [k, v] : rule.labels) labels[k] = v;  // rule labels win
  labels["alertname"] = rule.alert;
  page.labels.assign(labels.begin(), labels.end());
  for (const auto& [k, tmpl] : rule.annotations) {
    page.annotations.emplace_back(
        k, ExpandTemplate(tmpl, page.labels, state.value, SeverityName(state.paged_severity), rule.alert));
  }
  page.value = state.value;
  page.time_ms = t;

  switch (tr) {
    case AlertTransition::kTrigger:
      (state.paged_severity == Severity::kCritical ? stats_.triggers_critical : stats_.triggers_warning)++;
      break;
    case AlertTransition::kEscalate: stats_.escalations++; break;
    case AlertTransition::kDowngrade: stats_.downgrades++; break;
    case AlertTransition::kResolve: stats_.resolves++; break;
    case AlertTransition::kNone: break;
  }
  AlerterProbe::Page(AlertTransitionName(tr), SeverityName(state.paged_severity));
  pending_records_.push_back(PageRecord{page, tr, false, baseline});
  pending_.pages.push_back(std::move(page));
}

void Alerter::Prune() {
  // Every future step of rule i reads points at or after NextStep(i) - window; per metric,
  // the horizon is the earliest of those over the rules on that metric. Points before it
  // are dropped when their series is next touched: by Ingest() (before adding a point) or
  // by a step (before reading it, and a series left empty is erased then), rather than by
  // a sweep over every series here, which cost a quarter of a tick in cache misses. Steps
  // read exactly what they would after a sweep: nothing before the horizon.
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
    nit = nit->second.empty() ? series_.erase(nit) : std::next(nit);
  }
  size_t pending = 0, firing = 0;
  for (const auto& rt : runtime_) {
    for (const auto& [g, st] : rt.states) {
      if (st.open) {
        ++firing;
      } else if (st.phase != AlertPhase::kInactive) {
        ++pending;
      }
    }
  }
  AlerterProbe::SetGauges(pending, firing, series_count(), data_clock_ms() / 1000.0);
}

}  // namespace logship::alerter
