// Segmented capture extraction for grok regexes (internal to parser/grok/).
//
// RE2 finds the overall span of a match with its DFA in a few hundred nanoseconds, but
// extracting a dozen submatches from a large program (the strict IPV6 alternation makes
// NGINX_ACCESS ~3,000 instructions) falls back to the NFA, 20x slower. A grok expression
// is usually a concatenation of fields separated by literals ("%{IP:a} %{WORD:b} [...").
// SegmentedMatcher splits the top-level concatenation at literals whose first byte the
// preceding segment can never contain: such a boundary is *forced* — in any match that
// starts at a given position, the segment ends at the first occurrence of that byte. So
// once the DFA has given the match span, the field boundaries are found with memchr, and
// only segments whose own captures are not determined by their span (an alternation with
// captures inside, or segments that had to be merged because a boundary was not forced)
// are matched again, each with its own small RE2, anchored at both ends of its piece.
//
// Exactness: the leftmost-first match M found by the full regex starts and ends where the
// DFA says; every forced boundary of M is where the walk puts it; and within a piece
// whose ends are fixed, M's path is the highest-priority path of that segment spanning
// exactly the piece, which is what RE2 returns for an ANCHOR_BOTH match of the segment
// (matched against the whole line, so \b and ^ see the same context). The byte sets
// ("alphabets") are over-approximated, which only makes fewer boundaries forced. Any
// inconsistency found at match time (a literal not where expected, a segment that does
// not match) makes the caller fall back to the full-capture match.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>

namespace logship::grok {

class SegmentedMatcher {
 public:
  // Plans `expanded` (a regex produced by the grok expander). `whole` is that regex
  // compiled; its named groups ("g1", "g2", ...) give the global group numbers. Returns
  // null when the regex is not a concatenation that splits into at least one forced
  // segment (the caller then always uses the full-capture match).
  static std::unique_ptr<const SegmentedMatcher> Plan(const std::string& expanded,
                                                      const re2::RE2& whole,
                                                      const re2::RE2::Options& options);
  ~SegmentedMatcher();

  // Fills sub[g] (g < ngroups, pre-cleared to null by the caller) for the match whose
  // overall span, found by the full regex, is `span` within `line`. Returns false on
  // any inconsistency; the caller must then use the full-capture match.
  bool Extract(std::string_view line, std::string_view span, re2::StringPiece* sub,
               int ngroups) const;

  // Human-readable plan, for tests and debugging: one line per step.
  std::string Describe() const;

  struct Step;  // defined in segmented.cc

 private:
  SegmentedMatcher();
  std::vector<Step> steps_;
};

// An over-approximation of `expanded` (a regex from the grok expander) for prefilters:
// each group larger than `max_group_bytes` whose body is an alternation (IPV6, HOSTNAME,
// MONTH...) is replaced by a class of the bytes it can contain, repeated: [...]*. That
// matches every string the group matches (the byte sets are supersets), so the result
// matches every line `expanded` matches (and possibly more), with a much smaller
// program. Returns `expanded` itself when it cannot be parsed.
std::string ApproximateRegex(const std::string& expanded, size_t max_group_bytes);

// A grok regex `P(?P<g>.*)`: a concatenation whose last item captures `.*` (greedy; `.`
// matches every byte under GrokRe2Options), as in "%{SYSLOGBASE} %{GREEDYDATA:message}".
// Its leftmost-first match starts where P's does, and takes P's highest-priority path
// there (any P path can be completed, since `.*` matches anything) followed by the rest
// of the line (greedy `.*`). So the captures are P's captures plus g = the rest: only P
// is matched with captures, which keeps the capturing engines (NFA, BitState) off the
// tail of the line. Used when SegmentedMatcher has no plan.
class TrailingGreedyMatcher {
 public:
  // Null when `expanded` does not have that shape (or P has more than 32 groups).
  static std::unique_ptr<const TrailingGreedyMatcher> Plan(const std::string& expanded,
                                                           const re2::RE2& whole,
                                                           const re2::RE2::Options& options);
  ~TrailingGreedyMatcher();

  // The leftmost-first match of the whole regex in `line`: fills sub[g] (g < ngroups,
  // pre-cleared to null by the caller) and returns true, or returns false when there is
  // no match.
  bool Match(std::string_view line, re2::StringPiece* sub, int ngroups) const;

  // "prefix: <n> insts, <k> groups; rest: group <g>", for tests and debugging.
  std::string Describe() const;

 private:
  TrailingGreedyMatcher();
  std::unique_ptr<re2::RE2> prefix_;  // P
  std::vector<int> groups_;           // prefix_'s group i -> global group (0: unused)
  int rest_group_ = -1;               // the global group of the trailing `.*`
};

}  // namespace logship::grok
