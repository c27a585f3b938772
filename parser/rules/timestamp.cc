#include "parser/rules/timestamp.h"

#include <charconv>
#include <cmath>

namespace logship::rules {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

// Reads exactly `n` digits at `*p`.
bool Digits(std::string_view s, size_t* p, int n, int* out) {
  if (*p + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*p + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

// Reads 1..max digits.
bool SomeDigits(std::string_view s, size_t* p, int max, int* out) {
  int v = 0, n = 0;
  while (*p < s.size() && n < max && s[*p] >= '0' && s[*p] <= '9') {
    v = v * 10 + (s[*p] - '0');
    ++*p;
    ++n;
  }
  *out = v;
  return n > 0;
}

bool Char(std::string_view s, size_t* p, char c) {
  if (*p < s.size() && s[*p] == c) {
    ++*p;
    return true;
  }
  return false;
}

// ".123456789" or ",123" -> nanoseconds; absent -> 0.
int64_t Fraction(std::string_view s, size_t* p) {
  if (*p >= s.size() || (s[*p] != '.' && s[*p] != ',')) return 0;
  size_t q = *p + 1;
  int64_t ns = 0;
  int n = 0;
  while (q < s.size() && s[q] >= '0' && s[q] <= '9') {
    if (n < 9) {
      ns = ns * 10 + (s[q] - '0');
      ++n;
    }
    ++q;
  }
  if (q == *p + 1) return 0;  // a lone '.' is not a fraction
  for (; n < 9; ++n) ns *= 10;
  *p = q;
  return ns;
}

int Month(std::string_view s, size_t* p) {
  static const char* kNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (*p + 3 > s.size()) return 0;
  char m[3];
  for (int i = 0; i < 3; ++i) m[i] = static_cast<char>(s[*p + i] | 0x20);
  for (int i = 0; i < 12; ++i) {
    if (m[0] == kNames[i][0] && m[1] == kNames[i][1] && m[2] == kNames[i][2]) {
      *p += 3;
      while (*p < s.size() && ((s[*p] | 0x20) >= 'a' && (s[*p] | 0x20) <= 'z')) ++*p;  // "October"
      return i + 1;
    }
  }
  return 0;
}

bool Valid(int mon, int day, int h, int mi, int sec) {
  return mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && h <= 23 && mi <= 59 && sec <= 60;
}

int64_t ToNs(int64_t y, int mon, int d, int h, int mi, int sec, int64_t frac_ns, int64_t offset_s) {
  int64_t secs = DaysFromCivil(y, mon, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  return secs * kNsPerSec + frac_ns;
}

// "Z", "+hh", "+hhmm", "+hh:mm"; absent -> 0. Returns false on garbage.
bool Zone(std::string_view s, size_t* p, int64_t* offset_s) {
  *offset_s = 0;
  if (*p >= s.size()) return true;
  if (s[*p] == 'Z' || s[*p] == 'z') {
    ++*p;
    return true;
  }
  if (s[*p] != '+' && s[*p] != '-') return false;
  int sign = s[*p] == '-' ? -1 : 1;
  ++*p;
  int hh = 0, mm = 0;
  if (!Digits(s, p, 2, &hh)) return false;
  Char(s, p, ':');
  if (*p < s.size()) {
    if (!Digits(s, p, 2, &mm)) return false;
  }
  if (hh > 23 || mm > 59) return false;
  *offset_s = sign * (hh * 3600 + mm * 60);
  return true;
}

std::optional<int64_t> HttpDate(std::string_view s) {
  size_t p = 0;
  int d, y, h, mi, sec;
  if (!SomeDigits(s, &p, 2, &d) || !Char(s, &p, '/')) return std::nullopt;
  int mon = Month(s, &p);
  if (!mon || !Char(s, &p, '/') || !Digits(s, &p, 4, &y) || !Char(s, &p, ':') ||
      !Digits(s, &p, 2, &h) || !Char(s, &p, ':') || !Digits(s, &p, 2, &mi) ||
      !Char(s, &p, ':') || !Digits(s, &p, 2, &sec)) {
    return std::nullopt;
  }
  int64_t frac = Fraction(s, &p);
  int64_t off = 0;
  if (Char(s, &p, ' ') && !Zone(s, &p, &off)) return std::nullopt;
  if (p != s.size() || !Valid(mon, d, h, mi, sec)) return std::nullopt;
  return ToNs(y, mon, d, h, mi, sec, frac, off);
}

std::optional<int64_t> Iso8601(std::string_view s) {
  size_t p = 0;
  int y, mon, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, &p, 4, &y) || !Char(s, &p, '-') || !Digits(s, &p, 2, &mon) || !Char(s, &p, '-') ||
      !Digits(s, &p, 2, &d)) {
    return std::nullopt;
  }
  int64_t frac = 0, off = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return std::nullopt;
    ++p;
    if (!Digits(s, &p, 2, &h)) return std::nullopt;
    Char(s, &p, ':');
    if (!Digits(s, &p, 2, &mi)) return std::nullopt;
    if (Char(s, &p, ':') || (p < s.size() && s[p] >= '0' && s[p] <= '9')) {
      if (!Digits(s, &p, 2, &sec)) return std::nullopt;
      frac = Fraction(s, &p);
    }
    if (!Zone(s, &p, &off)) return std::nullopt;
  }
  if (p != s.size() || !Valid(mon, d, h, mi, sec)) return std::nullopt;
  return ToNs(y, mon, d, h, mi, sec, frac, off);
}

std::optional<int64_t> Syslog(std::string_view s, int64_t reference_ns) {
  size_t p = 0;
  int mon = Month(s, &p);
  int d, h, mi, sec;
  if (!mon || !Char(s, &p, ' ')) return std::nullopt;
  while (Char(s, &p, ' ')) {
  }
  if (!SomeDigits(s, &p, 2, &d) || !Char(s, &p, ' ') || !Digits(s, &p, 2, &h) ||
      !Char(s, &p, ':') || !Digits(s, &p, 2, &mi) || !Char(s, &p, ':') || !Digits(s, &p, 2, &sec)) {
    return std::nullopt;
  }
  int64_t frac = Fraction(s, &p);
  if (p != s.size() || !Valid(mon, d, h, mi, sec)) return std::nullopt;
  // The year of the reference time (UTC).
  int64_t days = reference_ns / kNsPerSec / 86400;
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  int64_t year = yoe + era * 400 + ((mp + (mp < 10 ? 3 : -9)) <= 2 ? 1 : 0);
  int64_t t = ToNs(year, mon, d, h, mi, sec, frac, 0);
  if (t > reference_ns + 86400 * kNsPerSec) t = ToNs(year - 1, mon, d, h, mi, sec, frac, 0);
  return t;
}

std::optional<int64_t> Unix(std::string_view s, int64_t scale_ns) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  // Integers: exact. Fractions: double precision (microseconds for current epochs).
  int64_t whole = 0;
  auto [ip, iec] = std::from_chars(s.data(), s.data() + s.size(), whole);
  if (iec == std::errc() && ip == s.data() + s.size()) {
    if (whole > INT64_MAX / scale_ns || whole < INT64_MIN / scale_ns) return std::nullopt;
    return whole * scale_ns;
  }
  double ns = v * static_cast<double>(scale_ns);
  if (ns > 9.2e18 || ns < -9.2e18) return std::nullopt;
  return static_cast<int64_t>(std::llround(ns));
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<TimestampFormat> TimestampFormatFromName(std::string_view name) {
  if (name == "HTTPDATE") return TimestampFormat::kHttpDate;
  if (name == "ISO8601") return TimestampFormat::kIso8601;
  if (name == "SYSLOG") return TimestampFormat::kSyslog;
  if (name == "UNIX") return TimestampFormat::kUnix;
  if (name == "UNIX_MS") return TimestampFormat::kUnixMs;
  return std::nullopt;
}

std::optional<int64_t> ParseTimestamp(std::string_view text, TimestampFormat format,
                                      int64_t reference_ns) {
  switch (format) {
    case TimestampFormat::kHttpDate: return HttpDate(text);
    case TimestampFormat::kIso8601: return Iso8601(text);
    case TimestampFormat::kSyslog: return Syslog(text, reference_ns);
    case TimestampFormat::kUnix: return Unix(text, kNsPerSec);
    case TimestampFormat::kUnixMs: return Unix(text, 1'000'000);
  }
  return std::nullopt;
}

}  // namespace logship::rules
