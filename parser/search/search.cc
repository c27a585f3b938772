#include "parser/search/search.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <variant>

#include "parser/rules/timestamp.h"
#include "parser/sinks/sqlite/sqlite_sink.h"

namespace logship::search {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kNsPerDay = 86'400 * kNsPerSec;

bool IsFieldChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '@' || c == '-';
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Reads a "quoted string" starting at q[*i] == '"'; \" and \\ are escapes.
Result<std::string> ReadQuoted(std::string_view q, size_t* i) {
  std::string out;
  size_t start = *i;
  ++*i;
  while (*i < q.size()) {
    char c = q[*i];
    if (c == '\\' && *i + 1 < q.size()) {
      out.push_back(q[*i + 1]);
      *i += 2;
      continue;
    }
    if (c == '"') {
      ++*i;
      return out;
    }
    out.push_back(c);
    ++*i;
  }
  return Status::InvalidArgument("unterminated quote at offset " + std::to_string(start));
}

bool IsBuiltin(const std::string& f) {
  return f == "host" || f == "source" || f == "type" || f == "id";
}
bool IsNumericBuiltin(const std::string& f) { return f == "offset" || f == "time_ns"; }

std::optional<double> ToNumber(std::string_view s) {
  double d;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// User wildcard (only '*') -> SQLite GLOB pattern.
std::string ToGlob(std::string_view v) {
  std::string g;
  for (char c : v) {
    if (c == '?') g += "[?]";
    else if (c == '[') g += "[[]";
    else g.push_back(c);
  }
  return g;
}

std::string FtsQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out.push_back(c);
  }
  return out + "\"";
}

bool HasTokenChar(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x80 || std::isalnum(static_cast<unsigned char>(c));
  });
}

using Param = std::variant<std::string, double, int64_t>;

struct Sql {
  std::string where;
  std::vector<Param> params;
  void And(const std::string& cond) { where += " AND (" + cond + ")"; }
};

Status BuildSql(const std::vector<Term>& terms, Sql* sql) {
  std::string fts;
  for (const auto& t : terms) {
    const std::string path = "$.\"" + t.field + "\"";
    const std::string jx = "json_extract(fields, ?)";
    switch (t.kind) {
      case Term::Kind::kText: {
        if (!HasTokenChar(t.value)) break;  // nothing the tokenizer would index
        std::string_view w = t.value;
        bool prefix = w.size() > 1 && w.back() == '*';
        if (prefix) w.remove_suffix(1);
        fts += (fts.empty() ? "" : " ") + FtsQuote(w) + (prefix ? " *" : "");
        break;
      }
      case Term::Kind::kPhrase:
        if (HasTokenChar(t.value)) fts += (fts.empty() ? "" : " ") + FtsQuote(t.value);
        break;
      case Term::Kind::kEquals:
      case Term::Kind::kGlob: {
        bool glob = t.kind == Term::Kind::kGlob;
        if (IsBuiltin(t.field) || IsNumericBuiltin(t.field)) {
          std::string col = t.field == "offset" ? "\"offset\"" : t.field;
          sql->And("CAST(" + col + " AS TEXT) " + (glob ? "GLOB ?" : "= ?"));
          sql->params.push_back(glob ? ToGlob(t.value) : t.value);
        } else if (glob) {
          sql->And("CAST(" + jx + " AS TEXT) GLOB ?");
          sql->params.push_back(path);
          sql->params.push_back(ToGlob(t.value));
        } else if (auto num = ToNumber(t.value)) {
          sql->And(jx + " = ? OR CAST(" + jx + " AS TEXT) = ?");
          sql->params.insert(sql->params.end(), {path, *num, path, t.value});
        } else {
          sql->And(jx + " = ?");
          sql->params.insert(sql->params.end(), {path, t.value});
        }
        break;
      }
      case Term::Kind::kCompare: {
        if (IsNumericBuiltin(t.field)) {
          std::string col = t.field == "offset" ? "\"offset\"" : t.field;
          sql->And(col + " " + t.op + " ?");
          sql->params.push_back(t.number);
        } else if (IsBuiltin(t.field)) {
          return Status::InvalidArgument("'" + t.field + "' is text: it cannot be compared with " + t.op);
        } else {
          // Numbers compare as numbers; text fields that hold a number too (untyped captures).
          const std::string jt = "json_type(fields, ?)";
          sql->And("(" + jt + " IN ('integer','real') AND " + jx + " " + t.op + " ?) OR (" + jt +
                   " = 'text' AND " + jx + " GLOB '*[0-9]*' AND " + jx +
                   " NOT GLOB '*[^0-9.eE+-]*' AND CAST(" + jx + " AS REAL) " + t.op + " ?)");
          sql->params.insert(sql->params.end(), {path, path, t.number, path, path, path, path, t.number});
        }
        break;
      }
    }
  }
  if (!fts.empty()) {
    sql->And("seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)");
    sql->params.push_back(fts);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Term>> ParseQuery(std::string_view q) {
  std::vector<Term> terms;
  size_t i = 0;
  while (i < q.size()) {
    if (IsSpace(q[i])) {
      ++i;
      continue;
    }
    if (q[i] == '"') {
      auto s = ReadQuoted(q, &i);
      if (!s.ok()) return s.status();
      terms.push_back({Term::Kind::kPhrase, "", "", std::move(s.value()), 0});
      continue;
    }
    // field<op>value ?
    size_t j = i;
    while (j < q.size() && IsFieldChar(q[j])) ++j;
    std::string op;
    if (j > i && j < q.size()) {
      std::string_view rest = q.substr(j);
      if (rest.starts_with(">=") || rest.starts_with("<=")) op = std::string(rest.substr(0, 2));
      else if (rest[0] == ':' || rest[0] == '>' || rest[0] == '<') op = std::string(1, rest[0]);
    }
    if (op.empty()) {  // a bare word
      size_t k = i;
      while (k < q.size() && !IsSpace(q[k])) ++k;
      terms.push_back({Term::Kind::kText, "", "", std::string(q.substr(i, k - i)), 0});
      i = k;
      continue;
    }
    std::string field(q.substr(i, j - i));
    if (!field.empty() && field.front() == '@') field.erase(0, 1);  // @host == host
    i = j + op.size();
    std::string value;
    bool quoted = false;
    if (i < q.size() && q[i] == '"') {
      auto s = ReadQuoted(q, &i);
      if (!s.ok()) return s.status();
      value = std::move(s.value());
      quoted = true;
    } else {
      size_t k = i;
      while (k < q.size() && !IsSpace(q[k])) ++k;
      value = std::string(q.substr(i, k - i));
      i = k;
    }
    Term t;
    t.field = field;
    t.value = value;
    if (op == ":") {
      if (value.empty() && !quoted) return Status::InvalidArgument("'" + field + ":' needs a value");
      t.kind = !quoted && value.find('*') != std::string::npos ? Term::Kind::kGlob : Term::Kind::kEquals;
    } else {
      auto num = ToNumber(value);
      if (!num) {
        return Status::InvalidArgument("'" + field + op + value + "': " + op + " needs a number");
      }
      t.kind = Term::Kind::kCompare;
      t.op = op;
      t.number = *num;
    }
    terms.push_back(std::move(t));
  }
  return terms;
}

Result<int64_t> ParseTimeArg(std::string_view text, int64_t now_ns) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text.front()))) {
    char unit = text.back();
    int64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
    if (ec == std::errc() && p == text.data() + text.size() - 1) {
      int64_t secs = 0;
      switch (unit) {
        case 's': secs = 1; break;
        case 'm': secs = 60; break;
        case 'h': secs = 3600; break;
        case 'd': secs = 86400; break;
        case 'w': secs = 7 * 86400; break;
        default: secs = 0;
      }
      if (secs > 0 && n <= 100LL * 365 * 86400 / secs) return now_ns - n * secs * kNsPerSec;
    }
  }
  if (auto t = rules::ParseTimestamp(text, rules::TimestampFormat::kIso8601, now_ns)) return *t;
  return Status::InvalidArgument("time '" + std::string(text) +
                                 "': expected RFC 3339 (2024-01-31T12:00:00Z) or a duration ago (15m, 2h, 1d)");
}

namespace {

// Appends to *hits the newest `limit` rows of one day file that match.
Status SearchFile(const std::string& path, const std::string& text, const Sql& sql, const SearchRequest& req,
                  size_t limit, std::vector<Hit>* hits) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(db, sqlite3_close_v2);
  if (rc != SQLITE_OK) return sqlite::ClassifySqliteError(rc, "open " + path);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  rc = sqlite3_prepare_v2(db, text.c_str(), -1, &st, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> sguard(st, sqlite3_finalize);
  if (rc != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db);
    if (msg.find("no such table") != std::string::npos) return Status::Ok();  // not a store (empty file)
    return sqlite::ClassifySqliteError(rc, path).Annotate(msg);
  }
  int idx = 1;
  sqlite3_bind_int64(st, idx++, req.from_ns);
  sqlite3_bind_int64(st, idx++, req.to_ns);
  for (const auto& p : sql.params) {
    if (const auto* s = std::get_if<std::string>(&p)) {
      sqlite3_bind_text(st, idx++, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    } else if (const auto* d = std::get_if<double>(&p)) {
      sqlite3_bind_double(st, idx++, *d);
    } else {
      sqlite3_bind_int64(st, idx++, std::get<int64_t>(p));
    }
  }
  sqlite3_bind_int64(st, idx++, static_cast<int64_t>(limit));
  auto col = [&](int i) {
    const void* b = sqlite3_column_blob(st, i);
    return std::string(b ? static_cast<const char*>(b) : "", sqlite3_column_bytes(st, i));
  };
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    Hit h;
    h.id = col(0);
    h.time_ns = sqlite3_column_int64(st, 1);
    h.host = col(2);
    h.source = col(3);
    h.type = col(4);
    h.offset = static_cast<uint64_t>(sqlite3_column_int64(st, 5));
    h.raw = col(6);
    h.fields_json = col(7);
    h.tags_json = col(8);
    hits->push_back(std::move(h));
  }
  if (rc != SQLITE_DONE) {
    std::string msg = sqlite3_errmsg(db);
    if (msg.find("fts5") != std::string::npos || msg.find("syntax") != std::string::npos) {
      return Status::InvalidArgument("query '" + req.query + "': " + msg);
    }
    return sqlite::ClassifySqliteError(rc, path).Annotate(msg);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Hit>> Search(const SearchRequest& req) {
  auto terms = ParseQuery(req.query);
  if (!terms.ok()) return terms.status();
  Sql sql;
  LOGSHIP_RETURN_IF_ERROR(BuildSql(terms.value(), &sql));
  const std::string text =
      "SELECT id, time_ns, host, source, type, \"offset\", raw, fields, tags FROM events "
      "WHERE time_ns >= ? AND time_ns <= ?" +
      sql.where + " ORDER BY time_ns DESC, seq DESC LIMIT ?";

  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(req.data_dir, ec)) return Status::NotFound("data dir " + req.data_dir + " does not exist");
  // Every shard file of a day (sqlite_sink.h): a day's hits are the newest of all its
  // shards, merged by time.
  std::map<int64_t, std::vector<std::string>, std::greater<>> days;
  for (fs::directory_iterator it(req.data_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    int64_t day = sqlite::DayFromFileName(name);
    if (day < 0) continue;
    // The file holds [day, day+1): skip days wholly outside [from, to].
    if (day > req.to_ns / kNsPerDay + 1 || (day + 1) < req.from_ns / kNsPerDay) continue;
    days[day].push_back(it->path().string());
  }
  if (ec) return Status::IOError("data dir " + req.data_dir + ": " + ec.message());

  std::vector<Hit> hits;
  for (auto& [day, paths] : days) {
    if (hits.size() >= req.limit) break;
    std::sort(paths.begin(), paths.end());
    const size_t day_begin = hits.size();
    const size_t want = req.limit - day_begin;
    for (const std::string& path : paths) {
      auto st = SearchFile(path, text, sql, req, want, &hits);
      if (!st.ok()) return st;
    }
    // Newest first across the shards (each shard's rows are already in that order).
    std::stable_sort(hits.begin() + static_cast<std::ptrdiff_t>(day_begin), hits.end(),
                     [](const Hit& a, const Hit& b) { return a.time_ns > b.time_ns; });
    if (hits.size() - day_begin > want) hits.resize(day_begin + want);
  }
  return hits;
}

std::string FormatRfc3339(int64_t time_ns) {
  int64_t day = time_ns / kNsPerDay - ((time_ns % kNsPerDay) < 0);
  int64_t rem = time_ns - day * kNsPerDay;
  std::string date = sqlite::DayFileName(day * kNsPerDay).substr(7, 10);
  int64_t secs = rem / kNsPerSec, ms = (rem % kNsPerSec) / 1'000'000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lld.%03lldZ", date.c_str(), static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                static_cast<long long>(ms));
  return buf;
}

namespace {
// Printable ASCII kept; everything else as \xHH (so a terminal shows the bytes safely).
std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}
}  // namespace

std::string FormatTable(const std::vector<Hit>& hits) {
  std::string out;
  size_t host_w = 4, type_w = 4;
  for (const auto& h : hits) {
    host_w = std::max(host_w, h.host.size());
    type_w = std::max(type_w, h.type.size());
  }
  auto pad = [](std::string s, size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  out += pad("TIME", 24) + "  " + pad("HOST", host_w) + "  " + pad("TYPE", type_w) + "  RAW\n";
  for (const auto& h : hits) {
    out += FormatRfc3339(h.time_ns) + "  " + pad(Printable(h.host), host_w) + "  " +
           pad(Printable(h.type), type_w) + "  " + Printable(h.raw) + "\n";
  }
  return out;
}

std::string FormatJsonLines(const std::vector<Hit>& hits) {
  std::string out;
  for (const auto& h : hits) {
    nlohmann::json j;
    j["id"] = h.id;
    j["time"] = FormatRfc3339(h.time_ns);
    j["time_ns"] = h.time_ns;
    j["host"] = h.host;
    j["source"] = h.source;
    j["type"] = h.type;
    j["offset"] = h.offset;
    j["raw"] = h.raw;  // invalid UTF-8 becomes U+FFFD on output; the store keeps the bytes
    j["fields"] = nlohmann::json::parse(h.fields_json, nullptr, false);
    j["tags"] = nlohmann::json::parse(h.tags_json, nullptr, false);
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

}  // namespace logship::search
