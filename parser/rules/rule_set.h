// Parse rules: which grok patterns apply to which events, how the timestamp is read and
// which counters are derived. Loaded from YAML (rules/parse/*.yaml; reference in
// docs/grok.md), compiled once into an immutable RuleSet shared by all parser workers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <re2/set.h>

#include "logship/event.h"
#include "logship/status.h"
#include "parser/grok/grok.h"
#include "parser/rules/timestamp.h"

namespace logship::rules {

inline constexpr const char* kGrokParseFailureTag = "_grokparsefailure";
inline constexpr const char* kDateParseFailureTag = "_dateparsefailure";

// A label value: literal text and %{field} references. "@host", "@source", "@type" and
// "@id" refer to the event's own attributes. A missing field renders as "".
struct LabelTemplate {
  struct Part {
    bool is_field = false;
    std::string text;  // literal text, or the field name
  };
  std::vector<Part> parts;
};

// A counter: +1 per event the rule matched, labelled per `labels`.
struct MetricDecl {
  std::string name;
  std::vector<std::pair<std::string, LabelTemplate>> labels;  // sorted by label name
};

struct TimestampDecl {
  std::string field;
  TimestampFormat format = TimestampFormat::kIso8601;
};

struct Rule {
  std::string name;
  std::string origin;  // "file:line"
  // `when`: every given condition must hold; an empty condition matches anything.
  std::string type;         // exact event type
  std::string source_glob;  // fnmatch(3) on event.source
  std::string host_glob;    // fnmatch(3) on event.host
  std::vector<std::unique_ptr<const grok::Grok>> patterns;  // ordered, first match wins
  std::optional<TimestampDecl> timestamp;
  std::vector<MetricDecl> metrics;

  // One-pass prefilter over `patterns` when there are several (null otherwise).
  std::unique_ptr<re2::RE2::Set> set;
  size_t max_fields = 0;  // most captures of any pattern: the reserve size
};

// Immutable after LoadRuleSet; every method is thread-safe.
class RuleSet {
 public:
  // The rule applied to `event`: the first rule (in file order, files in the order given)
  // whose `when` holds. nullptr when none does.
  const Rule* Select(const Event& event) const;

  // Applies the selected rule: sets fields, replaces time_ns with the extracted timestamp
  // when there is one (tag _dateparsefailure when it does not parse), tags
  // _grokparsefailure when no pattern matched (fields empty, event kept raw). An event
  // that no rule selects is returned unchanged, with no tag.
  ParsedEvent Parse(Event event) const;

  const std::vector<std::unique_ptr<Rule>>& rules() const { return rules_; }

 private:
  friend class RuleSetBuilder;
  int MatchPattern(const Rule& rule, std::string_view raw) const;

  std::vector<std::unique_ptr<Rule>> rules_;
  std::unordered_map<std::string, std::vector<const Rule*>> by_type_;  // typed + untyped
  std::vector<const Rule*> untyped_;                                   // rules without type
};

// Loads every rule file (YAML) against the pattern libraries in `pattern_dirs` (loaded in
// order; a later definition of a name wins). Unknown keys, bad values, duplicate rule
// names and patterns that do not compile are InvalidArgument naming file:line.
Result<std::shared_ptr<const RuleSet>> LoadRuleSet(const std::vector<std::string>& rule_files,
                                                   const std::vector<std::string>& pattern_dirs);
// The same for YAML text in memory; `name` stands for the file name in messages.
Result<std::shared_ptr<const RuleSet>> ParseRuleSet(const std::string& yaml_text,
                                                    const std::string& name,
                                                    const grok::PatternLibrary& library);

// Counts the `metrics:` of the rules per (metric, label values, event-time bucket) and
// hands out the counts as delta samples. Thread-compatible (one per worker, or lock).
class DerivedCounters {
 public:
  explicit DerivedCounters(std::shared_ptr<const RuleSet> rules, int64_t bucket_ms = 10'000);

  // Counts `event` for every metric of the rule that parsed it. Events that no rule
  // selects or that carry _grokparsefailure count nothing.
  void Observe(const ParsedEvent& event);

  // One Sample per (metric name, label set, bucket) observed since the previous call:
  // time_ms = bucket start (event time floored to the bucket width), value = count.
  // Sorted by name, labels, time. Resets the counts.
  std::vector<Sample> TakeDeltas();

  // Swaps the rules (after a reload). Counts already taken are kept.
  void SetRuleSet(std::shared_ptr<const RuleSet> rules) { rules_ = std::move(rules); }

  size_t pending_series() const { return counts_.size(); }

 private:
  struct Entry {
    std::string name;
    Labels labels;
    int64_t bucket_ms;
    uint64_t count;
  };
  std::shared_ptr<const RuleSet> rules_;
  int64_t bucket_ms_;
  std::unordered_map<std::string, Entry> counts_;
  std::string key_;                 // scratch: avoids an allocation per Observe
  std::vector<std::string> values_;  // scratch
};

}  // namespace logship::rules
