// Timestamp formats of parse rules (`timestamp: {field, format}`).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace logship::rules {

enum class TimestampFormat {
  kHttpDate,  // 10/Oct/2000:13:55:36 -0700
  kIso8601,   // 2000-10-10T13:55:36.123Z, 2000-10-10 13:55:36+02:00 (no zone: UTC)
  kSyslog,    // Oct 10 13:55:36 (no year: the year that puts it closest before `reference`)
  kUnix,      // 971186136 or 971186136.123 (seconds)
  kUnixMs,    // 971186136123 (milliseconds)
};

// "HTTPDATE", "ISO8601", "SYSLOG", "UNIX", "UNIX_MS" (exact, upper case).
std::optional<TimestampFormat> TimestampFormatFromName(std::string_view name);

// Nanoseconds since the Unix epoch, or nullopt when `text` is not in `format`.
// `reference_ns` (the event's time before parsing) supplies the year for kSyslog: the
// year of the reference, or the year before when that would be more than a day ahead.
std::optional<int64_t> ParseTimestamp(std::string_view text, TimestampFormat format,
                                      int64_t reference_ns);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace logship::rules
