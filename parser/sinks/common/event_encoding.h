// How the remote sinks (ClickHouse, Elasticsearch) turn a ParsedEvent into text: the
// stored field list, JSON strings with an explicit policy for bytes that are not UTF-8,
// UTC days, and small codecs (base64, gzip, URL escaping). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logship/event.h"
#include "logship/status.h"

namespace logship::sinks {

// Every field a sink stores for an event, in order: the parsed fields, then the syslog
// header as syslog.facility, syslog.severity, syslog.app, syslog.procid, syslog.msgid,
// syslog.structured_data (only those that are set). The SQLite sink stores the same set.
std::vector<Field> StoredFields(const ParsedEvent& e);

// {"name":value,...} of StoredFields(): what `logship search --format json` prints as
// "fields". Strings that are not valid UTF-8 get U+FFFD replacements; a non-finite double
// is null. Identical to the SQLite sink's `fields` column.
std::string FieldsJson(const ParsedEvent& e);
// Appends FieldsJson(e) to *out. Written directly (keys in byte order, a repeated name
// keeps its last value, nlohmann::json's escaping and number format); input that is not
// valid UTF-8 goes through nlohmann::json, whose replacement rule it keeps.
void AppendFieldsJson(std::string* out, const ParsedEvent& e);
// Appends the tags as a JSON array of strings, as nlohmann::json dumps it (invalid UTF-8
// replaced by U+FFFD): the SQLite sink's `tags` column.
void AppendTagsJson(std::string* out, const std::vector<std::string>& tags);
// nlohmann::json's rendering of FieldsJson, for tests that compare the direct writer.
std::string FieldsJsonForTest(const ParsedEvent& e);

enum class Utf8Policy {
  kReplace,    // invalid UTF-8 becomes U+FFFD: valid JSON for every parser (Elasticsearch)
  kKeepBytes,  // bytes >= 0x80 are copied as they are: ClickHouse stores and returns them
               // exactly (its JSON reader does not validate UTF-8); NOT valid JSON otherwise
};

// Appends `s` as a JSON string literal ("..."), escaping '"', '\\' and control characters
// (NUL included) as \uXXXX or the short forms.
void AppendJsonString(std::string* out, std::string_view s, Utf8Policy policy);

bool IsValidUtf8(std::string_view s);

// Shortest text that reads back as the same double ("0.5", "503", "1e+20").
// REQUIRES: std::isfinite(v).
std::string FormatDouble(double v);
// Parses all of `s` as a finite number ("503", "-1.5", "1e3"); false otherwise.
bool ParseNumber(std::string_view s, double* out);

struct CivilDate {
  int year = 1970, month = 1, day = 1;
};
// Days since 1970-01-01 of the UTC day holding `time_ns` (floor, negative before 1970).
int64_t UtcDayIndex(int64_t time_ns);
CivilDate CivilFromDayIndex(int64_t day);
// "YYYY-MM-DD" of a day index.
std::string FormatDay(int64_t day);
// "2024-01-31T12:00:00.123456789Z" (nanoseconds, UTC).
std::string FormatRfc3339Nanos(int64_t time_ns);

std::string Base64Encode(std::string_view in);
// Percent-encodes everything except unreserved characters (RFC 3986).
std::string UrlEscape(std::string_view in);
// gzip (RFC 1952) of `in`; IOError only when zlib fails.
Result<std::string> Gzip(std::string_view in);

}  // namespace logship::sinks
