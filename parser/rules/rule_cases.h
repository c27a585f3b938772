// Sample-line test cases for parse rules and grok patterns: what `logship rules test
// CASES.yaml` runs (usable in an operator's CI) and what the pattern conformance tests in
// rules/patterns/tests/ are written in. File format: docs/grok.md, "Testing rules".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "logship/event.h"
#include "logship/status.h"
#include "parser/grok/grok.h"
#include "parser/rules/rule_set.h"

namespace logship::rules {

// What one naming of a case expects.
struct CaseExpectation {
  bool given = false;    // the case states an expectation
  bool nomatch = false;  // the line must not match (rules: tagged _grokparsefailure)
  std::vector<Field> fields;
  bool partial = false;              // only `fields` are checked; others may exist
  std::vector<std::string> absent;   // fields that must not exist
};

struct RuleCase {
  std::string name;    // from the file, or "case N"
  std::string origin;  // "file:line"
  std::string line;
  // The event: a case with none of type/source/host is parsed by the first rule (in file
  // order) one of whose patterns matches, ignoring `when`.
  std::string type, source, host;
  std::optional<int64_t> received_ns;  // the event's ingest time (default: now)
  // Pattern mode: a grok expression tested against the pattern library instead of rules.
  std::string expression;
  // Expectations.
  std::string rule;                  // expected rule name ("" = not checked)
  CaseExpectation expect;            // rule mode; pattern mode with `fields`
  CaseExpectation legacy, ecs;       // pattern mode, per naming (keys `legacy`, `ecs`)
  std::optional<int64_t> timestamp_ns;         // expected event time after parsing
  std::optional<std::vector<std::string>> tags;  // expected tags (exact, in any order)
  std::optional<bool> dropped;
};

// Reads a case file: `cases:` list (see docs/grok.md). InvalidArgument naming file:line.
Result<std::vector<RuleCase>> LoadRuleCases(const std::string& path);
Result<std::vector<RuleCase>> ParseRuleCases(const std::string& yaml_text, const std::string& name);

struct CaseResult {
  bool passed = false;
  std::string title;   // "name (file:line)" plus " [legacy]" / " [ecs]" in pattern mode
  std::vector<std::string> diffs;  // one line per difference, empty when passed
};

// Runs cases against a rule set and/or the pattern libraries. Thread-compatible.
class CaseRunner {
 public:
  // `rules` may be null when only pattern-mode cases are run; `libraries` may be empty
  // when only rule-mode cases are run.
  CaseRunner(std::shared_ptr<const RuleSet> rules, LibraryProvider libraries,
             grok::PatternNaming default_naming = grok::PatternNaming::kLegacy);

  // One result per checked naming (pattern mode with legacy/ecs gives two).
  std::vector<CaseResult> Run(const RuleCase& c);

 private:
  std::shared_ptr<const RuleSet> rules_;
  LibraryProvider libraries_;
  grok::PatternNaming default_naming_;
};

// "2023-10-10T11:55:36Z" / "...36.25Z" (UTC, fraction only when non-zero).
std::string FormatTime(int64_t ns);
// "int 404", "float 0.25", "string \"x\"" (non-printable bytes as \xHH).
std::string DescribeValue(const FieldValue& v);

// The rule (and pattern) a line gets: Select when the event has a type, source or host,
// otherwise the first rule one of whose patterns matches (ParseWith). Shared by the case
// runner and `logship rules test --line`.
ParsedEvent ParseForTest(const RuleSet& rules, Event event, bool by_attributes, ParseTrace* trace);

}  // namespace logship::rules
