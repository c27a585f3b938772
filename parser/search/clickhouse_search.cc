#include "parser/search/clickhouse_search.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "parser/sinks/clickhouse/clickhouse_client.h"
#include "parser/sinks/common/event_encoding.h"

namespace logship::search {
namespace {

using clickhouse::QuoteIdentifier;
using clickhouse::QuoteString;

constexpr int64_t kMaxDateDay = 65535;
constexpr size_t kMaxResultBytes = 512u << 20;
// Not a letter or digit (Unicode): what separates tokens, like FTS5's unicode61.
constexpr const char* kSep = "[^\\pL\\pN]";

bool IsBuiltin(const std::string& f) { return f == "host" || f == "source" || f == "type" || f == "id"; }
bool IsNumericBuiltin(const std::string& f) { return f == "offset" || f == "time_ns"; }

bool IsTokenByte(unsigned char c) { return c >= 0x80 || std::isalnum(c); }

// One byte of literal text inside an RE2 pattern.
void AppendRegexLiteral(std::string* re, unsigned char c) {
  if (IsTokenByte(c)) {
    re->push_back(static_cast<char>(c));
  } else if (c > 0x20 && c < 0x7f) {
    re->push_back('\\');  // RE2 accepts any escaped ASCII punctuation as itself
    re->push_back(static_cast<char>(c));
  } else {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\x{%02x}", c);
    *re += buf;
  }
}

// The user's wildcard ('*' only) as an anchored RE2 pattern. (?s): '*' spans newlines.
std::string GlobToRegex(std::string_view glob) {
  std::string re = "(?s)^";
  for (char c : glob) {
    if (c == '*') {
      re += ".*";
    } else {
      AppendRegexLiteral(&re, static_cast<unsigned char>(c));
    }
  }
  return re + "$";
}

std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (IsTokenByte(static_cast<unsigned char>(c))) {
      cur.push_back(c);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Free text: consecutive tokens, case-insensitive; `prefix`: the last token may continue.
// ClickHouse 18.16 mishandles a leading "(?i)" (its literal prefilter stays
// case-sensitive), so the flag is scoped as a group: (?i:...).
std::string TextCondition(const std::vector<std::string>& tokens, bool prefix) {
  std::string re = std::string("(?i:(?:^|") + kSep + ")";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) re += std::string(kSep) + "+";
    for (char c : tokens[i]) AppendRegexLiteral(&re, static_cast<unsigned char>(c));
  }
  if (!prefix) re += std::string("(?:") + kSep + "|$)";
  re += ")";
  // A cheap substring test first, the regex only on lines that contain every token.
  std::string cond;
  for (const auto& t : tokens) cond += "positionCaseInsensitiveUTF8(`raw`, " + QuoteString(t) + ") > 0 AND ";
  return cond + "match(`raw`, " + QuoteString(re) + ")";
}

std::string FieldExists(const std::string& names, const std::string& values, const std::string& field,
                        const std::string& value_cond) {
  return "arrayExists((k, v) -> k = " + QuoteString(field) + " AND " + value_cond + ", " + names + ", " + values +
         ")";
}

// RowBinary reader (https://clickhouse.com/docs/en/interfaces/formats#rowbinary).
class RowBinaryReader {
 public:
  explicit RowBinaryReader(std::string_view data) : d_(data) {}
  bool done() const { return p_ >= d_.size(); }
  bool VarUInt(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= d_.size()) return false;
      auto b = static_cast<unsigned char>(d_[p_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool String(std::string* s) {
    uint64_t n;
    if (!VarUInt(&n) || n > d_.size() - p_) return false;
    s->assign(d_.data() + p_, n);
    p_ += n;
    return true;
  }
  template <class T>
  bool Fixed(T* v) {
    if (d_.size() - p_ < sizeof(T)) return false;
    std::memcpy(v, d_.data() + p_, sizeof(T));  // little-endian, as the host
    p_ += sizeof(T);
    return true;
  }

 private:
  std::string_view d_;
  size_t p_ = 0;
};

}  // namespace

Result<std::string> BuildClickHouseQuery(const std::vector<Term>& terms, const SearchRequest& req,
                                         const std::string& database, const std::string& table) {
  std::vector<std::string> where;
  if (req.from_ns != std::numeric_limits<int64_t>::min()) {
    int64_t day = std::clamp<int64_t>(sinks::UtcDayIndex(req.from_ns), 0, kMaxDateDay);
    where.push_back("`day` >= toDate(" + QuoteString(sinks::FormatDay(day)) + ")");
    where.push_back("`time_ns` >= " + std::to_string(req.from_ns));
  }
  if (req.to_ns != std::numeric_limits<int64_t>::max()) {
    int64_t day = std::clamp<int64_t>(sinks::UtcDayIndex(req.to_ns), 0, kMaxDateDay);
    where.push_back("`day` <= toDate(" + QuoteString(sinks::FormatDay(day)) + ")");
    where.push_back("`time_ns` <= " + std::to_string(req.to_ns));
  }
  for (const Term& t : terms) {
    switch (t.kind) {
      case Term::Kind::kText:
      case Term::Kind::kPhrase: {
        std::string_view text = t.value;
        bool prefix = t.kind == Term::Kind::kText && text.size() > 1 && text.back() == '*';
        if (prefix) text.remove_suffix(1);
        std::vector<std::string> tokens = Tokens(text);
        if (tokens.empty()) break;  // nothing a tokenizer would index (as in SQLite)
        where.push_back(TextCondition(tokens, prefix));
        break;
      }
      case Term::Kind::kEquals:
      case Term::Kind::kGlob: {
        const bool glob = t.kind == Term::Kind::kGlob;
        if (IsBuiltin(t.field) || IsNumericBuiltin(t.field)) {
          std::string col = QuoteIdentifier(t.field);
          if (IsNumericBuiltin(t.field)) col = "toString(" + col + ")";
          where.push_back(glob ? "match(" + col + ", " + QuoteString(GlobToRegex(t.value)) + ")"
                               : col + " = " + QuoteString(t.value));
        } else if (glob) {
          where.push_back(FieldExists("`field_names`", "`field_values`", t.field,
                                      "match(v, " + QuoteString(GlobToRegex(t.value)) + ")"));
        } else {
          std::string cond = FieldExists("`field_names`", "`field_values`", t.field, "v = " + QuoteString(t.value));
          double num;
          if (sinks::ParseNumber(t.value, &num)) {
            cond += " OR " + FieldExists("`num_names`", "`num_values`", t.field, "v = " + sinks::FormatDouble(num));
          }
          where.push_back(cond);
        }
        break;
      }
      case Term::Kind::kCompare: {
        if (t.op != ">" && t.op != ">=" && t.op != "<" && t.op != "<=") {
          return Status::InvalidArgument("unknown comparison '" + t.op + "'");
        }
        const std::string number = sinks::FormatDouble(t.number);
        if (IsNumericBuiltin(t.field)) {
          where.push_back(QuoteIdentifier(t.field) + " " + t.op + " " + number);
        } else if (IsBuiltin(t.field)) {
          return Status::InvalidArgument("'" + t.field + "' is text: it cannot be compared with " + t.op);
        } else {
          where.push_back(FieldExists("`num_names`", "`num_values`", t.field, "v " + t.op + " " + number));
        }
        break;
      }
    }
  }
  std::string sql =
      "SELECT `id`, `time_ns`, `host`, `source`, `type`, `offset`, `raw`, `fields`, `tags` FROM " +
      QuoteIdentifier(database) + "." + QuoteIdentifier(table) + " FINAL";
  for (size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE (" : " AND (") + where[i] + ")";
  sql += " ORDER BY `time_ns` DESC, `id` DESC LIMIT " + std::to_string(req.limit) + " FORMAT RowBinary";
  return sql;
}

Result<std::vector<Hit>> SearchClickHouse(const ClickHouseSinkConfig& config, const SearchRequest& req) {
  auto terms = ParseQuery(req.query);
  if (!terms.ok()) return terms.status();
  auto sql = BuildClickHouseQuery(terms.value(), req, config.database, config.table);
  if (!sql.ok()) return sql.status();
  clickhouse::ClickHouseClient client(config, kMaxResultBytes);
  auto body = client.Query(sql.value());
  if (!body.ok()) {
    if (client.last_code() == 60 || client.last_code() == 81) {
      return Status::NotFound("clickhouse table " + config.database + "." + config.table +
                              " does not exist yet (the parser creates it on its first write)");
    }
    if (client.last_code() == 427) {  // CANNOT_COMPILE_REGEXP: bytes in a term RE2 rejects
      return Status::InvalidArgument("query '" + req.query + "': " + body.status().message());
    }
    return body.status();
  }
  std::vector<Hit> hits;
  RowBinaryReader r(body.value());
  while (!r.done()) {
    Hit h;
    int64_t time_ns = 0;
    uint64_t offset = 0, ntags = 0;
    if (!r.String(&h.id) || !r.Fixed(&time_ns) || !r.String(&h.host) || !r.String(&h.source) || !r.String(&h.type) ||
        !r.Fixed(&offset) || !r.String(&h.raw) || !r.String(&h.fields_json) || !r.VarUInt(&ntags)) {
      return Status::Corruption("clickhouse " + client.where() + ": malformed RowBinary reply");
    }
    nlohmann::json tags = nlohmann::json::array();
    for (uint64_t i = 0; i < ntags; ++i) {
      std::string tag;
      if (!r.String(&tag)) return Status::Corruption("clickhouse " + client.where() + ": malformed RowBinary reply");
      tags.push_back(std::move(tag));
    }
    h.time_ns = time_ns;
    h.offset = offset;
    h.tags_json = tags.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    hits.push_back(std::move(h));
  }
  return hits;
}

}  // namespace logship::search
