// Reads one metric series for `logship alerter backtest`: `timestamp,value` CSV (header
// optional) or JSON lines ({"timestamp": T, "value": V}; "time"/"ts" also accepted).
// T is ISO-8601 ("2014-02-14 14:27:00", "2014-02-14T14:27:00.5Z"; no zone = UTC) or epoch
// seconds / milliseconds (numbers below 1e11 are seconds).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "logship/status.h"

namespace logship::alerter::backtest {

struct SeriesPoint {
  int64_t time_ms = 0;
  double value = 0;
};

// Parses a timestamp as above into epoch milliseconds.
Result<int64_t> ParseTimestamp(const std::string& text);

// Parses the file's text; `name` is used in errors ("name:line: ..."). Points are returned
// sorted by time.
Result<std::vector<SeriesPoint>> ParseSeries(const std::string& text, const std::string& name);
Result<std::vector<SeriesPoint>> ReadSeries(const std::string& path);

}  // namespace logship::alerter::backtest
