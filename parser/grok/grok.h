// Grok: Logstash-style named patterns compiled to one RE2 regex. The dialect and its
// differences from Logstash are documented in docs/grok.md.
//
//   PatternLibrary lib;
//   LOGSHIP_RETURN_IF_ERROR(lib.LoadDirectory("rules/patterns"));
//   auto grok = Grok::Compile("%{IP:client} %{NUMBER:bytes:int}", lib);
//   std::vector<Field> fields;
//   if (grok.value()->Match(line, &fields)) ...
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <re2/re2.h>

#include "logship/event.h"
#include "logship/status.h"

namespace logship::grok {

// How a captured value is converted: %{NAME:field:int} / %{NAME:field:float}.
enum class FieldType { kString, kInt, kFloat };

// Which field names the shipped patterns produce: Logstash's `ecs_compatibility`.
// kLegacy ("disabled") gives clientip/verb/response...; kEcsV1 ("v1", also "v8" as in
// Logstash) gives [source][address]/[http][request][method]/... (docs/grok.md).
enum class PatternNaming { kLegacy, kEcsV1 };
// "disabled" -> kLegacy; "v1", "v8" -> kEcsV1; anything else -> nullopt.
std::optional<PatternNaming> PatternNamingFromName(std::string_view name);
// The subdirectory of a pattern directory holding that naming's files: "legacy", "ecs-v1".
const char* PatternNamingDir(PatternNaming naming);

// A named pattern library: "NAME regex" per line, '#' comments, blank lines ignored.
// Later definitions of a name replace earlier ones (files load in name order).
// Thread-compatible while loading; immutable (and so thread-safe) afterwards.
class PatternLibrary {
 public:
  // Loads a pattern directory for `naming`: first the regular files of its subdirectory
  // PatternNamingDir(naming) when there is one, then the regular files of `dir` itself
  // (which apply to both namings and so override the shipped ones). Not recursive
  // otherwise; files sorted by name; dotfiles skipped.
  Status LoadDirectory(const std::string& dir, PatternNaming naming = PatternNaming::kLegacy);
  // Every pattern name, sorted (for tests and tools).
  std::vector<std::string> Names() const;
  Status LoadFile(const std::string& path);
  // Parses pattern-file text; `origin` (a file name) is used in error messages.
  Status AddText(std::string_view text, const std::string& origin);
  // Defines one pattern. REQUIRES: name matches [A-Za-z0-9_]+.
  void Add(std::string name, std::string regex, std::string origin = "");

  struct Definition {
    std::string regex;
    std::string origin;  // "file:line" or ""
  };
  // nullptr when `name` is not defined.
  const Definition* Find(std::string_view name) const;
  size_t size() const { return patterns_.size(); }

 private:
  std::unordered_map<std::string, Definition> patterns_;
};

struct CompileOptions {
  int max_depth = 32;                      // nesting of %{...} references
  size_t max_expanded_bytes = 1 << 20;     // size of the expanded regex
  int64_t max_mem = 64 << 20;              // RE2 memory budget for the program and DFA
};

// One capture of a compiled grok: RE2 group `group` becomes field `field`.
struct Capture {
  std::string field;  // dotted: [http][response][status_code] -> http.response.status_code
  FieldType type = FieldType::kString;
  int group = 0;      // RE2 capture group index (1-based)
};

// A compiled grok expression. Immutable; Match is thread-safe.
class SegmentedMatcher;
class TrailingGreedyMatcher;

class Grok {
 public:
  // Expands %{...} references from `library`, rewriting the Oniguruma (Ruby) constructs
  // RE2 lacks where an equivalent exists (docs/grok.md), and compiles the result with RE2
  // (Latin-1, so any byte sequence, including invalid UTF-8 and NUL, can be matched; `.`
  // also matches newline, as in Logstash). Fails with InvalidArgument naming the pattern
  // (with its file:line) and the offset in its definition of the construct that cannot
  // be compiled.
  static Result<std::unique_ptr<const Grok>> Compile(std::string_view expression,
                                                     const PatternLibrary& library,
                                                     const CompileOptions& options = {});
  ~Grok();

  // Unanchored search of `line`. On a match appends the non-empty captures to `fields`
  // (converted per their type; a value that does not convert stays a string) and
  // returns true. On no match leaves `fields` untouched and returns false.
  bool Match(std::string_view line, std::vector<Field>* fields) const;
  // Whether `line` matches, without extracting captures (DFA only: faster).
  bool Matches(std::string_view line) const;
  // Match() without the segmented fast path: one RE2 match extracting every group.
  // Same contract and results as Match(); kept as the reference for tests and benchmarks.
  bool MatchFullCapture(std::string_view line, std::vector<Field>* fields) const;
  // Whether Match() uses segmented extraction (see segmented.h) for this expression.
  bool segmented() const { return segmented_ != nullptr; }
  // Whether Match() matches only the part before a trailing %{GREEDYDATA:x} with captures.
  bool trailing_greedy() const { return trailing_ != nullptr; }
  // The segmented plan, one step a line ("" when not segmented; the trailing-greedy plan
  // when that is used): for tests and debugging.
  std::string DescribeSegmentation() const;

  // A regex that matches every line this expression matches (and possibly more), with a
  // much smaller program: large alternations (IPV6, HOSTNAME, MONTH...) are replaced by a
  // class of their bytes, repeated. For one-pass prefilters over several expressions
  // (RuleSet's RE2::Set); a line it does not match cannot match.
  std::string Prefilter() const;

  const std::string& expression() const { return expression_; }
  const std::string& expanded() const { return expanded_; }  // the regex RE2 compiled
  const std::vector<Capture>& captures() const { return captures_; }
  const re2::RE2& regex() const { return *re_; }

 private:
  Grok() = default;
  void AppendFields(const re2::StringPiece* sub, std::vector<Field>* fields) const;
  // re_->Match with ANCHOR_START, then (no match at 0) UNANCHORED: same result as
  // UNANCHORED alone, cheaper when the match starts at the first byte.
  bool MatchAnchoredFirst(std::string_view line, re2::StringPiece* sub, int n) const;

  std::string expression_;
  std::string expanded_;
  std::unique_ptr<re2::RE2> re_;
  std::vector<Capture> captures_;  // sorted by group
  int ngroups_ = 0;                // number of RE2 groups to extract (max group + 1)
  bool has_duplicate_fields_ = false;
  std::unique_ptr<const SegmentedMatcher> segmented_;  // null: always full capture
  // When there is no segmented plan and the expression ends in a capture of `.*`: only
  // the part before it is matched with captures (segmented.h).
  std::unique_ptr<const TrailingGreedyMatcher> trailing_;
};

// Converts a Logstash field reference to logship's dotted form:
// "[http][response][status_code]" -> "http.response.status_code"; "clientip" unchanged.
std::string NormalizeFieldName(std::string_view name);

// RE2 options used for every grok regex: Latin-1 (each byte is one character, so invalid
// UTF-8 and NUL bytes are matched like any other byte), `.` matches newline (Logstash
// compiles grok with Regexp::MULTILINE), no logging, `max_mem`.
re2::RE2::Options GrokRe2Options(int64_t max_mem);

}  // namespace logship::grok
