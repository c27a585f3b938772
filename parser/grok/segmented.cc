#include "parser/grok/segmented.h"

#include <bitset>
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
    while (i_ < s_.size() && s_[i_] != '|' && s_[i_] != ')') {
      Node a;
      if (!ParseAtom(&a)) return false;
      out->alpha |= a.alpha;
      out->has_capture |= a.has_capture;
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
    // Quantifiers (possibly stacked; a trailing '?' makes one lazy).
    while (i_ < s_.size()) {
      char q = s_[i_];
      size_t len = (q == '*' || q == '+' || q == '?') ? 1 : RepeatLength();
      if (len == 0) break;
      out->repeated = true;
      i_ += len;
      if (i_ < s_.size() && s_[i_] == '?') ++i_;
    }
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
  int terminator = -1;              // span: ends at the first such byte; -1: at the range end
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
  int head_group = -1;                            // head is exactly this group
  std::unique_ptr<re2::RE2> head_re;              // head with nested captures
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

// Plans items[begin, end) into `steps`; `*forced` is set when a boundary is forced.
bool BuildSteps(const std::string& expanded, const std::vector<const Node*>& items, size_t begin,
                size_t end, const std::map<std::string, int>& global,
                const re2::RE2::Options& options, int depth, std::vector<Step>* steps,
                bool* forced) {
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
    while (j < end) {
      if (j > i && IsLiteral(items[j]) && !alpha.test(items[j]->byte)) {
        step.terminator = items[j]->byte;
        *forced = true;
        break;
      }
      alpha |= items[j]->alpha;
      ++j;
    }
    step.group = WholeGroup(items, i, j, global);
    if (step.group == -2) return false;
    if (step.group >= 0) {
      step.regex = items[i]->capture;
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
          step.rest = std::move(rest);
          step.head_group = WholeGroup(items, i, i + 1, global);
          if (step.head_group == -2) return false;
          if (step.head_group < 0 && items[i]->has_capture &&
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
  for (int g = 1; g < n; ++g) {
    if (groups[g] >= ngroups) return false;
    if (groups[g] > 0) sub[groups[g]] = local[g];
  }
  return true;
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
    }
    if (step.group >= 0) {
      if (step.group >= ngroups) return false;
      sub[step.group] = re2::StringPiece(base + pos, end - pos);
    } else if (step.re) {
      bool done = false;
      if (step.split_byte >= 0) {
        // Where can the rest start? It must match exactly up to `end`.
        size_t split = std::string_view::npos;
        int candidates = 0;
        for (size_t q = pos; q < end && candidates < 2; ++q) {
          const void* p = std::memchr(base + q, step.split_byte, end - q);
          if (p == nullptr) break;
          q = static_cast<size_t>(static_cast<const char*>(p) - base);
          if (step.rest_check->Match(line, q, end, re2::RE2::ANCHOR_BOTH, nullptr, 0)) {
            split = q;
            ++candidates;
          }
        }
        if (candidates == 1) {
          if (step.head_group >= 0) {
            if (step.head_group >= ngroups) return false;
            sub[step.head_group] = re2::StringPiece(base + pos, split - pos);
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
void DescribeSteps(const std::vector<Step>& steps, const std::string& indent, std::string* out) {
  for (const Step& s : steps) {
    *out += indent;
    if (!s.literal.empty()) {
      *out += "literal \"" + s.literal + "\"\n";
      continue;
    }
    *out += "span to ";
    *out += s.terminator >= 0 ? "'" + std::string(1, static_cast<char>(s.terminator)) + "'" : "end";
    if (s.group >= 0) *out += ": group " + s.regex;
    else if (s.re) *out += ": re " + std::to_string(s.re->ProgramSize()) + " insts, " +
                           std::to_string(s.groups.size() - 1) + " groups";
    if (s.split_byte >= 0) {
      *out += "; split at the one '" + std::string(1, static_cast<char>(s.split_byte)) +
              "' the rest matches from:\n";
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
