// Parse rules: which grok patterns apply to which events, how fields are converted,
// renamed, added and removed, how the timestamp is read, which events are dropped and
// which metrics are derived. Loaded from YAML (rules/parse/*.yaml; reference in
// docs/grok.md), compiled once into an immutable RuleSet shared by all parser workers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <re2/re2.h>
#include <re2/set.h>

#include "logship/event.h"
#include "logship/status.h"
#include "parser/grok/grok.h"
#include "parser/rules/timestamp.h"

namespace logship::rules {

inline constexpr const char* kGrokParseFailureTag = "_grokparsefailure";
inline constexpr const char* kDateParseFailureTag = "_dateparsefailure";

// A value template: literal text and %{field} references. "@host", "@source", "@type" and
// "@id" refer to the event's own attributes. A missing field renders as "".
struct LabelTemplate {
  struct Part {
    bool is_field = false;
    std::string text;  // literal text, or the field name
  };
  std::vector<Part> parts;
  // The template is exactly one %{field}: add_fields then copies the field's typed value.
  bool single_field() const { return parts.size() == 1 && parts[0].is_field; }
};

// A derived metric. Counter: +1 per event the rule matched (or + the value of `field`).
// Histogram: observes the numeric value of `field` into `buckets`.
struct MetricDecl {
  enum class Type { kCounter, kHistogram };
  std::string name;
  Type type = Type::kCounter;
  std::string field;             // histogram: required; counter: optional
  std::vector<double> buckets;   // histogram upper bounds, ascending; +Inf is implied
  std::vector<std::pair<std::string, LabelTemplate>> labels;  // sorted by label name
};

struct TimestampDecl {
  std::string field;
  std::vector<TimestampParser> formats;  // tried in order; the first that parses wins
  std::shared_ptr<const TimeZone> zone;  // for text without an offset
};

// One `drop:` condition; every given test must hold. `field` may be "@host", "@source",
// "@type" or "@id". Values compare as text (numbers in shortest form), except the
// numeric comparisons, which need a number (or numeric text).
struct Condition {
  std::string field;
  std::optional<bool> exists;
  std::optional<std::string> equals;
  std::vector<std::string> in;
  std::unique_ptr<re2::RE2> matches;  // unanchored search
  std::optional<double> gt, gte, lt, lte;
};

struct Rule {
  std::string name;
  std::string origin;  // "file:line"
  // `when`: every given condition must hold; an empty condition matches anything.
  std::string type;         // exact event type
  std::string source_glob;  // fnmatch(3) on event.source
  std::string host_glob;    // fnmatch(3) on event.host
  grok::PatternNaming naming = grok::PatternNaming::kLegacy;  // library the patterns use
  std::vector<std::unique_ptr<const grok::Grok>> patterns;  // ordered, first match wins
  std::vector<std::pair<std::string, std::string>> rename;  // from -> to, in order
  std::vector<std::pair<std::string, grok::FieldType>> convert;
  std::optional<TimestampDecl> timestamp;
  std::vector<std::pair<std::string, LabelTemplate>> add_fields;
  std::vector<std::string> remove_fields;
  std::vector<std::string> add_tags;  // on a match
  std::vector<Condition> drop;  // a match is dropped when any condition holds
  std::vector<MetricDecl> metrics;

  // One-pass prefilter over `patterns` when there are several (null otherwise): each
  // pattern's Grok::Prefilter(), so a pattern the set does not report cannot match; the
  // ones it reports are tried in order.
  std::unique_ptr<re2::RE2::Set> set;
  size_t max_fields = 0;  // most captures of any pattern: the reserve size
  // Whether a pattern capture, rename target or add_fields name can be [@metadata]...:
  // when none can, ParseWith skips the sweep that removes such fields.
  bool may_add_metadata = true;
};

// What Parse did, for `logship rules test`.
struct ParseTrace {
  const Rule* rule = nullptr;  // null: no rule selected the event
  int pattern = -1;            // index of the pattern that matched, -1: none
  int timestamp_format = -1;   // index of the format that parsed the timestamp, -1: none
};

// Immutable after loading; every method is thread-safe.
class RuleSet {
 public:
  // The rule applied to `event`: the first rule (in file order, files in the order given)
  // whose `when` holds. nullptr when none does.
  const Rule* Select(const Event& event) const;

  // Applies the selected rule (see ParseWith). An event that no rule selects is returned
  // unchanged, with no tag.
  ParsedEvent Parse(Event event, ParseTrace* trace = nullptr) const;

  // Applies `rule` to `event`, in this order: the first matching pattern gives the
  // fields; rename; convert; timestamp (replaces time_ns; _dateparsefailure when it does
  // not parse); add_fields; drop conditions (ParsedEvent::dropped); remove_fields and
  // every [@metadata] field; add_tags. When no pattern matches: no fields, tagged
  // _grokparsefailure, the event kept raw.
  ParsedEvent ParseWith(const Rule& rule, Event event, ParseTrace* trace = nullptr) const;

  const std::vector<std::unique_ptr<Rule>>& rules() const { return rules_; }
  const Rule* Find(std::string_view name) const;

 private:
  friend class RuleSetBuilder;
  // Appends to `fields` the captures of the first of `rule`'s patterns that matches
  // `raw` and returns its index; -1 (fields untouched) when none does.
  int MatchPattern(const Rule& rule, std::string_view raw, std::vector<Field>* fields) const;
  const Rule* SelectUncached(const Event& event) const;

  std::vector<std::unique_ptr<Rule>> rules_;
  std::unordered_map<std::string, std::vector<const Rule*>> by_type_;  // typed + untyped
  std::vector<const Rule*> untyped_;                                   // rules without type
  // Unique per RuleSet (never reused), so a thread's cache of the last Select (events of
  // one stream mostly share type, source and host) cannot be taken for another RuleSet's.
  uint64_t id_ = 0;
};

// Defaults for every rule of a load (the `parser.*` config keys).
struct RuleOptions {
  grok::PatternNaming naming = grok::PatternNaming::kLegacy;  // parser.ecs_compatibility
  std::string timezone = "UTC";                               // parser.timezone
};

// The pattern library for a naming; loaded on first use. Errors are load errors.
using LibraryProvider = std::function<Result<const grok::PatternLibrary*>(grok::PatternNaming)>;

// Loads every rule file (YAML) against the pattern directories `pattern_dirs` (loaded in
// order for the naming each rule uses; a later definition of a name wins). Unknown keys,
// bad values, duplicate rule names and patterns that do not compile are InvalidArgument
// naming file:line.
Result<std::shared_ptr<const RuleSet>> LoadRuleSet(const std::vector<std::string>& rule_files,
                                                   const std::vector<std::string>& pattern_dirs,
                                                   const RuleOptions& options = {});
// The same for YAML text in memory; `name` stands for the file name in messages. Every
// rule compiles against `library`, whatever its ecs_compatibility.
Result<std::shared_ptr<const RuleSet>> ParseRuleSet(const std::string& yaml_text,
                                                    const std::string& name,
                                                    const grok::PatternLibrary& library,
                                                    const RuleOptions& options = {});
Result<std::shared_ptr<const RuleSet>> ParseRuleSet(const std::string& yaml_text,
                                                    const std::string& name,
                                                    const LibraryProvider& libraries,
                                                    const RuleOptions& options = {});

// Expands rule paths: a directory stands for its *.yaml and *.yml files, sorted.
Result<std::vector<std::string>> ExpandRuleFiles(const std::vector<std::string>& paths);

// Text form of a field value: strings as is, numbers in shortest form (200, 0.25).
void AppendFieldValue(const FieldValue& v, std::string* out);

// Renders `t` against `e` (fields and @attributes).
void RenderTemplate(const LabelTemplate& t, const ParsedEvent& e, std::string* out);

// Derives the `metrics:` of the rules: counts per (metric, label values, event-time
// bucket), histograms per (metric, label values, bucket), handed out as delta samples.
// Thread-compatible (one per worker, or lock).
class DerivedCounters {
 public:
  explicit DerivedCounters(std::shared_ptr<const RuleSet> rules, int64_t bucket_ms = 10'000);

  // Observes `event` for every metric of the rule that parsed it. Events that no rule
  // selects, that were dropped or that carry _grokparsefailure count nothing.
  void Observe(const ParsedEvent& event);

  // Samples for everything observed since the previous call, time_ms = bucket start
  // (event time floored to the bucket width):
  //   counter   <name>                        value = count (or sum of `field`)
  //   histogram <name>_bucket{..., le="0.1"}  value = observations <= 0.1 (cumulative;
  //             <name>_bucket{le="+Inf"}, <name>_sum, <name>_count, as Prometheus does)
  // All values are deltas. Sorted by name, labels, time. Resets the counts.
  std::vector<Sample> TakeDeltas();

  // Swaps the rules (after a reload). Counts already taken are kept.
  void SetRuleSet(std::shared_ptr<const RuleSet> rules) { rules_ = std::move(rules); }

  size_t pending_series() const { return counts_.size(); }

 private:
  struct Entry {
    bool histogram = false;
    std::string name;
    Labels labels;
    int64_t bucket_ms = 0;
    double value = 0;                    // counter
    std::vector<uint64_t> buckets;       // histogram: per bound (not cumulative) + overflow
    std::vector<double> bounds;
    double sum = 0;
    uint64_t count = 0;
  };
  std::shared_ptr<const RuleSet> rules_;
  int64_t bucket_ms_;
  std::unordered_map<std::string, Entry> counts_;
  std::string key_;                  // scratch: avoids an allocation per Observe
  std::vector<std::string> values_;  // scratch
};

}  // namespace logship::rules
