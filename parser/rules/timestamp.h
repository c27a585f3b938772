// Timestamps of parse rules (`timestamp: {field, format, timezone}`): the named formats
// (HTTPDATE, ISO8601, SYSLOG, UNIX, UNIX_MS), Joda-Time patterns as in Logstash's date
// filter ("dd/MMM/yyyy:HH:mm:ss Z"), and time zones for text written without an offset.
// Reference: docs/grok.md, "Timestamps".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "logship/status.h"

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

// Nanoseconds since the Unix epoch, or nullopt when `text` is not in `format`. Text
// without an offset is UTC. `reference_ns` (the event's time before parsing) supplies the
// year for kSyslog: the year of the reference, or the year before when that would be more
// than a day ahead.
std::optional<int64_t> ParseTimestamp(std::string_view text, TimestampFormat format,
                                      int64_t reference_ns);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

// A time zone: an IANA zone from the system's tzdata (TZif files under $TZDIR or
// /usr/share/zoneinfo, including the POSIX rule that extends them past their last
// transition), "UTC", or a fixed offset ("+02:00", "-0530"). Immutable; thread-safe.
class TimeZone {
 public:
  // InvalidArgument naming the zone when it is unknown or its file is malformed.
  static Result<std::shared_ptr<const TimeZone>> Load(std::string_view name);
  static std::shared_ptr<const TimeZone> Utc();

  // The offset from UTC (seconds, east positive) in effect at `utc_seconds`.
  int32_t OffsetAt(int64_t utc_seconds) const;
  // The UTC instant of a local wall-clock time. A time that occurs twice (clocks set back)
  // gives the earlier instant; a time that does not occur (clocks set forward) is read
  // with the offset in effect before the change (so 02:30 in a 02:00->03:00 gap is 03:30).
  int64_t ToUtc(int64_t local_seconds) const;
  const std::string& name() const { return name_; }

  struct Rule;  // the POSIX TZ rule (footer of TZif v2+ files); defined in timestamp.cc
  ~TimeZone();

 private:
  TimeZone();
  std::string name_;
  std::vector<int64_t> transitions_;       // UTC seconds, ascending
  std::vector<int32_t> offsets_after_;     // offset in effect from transitions_[i]
  int32_t initial_offset_ = 0;             // before the first transition
  std::unique_ptr<Rule> rule_;             // after the last transition (may be null)
};

// A parser for one `timestamp.format` entry: a named format or a Joda-Time pattern.
// Joda letters supported: yyyy yy (year), M MM (month), MMM MMMM (month name), d dd, H HH
// (0-23), h hh + a (12-hour clock, AM/PM), m mm, s ss, S... (fraction), Z ZZ (offset
// -0800, -08:00 or Z), E... (day name, skipped), 'literal' text ('' is a quote); other
// non-letter characters must match exactly. Immutable; thread-safe.
class TimestampParser {
 public:
  // InvalidArgument naming the unsupported letter and its offset.
  static Result<TimestampParser> Make(std::string_view format);

  // Nanoseconds since the epoch, or nullopt when `text` does not parse in full. `zone`
  // applies to text without an offset (nullptr: UTC); `reference_ns` supplies the year
  // to formats without one (the year of the reference in `zone`, or the year before when
  // that would put the time more than a day after the reference).
  std::optional<int64_t> Parse(std::string_view text, const TimeZone* zone, int64_t reference_ns) const;
  const std::string& format() const { return format_; }

  struct Token;  // one element of a Joda pattern; defined in timestamp.cc
  TimestampParser(const TimestampParser&);
  TimestampParser(TimestampParser&&) noexcept;
  TimestampParser& operator=(TimestampParser&&) noexcept;
  ~TimestampParser();

 private:
  TimestampParser();
  std::string format_;
  std::optional<TimestampFormat> named_;
  std::vector<Token> tokens_;
};

}  // namespace logship::rules
