#include "parser/grok/segmented.h"

#include <bitset>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

namespace logship::grok {
namespace {

using ByteSet = std::bitset<256>;

// A parsed regex node. Only what planning needs: the bytes a match can contain (an
// over-approximation), whether captures occur inside, and the source text of the atom.
struct Node {
  enum Kind { kByte, kSet, kAssert, kGroup, kConcat, kAlt };
  Kind kind = kSet;
  ByteSet alpha;              // every byte any match of this node can contain (superset)
  bool has_capture = false;   // a capture group at or below this node
  bool repeated = false;      // followed by a quantifier
  bool optional = false;      // a quantifier allows zero repetitions (*, ?, {0,...})
  // The bytes a non-empty match can start with (superset), and whether the node can
  // match the empty string (over-approximated: true when unsure).
  ByteSet first;
  bool nullable = false;
  unsigned char byte = 0;     // kByte
  std::string capture;        // kGroup: the group name, "" when not capturing
  std::vector<Node> children;
  size_t begin = 0, end = 0;  // source text of the atom, quantifier included
};

ByteSet Range(int lo, int hi) {
  ByteSet s;
  for (int c = lo; c <= hi; ++c) s.set(c);
  return s;
}
ByteSet Digits() { return Range('0', '9'); }
ByteSet Word() { return Range('0', '9') | Range('A', 'Z') | Range('a', 'z') | Range('_', '_'); }
ByteSet Space() { return Range('\t', '\r') | Range(' ', ' '); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Recursive-descent parser for the RE2 syntax the grok expander emits. Anything it does
// not understand (flags, Unicode classes, \Q...\E, unnamed groups) makes it fail, and
// the grok then simply has no segmented plan.
class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<Node> ParseAll() {
    Node root;
    if (!ParseAlt(&root) || i_ != s_.size()) return std::nullopt;
    return root;
  }

 private:
  bool ParseAlt(Node* out) {
    out->kind = Node::kAlt;
    out->begin = i_;
    while (true) {
      Node c;
      if (!ParseConcat(&c)) return false;
      out->alpha |= c.alpha;
      out->has_capture |= c.has_capture;
      out->first |= c.first;
      out->nullable |= c.nullable;
      out->children.push_back(std::move(c));
      if (i_ < s_.size() && s_[i_] == '|') {
        ++i_;
        continue;
      }
      break;
    }
    out->end = i_;
    return true;
  }

  bool ParseConcat(Node* out) {
    out->kind = Node::kConcat;
    out->begin = i_;
    out->nullable = true;  // the empty concatenation; cleared by the first non-nullable atom
    while (i_ < s_.size() && s_[i_] != '|' && s_[i_] != ')') {
      Node a;
      if (!ParseAtom(&a)) return false;
      out->alpha |= a.alpha;
      out->has_capture |= a.has_capture;
      if (out->nullable) out->first |= a.first;
      out->nullable = out->nullable && a.nullable;
      out->children.push_back(std::move(a));
    }
    out->end = i_;
    return true;
  }

  // {n}, {n,}, {n,m} at i_: its length, or 0 when it is not a repetition.
  size_t RepeatLength() const {
    if (i_ >= s_.size() || s_[i_] != '{') return 0;
    size_t j = i_ + 1;
    size_t digits = 0;
    while (j < s_.size() && s_[j] >= '0' && s_[j] <= '9') ++j, ++digits;
    if (digits == 0) return 0;
    if (j < s_.size() && s_[j] == ',') {
      ++j;
      while (j < s_.size() && s_[j] >= '0' && s_[j] <= '9') ++j;
    }
    if (j < s_.size() && s_[j] == '}') return j + 1 - i_;
    return 0;
  }

  bool ParseAtom(Node* out) {
    out->begin = i_;
    const char c = s_[i_];
    if (c == '(') {
      std::string_view rest = s_.substr(i_);
      out->kind = Node::kGroup;
      if (rest.starts_with("(?:")) {
        i_ += 3;
      } else if (rest.starts_with("(?P<") || rest.starts_with("(?<")) {
        size_t start = rest[2] == 'P' ? 4 : 3;
        size_t close = rest.find('>', start);
        if (close == std::string_view::npos || close == start) return false;
        out->capture = std::string(rest.substr(start, close - start));
        out->has_capture = true;
        i_ += close + 1;
      } else {
        return false;  // flags, or a numbered group the expander never emits
      }
      Node inner;
      if (!ParseAlt(&inner)) return false;
      if (i_ >= s_.size() || s_[i_] != ')') return false;
      ++i_;
      out->alpha = inner.alpha;
      out->has_capture |= inner.has_capture;
      out->first = inner.first;
      out->nullable = inner.nullable;
      out->children.push_back(std::move(inner));
    } else if (c == '[') {
      out->kind = Node::kSet;
      if (!ParseClass(&out->alpha)) return false;
    } else if (c == '.') {
      out->kind = Node::kSet;
      out->alpha.set();  // over-approximation: with or without (?s)
      ++i_;
    } else if (c == '^' || c == '$') {
      out->kind = Node::kAssert;
      ++i_;
    } else if (c == '\\') {
      if (!ParseEscape(out)) return false;
    } else if (c == '*' || c == '+' || c == '?' || RepeatLength() > 0) {
      return false;  // a quantifier with nothing to repeat: RE2 rejects it anyway
    } else {
      out->kind = Node::kByte;
      out->byte = static_cast<unsigned char>(c);
      out->alpha.set(out->byte);
      ++i_;
    }
    if (out->kind == Node::kByte || out->kind == Node::kSet) out->first = out->alpha;
    if (out->kind == Node::kAssert) out->nullable = true;  // zero-width
    // Quantifiers (possibly stacked; a trailing '?' makes one lazy).
    while (i_ < s_.size()) {
      char q = s_[i_];
      size_t len = (q == '*' || q == '+' || q == '?') ? 1 : RepeatLength();
      if (len == 0) break;
      out->repeated = true;
      if (q == '*' || q == '?' || (q == '{' && s_[i_ + 1] == '0')) out->optional = true;
      i_ += len;
      if (i_ < s_.size() && s_[i_] == '?') ++i_;
    }
    if (out->optional) out->nullable = true;
    out->end = i_;
    return true;
  }

  // \xHH or \x{H...} at i_ pointing after the 'x'.
  bool ParseHex(int* value) {
    int v = 0;
    if (i_ < s_.size() && s_[i_] == '{') {
      size_t close = s_.find('}', i_);
      if (close == std::string_view::npos || close == i_ + 1) return false;
      for (size_t k = i_ + 1; k < close; ++k) {
        int h = HexValue(s_[k]);
        if (h < 0) return false;
        v = v * 16 + h;
        if (v > 255) return false;  // not a Latin-1 byte
      }
      i_ = close + 1;
    } else {
      if (i_ + 2 > s_.size()) return false;
      int h1 = HexValue(s_[i_]), h2 = HexValue(s_[i_ + 1]);
      if (h1 < 0 || h2 < 0) return false;
      v = h1 * 16 + h2;
      i_ += 2;
    }
    *value = v;
    return true;
  }

  // A single-byte escape (\t, \x41, \.) or a class escape (\d ...). `in_class` forbids
  // the assertions. On success sets *set (class) or *byte (single byte, returns via -1).
  bool ParseEscapeChar(ByteSet* set, int* byte) {
    if (i_ + 1 >= s_.size()) return false;
    char e = s_[i_ + 1];
    i_ += 2;
    *byte = -1;
    switch (e) {
      case 'd': *set = Digits(); return true;
      case 'D': *set = ~Digits(); return true;
      case 'w': *set = Word(); return true;
      case 'W': *set = ~Word(); return true;
      case 's': *set = Space(); return true;
      case 'S': *set = ~Space(); return true;
      case 't': *byte = '\t'; return true;
      case 'n': *byte = '\n'; return true;
      case 'r': *byte = '\r'; return true;
      case 'f': *byte = '\f'; return true;
      case 'v': *byte = '\v'; return true;
      case 'a': *byte = '\a'; return true;
      case 'x': return ParseHex(byte);
      default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
          return false;  // \p, \Q, \C, backreferences...: not planned
        }
        *byte = static_cast<unsigned char>(e);
        return true;
    }
  }

  bool ParseEscape(Node* out) {
    if (i_ + 1 < s_.size()) {
      char e = s_[i_ + 1];
      if (e == 'b' || e == 'B' || e == 'A' || e == 'z') {
        out->kind = Node::kAssert;
        i_ += 2;
        return true;
      }
    }
    ByteSet set;
    int byte = -1;
    if (!ParseEscapeChar(&set, &byte)) return false;
    if (byte >= 0) {
      out->kind = Node::kByte;
      out->byte = static_cast<unsigned char>(byte);
      out->alpha.set(out->byte);
    } else {
      out->kind = Node::kSet;
      out->alpha = set;
    }
    return true;
  }

  static bool PosixClass(std::string_view name, ByteSet* set) {
    ByteSet s;
    for (int c = 0; c < 128; ++c) {
      bool in = false;
      if (name == "alnum") in = isalnum(c);
      else if (name == "alpha") in = isalpha(c);
      else if (name == "ascii") in = true;
      else if (name == "blank") in = c == ' ' || c == '\t';
      else if (name == "cntrl") in = iscntrl(c);
      else if (name == "digit") in = isdigit(c);
      else if (name == "graph") in = isgraph(c);
      else if (name == "lower") in = islower(c);
      else if (name == "print") in = isprint(c);
      else if (name == "punct") in = ispunct(c);
      else if (name == "space") in = isspace(c);
      else if (name == "upper") in = isupper(c);
      else if (name == "word") in = isalnum(c) || c == '_';
      else if (name == "xdigit") in = isxdigit(c);
      else return false;
      if (in) s.set(c);
    }
    *set = s;
    return true;
  }

  bool ParseClass(ByteSet* out) {
    ++i_;  // '['
    bool negated = false;
    if (i_ < s_.size() && s_[i_] == '^') negated = true, ++i_;
    ByteSet set;
    bool first = true;
    while (true) {
      if (i_ >= s_.size()) return false;
      char c = s_[i_];
      if (c == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      if (c == '[' && i_ + 1 < s_.size() && s_[i_ + 1] == ':') {
        size_t close = s_.find(":]", i_ + 2);
        if (close == std::string_view::npos) return false;
        std::string_view name = s_.substr(i_ + 2, close - i_ - 2);
        bool neg = !name.empty() && name.front() == '^';
        if (neg) name.remove_prefix(1);
        ByteSet p;
        if (!PosixClass(name, &p)) return false;
        set |= neg ? ~p : p;
        i_ = close + 2;
        continue;
      }
      int lo;
      if (c == '\\') {
        ByteSet esc;
        if (!ParseEscapeChar(&esc, &lo)) return false;
        if (lo < 0) {
          set |= esc;
          continue;
        }
      } else {
        lo = static_cast<unsigned char>(c);
        ++i_;
      }
      if (i_ + 1 < s_.size() && s_[i_] == '-' && s_[i_ + 1] != ']') {
        ++i_;
        int hi;
        if (s_[i_] == '\\') {
          ByteSet esc;
          if (!ParseEscapeChar(&esc, &hi) || hi < 0) return false;
        } else {
          hi = static_cast<unsigned char>(s_[i_]);
          ++i_;
        }
        if (hi < lo) return false;
        set |= Range(lo, hi);
      } else {
        set.set(lo);
      }
    }
    *out = negated ? ~set : set;
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Appends the elements of a concatenation, inlining plain (?:...) groups that are
// themselves single concatenations, so "(?:a(?:b c))" yields a, b, ' ', c.
void Flatten(const Node& concat, std::vector<const Node*>* items) {
  for (const Node& n : concat.children) {
    if (n.kind == Node::kGroup && n.capture.empty() && !n.repeated &&
        n.children[0].children.size() == 1) {
      Flatten(n.children[0].children[0], items);
    } else {
      items->push_back(&n);
    }
  }
}

bool IsLiteral(const Node* n) { return n->kind == Node::kByte && !n->repeated; }

}  // namespace

struct SegmentedMatcher::Step {
  std::string literal;              // non-empty: these bytes must follow
  int terminator = -1;              // span: ends at the first such byte; -1: see `tail`
  size_t tail = 0;                  // terminator -1: ends this many bytes before the range
                                    // end (the literal steps that close the range)
  int group = -1;                   // span is exactly this global capture group
  std::unique_ptr<re2::RE2> re;     // span with nested captures: matched ANCHOR_BOTH
  std::vector<int> groups;          // re's group i -> global group (0: unused)
  std::string regex;                // for Describe
  // Split of an unforced span into head · rest, where rest starts with a literal whose
  // first byte is `split_byte`. The head ends at the one occurrence p of that byte from
  // which `rest_check` (rest, no captures) matches exactly to the span end; when there
  // is not exactly one, the split cannot be placed and `re` (the whole span) is used.
  int split_byte = -1;
  std::unique_ptr<re2::RE2> rest_check;
  // A necessary condition for rest to match [q, end), checked before rest_check: rest
  // starts with `split_literal`, and what follows it is empty (only when
  // `split_next_nullable`) or starts with a byte of `split_next_first`. When exactly one
  // q passes, it is the split (the match has one) and rest_check is not run.
  std::string split_literal;
  ByteSet split_next_first;
  bool split_next_nullable = true;
  // A span that is one alternation of literal branches and one branch that is exactly a
  // capture group (free of assertions, so what it matches does not depend on the bytes
  // around it): the branch taken is found by comparing the piece with the literals.
  // `choice_literals` holds each distinct literal with the group the match sets when the
  // piece is that literal (-1: none; planned by matching the group's regex against the
  // literal); any other piece is the group branch, `choice_group`.
  std::vector<std::pair<std::string, int>> choice_literals;
  int choice_group = -1;
  int head_group = -1;                            // head is exactly this group
  std::unique_ptr<re2::RE2> head_re;              // head with nested captures
  // The head is one alternation (?:B0|B1|...) with captures: its branches, in order, each
  // compiled alone (a branch regex is often one-pass, which RE2 matches without a DFA or
  // backtracking, where the whole alternation is not). The first branch spanning the
  // head's piece is the one the match took. A null last entry: the last branch is exactly
  // the capture group head_alt_last_group (it must then span the piece).
  std::vector<std::unique_ptr<re2::RE2>> head_alt;
  std::vector<std::vector<int>> head_alt_groups;
  int head_alt_last_group = -1;
  std::vector<int> head_groups;
  std::vector<Step> rest;                         // rest, planned recursively
};

namespace {

using Step = SegmentedMatcher::Step;

// Compiles the concatenation of items[i, j) and maps its groups to global numbers.
bool CompileItems(const std::string& expanded, const std::vector<const Node*>& items, size_t i,
                  size_t j, const std::map<std::string, int>& global, const re2::RE2::Options& options,
                  std::unique_ptr<re2::RE2>* re, std::vector<int>* groups, std::string* text) {
  std::string regex;
  for (size_t k = i; k < j; ++k) {
    regex += "(?:";
    regex += expanded.substr(items[k]->begin, items[k]->end - items[k]->begin);
    regex += ")";
  }
  *re = std::make_unique<re2::RE2>(regex, options);
  if (!(*re)->ok()) return false;
  if (groups != nullptr) {
    groups->assign((*re)->NumberOfCapturingGroups() + 1, 0);
    for (const auto& [name, idx] : (*re)->NamedCapturingGroups()) {
      auto it = global.find(name);
      if (it == global.end()) return false;
      (*groups)[idx] = it->second;
    }
  }
  if (text != nullptr) *text = std::move(regex);
  return true;
}

// Compiles `regex` and maps its groups to global numbers.
bool CompileText(const std::string& regex, const std::map<std::string, int>& global,
                 const re2::RE2::Options& options, std::unique_ptr<re2::RE2>* re, std::vector<int>* groups) {
  *re = std::make_unique<re2::RE2>(regex, options);
  if (!(*re)->ok()) return false;
  groups->assign((*re)->NumberOfCapturingGroups() + 1, 0);
  for (const auto& [name, idx] : (*re)->NamedCapturingGroups()) {
    auto it = global.find(name);
    if (it == global.end()) return false;
    (*groups)[idx] = it->second;
  }
  return true;
}

// Plans `n` as head_alt when it is a plain (?:B0|B1|...) group with captures.
bool PlanAlternation(const std::string& expanded, const Node& n, const std::map<std::string, int>& global,
                     const re2::RE2::Options& options, Step* step) {
  if (n.kind != Node::kGroup || !n.capture.empty() || n.repeated || !n.has_capture) return false;
  const Node& alt = n.children[0];
  if (alt.children.size() < 2 || alt.children.size() > 8) return false;
  std::vector<std::unique_ptr<re2::RE2>> res;
  std::vector<std::vector<int>> groups;
  int last_group = -1;
  for (size_t b = 0; b < alt.children.size(); ++b) {
    const Node& branch = alt.children[b];
    if (b + 1 == alt.children.size() && branch.children.size() == 1) {
      const Node& c = branch.children[0];
      if (c.kind == Node::kGroup && !c.capture.empty() && !c.repeated && !c.children[0].has_capture) {
        auto it = global.find(c.capture);
        if (it == global.end()) return false;
        last_group = it->second;
        res.emplace_back();
        groups.emplace_back();
        continue;
      }
    }
    std::unique_ptr<re2::RE2> re;
    std::vector<int> g;
    if (!CompileText("(?:" + expanded.substr(branch.begin, branch.end - branch.begin) + ")", global, options,
                     &re, &g) ||
        g.size() > 32) {
      return false;
    }
    res.push_back(std::move(re));
    groups.push_back(std::move(g));
  }
  step->head_alt = std::move(res);
  step->head_alt_groups = std::move(groups);
  step->head_alt_last_group = last_group;
  return true;
}

// items[i, j) is exactly one capture group without captures inside: its global number.
int WholeGroup(const std::vector<const Node*>& items, size_t i, size_t j,
               const std::map<std::string, int>& global) {
  if (j - i != 1 || items[i]->kind != Node::kGroup || items[i]->capture.empty() ||
      items[i]->repeated || items[i]->children[0].has_capture) {
    return -1;
  }
  auto it = global.find(items[i]->capture);
  return it == global.end() ? -2 : it->second;
}

bool HasCapture(const std::vector<const Node*>& items, size_t i, size_t j) {
  for (size_t k = i; k < j; ++k)
    if (items[k]->has_capture) return true;
  return false;
}

bool HasAssert(const Node& n) {
  if (n.kind == Node::kAssert) return true;
  for (const Node& c : n.children)
    if (HasAssert(c)) return true;
  return false;
}

// The literal a branch (a concatenation) stands for, when it is only unrepeated bytes.
std::optional<std::string> BranchLiteral(const Node& branch) {
  std::string lit;
  for (const Node& c : branch.children) {
    if (!IsLiteral(&c)) return std::nullopt;
    lit.push_back(static_cast<char>(c.byte));
  }
  return lit;
}

// Plans items[i, j) as a choice step (see Step::choice_literals) when it has that shape.
bool PlanChoice(const std::string& expanded, const std::vector<const Node*>& items, size_t i, size_t j,
                const std::map<std::string, int>& global, const re2::RE2::Options& options, Step* step) {
  if (j - i != 1) return false;
  const Node& g = *items[i];
  if (g.kind != Node::kGroup || !g.capture.empty() || g.repeated) return false;
  const Node& alt = g.children[0];
  if (alt.children.size() < 2) return false;
  std::vector<std::optional<std::string>> literals;
  const Node* group = nullptr;
  size_t group_branch = 0;
  for (size_t b = 0; b < alt.children.size(); ++b) {
    const Node& branch = alt.children[b];
    literals.push_back(BranchLiteral(branch));
    if (literals.back()) continue;
    if (group != nullptr || branch.children.size() != 1) return false;
    const Node& c = branch.children[0];
    if (c.kind != Node::kGroup || c.capture.empty() || c.repeated || c.children[0].has_capture ||
        HasAssert(c)) {
      return false;
    }
    group = &c;
    group_branch = b;
  }
  if (group == nullptr) return false;
  auto it = global.find(group->capture);
  if (it == global.end()) return false;
  re2::RE2 re(expanded.substr(group->begin, group->end - group->begin), options);
  if (!re.ok()) return false;
  for (size_t b = 0; b < literals.size(); ++b) {
    if (!literals[b]) continue;
    const std::string& lit = *literals[b];
    bool seen = false;
    for (const auto& [l, grp] : step->choice_literals) seen = seen || l == lit;
    if (seen) continue;  // an earlier branch is this literal: it is taken
    // The first branch matching `lit` is taken: the group when it comes first and
    // matches the literal in full.
    bool group_wins = group_branch < b && re2::RE2::FullMatch(lit, re);
    step->choice_literals.emplace_back(lit, group_wins ? it->second : -1);
  }
  step->choice_group = it->second;
  step->regex = "choice";
  return true;
}

// Plans items[begin, end) into `steps`; `*forced` is set when a boundary is forced.
bool BuildSteps(const std::string& expanded, const std::vector<const Node*>& items, size_t begin,
                size_t end, const std::map<std::string, int>& global,
                const re2::RE2::Options& options, int depth, std::vector<Step>* steps,
                bool* forced) {
  // The literals that close the range sit at its fixed end: a span reaching them ends
  // that many bytes before the range end.
  size_t limit = end;
  while (limit > begin && IsLiteral(items[limit - 1])) --limit;
  size_t i = begin;
  while (i < end) {
    Step step;
    if (IsLiteral(items[i])) {
      while (i < end && IsLiteral(items[i])) step.literal.push_back(items[i++]->byte);
      steps->push_back(std::move(step));
      continue;
    }
    // A span: grow it until a literal whose first byte it can never contain.
    size_t j = i;
    ByteSet alpha;
    while (j < limit) {
      if (j > i && IsLiteral(items[j]) && !alpha.test(items[j]->byte)) {
        step.terminator = items[j]->byte;
        *forced = true;
        break;
      }
      alpha |= items[j]->alpha;
      ++j;
    }
    if (j == limit) step.tail = end - limit;  // each literal item is one byte
    step.group = WholeGroup(items, i, j, global);
    if (step.group == -2) return false;
    if (step.group >= 0) {
      step.regex = items[i]->capture;
    } else if (HasCapture(items, i, j) && PlanChoice(expanded, items, i, j, global, options, &step)) {
      // placed by comparing the piece with the literals
    } else if (HasCapture(items, i, j)) {
      if (!CompileItems(expanded, items, i, j, global, options, &step.re, &step.groups, &step.regex))
        return false;
      // Unforced span of several items: try head = items[i], rest = items[i+1, j) when
      // the rest starts with a literal.
      if (j - i > 2 && IsLiteral(items[i + 1]) && depth < 4) {
        std::vector<Step> rest;
        bool rest_forced = false;
        if (BuildSteps(expanded, items, i + 1, j, global, options, depth + 1, &rest, &rest_forced) &&
            CompileItems(expanded, items, i + 1, j, global, options, &step.rest_check, nullptr, nullptr)) {
          step.split_byte = items[i + 1]->byte;
          size_t m = i + 1;
          while (m < j && IsLiteral(items[m])) step.split_literal.push_back(items[m++]->byte);
          for (; m < j && step.split_next_nullable; ++m) {
            step.split_next_first |= items[m]->first;
            step.split_next_nullable = items[m]->nullable;
          }
          step.rest = std::move(rest);
          step.head_group = WholeGroup(items, i, i + 1, global);
          if (step.head_group == -2) return false;
          if (step.head_group < 0 && items[i]->has_capture &&
              !PlanAlternation(expanded, *items[i], global, options, &step) &&
              !CompileItems(expanded, items, i, i + 1, global, options, &step.head_re, &step.head_groups,
                            nullptr)) {
            return false;
          }
        }
      }
    }
    steps->push_back(std::move(step));
    i = j;
  }
  return true;
}

bool MatchGroups(const re2::RE2& re, const std::vector<int>& groups, std::string_view line,
                 size_t pos, size_t end, re2::StringPiece* sub, int ngroups) {
  constexpr int kInline = 32;
  re2::StringPiece local[kInline];
  const int n = static_cast<int>(groups.size());
  if (n > kInline) return false;
  if (!re.Match(line, pos, end, re2::RE2::ANCHOR_BOTH, local, n)) return false;
  for (int g = 1; g < n; ++g)
    if (groups[g] >= ngroups) return false;  // before any write: sub stays as it was
  for (int g = 1; g < n; ++g)
    if (groups[g] > 0) sub[groups[g]] = local[g];
  return true;
}

// Places the captures of a head_alt step's head in [pos, end).
bool MatchAlternation(const Step& step, std::string_view line, size_t pos, size_t end, re2::StringPiece* sub,
                      int ngroups) {
  for (size_t b = 0; b < step.head_alt.size(); ++b) {
    if (step.head_alt[b] == nullptr) {  // the last branch, exactly a capture group
      if (step.head_alt_last_group >= ngroups) return false;
      sub[step.head_alt_last_group] = re2::StringPiece(line.data() + pos, end - pos);
      return true;
    }
    if (MatchGroups(*step.head_alt[b], step.head_alt_groups[b], line, pos, end, sub, ngroups)) return true;
  }
  return false;  // no branch spans the piece: the caller falls back
}

bool RunSteps(const std::vector<Step>& steps, std::string_view line, size_t pos, size_t stop,
              re2::StringPiece* sub, int ngroups) {
  const char* base = line.data();
  for (const Step& step : steps) {
    if (!step.literal.empty()) {
      if (stop - pos < step.literal.size() ||
          std::memcmp(base + pos, step.literal.data(), step.literal.size()) != 0) {
        return false;
      }
      pos += step.literal.size();
      continue;
    }
    size_t end = stop;
    if (step.terminator >= 0) {
      const void* p = std::memchr(base + pos, step.terminator, stop - pos);
      if (p == nullptr) return false;
      end = static_cast<size_t>(static_cast<const char*>(p) - base);
    } else if (step.tail > 0) {
      if (stop - pos < step.tail) return false;
      end = stop - step.tail;
    }
    if (step.group >= 0) {
      if (step.group >= ngroups) return false;
      sub[step.group] = re2::StringPiece(base + pos, end - pos);
    } else if (step.choice_group >= 0) {
      const std::string_view piece(base + pos, end - pos);
      int group = step.choice_group;
      for (const auto& [lit, g] : step.choice_literals) {
        if (piece == lit) {
          group = g;
          break;
        }
      }
      if (group >= ngroups) return false;
      if (group >= 0) sub[group] = re2::StringPiece(piece.data(), piece.size());
    } else if (step.re) {
      bool done = false;
      if (step.split_byte >= 0) {
        // Where can the rest start? It must match exactly up to `end`. First the
        // positions passing the cheap necessary test; the DFA only when several do.
        constexpr int kMaxCandidates = 8;
        size_t cand[kMaxCandidates];
        int ncand = 0;
        const size_t lit = step.split_literal.size();
        for (size_t q = pos; q < end; ++q) {
          const void* p = std::memchr(base + q, step.split_byte, end - q);
          if (p == nullptr) break;
          q = static_cast<size_t>(static_cast<const char*>(p) - base);
          if (end - q < lit || std::memcmp(base + q, step.split_literal.data(), lit) != 0) continue;
          const size_t after = q + lit;
          if (after == end ? !step.split_next_nullable
                           : !step.split_next_first.test(static_cast<unsigned char>(base[after]))) {
            continue;
          }
          if (ncand == kMaxCandidates) {
            ncand = kMaxCandidates + 1;  // too many: the whole span's regex decides
            break;
          }
          cand[ncand++] = q;
        }
        size_t split = std::string_view::npos;
        int candidates = 0;
        if (ncand == 1) {
          split = cand[0];
          candidates = 1;
        } else if (ncand <= kMaxCandidates) {
          for (int k = 0; k < ncand && candidates < 2; ++k) {
            if (step.rest_check->Match(line, cand[k], end, re2::RE2::ANCHOR_BOTH, nullptr, 0)) {
              split = cand[k];
              ++candidates;
            }
          }
        }
        if (candidates == 1) {
          if (step.head_group >= 0) {
            if (step.head_group >= ngroups) return false;
            sub[step.head_group] = re2::StringPiece(base + pos, split - pos);
          } else if (!step.head_alt.empty()) {
            if (!MatchAlternation(step, line, pos, split, sub, ngroups)) return false;
          } else if (step.head_re &&
                     !MatchGroups(*step.head_re, step.head_groups, line, pos, split, sub, ngroups)) {
            return false;
          }
          if (!RunSteps(step.rest, line, split, end, sub, ngroups)) return false;
          done = true;
        }
      }
      if (!done && !MatchGroups(*step.re, step.groups, line, pos, end, sub, ngroups)) return false;
    }
    pos = end;
  }
  return pos == stop;
}

}  // namespace

SegmentedMatcher::SegmentedMatcher() = default;
SegmentedMatcher::~SegmentedMatcher() = default;

std::unique_ptr<const SegmentedMatcher> SegmentedMatcher::Plan(const std::string& expanded,
                                                               const re2::RE2& whole,
                                                               const re2::RE2::Options& options) {
  Parser parser(expanded);
  std::optional<Node> root = parser.ParseAll();
  if (!root || root->children.size() != 1) return nullptr;  // top-level alternation
  std::vector<const Node*> items;
  Flatten(root->children[0], &items);
  std::unique_ptr<SegmentedMatcher> m(new SegmentedMatcher());
  bool forced = false;
  if (!BuildSteps(expanded, items, 0, items.size(), whole.NamedCapturingGroups(), options, 0,
                  &m->steps_, &forced)) {
    return nullptr;
  }
  if (!forced) return nullptr;  // one span covering everything: nothing gained
  return std::unique_ptr<const SegmentedMatcher>(std::move(m));
}

bool SegmentedMatcher::Extract(std::string_view line, std::string_view span, re2::StringPiece* sub,
                               int ngroups) const {
  size_t pos = static_cast<size_t>(span.data() - line.data());
  return RunSteps(steps_, line, pos, pos + span.size(), sub, ngroups);
}

namespace {

// [...] for a byte set, every byte as \xHH.
std::string ClassOf(const ByteSet& set) {
  std::string out = "[";
  char buf[16];
  for (int c = 0; c < 256;) {
    if (!set.test(c)) {
      ++c;
      continue;
    }
    int hi = c;
    while (hi + 1 < 256 && set.test(hi + 1)) ++hi;
    snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
    if (hi > c) {
      snprintf(buf, sizeof buf, "-\\x%02x", hi);
      out += buf;
    }
    c = hi + 1;
  }
  return out + "]";
}

// Collects the [begin, end) text ranges of the groups to replace, outermost first.
void ApproximateNode(const Node& n, size_t max_bytes, std::vector<const Node*>* out) {
  if (n.kind == Node::kGroup && n.end - n.begin > max_bytes && n.children[0].children.size() > 1) {
    out->push_back(&n);
    return;
  }
  for (const Node& c : n.children) ApproximateNode(c, max_bytes, out);
}

}  // namespace

std::string ApproximateRegex(const std::string& expanded, size_t max_group_bytes) {
  Parser parser(expanded);
  std::optional<Node> root = parser.ParseAll();
  if (!root) return expanded;
  std::vector<const Node*> groups;
  ApproximateNode(*root, max_group_bytes, &groups);
  std::string out;
  size_t at = 0;
  for (const Node* g : groups) {  // in text order, not nested
    out.append(expanded, at, g->begin - at);
    if (g->alpha.none()) return expanded;  // matches nothing but the empty string: keep it
    out += "(?:" + ClassOf(g->alpha) + "*)";
    at = g->end;
  }
  out.append(expanded, at, std::string::npos);
  return out;
}

TrailingGreedyMatcher::TrailingGreedyMatcher() = default;
TrailingGreedyMatcher::~TrailingGreedyMatcher() = default;

std::unique_ptr<const TrailingGreedyMatcher> TrailingGreedyMatcher::Plan(
    const std::string& expanded, const re2::RE2& whole, const re2::RE2::Options& options) {
  if (!options.dot_nl() || options.encoding() != re2::RE2::Options::EncodingLatin1) return nullptr;
  Parser parser(expanded);
  std::optional<Node> root = parser.ParseAll();
  if (!root || root->children.size() != 1) return nullptr;  // top-level alternation
  std::vector<const Node*> items;
  Flatten(root->children[0], &items);
  if (items.size() < 2) return nullptr;
  // The last item: (?P<g>.*) or (?P<g>(?:.*)), greedy.
  const Node* last = items.back();
  if (last->kind != Node::kGroup || last->capture.empty() || last->repeated) return nullptr;
  std::string_view body(expanded.data() + last->children[0].begin,
                        last->children[0].end - last->children[0].begin);
  if (body != ".*" && body != "(?:.*)") return nullptr;
  const auto& global = whole.NamedCapturingGroups();
  auto it = global.find(last->capture);
  if (it == global.end()) return nullptr;
  std::unique_ptr<TrailingGreedyMatcher> m(new TrailingGreedyMatcher());
  m->rest_group_ = it->second;
  if (!CompileItems(expanded, items, 0, items.size() - 1, global, options, &m->prefix_, &m->groups_,
                    nullptr)) {
    return nullptr;
  }
  if (m->groups_.size() > 32) return nullptr;
  return std::unique_ptr<const TrailingGreedyMatcher>(std::move(m));
}

bool TrailingGreedyMatcher::Match(std::string_view line, re2::StringPiece* sub, int ngroups) const {
  constexpr int kInline = 32;
  re2::StringPiece local[kInline];
  const int n = static_cast<int>(groups_.size());
  // Leftmost match: at the first byte when there is one there (cheaper: no reverse
  // search for the start), else anywhere (see Grok::MatchAnchoredFirst).
  if (!prefix_->Match(line, 0, line.size(), re2::RE2::ANCHOR_START, local, n) &&
      (line.empty() || !prefix_->Match(line, 0, line.size(), re2::RE2::UNANCHORED, local, n))) {
    return false;
  }
  for (int g = 1; g < n; ++g)
    if (groups_[g] > 0 && groups_[g] < ngroups) sub[groups_[g]] = local[g];
  const size_t end = static_cast<size_t>(local[0].data() - line.data()) + local[0].size();
  if (rest_group_ < ngroups) sub[rest_group_] = re2::StringPiece(line.data() + end, line.size() - end);
  return true;
}

std::string TrailingGreedyMatcher::Describe() const {
  return "prefix: " + std::to_string(prefix_->ProgramSize()) + " insts, " +
         std::to_string(groups_.size() - 1) + " groups; rest: group " + std::to_string(rest_group_) + "\n";
}

namespace {
void DescribeSteps(const std::vector<Step>& steps, const std::string& indent, std::string* out) {
  for (const Step& s : steps) {
    *out += indent;
    if (!s.literal.empty()) {
      *out += "literal \"" + s.literal + "\"\n";
      continue;
    }
    *out += "span to ";
    *out += s.terminator >= 0 ? "'" + std::string(1, static_cast<char>(s.terminator)) + "'"
            : s.tail > 0      ? "end - " + std::to_string(s.tail)
                              : "end";
    if (s.group >= 0) *out += ": group " + s.regex;
    else if (s.choice_group >= 0) *out += ": choice of " + std::to_string(s.choice_literals.size()) +
                                          " literals, else group " + std::to_string(s.choice_group);
    else if (s.re) *out += ": re " + std::to_string(s.re->ProgramSize()) + " insts, " +
                           std::to_string(s.groups.size() - 1) + " groups";
    if (s.split_byte >= 0) {
      *out += "; split at the one '" + std::string(1, static_cast<char>(s.split_byte)) + "'";
      if (!s.head_alt.empty()) *out += " (head: " + std::to_string(s.head_alt.size()) + " branches in order)";
      *out += " the rest matches from:\n";
      DescribeSteps(s.rest, indent + "  ", out);
    } else {
      *out += "\n";
    }
  }
}
}  // namespace

std::string SegmentedMatcher::Describe() const {
  std::string out;
  DescribeSteps(steps_, "", &out);
  return out;
}

}  // namespace logship::grok
