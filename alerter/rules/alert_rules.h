// Alert rules: Prometheus-style rule groups loaded from YAML (rules/alerts/*.yaml), compiled
// once into an immutable RuleSet shared by the evaluator. The reference is docs/alerting.md.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alerter/baseline/baseline.h"
#include "logship/event.h"
#include "logship/status.h"

namespace re2 {
class RE2;
}

namespace logship::alerter {

using Millis = std::chrono::milliseconds;

// One label matcher. Written in YAML as `label: VALUE` where VALUE is
//   "x" or "=x"  equal,  "!=x" not equal,  "=~re" or "re:re" matches,  "!~re" does not.
// Regexes are RE2, fully anchored (Prometheus semantics). A missing label is "".
struct LabelMatcher {
  enum class Op { kEqual, kNotEqual, kRegex, kNotRegex };
  std::string label;
  Op op = Op::kEqual;
  std::string value;                   // the literal, or the regex source
  std::shared_ptr<const re2::RE2> re;  // set for kRegex / kNotRegex

  bool Matches(const Labels& labels) const;
};

// Builds a matcher from its YAML text form (above), e.g. ("status", "=~5.."). InvalidArgument
// for a bad label name or regex.
Result<LabelMatcher> MakeLabelMatcher(const std::string& label, const std::string& text);

// How a rule turns the points in its window into one value per group.
enum class RuleFunction {
  kRate,      // counters: events per second over the window (delta or cumulative, below)
  kIncrease,  // counters: events in the window
  kAvg,       // gauges: mean of every point in the window (pooled over the group's series)
  kMax,       // gauges: largest point
  kMin,       // gauges: smallest point
  kLast,      // gauges: each series' newest point, averaged over the group's series
};
const char* RuleFunctionName(RuleFunction f);
inline bool IsCounterFunction(RuleFunction f) {
  return f == RuleFunction::kRate || f == RuleFunction::kIncrease;
}

// How rate/increase read a counter's samples (docs/alerting.md, "Counters").
enum class CounterKind {
  kAuto,        // cumulative when the metric came from a scrape typed as a counter, else delta
  kDelta,       // each sample is the count of its 10 s bucket (parsers' derived counters)
  kCumulative,  // each sample is a running total; a decrease is a reset (Prometheus)
};
const char* CounterKindName(CounterKind k);

// `divide_by`: the rule's value is the function over its selected series divided by the
// same function over these series (same metric, same window, same `by` groups), e.g.
// busy CPU seconds / all CPU seconds, or 5xx requests / all requests.
struct RuleDivisor {
  std::vector<LabelMatcher> matchers;
  // Low-volume guard: a group whose divisor value is below this has no value.
  double min_value = 0;
};

enum class Severity { kWarning = 1, kCritical = 2 };
const char* SeverityName(Severity s);  // "warning", "critical"

// When a severity's condition holds: a static threshold (`{above: N}` value > N,
// `{at_least: N}` value >= N, `{below: N}` value < N, `{at_most: N}` value <= N) or
// a learned baseline (`{baseline: {...}}`: the value is off the series' own history; the
// per-group estimator state lives in the Alerter, see alerter/alerter.cc, ConditionHolds()).
struct Condition {
  enum class Method { kStatic, kBaseline };
  enum class Direction { kAbove, kBelow };
  Method method = Method::kStatic;
  Direction direction = Direction::kAbove;  // static only
  bool inclusive = false;                   // static only: at_least / at_most (>=, <=)
  double threshold = 0;                     // static only
  std::shared_ptr<const BaselineSpec> baseline;  // set for kBaseline

  // Static: value > threshold (above), >= (at_least), < (below) or <= (at_most).
  bool Holds(double value) const {
    if (direction == Direction::kAbove) return inclusive ? value >= threshold : value > threshold;
    return inclusive ? value <= threshold : value < threshold;
  }
};

struct AlertRule {
  std::string group;     // the rule group's name
  std::string alert;     // the alert's name
  std::string metric;    // sample name selected
  std::vector<LabelMatcher> matchers;
  RuleFunction function = RuleFunction::kAvg;
  Millis window{0};
  std::vector<std::string> by;  // group-by labels, sorted; empty = one group
  std::optional<Condition> warning;
  std::optional<Condition> critical;
  // `for`: how long a severity's condition must hold before it is paged. `for: 30s` sets
  // both; `for: {warning: 5m, critical: 1m}` sets each (a missing one is 0s).
  Millis for_duration{0};   // the warning's `for`
  Millis critical_for{0};   // the critical's `for`
  // `keep_firing_for`: a firing alert resolves only once no condition held for this long
  // (Prometheus semantics); also delays a CRITICAL -> WARNING downgrade.
  Millis keep_firing_for{0};
  CounterKind counter = CounterKind::kAuto;  // rate/increase only
  std::optional<RuleDivisor> divide_by;
  // Sparse-series guard: a group has no value unless its series hold at least this many
  // points in the window (pooled; cumulative counters: points of the series with a rate).
  size_t min_samples = 0;
  Labels labels;  // extra labels added to pages, sorted
  std::vector<std::pair<std::string, std::string>> annotations;  // templates, sorted by key
  Millis interval{10000};  // evaluation step (the group's interval)
  std::string origin;      // "file:line" of the rule, for messages

  bool Selects(const Sample& sample) const;  // name and matchers
};

struct RuleSet {
  std::vector<AlertRule> rules;
  Millis max_window{0};  // the largest window of any rule: how much history to keep
};

// Parses "500ms", "10s", "1m", "1h30m", "2d". A unit is required; "0s" is allowed.
Result<Millis> ParseDuration(const std::string& text);

// Parses the YAML text of one rule file; `name` is used in messages ("name:line: ...").
Result<std::vector<AlertRule>> ParseAlertRules(const std::string& yaml_text,
                                               const std::string& name);

// Loads every file; an entry may be a file, a directory (its *.yaml / *.yml files, sorted)
// or a glob. Alert names must be unique within a group across all files.
Result<std::shared_ptr<const RuleSet>> LoadAlertRules(const std::vector<std::string>& paths);

// Builds a RuleSet from parsed rules (computes max_window, checks duplicates).
Result<std::shared_ptr<const RuleSet>> MakeRuleSet(std::vector<AlertRule> rules);

// Expands an annotation template: {{ $labels.NAME }}, {{ $value }}, {{ $severity }},
// {{ $alert }}. Values print with printf "%.6g" ("233.333", "0.95", "50").
std::string ExpandTemplate(const std::string& tmpl, const Labels& labels, double value,
                           const std::string& severity, const std::string& alert);
// Returns InvalidArgument naming the first unknown {{ ... }} expression.
Status CheckTemplate(const std::string& tmpl);

std::string FormatValue(double value);

}  // namespace logship::alerter
