#include "parser/sinks/common/event_encoding.h"

#include <zlib.h>

#include <charconv>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace logship::sinks {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kNsPerDay = 86'400 * kNsPerSec;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::vector<Field> StoredFields(const ParsedEvent& e) {
  std::vector<Field> out = e.fields;
  if (e.event.syslog) {
    const SyslogHeader& s = *e.event.syslog;
    if (s.facility >= 0) out.push_back({"syslog.facility", int64_t{s.facility}});
    if (s.severity >= 0) out.push_back({"syslog.severity", int64_t{s.severity}});
    if (!s.app.empty()) out.push_back({"syslog.app", s.app});
    if (!s.procid.empty()) out.push_back({"syslog.procid", s.procid});
    if (!s.msgid.empty()) out.push_back({"syslog.msgid", s.msgid});
    if (!s.structured_data.empty() && s.structured_data != "-") {
      out.push_back({"syslog.structured_data", s.structured_data});
    }
  }
  return out;
}

namespace {

// The JSON escape of one byte: '"' and '\\', \b \f \n \r \t, any other as \u00xx
// (lowercase hex).
void AppendEscapedByte(std::string* out, unsigned char c) {
  static const char kHex[] = "0123456789abcdef";
  switch (c) {
    case '"': *out += "\\\""; break;
    case '\\': *out += "\\\\"; break;
    case '\n': *out += "\\n"; break;
    case '\r': *out += "\\r"; break;
    case '\t': *out += "\\t"; break;
    case '\b': *out += "\\b"; break;
    case '\f': *out += "\\f"; break;
    default:
      *out += "\\u00";
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
  }
}

// nlohmann::json's dump(-1, ' ', false, replace) of a string that is valid UTF-8: '"' and
// '\\' escaped, \b \f \n \r \t, other bytes below 0x20 as \u00xx (lowercase), everything
// else (0x7f and multibyte sequences included) copied. Returns false, having appended
// part of it, when `s` is not valid UTF-8 (nlohmann's replacement rule then decides).
bool AppendNlohmannString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) return false;
      i += n;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out->append(s.data() + run, i - run);
    run = ++i;
    AppendEscapedByte(out, c);
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
  return true;
}

// False when a string in it is not valid UTF-8.
bool AppendValue(std::string* out, const FieldValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return AppendNlohmannString(out, *s);
  if (const auto* i = std::get_if<int64_t>(&v)) {
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *i);
    out->append(buf, p);
    return true;
  }
  // Rare: nlohmann's own number format ("0.5", "503.0", "1e+20", null when not finite).
  *out += nlohmann::json(std::get<double>(v)).dump();
  return true;
}

// The reference: what FieldsJson wrote before the direct writer (and writes for input that
// is not valid UTF-8: nlohmann's replacement rule decides the bytes).
std::string FieldsJsonNlohmann(const ParsedEvent& e) {
  nlohmann::json j = nlohmann::json::object();
  for (const Field& f : StoredFields(e)) {
    std::visit([&](const auto& v) { j[f.name] = v; }, f.value);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string FieldsJson(const ParsedEvent& e) {
  std::string out;
  AppendFieldsJson(&out, e);
  return out;
}

void AppendFieldsJson(std::string* out, const ParsedEvent& e) {
  const size_t start = out->size();
  // nlohmann's object is a std::map: keys in byte order, a repeated name keeps its last
  // value. Sort positions (insertion sort: a line has a dozen fields) without copying.
  std::vector<Field> syslog;
  if (e.event.syslog) {
    ParsedEvent header_only;
    header_only.event.syslog = e.event.syslog;
    syslog = StoredFields(header_only);
  }
  const size_t n = e.fields.size() + syslog.size();
  auto name = [&](size_t i) -> std::string_view {
    return i < e.fields.size() ? e.fields[i].name : syslog[i - e.fields.size()].name;
  };
  auto value = [&](size_t i) -> const FieldValue& {
    return i < e.fields.size() ? e.fields[i].value : syslog[i - e.fields.size()].value;
  };
  uint32_t order_small[64];
  std::vector<uint32_t> order_big;
  uint32_t* order = order_small;
  if (n > 64) {
    order_big.resize(n);
    order = order_big.data();
  }
  for (size_t i = 0; i < n; ++i) {
    size_t j = i;
    const std::string_view key = name(i);
    while (j > 0 && key < name(order[j - 1])) {  // stable: equal names keep their order
      order[j] = order[j - 1];
      --j;
    }
    order[j] = static_cast<uint32_t>(i);
  }
  out->push_back('{');
  bool first = true;
  bool utf8 = true;
  for (size_t k = 0; k < n && utf8; ++k) {
    if (k + 1 < n && name(order[k]) == name(order[k + 1])) continue;  // the last one wins
    if (!first) out->push_back(',');
    first = false;
    utf8 = AppendNlohmannString(out, name(order[k]));
    out->push_back(':');
    utf8 = utf8 && AppendValue(out, value(order[k]));
  }
  if (!utf8) {
    out->resize(start);
    *out += FieldsJsonNlohmann(e);
    return;
  }
  out->push_back('}');
}

void AppendTagsJson(std::string* out, const std::vector<std::string>& tags) {
  const size_t start = out->size();
  out->push_back('[');
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out->push_back(',');
    if (!AppendNlohmannString(out, tags[i])) {
      out->resize(start);
      *out += nlohmann::json(tags).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  out->push_back(']');
}

std::string FieldsJsonForTest(const ParsedEvent& e) { return FieldsJsonNlohmann(e); }

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void AppendJsonString(std::string* out, std::string_view s, Utf8Policy policy) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = policy == Utf8Policy::kKeepBytes ? 1 : Utf8SequenceLength(s, i);
      if (n == 0) {
        *out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) {
      AppendEscapedByte(out, c);
    } else {
      out->push_back(static_cast<char>(c));
    }
    ++i;
  }
  out->push_back('"');
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, p) : std::string("0");
}

bool ParseNumber(std::string_view s, double* out) {
  if (s.empty() || s.front() == '+') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out);
}

int64_t UtcDayIndex(int64_t time_ns) { return FloorDiv(time_ns, kNsPerDay); }

CivilDate CivilFromDayIndex(int64_t day) {
  // Howard Hinnant's civil_from_days.
  int64_t z = day + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  return {static_cast<int>(y), static_cast<int>(m), static_cast<int>(d)};
}

std::string FormatDay(int64_t day) {
  CivilDate c = CivilFromDayIndex(day);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", c.year, c.month, c.day);
  return buf;
}

std::string FormatRfc3339Nanos(int64_t time_ns) {
  int64_t day = UtcDayIndex(time_ns);
  int64_t rem = time_ns - day * kNsPerDay;
  int64_t secs = rem / kNsPerSec;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lld.%09lldZ", FormatDay(day).c_str(),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60), static_cast<long long>(rem % kNsPerSec));
  return buf;
}

std::string Base64Encode(std::string_view in) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {kChars[v >> 18], kChars[(v >> 12) & 63], kChars[(v >> 6) & 63], kChars[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    out += {kChars[v >> 18], kChars[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kChars[v >> 18], kChars[(v >> 12) & 63], kChars[(v >> 6) & 63], '='};
  }
  return out;
}

std::string UrlEscape(std::string_view in) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

Result<std::string> Gzip(std::string_view in) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::IOError("zlib deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = out.size() - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::IOError("zlib deflate failed (" + std::to_string(rc) + ")");
  out.resize(produced);
  return out;
}

}  // namespace logship::sinks
