// Search over the SQLite event store (parser/sinks/sqlite): the query language of
// `logship search` (docs/grok.md, "Search").
//
//   field:value      JSON field or built-in (host, source, type, id) equals value;
//                    '*' in value is a wildcard (path:/api/*); "quoted values" allowed
//   field>=N         numeric comparison: >, >=, <, <=  (also built-in offset)
//   word  "a phrase" free text over the raw line (FTS5); word* is a prefix
//   all terms are ANDed
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "logship/status.h"

namespace logship::search {

struct Term {
  enum class Kind { kText, kPhrase, kEquals, kGlob, kCompare };
  Kind kind = Kind::kText;
  std::string field;  // kEquals, kGlob, kCompare
  std::string op;     // kCompare: ">", ">=", "<", "<="
  std::string value;  // text, phrase, value or glob
  double number = 0;  // kCompare
};

// Parses a query. Errors (unbalanced quote, non-numeric comparison, empty field) are
// InvalidArgument naming the offending term.
Result<std::vector<Term>> ParseQuery(std::string_view query);

// RFC 3339 ("2024-01-31T12:00:00Z", "...+02:00", fraction allowed) or a duration before
// `now_ns`: "15m", "2h", "1d", "30s", "1w". Returns nanoseconds since the epoch.
Result<int64_t> ParseTimeArg(std::string_view text, int64_t now_ns);

struct SearchRequest {
  std::string data_dir;  // the SQLite sink's dir (events-YYYY-MM-DD.db files)
  std::string query;
  int64_t from_ns = std::numeric_limits<int64_t>::min();  // inclusive
  int64_t to_ns = std::numeric_limits<int64_t>::max();    // inclusive
  size_t limit = 20;
};

struct Hit {
  std::string id;
  int64_t time_ns = 0;
  std::string host, source, type;
  uint64_t offset = 0;
  std::string raw;          // bytes as stored
  std::string fields_json;  // JSON object
  std::string tags_json;    // JSON array
};

// Newest first, at most `limit`. A missing data dir is NotFound.
Result<std::vector<Hit>> Search(const SearchRequest& request);

// Output formats of `logship search`.
std::string FormatTable(const std::vector<Hit>& hits);
std::string FormatJsonLines(const std::vector<Hit>& hits);  // one JSON object per line

// "2024-01-31T12:00:00.123Z"
std::string FormatRfc3339(int64_t time_ns);

}  // namespace logship::search
