#include "parser/rules/timestamp.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

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

// 1..9 digits at *p (no separator) -> nanoseconds.
bool FractionDigits(std::string_view s, size_t* p, int64_t* ns) {
  size_t q = *p;
  int64_t v = 0;
  int n = 0;
  while (q < s.size() && s[q] >= '0' && s[q] <= '9') {
    if (n < 9) {
      v = v * 10 + (s[q] - '0');
      ++n;
    }
    ++q;
  }
  if (q == *p) return false;
  for (; n < 9; ++n) v *= 10;
  *p = q;
  *ns = v;
  return true;
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

// A wall-clock time read from text, with the offset when the text had one.
struct Civil {
  int64_t year = 1970;
  bool has_year = true;
  int mon = 1, day = 1, hour = 0, min = 0, sec = 0;
  int64_t frac_ns = 0;
  bool has_offset = false;
  int64_t offset_s = 0;
};

bool Valid(const Civil& c) {
  return c.mon >= 1 && c.mon <= 12 && c.day >= 1 && c.day <= 31 && c.hour >= 0 && c.hour <= 23 &&
         c.min >= 0 && c.min <= 59 && c.sec >= 0 && c.sec <= 60;
}

// The civil year of a day count (days since 1970-01-01).
int64_t YearOfDays(int64_t days) {
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + ((mp + (mp < 10 ? 3 : -9)) <= 2 ? 1 : 0);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t LocalSeconds(const Civil& c, int64_t year) {
  return DaysFromCivil(year, static_cast<unsigned>(c.mon), static_cast<unsigned>(c.day)) * 86400 +
         c.hour * 3600 + c.min * 60 + c.sec;
}

int64_t ToUtcSeconds(const Civil& c, int64_t year, const TimeZone* zone) {
  int64_t local = LocalSeconds(c, year);
  if (c.has_offset) return local - c.offset_s;
  return zone ? zone->ToUtc(local) : local;
}

// Nanoseconds of `c`; a missing year comes from the reference (see TimestampParser::Parse).
std::optional<int64_t> Resolve(const Civil& c, const TimeZone* zone, int64_t reference_ns) {
  if (!Valid(c)) return std::nullopt;
  int64_t year = c.year;
  if (!c.has_year) {
    int64_t ref_s = FloorDiv(reference_ns, kNsPerSec);
    int64_t ref_local = ref_s + (zone ? zone->OffsetAt(ref_s) : 0);
    year = YearOfDays(FloorDiv(ref_local, 86400));
    if (ToUtcSeconds(c, year, zone) > ref_s + 86400) --year;
  }
  // A day the month does not have (Feb 30, Apr 31, Feb 29 of a common year) is not a
  // date: Joda (Logstash's date filter) rejects it too, rather than rolling over.
  static constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (c.day > kDaysIn[c.mon - 1] + (c.mon == 2 && leap ? 1 : 0)) return std::nullopt;
  int64_t secs = ToUtcSeconds(c, year, zone);
  if (secs > INT64_MAX / kNsPerSec - 1 || secs < INT64_MIN / kNsPerSec + 1) return std::nullopt;
  return secs * kNsPerSec + c.frac_ns;
}

// "Z", "+hh", "+hhmm", "+hh:mm" at *p. Returns false on garbage.
bool Offset(std::string_view s, size_t* p, int64_t* offset_s) {
  *offset_s = 0;
  if (*p >= s.size()) return false;
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
  if (*p < s.size() && s[*p] >= '0' && s[*p] <= '9') {
    if (!Digits(s, p, 2, &mm)) return false;
  }
  if (hh > 23 || mm > 59) return false;
  *offset_s = sign * (hh * 3600 + mm * 60);
  return true;
}

bool HttpDate(std::string_view s, Civil* c) {
  size_t p = 0;
  int y;
  if (!SomeDigits(s, &p, 2, &c->day) || !Char(s, &p, '/')) return false;
  c->mon = Month(s, &p);
  if (!c->mon || !Char(s, &p, '/') || !Digits(s, &p, 4, &y) || !Char(s, &p, ':') ||
      !Digits(s, &p, 2, &c->hour) || !Char(s, &p, ':') || !Digits(s, &p, 2, &c->min) ||
      !Char(s, &p, ':') || !Digits(s, &p, 2, &c->sec)) {
    return false;
  }
  c->year = y;
  c->frac_ns = Fraction(s, &p);
  if (Char(s, &p, ' ')) {
    if (!Offset(s, &p, &c->offset_s)) return false;
    c->has_offset = true;
  }
  return p == s.size();
}

bool Iso8601(std::string_view s, Civil* c) {
  size_t p = 0;
  int y;
  if (!Digits(s, &p, 4, &y) || !Char(s, &p, '-') || !Digits(s, &p, 2, &c->mon) || !Char(s, &p, '-') ||
      !Digits(s, &p, 2, &c->day)) {
    return false;
  }
  c->year = y;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return false;
    ++p;
    if (!Digits(s, &p, 2, &c->hour)) return false;
    Char(s, &p, ':');
    if (!Digits(s, &p, 2, &c->min)) return false;
    if (Char(s, &p, ':') || (p < s.size() && s[p] >= '0' && s[p] <= '9')) {
      if (!Digits(s, &p, 2, &c->sec)) return false;
      c->frac_ns = Fraction(s, &p);
    }
    if (p < s.size()) {
      if (!Offset(s, &p, &c->offset_s)) return false;
      c->has_offset = true;
    }
  }
  return p == s.size();
}

bool Syslog(std::string_view s, Civil* c) {
  size_t p = 0;
  c->mon = Month(s, &p);
  if (!c->mon || !Char(s, &p, ' ')) return false;
  while (Char(s, &p, ' ')) {
  }
  if (!SomeDigits(s, &p, 2, &c->day) || !Char(s, &p, ' ') || !Digits(s, &p, 2, &c->hour) ||
      !Char(s, &p, ':') || !Digits(s, &p, 2, &c->min) || !Char(s, &p, ':') || !Digits(s, &p, 2, &c->sec)) {
    return false;
  }
  c->frac_ns = Fraction(s, &p);
  c->has_year = false;
  return p == s.size();
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

std::optional<int64_t> ParseNamed(std::string_view text, TimestampFormat format, const TimeZone* zone,
                                  int64_t reference_ns) {
  Civil c;
  switch (format) {
    case TimestampFormat::kHttpDate:
      if (!HttpDate(text, &c)) return std::nullopt;
      return Resolve(c, zone, reference_ns);
    case TimestampFormat::kIso8601:
      if (!Iso8601(text, &c)) return std::nullopt;
      return Resolve(c, zone, reference_ns);
    case TimestampFormat::kSyslog:
      if (!Syslog(text, &c)) return std::nullopt;
      return Resolve(c, zone, reference_ns);
    case TimestampFormat::kUnix: return Unix(text, kNsPerSec);
    case TimestampFormat::kUnixMs: return Unix(text, 1'000'000);
  }
  return std::nullopt;
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
  return ParseNamed(text, format, nullptr, reference_ns);
}

// ---- TimeZone -------------------------------------------------------------------------

// POSIX TZ rule: "CET-1CEST,M3.5.0,M10.5.0/3" (std offset, optional dst offset and the
// dates daylight time starts and ends).
struct TimeZone::Rule {
  struct When {
    char kind = 'M';  // 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.weekday)
    int a = 0, b = 0, c = 0;
    int32_t time = 7200;  // seconds after local midnight
  };
  int32_t std_offset = 0;  // east positive
  bool has_dst = false;
  int32_t dst_offset = 0;
  When start, end;

  // Local (standard-time based) seconds of `w` in `year`, as a UTC instant given the
  // offset in effect before the change.
  static int64_t DayOf(const When& w, int64_t year) {
    if (w.kind == 'J') {
      int64_t d = DaysFromCivil(year, 1, 1) + w.a - 1;
      bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
      if (leap && w.a >= 60) ++d;
      return d;
    }
    if (w.kind == 'D') return DaysFromCivil(year, 1, 1) + w.a;
    // Month a, week b (1..5, 5 = last), weekday c (0 = Sunday).
    int64_t first = DaysFromCivil(year, static_cast<unsigned>(w.a), 1);
    int wd = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
    int64_t day = first + ((w.c - wd + 7) % 7) + (w.b - 1) * 7;
    int64_t next_month = w.a == 12 ? DaysFromCivil(year + 1, 1, 1)
                                   : DaysFromCivil(year, static_cast<unsigned>(w.a + 1), 1);
    while (day >= next_month) day -= 7;
    return day;
  }

  int32_t OffsetAt(int64_t utc) const {
    if (!has_dst) return std_offset;
    int64_t year = YearOfDays(FloorDiv(utc + std_offset, 86400));
    int64_t s = DayOf(start, year) * 86400 + start.time - std_offset;  // std -> dst
    int64_t e = DayOf(end, year) * 86400 + end.time - dst_offset;      // dst -> std
    bool dst = s < e ? (utc >= s && utc < e) : !(utc >= e && utc < s);  // southern hemisphere
    return dst ? dst_offset : std_offset;
  }
};

namespace {

// [+-]hh[:mm[:ss]] -> seconds (as written; POSIX offsets are west positive).
bool PosixSeconds(std::string_view s, size_t* p, int32_t* out) {
  int sign = 1;
  if (*p < s.size() && (s[*p] == '+' || s[*p] == '-')) sign = s[(*p)++] == '-' ? -1 : 1;
  int h = 0, m = 0, sec = 0;
  if (!SomeDigits(s, p, 3, &h)) return false;
  if (Char(s, p, ':')) {
    if (!SomeDigits(s, p, 2, &m)) return false;
    if (Char(s, p, ':') && !SomeDigits(s, p, 2, &sec)) return false;
  }
  *out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

bool PosixName(std::string_view s, size_t* p) {
  if (*p < s.size() && s[*p] == '<') {
    size_t close = s.find('>', *p);
    if (close == std::string_view::npos) return false;
    *p = close + 1;
    return true;
  }
  size_t start = *p;
  while (*p < s.size() && ((s[*p] | 0x20) >= 'a' && (s[*p] | 0x20) <= 'z')) ++*p;
  return *p - start >= 3;
}

bool PosixWhen(std::string_view s, size_t* p, TimeZone::Rule::When* w) {
  int v = 0;
  if (Char(s, p, 'J')) {
    w->kind = 'J';
    if (!SomeDigits(s, p, 3, &w->a)) return false;
  } else if (Char(s, p, 'M')) {
    w->kind = 'M';
    if (!SomeDigits(s, p, 2, &w->a) || !Char(s, p, '.') || !SomeDigits(s, p, 1, &w->b) ||
        !Char(s, p, '.') || !SomeDigits(s, p, 1, &w->c)) {
      return false;
    }
    if (w->a < 1 || w->a > 12 || w->b < 1 || w->b > 5 || w->c > 6) return false;
  } else {
    w->kind = 'D';
    if (!SomeDigits(s, p, 3, &v)) return false;
    w->a = v;
  }
  if (Char(s, p, '/')) {
    if (!PosixSeconds(s, p, &w->time)) return false;
  }
  return true;
}

bool ParsePosixRule(std::string_view s, TimeZone::Rule* r) {
  size_t p = 0;
  int32_t off = 0;
  if (!PosixName(s, &p) || !PosixSeconds(s, &p, &off)) return false;
  r->std_offset = -off;
  if (p == s.size()) return true;
  if (!PosixName(s, &p)) return false;
  r->has_dst = true;
  r->dst_offset = r->std_offset + 3600;
  if (p < s.size() && s[p] != ',') {
    if (!PosixSeconds(s, &p, &off)) return false;
    r->dst_offset = -off;
  }
  if (p == s.size()) {  // no rule: the US rules (POSIX default)
    r->start = {'M', 3, 2, 0, 7200};
    r->end = {'M', 11, 1, 0, 7200};
    return true;
  }
  return Char(s, &p, ',') && PosixWhen(s, &p, &r->start) && Char(s, &p, ',') && PosixWhen(s, &p, &r->end) &&
         p == s.size();
}

int64_t BigEndian(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

}  // namespace

TimeZone::TimeZone() = default;
TimeZone::~TimeZone() = default;

std::shared_ptr<const TimeZone> TimeZone::Utc() {
  static const std::shared_ptr<const TimeZone> utc = [] {
    std::shared_ptr<TimeZone> z(new TimeZone());
    z->name_ = "UTC";
    return z;
  }();
  return utc;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::Load(std::string_view name) {
  if (name.empty() || name == "UTC" || name == "Z" || name == "Etc/UTC") return Utc();
  if (name[0] == '+' || name[0] == '-') {
    size_t p = 0;
    int64_t off = 0;
    if (!Offset(name, &p, &off) || p != name.size()) {
      return Status::InvalidArgument("time zone '" + std::string(name) + "': expected an offset like +02:00");
    }
    std::shared_ptr<TimeZone> z(new TimeZone());
    z->name_ = std::string(name);
    z->initial_offset_ = static_cast<int32_t>(off);
    return std::shared_ptr<const TimeZone>(std::move(z));
  }
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
              c == '_' || c == '-' || c == '+';
    if (!ok || name.find("..") != std::string_view::npos || name.front() == '/') {
      return Status::InvalidArgument("time zone '" + std::string(name) + "': not an IANA zone name");
    }
  }
  const char* dir = std::getenv("TZDIR");
  std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("time zone '" + std::string(name) + "': unknown (no " + path +
                                   "; is the tzdata package installed?)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("time zone '" + std::string(name) + "': " + path + ": " + why);
  };
  auto* b = reinterpret_cast<const unsigned char*>(data.data());
  size_t size = data.size();
  if (size < 44 || data.compare(0, 4, "TZif") != 0) return bad("not a TZif file");
  auto counts = [&](size_t at, int64_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = BigEndian(b + at + 20 + 4 * i, 4);
  };
  int64_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  counts(0, c);
  size_t v1_len = c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
  size_t at = 44;
  int time_size = 4;
  if (data[4] >= '2') {  // skip the 32-bit block, read the 64-bit one
    at = 44 + v1_len;
    if (size < at + 44 || data.compare(at, 4, "TZif") != 0) return bad("truncated");
    counts(at, c);
    at += 44;
    time_size = 8;
  }
  const int64_t timecnt = c[3], typecnt = c[4];
  size_t need = timecnt * (time_size + 1) + typecnt * 6 + c[5] + c[2] * (time_size + 4) + c[1] + c[0];
  if (typecnt < 1 || size < at + need) return bad("truncated");
  std::shared_ptr<TimeZone> z(new TimeZone());
  z->name_ = std::string(name);
  const unsigned char* times = b + at;
  const unsigned char* idx = times + timecnt * time_size;
  const unsigned char* types = idx + timecnt;
  auto type_offset = [&](int t) { return static_cast<int32_t>(BigEndian(types + 6 * t, 4)); };
  z->initial_offset_ = type_offset(0);
  for (int t = 0; t < typecnt; ++t) {  // RFC 8536: the first standard-time type
    if (types[6 * t + 4] == 0) {
      z->initial_offset_ = type_offset(t);
      break;
    }
  }
  for (int64_t i = 0; i < timecnt; ++i) {
    int t = idx[i];
    if (t >= typecnt) return bad("bad type index");
    z->transitions_.push_back(BigEndian(times + i * time_size, time_size));
    z->offsets_after_.push_back(type_offset(t));
  }
  if (time_size == 8) {  // footer: "\n<POSIX TZ>\n"
    size_t f = at + need;
    if (f < size && data[f] == '\n') {
      size_t e = data.find('\n', f + 1);
      if (e != std::string::npos && e > f + 1) {
        auto rule = std::make_unique<Rule>();
        if (ParsePosixRule(std::string_view(data).substr(f + 1, e - f - 1), rule.get())) z->rule_ = std::move(rule);
      }
    }
  }
  return std::shared_ptr<const TimeZone>(std::move(z));
}

int32_t TimeZone::OffsetAt(int64_t utc) const {
  if (transitions_.empty() || utc < transitions_.front()) {
    if (transitions_.empty() && rule_) return rule_->OffsetAt(utc);
    return initial_offset_;
  }
  if (utc >= transitions_.back() && rule_) return rule_->OffsetAt(utc);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc);
  return offsets_after_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

int64_t TimeZone::ToUtc(int64_t local) const {
  // Candidate offsets: those in effect a day around; a candidate is right when the
  // instant it gives has that offset.
  const int32_t before = OffsetAt(local - 86400 - 14 * 3600);
  const int32_t after = OffsetAt(local + 86400 + 14 * 3600);
  std::optional<int64_t> best;
  for (int32_t off : {before, after, OffsetAt(local)}) {
    int64_t u = local - off;
    if (OffsetAt(u) == off && (!best || u < *best)) best = u;
  }
  if (best) return *best;
  return local - before;  // in a gap: read with the offset before it
}

// ---- TimestampParser --------------------------------------------------------------------

struct TimestampParser::Token {
  enum Kind { kLiteral, kYear, kYear2, kMonth, kMonthName, kDay, kHour24, kHour12, kAmPm, kMinute,
              kSecond, kFraction, kOffset, kDayName };
  Kind kind = kLiteral;
  std::string literal;
  int width = 0;  // most digits read
};

TimestampParser::TimestampParser() = default;
TimestampParser::TimestampParser(const TimestampParser&) = default;
TimestampParser::TimestampParser(TimestampParser&&) noexcept = default;
TimestampParser& TimestampParser::operator=(TimestampParser&&) noexcept = default;
TimestampParser::~TimestampParser() = default;

Result<TimestampParser> TimestampParser::Make(std::string_view format) {
  TimestampParser p;
  p.format_ = std::string(format);
  if (auto named = TimestampFormatFromName(format)) {
    p.named_ = named;
    return p;
  }
  auto error = [&](size_t at, const std::string& what) {
    return Status::InvalidArgument("timestamp format '" + std::string(format) + "': " + what + " at offset " +
                                   std::to_string(at) +
                                   " (expected HTTPDATE, ISO8601, SYSLOG, UNIX, UNIX_MS or a Joda pattern "
                                   "of y M d H h m s S a Z E and 'text')");
  };
  size_t i = 0;
  bool has_hour12 = false, has_ampm = false, has_day = false, has_month = false;
  while (i < format.size()) {
    char c = format[i];
    if (c == '\'') {
      Token t;
      size_t j = i + 1;
      if (j < format.size() && format[j] == '\'') {  // '' is a quote
        t.literal = "'";
        i = j + 1;
        p.tokens_.push_back(t);
        continue;
      }
      while (j < format.size()) {
        if (format[j] == '\'') {
          if (j + 1 < format.size() && format[j + 1] == '\'') {
            t.literal.push_back('\'');
            j += 2;
            continue;
          }
          break;
        }
        t.literal.push_back(format[j++]);
      }
      if (j >= format.size()) return error(i, "unterminated quote");
      i = j + 1;
      p.tokens_.push_back(t);
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      if (!p.tokens_.empty() && p.tokens_.back().kind == Token::kLiteral && format[i - 1] != '\'') {
        p.tokens_.back().literal.push_back(c);
      } else {
        Token t;
        t.literal = std::string(1, c);
        p.tokens_.push_back(t);
      }
      ++i;
      continue;
    }
    size_t j = i;
    while (j < format.size() && format[j] == c) ++j;
    int n = static_cast<int>(j - i);
    Token t;
    switch (c) {
      case 'y': case 'Y': case 'u':
        t.kind = n == 2 ? Token::kYear2 : Token::kYear;
        t.width = n == 2 ? 2 : std::max(n, 4);
        break;
      case 'M':
        t.kind = n >= 3 ? Token::kMonthName : Token::kMonth;
        t.width = 2;
        has_month = true;
        break;
      case 'd': t.kind = Token::kDay; t.width = 2; has_day = true; break;
      case 'H': t.kind = Token::kHour24; t.width = 2; break;
      case 'h': t.kind = Token::kHour12; t.width = 2; has_hour12 = true; break;
      case 'a': t.kind = Token::kAmPm; has_ampm = true; break;
      case 'm': t.kind = Token::kMinute; t.width = 2; break;
      case 's': t.kind = Token::kSecond; t.width = 2; break;
      case 'S': t.kind = Token::kFraction; t.width = 9; break;
      case 'Z': case 'X': case 'x': t.kind = Token::kOffset; break;
      case 'E': t.kind = Token::kDayName; break;
      default:
        return error(i, std::string("unsupported pattern letter '") + c + "'");
    }
    p.tokens_.push_back(t);
    i = j;
  }
  if (has_hour12 != has_ampm) return error(0, "h (12-hour clock) needs a (AM/PM) and vice versa");
  if (!has_day || !has_month) return error(0, "a pattern needs a month (M) and a day (d)");
  return p;
}

std::optional<int64_t> TimestampParser::Parse(std::string_view s, const TimeZone* zone,
                                              int64_t reference_ns) const {
  if (named_) return ParseNamed(s, *named_, zone, reference_ns);
  Civil c;
  c.has_year = false;
  bool pm = false;
  size_t p = 0;
  for (const Token& t : tokens_) {
    int v = 0;
    switch (t.kind) {
      case Token::kLiteral:
        if (s.substr(p, t.literal.size()) != t.literal) return std::nullopt;
        p += t.literal.size();
        break;
      case Token::kYear:
        if (!SomeDigits(s, &p, t.width, &v)) return std::nullopt;
        c.year = v;
        c.has_year = true;
        break;
      case Token::kYear2:
        if (!Digits(s, &p, 2, &v)) return std::nullopt;
        c.year = v < 50 ? 2000 + v : 1900 + v;  // Joda's pivot: within 50 years of 2000
        c.has_year = true;
        break;
      case Token::kMonth:
        if (!SomeDigits(s, &p, t.width, &c.mon)) return std::nullopt;
        break;
      case Token::kMonthName:
        c.mon = Month(s, &p);
        if (c.mon == 0) return std::nullopt;
        break;
      case Token::kDay:
        if (!SomeDigits(s, &p, t.width, &c.day)) return std::nullopt;
        break;
      case Token::kHour24:
        if (!SomeDigits(s, &p, t.width, &c.hour)) return std::nullopt;
        break;
      case Token::kHour12:
        if (!SomeDigits(s, &p, t.width, &c.hour) || c.hour < 1 || c.hour > 12) return std::nullopt;
        break;
      case Token::kAmPm: {
        if (p + 2 > s.size()) return std::nullopt;
        char a = static_cast<char>(s[p] | 0x20), m = static_cast<char>(s[p + 1] | 0x20);
        if ((a != 'a' && a != 'p') || m != 'm') return std::nullopt;
        pm = a == 'p';
        p += 2;
        break;
      }
      case Token::kMinute:
        if (!SomeDigits(s, &p, t.width, &c.min)) return std::nullopt;
        break;
      case Token::kSecond:
        if (!SomeDigits(s, &p, t.width, &c.sec)) return std::nullopt;
        break;
      case Token::kFraction:
        if (!FractionDigits(s, &p, &c.frac_ns)) return std::nullopt;
        break;
      case Token::kOffset:
        if (!Offset(s, &p, &c.offset_s)) return std::nullopt;
        c.has_offset = true;
        break;
      case Token::kDayName: {
        size_t start = p;
        while (p < s.size() && ((s[p] | 0x20) >= 'a' && (s[p] | 0x20) <= 'z')) ++p;
        if (p == start) return std::nullopt;
        break;
      }
    }
  }
  if (p != s.size()) return std::nullopt;
  for (const Token& t : tokens_) {
    if (t.kind == Token::kHour12) {
      if (c.hour == 12) c.hour = 0;
      if (pm) c.hour += 12;
    }
  }
  return Resolve(c, zone, reference_ns);
}

}  // namespace logship::rules
