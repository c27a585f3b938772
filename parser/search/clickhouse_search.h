// `logship search` over the ClickHouse sink's table (parser/sinks/clickhouse): the same
// query language as the SQLite search (ParseQuery in search.h), translated to one
// ClickHouse SELECT. Every user value becomes an escaped string literal or a formatted
// number; nothing from the query is spliced into the SQL as is.
//
// Semantics, and where they differ from SQLite (docs/sinks.md, "Search on ClickHouse"):
//   field:value   a field's text equals value, or (value numeric) its number equals it
//   field:a*b     '*' wildcard over the field's text (anchored, case-sensitive)
//   field>=N      fields holding a number (typed, or text that is wholly a number)
//   word, word*, "a phrase"   case-insensitive token match over the raw line: tokens are
//                 separated by anything not a letter or digit, like FTS5's unicode61, but
//                 without its diacritic folding (a regex, no index: a scan per day)
//   duplicates not yet merged by ReplacingMergeTree are hidden with FINAL.
#pragma once

#include <string>
#include <vector>

#include "logship/config.h"
#include "parser/search/search.h"

namespace logship::search {

// The SELECT ... FORMAT RowBinary answering `request` (its data_dir is ignored).
// InvalidArgument for a term that cannot apply (a comparison on a text built-in).
Result<std::string> BuildClickHouseQuery(const std::vector<Term>& terms, const SearchRequest& request,
                                         const std::string& database, const std::string& table);

// Newest first, at most request.limit. NotFound when the table does not exist yet.
Result<std::vector<Hit>> SearchClickHouse(const ClickHouseSinkConfig& config, const SearchRequest& request);

}  // namespace logship::search
