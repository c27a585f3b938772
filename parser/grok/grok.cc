#include "parser/grok/grok.h"

#include "parser/grok/segmented.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace logship::grok {
namespace {

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsValidName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsNameChar);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A capture recorded while expanding; `group_name` is the generated RE2 name.
struct PendingCapture {
  std::string group_name;
  std::string field;
  FieldType type;
};

// Expands one grok expression into an RE2 regex. Single use.
class Expander {
 public:
  Expander(const PatternLibrary& lib, const CompileOptions& opt) : lib_(lib), opt_(opt) {}

  // Expands `text`, the body of pattern `name` ("" for the top-level expression),
  // translating Oniguruma (Ruby) syntax to RE2 as it goes (docs/grok.md, "Differences"):
  //   (?>...) -> (?:...); X*+ X++ X?+ -> greedy; a quantifier applied to a quantified atom
  //   (X{2}+, .?*, Ruby's repeat-of-repeat) -> (?:X{2})+; {,n} -> {0,n}; \h \H -> hex
  //   digit classes (Ruby's meaning); \R -> line break; \Z -> (?:\n?\z); \e -> \x1b;
  //   nested classes [a[bc]] and [[[:alnum:]]_] -> flattened; (?m) -> dot-all (Ruby's m is
  //   RE2's s, and dot-all is already on); (?#...) comments dropped; unnamed ( ) groups
  //   -> (?: ). Lookaround, backreferences, \G, \K, (?x), class intersection (&&) and
  //   negated nested classes have no RE2 equivalent: InvalidArgument with the offset.
  Status Expand(std::string_view text, const std::string& name, std::string* out) {
    size_t i = 0;
    const size_t n = text.size();
    auto where = [&]() {
      return name.empty() ? std::string("grok expression") : "grok pattern " + Describe(name);
    };
    auto unsupported = [&](size_t at, const std::string& what) {
      return Status::InvalidArgument(where() + ": " + what + " at offset " + std::to_string(at) +
                                     " is not supported by RE2");
    };
    // The start (in *out) of the last complete atom, for quantifiers; npos when none.
    size_t atom = std::string::npos;
    bool quantified = false;             // the atom at `atom` already carries a quantifier
    std::vector<size_t> groups;          // *out positions of the open groups
    auto begin_atom = [&]() {
      atom = out->size();
      quantified = false;
    };
    while (i < n) {
      if (out->size() > opt_.max_expanded_bytes) {
        return Status::InvalidArgument(where() + ": expanded regex exceeds " +
                                       std::to_string(opt_.max_expanded_bytes) + " bytes");
      }
      const char c = text[i];
      // ---- quantifiers --------------------------------------------------------------
      size_t qlen = 0;
      std::string quant;
      if (c == '*' || c == '+' || c == '?') {
        qlen = 1;
        quant = std::string(1, c);
      } else if (c == '{') {
        size_t j = i + 1;
        size_t lo_digits = 0;
        while (j < n && text[j] >= '0' && text[j] <= '9') ++j, ++lo_digits;
        bool comma = j < n && text[j] == ',';
        size_t hi_digits = 0;
        if (comma) {
          ++j;
          while (j < n && text[j] >= '0' && text[j] <= '9') ++j, ++hi_digits;
        }
        if (j < n && text[j] == '}' && (lo_digits > 0 || (comma && hi_digits > 0))) {
          qlen = j + 1 - i;
          quant = lo_digits == 0 ? "{0" + std::string(text.substr(i + 1, j - i)) : std::string(text.substr(i, qlen));
        }
      }
      if (qlen > 0 && atom != std::string::npos) {
        if (quantified) {  // Ruby: a quantifier on a quantified atom repeats the whole
          out->insert(atom, "(?:");
          out->push_back(')');
        }
        out->append(quant);
        i += qlen;
        if (i < n && text[i] == '?') {
          out->push_back('?');  // lazy
          ++i;
        } else if (i < n && text[i] == '+' && qlen == 1) {
          ++i;  // possessive *+ ++ ?+ -> greedy: RE2 never backtracks
        }
        quantified = true;
        continue;
      }
      // ---- escapes ------------------------------------------------------------------
      if (c == '\\') {
        begin_atom();
        if (i + 1 >= n) {
          out->push_back(c);
          ++i;
          continue;
        }
        const char e = text[i + 1];
        if (e == 'h') {
          out->append("[0-9a-fA-F]");  // Ruby: hexadecimal digit
        } else if (e == 'H') {
          out->append("[^0-9a-fA-F]");
        } else if (e == 'Z') {
          out->append("(?:\\n?\\z)");
        } else if (e == 'R') {
          out->append("(?:\\r\\n|[\\n\\x0b\\f\\r])");
        } else if (e == 'e') {
          out->append("\\x1b");
        } else if (e >= '1' && e <= '9') {
          return unsupported(i, std::string("backreference \\") + e);
        } else if (e == 'k' || e == 'g') {
          return unsupported(i, std::string("backreference or subexpression call \\") + e);
        } else if (e == 'G' || e == 'K') {
          return unsupported(i, std::string("\\") + e);
        } else {
          out->push_back(c);
          out->push_back(e);
        }
        i += 2;
        continue;
      }
      switch (c) {
        case '[': {
          begin_atom();
          size_t end = 0;
          LOGSHIP_RETURN_IF_ERROR(CopyClass(text, i, where, out, &end));
          i = end;
          continue;
        }
        case '%': {
          if (i + 1 < n && text[i + 1] == '{') {
            size_t close = text.find('}', i + 2);
            if (close == std::string_view::npos) {
              return Status::InvalidArgument(where() + ": unterminated %{ at offset " +
                                             std::to_string(i));
            }
            begin_atom();
            LOGSHIP_RETURN_IF_ERROR(Reference(text.substr(i + 2, close - i - 2), name, out));
            i = close + 1;
            continue;
          }
          begin_atom();
          out->push_back(c);
          ++i;
          continue;
        }
        case '(': {
          std::string_view rest = text.substr(i);
          if (rest.starts_with("(?<=") || rest.starts_with("(?<!") || rest.starts_with("(?=") ||
              rest.starts_with("(?!")) {
            return unsupported(i, "lookaround " + std::string(rest.substr(0, rest[2] == '<' ? 4 : 3)));
          }
          if (rest.starts_with("(?#")) {  // comment
            size_t close = rest.find(')');
            if (close == std::string_view::npos) {
              return Status::InvalidArgument(where() + ": unterminated (?# at offset " + std::to_string(i));
            }
            i += close + 1;
            continue;
          }
          if (rest.starts_with("(?~")) return unsupported(i, "absent operator (?~");
          if (rest.starts_with("(?<") || rest.starts_with("(?P<") || rest.starts_with("(?'")) {
            size_t start = rest[2] == 'P' ? 4 : 3;
            char closer = rest[2] == '\'' ? '\'' : '>';
            size_t close = rest.find(closer, start);
            if (close == std::string_view::npos) {
              return Status::InvalidArgument(where() + ": unterminated group name at offset " +
                                             std::to_string(i));
            }
            std::string field = NormalizeFieldName(rest.substr(start, close - start));
            if (field.empty()) {
              return Status::InvalidArgument(where() + ": empty group name at offset " +
                                             std::to_string(i));
            }
            groups.push_back(out->size());
            out->append("(?P<");
            out->append(NewGroup(std::move(field), FieldType::kString));
            out->push_back('>');
            i += close + 1;
            atom = std::string::npos;
            continue;
          }
          if (rest.starts_with("(?>")) {  // atomic group: RE2 never backtracks
            groups.push_back(out->size());
            out->append("(?:");
            i += 3;
            atom = std::string::npos;
            continue;
          }
          if (rest.starts_with("(?")) {  // flags: (?imx-imx) or (?imx-imx:...)
            size_t j = 2;
            std::string on, off;
            bool negate = false;
            while (j < rest.size() && (rest[j] == 'i' || rest[j] == 'm' || rest[j] == 'x' || rest[j] == '-')) {
              char f = rest[j++];
              if (f == '-') {
                negate = true;
                continue;
              }
              if (f == 'x') return unsupported(i, "extended mode (?x)");
              if (f == 'm') f = 's';           // Ruby's m is dot-all: RE2's s
              if (!negate && f == 's') continue;  // dot-all is always on
              (negate ? off : on).push_back(f);
            }
            if (j < rest.size() && (rest[j] == ')' || rest[j] == ':')) {
              std::string flags = on + (off.empty() ? "" : "-" + off);
              if (rest[j] == ')') {
                if (!flags.empty()) out->append("(?" + flags + ")");
              } else {
                groups.push_back(out->size());
                out->append("(?" + flags + ":");
              }
              i += j + 1;
              atom = std::string::npos;
              continue;
            }
            // Anything else: let RE2 report it.
            groups.push_back(out->size());
            out->append("(?");
            i += 2;
            atom = std::string::npos;
            continue;
          }
          groups.push_back(out->size());
          out->append("(?:");  // unnamed groups never produce fields: keep them cheap
          ++i;
          atom = std::string::npos;
          continue;
        }
        case ')': {
          out->push_back(c);
          ++i;
          if (!groups.empty()) {
            atom = groups.back();
            groups.pop_back();
            quantified = false;
          } else {
            atom = std::string::npos;
          }
          continue;
        }
        case '|':
          out->push_back(c);
          ++i;
          atom = std::string::npos;
          continue;
        default:
          begin_atom();
          out->push_back(c);
          ++i;
      }
    }
    return Status::Ok();
  }

  // Copies the character class starting at text[i] ('[') to *out as an RE2 class,
  // flattening Oniguruma's nested classes; *end is set past its closing ']'.
  template <class Where>
  Status CopyClass(std::string_view text, size_t i, const Where& where, std::string* out, size_t* end) {
    const size_t open = i;
    std::string body;
    bool negated = false;
    ++i;
    if (i < text.size() && text[i] == '^') {
      negated = true;
      ++i;
    }
    LOGSHIP_RETURN_IF_ERROR(ClassBody(text, &i, open, where, &body));
    out->push_back('[');
    if (negated) out->push_back('^');
    out->append(body);
    out->push_back(']');
    *end = i;
    return Status::Ok();
  }

  // The items of a class up to and including its closing ']' (at *i on return + 0).
  template <class Where>
  Status ClassBody(std::string_view text, size_t* i, size_t open, const Where& where, std::string* body) {
    const size_t n = text.size();
    bool first = true;
    while (true) {
      if (*i >= n) {
        return Status::InvalidArgument(where() + ": unterminated character class at offset " +
                                       std::to_string(open));
      }
      const char c = text[*i];
      if (c == ']' && !first) {
        ++*i;
        return Status::Ok();
      }
      first = false;
      if (c == '[' && *i + 1 < n && text[*i + 1] == ':') {  // [:alpha:] [:^alpha:]
        size_t close = text.find(":]", *i + 2);
        if (close != std::string_view::npos) {
          body->append(text.substr(*i, close + 2 - *i));
          *i = close + 2;
          continue;
        }
      }
      if (c == '[') {  // nested class: a union, flattened into this one
        const size_t nested = *i;
        ++*i;
        if (*i < n && text[*i] == '^') {
          return Status::InvalidArgument(where() + ": negated class nested in a class at offset " +
                                         std::to_string(nested) + " is not supported by RE2");
        }
        LOGSHIP_RETURN_IF_ERROR(ClassBody(text, i, nested, where, body));
        continue;
      }
      if (c == '&' && *i + 1 < n && text[*i + 1] == '&') {
        return Status::InvalidArgument(where() + ": class intersection && at offset " +
                                       std::to_string(*i) + " is not supported by RE2");
      }
      if (c == '\\' && *i + 1 < n) {
        const char e = text[*i + 1];
        if (e == 'h') {
          body->append("0-9a-fA-F");
        } else if (e == 'H') {
          return Status::InvalidArgument(where() + ": \\H inside a class at offset " +
                                         std::to_string(*i) + " is not supported by RE2");
        } else if (e == 'e') {
          body->append("\\x1b");
        } else {
          body->push_back(c);
          body->push_back(e);
        }
        *i += 2;
        continue;
      }
      body->push_back(c);
      ++*i;
    }
  }

  std::vector<PendingCapture>& captures() { return captures_; }
  // Every pattern referenced, innermost first (post-order), each once.
  const std::vector<std::string>& referenced() const { return referenced_; }

 private:
  std::string Describe(const std::string& name) const {
    const auto* def = lib_.Find(name);
    if (def && !def->origin.empty()) return name + " (" + def->origin + ")";
    return name;
  }

  std::string NewGroup(std::string field, FieldType type) {
    std::string group = "g" + std::to_string(++next_group_);
    captures_.push_back({group, std::move(field), type});
    return group;
  }

  // `ref` is the text between "%{" and "}": NAME, NAME:field or NAME:field:type.
  Status Reference(std::string_view ref, const std::string& parent, std::string* out) {
    auto where = [&]() {
      return parent.empty() ? std::string("grok expression") : "grok pattern " + Describe(parent);
    };
    std::string_view pname = ref, field, type;
    if (size_t c1 = ref.find(':'); c1 != std::string_view::npos) {
      pname = ref.substr(0, c1);
      field = ref.substr(c1 + 1);
      if (size_t c2 = field.rfind(':'); c2 != std::string_view::npos) {
        type = field.substr(c2 + 1);
        field = field.substr(0, c2);
      }
    }
    if (!IsValidName(pname)) {
      return Status::InvalidArgument(where() + ": malformed reference %{" + std::string(ref) + "}");
    }
    FieldType ftype = FieldType::kString;
    if (type == "int" || type == "integer" || type == "long") {
      ftype = FieldType::kInt;
    } else if (type == "float" || type == "double") {
      ftype = FieldType::kFloat;
    } else if (!type.empty() && type != "string") {
      return Status::InvalidArgument(where() + ": unknown type '" + std::string(type) + "' in %{" +
                                     std::string(ref) + "} (expected int or float)");
    }
    const auto* def = lib_.Find(pname);
    std::string name(pname);
    if (def == nullptr) {
      return Status::InvalidArgument(where() + ": undefined pattern " + name + " in %{" +
                                     std::string(ref) + "}");
    }
    if (std::find(stack_.begin(), stack_.end(), name) != stack_.end()) {
      std::string chain;
      for (const auto& s : stack_) chain += s + " -> ";
      return Status::InvalidArgument("grok pattern " + Describe(name) +
                                     ": reference cycle: " + chain + name);
    }
    if (static_cast<int>(stack_.size()) >= opt_.max_depth) {
      return Status::InvalidArgument("grok pattern " + Describe(name) + ": references nest deeper than " +
                                     std::to_string(opt_.max_depth));
    }
    if (field.empty()) {
      out->append("(?:");
    } else {
      std::string fname = NormalizeFieldName(field);
      if (fname.empty()) {
        return Status::InvalidArgument(where() + ": empty field name in %{" + std::string(ref) + "}");
      }
      out->append("(?P<");
      out->append(NewGroup(std::move(fname), ftype));
      out->push_back('>');
    }
    stack_.push_back(name);
    Status st = Expand(def->regex, name, out);
    stack_.pop_back();
    LOGSHIP_RETURN_IF_ERROR(st);
    out->push_back(')');
    if (std::find(referenced_.begin(), referenced_.end(), name) == referenced_.end()) {
      referenced_.push_back(name);
    }
    return Status::Ok();
  }

  const PatternLibrary& lib_;
  const CompileOptions& opt_;
  std::vector<std::string> stack_;
  std::vector<PendingCapture> captures_;
  std::vector<std::string> referenced_;
  int next_group_ = 0;
};

// RE2's error with the position of the offending text: its offset in `source` (the
// pattern's own definition, as the user wrote it) when it occurs there, otherwise in the
// expanded regex.
std::string Re2Error(const re2::RE2& re, std::string_view source, const std::string& expanded) {
  std::string msg = re.error();
  const std::string& arg = re.error_arg();
  if (!arg.empty()) {
    size_t pos = source.find(arg);
    if (pos != std::string::npos) {
      msg += " (at offset " + std::to_string(pos) + " of its definition)";
    } else if ((pos = expanded.find(arg)) != std::string::npos) {
      msg += " (at offset " + std::to_string(pos) + " of the expanded regex)";
    }
  }
  return msg;
}

}  // namespace

// ---- PatternLibrary ------------------------------------------------------------------

std::optional<PatternNaming> PatternNamingFromName(std::string_view name) {
  if (name == "disabled") return PatternNaming::kLegacy;
  if (name == "v1" || name == "v8") return PatternNaming::kEcsV1;
  return std::nullopt;
}

const char* PatternNamingDir(PatternNaming naming) {
  return naming == PatternNaming::kEcsV1 ? "ecs-v1" : "legacy";
}

namespace {

// The regular files of `dir`, sorted, dotfiles skipped.
Status ListPatternFiles(const std::string& dir, std::vector<std::filesystem::path>* files) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Status::IOError("pattern directory " + dir + ": " + ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return Status::IOError("pattern directory " + dir + ": " + ec.message());
    const auto& p = it->path();
    if (p.filename().string().starts_with(".")) continue;
    if (!it->is_regular_file(ec)) continue;
    files->push_back(p);
  }
  std::sort(files->begin(), files->end());
  return Status::Ok();
}

}  // namespace

Status PatternLibrary::LoadDirectory(const std::string& dir, PatternNaming naming) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  const fs::path sub = fs::path(dir) / PatternNamingDir(naming);
  std::error_code ec;
  if (fs::is_directory(sub, ec)) LOGSHIP_RETURN_IF_ERROR(ListPatternFiles(sub.string(), &files));
  std::vector<fs::path> own;
  LOGSHIP_RETURN_IF_ERROR(ListPatternFiles(dir, &own));
  files.insert(files.end(), own.begin(), own.end());
  for (const auto& f : files) LOGSHIP_RETURN_IF_ERROR(LoadFile(f.string()));
  return Status::Ok();
}

std::vector<std::string> PatternLibrary::Names() const {
  std::vector<std::string> names;
  names.reserve(patterns_.size());
  for (const auto& [name, def] : patterns_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

Status PatternLibrary::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("pattern file " + path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("pattern file " + path + ": read error");
  return AddText(ss.str(), path);
}

Status PatternLibrary::AddText(std::string_view text, const std::string& origin) {
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    size_t sp = line.find_first_of(" \t");
    std::string where = origin + ":" + std::to_string(line_no);
    if (sp == std::string_view::npos) {
      return Status::InvalidArgument(where + ": pattern " + std::string(line) + " has no regex");
    }
    std::string_view name = line.substr(0, sp);
    if (!IsValidName(name)) {
      return Status::InvalidArgument(where + ": invalid pattern name '" + std::string(name) +
                                     "' (expected [A-Za-z0-9_]+)");
    }
    Add(std::string(name), std::string(Trim(line.substr(sp))), where);
  }
  return Status::Ok();
}

void PatternLibrary::Add(std::string name, std::string regex, std::string origin) {
  patterns_[std::move(name)] = Definition{std::move(regex), std::move(origin)};
}

const PatternLibrary::Definition* PatternLibrary::Find(std::string_view name) const {
  auto it = patterns_.find(std::string(name));
  return it == patterns_.end() ? nullptr : &it->second;
}

// ---- Grok ----------------------------------------------------------------------------

re2::RE2::Options GrokRe2Options(int64_t max_mem) {
  re2::RE2::Options o;
  o.set_encoding(re2::RE2::Options::EncodingLatin1);
  o.set_dot_nl(true);
  o.set_log_errors(false);
  o.set_max_mem(max_mem);
  return o;
}

std::string NormalizeFieldName(std::string_view name) {
  if (name.empty() || name.front() != '[') return std::string(name);
  std::string out;
  while (!name.empty() && name.front() == '[') {
    size_t close = name.find(']');
    if (close == std::string_view::npos) break;
    if (!out.empty()) out.push_back('.');
    out.append(name.substr(1, close - 1));
    name.remove_prefix(close + 1);
  }
  if (!name.empty()) {  // trailing text that is not [segment]: keep it verbatim
    if (!out.empty()) out.push_back('.');
    out.append(name);
  }
  return out;
}

namespace {
constexpr int kInlineGroups = 48;  // Match() extracts up to this many groups on the stack

// Room for `n` submatches: on the stack up to kInlineGroups, else on the heap.
class Submatches {
 public:
  explicit Submatches(int n) {
    if (n > kInlineGroups) heap_.reset(new re2::StringPiece[n]);
  }
  re2::StringPiece* get() { return heap_ ? heap_.get() : inline_; }

 private:
  re2::StringPiece inline_[kInlineGroups];
  std::unique_ptr<re2::StringPiece[]> heap_;
};
}  // namespace

Grok::~Grok() = default;

Result<std::unique_ptr<const Grok>> Grok::Compile(std::string_view expression,
                                                  const PatternLibrary& library,
                                                  const CompileOptions& options) {
  Expander ex(library, options);
  std::string expanded;
  LOGSHIP_RETURN_IF_ERROR(ex.Expand(expression, "", &expanded));

  std::unique_ptr<Grok> g(new Grok());
  g->expression_ = std::string(expression);
  g->re_ = std::make_unique<re2::RE2>(expanded, GrokRe2Options(options.max_mem));
  if (!g->re_->ok()) {
    // Name the innermost pattern that fails on its own, so the user knows which to fix.
    for (const auto& name : ex.referenced()) {
      Expander sub(library, options);
      std::string sub_expanded;
      if (!sub.Expand(library.Find(name)->regex, name, &sub_expanded).ok()) continue;
      re2::RE2 re(sub_expanded, GrokRe2Options(options.max_mem));
      if (!re.ok()) {
        const auto* def = library.Find(name);
        return Status::InvalidArgument(
            "grok pattern " + name + (def->origin.empty() ? "" : " (" + def->origin + ")") +
            " does not compile: " + Re2Error(re, def->regex, sub_expanded) + "; regex: " + sub_expanded);
      }
    }
    return Status::InvalidArgument("grok expression '" + std::string(expression) +
                                   "' does not compile: " + Re2Error(*g->re_, expression, expanded));
  }
  g->expanded_ = std::move(expanded);

  const auto& groups = g->re_->NamedCapturingGroups();
  std::unordered_set<std::string> seen;
  int max_group = 0;
  for (auto& pc : ex.captures()) {
    auto it = groups.find(pc.group_name);
    if (it == groups.end()) continue;  // cannot happen: every generated group is in the regex
    if (!seen.insert(pc.field).second) g->has_duplicate_fields_ = true;
    g->captures_.push_back({std::move(pc.field), pc.type, it->second});
    max_group = std::max(max_group, it->second);
  }
  std::sort(g->captures_.begin(), g->captures_.end(),
            [](const Capture& a, const Capture& b) { return a.group < b.group; });
  g->ngroups_ = g->captures_.empty() ? 0 : max_group + 1;
  if (g->ngroups_ > 0) {
    g->segmented_ = SegmentedMatcher::Plan(g->expanded_, *g->re_, GrokRe2Options(options.max_mem));
    if (g->segmented_ == nullptr && g->ngroups_ <= kInlineGroups) {
      g->trailing_ = TrailingGreedyMatcher::Plan(g->expanded_, *g->re_, GrokRe2Options(options.max_mem));
    }
  }
  return std::unique_ptr<const Grok>(std::move(g));
}

namespace {

FieldValue Convert(std::string_view s, FieldType type) {
  if (type == FieldType::kString) return std::string(s);
  std::string_view num = s;
  if (!num.empty() && num.front() == '+') num.remove_prefix(1);
  const char* end = num.data() + num.size();
  if (type == FieldType::kInt) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(num.data(), end, v);
    if (ec == std::errc() && p == end) return v;
  }
  double d = 0;
  auto [p, ec] = std::from_chars(num.data(), end, d);
  if (ec == std::errc() && p == end && std::isfinite(d)) {
    if (type == FieldType::kFloat) return d;
    if (d >= -9.2e18 && d <= 9.2e18) return static_cast<int64_t>(d);  // "12.7" -> 12
  }
  return std::string(s);  // does not convert: kept as text, never dropped
}

}  // namespace

bool Grok::Matches(std::string_view line) const {
  return re_->Match(line, 0, line.size(), re2::RE2::UNANCHORED, nullptr, 0);
}

// Most lines match from their first byte. A match anchored at 0 is the leftmost match,
// and among the paths starting there RE2 picks the same (leftmost-first) one as the
// unanchored search, so trying ANCHOR_START first gives the same result as UNANCHORED:
// for the span it saves the reverse DFA pass that finds the start, and for captures the
// reverse pass before the NFA. Only when nothing matches at 0 is the unanchored search run.
bool Grok::MatchAnchoredFirst(std::string_view line, re2::StringPiece* sub, int n) const {
  if (re_->Match(line, 0, line.size(), re2::RE2::ANCHOR_START, sub, n)) return true;
  if (line.empty()) return false;  // the unanchored search has no other start to try
  return re_->Match(line, 0, line.size(), re2::RE2::UNANCHORED, sub, n);
}

bool Grok::Match(std::string_view line, std::vector<Field>* fields) const {
  if (trailing_ != nullptr) {
    re2::StringPiece sub[kInlineGroups];
    if (!trailing_->Match(line, sub, ngroups_)) return false;
    AppendFields(sub, fields);
    return true;
  }
  if (segmented_ == nullptr || ngroups_ > kInlineGroups) {
    Submatches sub(ngroups_);
    if (!MatchAnchoredFirst(line, sub.get(), ngroups_)) return false;
    AppendFields(sub.get(), fields);
    return true;
  }
  // The DFA finds the overall span; the segmented plan then places the groups without
  // running the NFA over the big program.
  re2::StringPiece span;
  if (!MatchAnchoredFirst(line, &span, 1)) return false;
  re2::StringPiece sub[kInlineGroups];
  if (!segmented_->Extract(line, std::string_view(span.data(), span.size()), sub, ngroups_)) {
    return MatchFullCapture(line, fields);  // cannot happen for a sound plan; stay exact
  }
  AppendFields(sub, fields);
  return true;
}

bool Grok::MatchFullCapture(std::string_view line, std::vector<Field>* fields) const {
  Submatches sub(ngroups_);
  if (!re_->Match(line, 0, line.size(), re2::RE2::UNANCHORED, sub.get(), ngroups_)) return false;
  AppendFields(sub.get(), fields);
  return true;
}

std::string Grok::Prefilter() const { return ApproximateRegex(expanded_, 64); }

std::string Grok::DescribeSegmentation() const {
  if (segmented_) return segmented_->Describe();
  return trailing_ ? trailing_->Describe() : std::string();
}

void Grok::AppendFields(const re2::StringPiece* sub, std::vector<Field>* fields) const {
  const size_t first = fields->size();
  for (const auto& cap : captures_) {
    const re2::StringPiece& sp = sub[cap.group];
    if (sp.data() == nullptr || sp.empty()) continue;  // did not participate, or empty
    if (has_duplicate_fields_) {
      bool dup = false;
      for (size_t k = first; k < fields->size() && !dup; ++k) dup = (*fields)[k].name == cap.field;
      if (dup) continue;  // first non-empty capture of a name wins
    }
    fields->push_back(Field{cap.field, Convert(std::string_view(sp.data(), sp.size()), cap.type)});
  }
}

}  // namespace logship::grok
