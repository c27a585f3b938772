#include "alerter/backtest/series_reader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace logship::alerter::backtest {
namespace {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {  // Howard Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\"");
  size_t e = s.find_last_not_of(" \t\r\"");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool ParseNumber(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

}  // namespace

Result<int64_t> ParseTimestamp(const std::string& raw) {
  const std::string text = Trim(raw);
  double num;
  if (ParseNumber(text, num)) {
    return static_cast<int64_t>(std::llround(std::fabs(num) < 1e11 ? num * 1000 : num));
  }
  int y, mo, d, h = 0, mi = 0, consumed = 0;
  double sec = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3 || consumed != 10) {
    return Status::InvalidArgument("bad timestamp \"" + text +
                                   "\" (expected e.g. 2014-02-14 14:27:00 or epoch seconds/ms)");
  }
  size_t pos = 10;
  if (pos < text.size() && (text[pos] == ' ' || text[pos] == 'T')) {
    int c2 = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d%n", &h, &mi, &c2) != 2) {
      return Status::InvalidArgument("bad timestamp \"" + text + "\"");
    }
    pos += 1 + c2;
    if (pos < text.size() && text[pos] == ':') {
      char* end = nullptr;
      sec = std::strtod(text.c_str() + pos + 1, &end);
      pos = static_cast<size_t>(end - text.c_str());
    }
  }
  int64_t offset_ms = 0;
  if (pos < text.size()) {
    std::string zone = text.substr(pos);
    int zh = 0, zm = 0;
    if (zone == "Z" || zone == "z") {
    } else if ((zone[0] == '+' || zone[0] == '-') &&
               std::sscanf(zone.c_str() + 1, "%2d:%2d", &zh, &zm) >= 1) {
      offset_ms = (zone[0] == '+' ? 1 : -1) * (zh * 3600 + zm * 60) * 1000LL;
    } else {
      return Status::InvalidArgument("bad timestamp \"" + text + "\" (trailing \"" + zone + "\")");
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61) {
    return Status::InvalidArgument("bad timestamp \"" + text + "\" (field out of range)");
  }
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * 86'400'000 + (h * 3600LL + mi * 60LL) * 1000 + std::llround(sec * 1000) - offset_ms;
}

Result<std::vector<SeriesPoint>> ParseSeries(const std::string& text, const std::string& name) {
  std::vector<SeriesPoint> out;
  std::istringstream in(text);
  std::string line;
  size_t lineno = 0;
  auto where = [&] { return name + ":" + std::to_string(lineno) + ": "; };
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    SeriesPoint p;
    if (t[0] == '{') {
      nlohmann::json j = nlohmann::json::parse(t, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(where() + "bad JSON line");
      const nlohmann::json* ts = nullptr;
      for (const char* k : {"timestamp", "time", "ts"}) {
        if (j.contains(k)) {
          ts = &j[k];
          break;
        }
      }
      if (!ts || !j.contains("value") || !j["value"].is_number()) {
        return Status::InvalidArgument(where() + "expected {\"timestamp\": T, \"value\": number}");
      }
      auto tm = ParseTimestamp(ts->is_string() ? ts->get<std::string>() : ts->dump());
      if (!tm.ok()) return Status::InvalidArgument(where() + tm.status().message());
      p.time_ms = *tm;
      p.value = j["value"].get<double>();
    } else {
      size_t comma = t.find(',');
      if (comma == std::string::npos) return Status::InvalidArgument(where() + "expected timestamp,value");
      std::string ts = Trim(t.substr(0, comma)), vs = Trim(t.substr(comma + 1));
      double v;
      if (!ParseNumber(vs, v)) {
        if (out.empty() && lineno == 1) continue;  // a header
        return Status::InvalidArgument(where() + "bad value \"" + vs + "\"");
      }
      auto tm = ParseTimestamp(ts);
      if (!tm.ok()) {
        if (out.empty() && lineno == 1) continue;
        return Status::InvalidArgument(where() + tm.status().message());
      }
      p.time_ms = *tm;
      p.value = v;
    }
    out.push_back(p);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SeriesPoint& a, const SeriesPoint& b) { return a.time_ms < b.time_ms; });
  return out;
}

Result<std::vector<SeriesPoint>> ReadSeries(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseSeries(ss.str(), path);
}

}  // namespace logship::alerter::backtest
