// ParsePrometheusExposition(): a scrape body with its TYPE lines (core/wire/wire.h).
#include <cctype>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/wire/sample_line.h"
#include "core/wire/wire.h"

namespace logship::wire {
namespace {

bool IsMetricNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool IsMetricNameChar(char c) { return IsMetricNameStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Splits off the next blank-separated token of `rest`.
std::string_view NextToken(std::string_view& rest) {
  size_t b = 0;
  while (b < rest.size() && IsBlank(rest[b])) ++b;
  size_t e = b;
  while (e < rest.size() && !IsBlank(rest[e])) ++e;
  std::string_view token = rest.substr(b, e - b);
  rest.remove_prefix(e);
  return token;
}

bool IsMetricName(std::string_view s) {
  if (s.empty() || !IsMetricNameStart(s[0])) return false;
  for (char c : s) {
    if (!IsMetricNameChar(c)) return false;
  }
  return true;
}

bool ParseType(std::string_view s, MetricType* out) {
  static const std::pair<std::string_view, MetricType> kTypes[] = {
      {"counter", MetricType::kCounter},     {"gauge", MetricType::kGauge},
      {"histogram", MetricType::kHistogram}, {"summary", MetricType::kSummary},
      {"untyped", MetricType::kUntyped}};
  for (const auto& [name, type] : kTypes) {
    if (s == name) {
      *out = type;
      return true;
    }
  }
  return false;
}

// Whether a sample named `name` is a cumulative counter under the declared `types`.
class FamilyIndex {
 public:
  // Returns an error message, or "" after recording the type.
  std::string Declare(std::string_view name, MetricType type) {
    auto [it, inserted] = types_.emplace(std::string(name), type);
    if (!inserted) return "second TYPE line for " + std::string(name);
    last_name_.clear();  // the cache may now be wrong
    return "";
  }

  bool Cumulative(const std::string& name) {
    if (name == last_name_) return last_cumulative_;
    last_name_ = name;
    last_cumulative_ = Lookup(name);
    return last_cumulative_;
  }

 private:
  bool Lookup(std::string_view name) const {
    if (auto it = types_.find(std::string(name)); it != types_.end()) {
      return it->second == MetricType::kCounter;
    }
    auto family = [&](std::string_view suffix) -> const MetricType* {
      if (name.size() <= suffix.size() || !name.ends_with(suffix)) return nullptr;
      auto it = types_.find(std::string(name.substr(0, name.size() - suffix.size())));
      return it == types_.end() ? nullptr : &it->second;
    };
    if (const MetricType* t = family("_bucket")) return *t == MetricType::kHistogram;
    for (std::string_view suffix : {"_count", "_sum"}) {
      if (const MetricType* t = family(suffix)) return *t == MetricType::kHistogram || *t == MetricType::kSummary;
    }
    // OpenMetrics-style counter families are declared without "_total".
    if (const MetricType* t = family("_total")) return *t == MetricType::kCounter;
    return false;
  }

  std::unordered_map<std::string, MetricType> types_;
  std::string last_name_;
  bool last_cumulative_ = false;
};

}  // namespace

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kUntyped: return "untyped";
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kSummary: return "summary";
  }
  return "?";
}

Result<Exposition> ParsePrometheusExposition(std::string_view text, int64_t default_time_ms) {
  Exposition out;
  FamilyIndex families;
  size_t line_no = 0;
  auto error = [&](const std::string& what) {
    return Status::InvalidArgument("line " + std::to_string(line_no) + ": " + what);
  };
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = 0;
    while (first < line.size() && IsBlank(line[first])) ++first;
    if (first == line.size()) continue;
    line.remove_prefix(first);
    if (line[0] == '#') {
      std::string_view rest = line.substr(1);
      if (rest.empty() || !IsBlank(rest[0])) continue;  // "#..." without a blank: a comment
      std::string_view keyword = NextToken(rest);
      if (keyword != "HELP" && keyword != "TYPE") continue;  // any other comment
      std::string_view name = NextToken(rest);
      if (!IsMetricName(name)) {
        return error("# " + std::string(keyword) + " must be followed by a metric name");
      }
      if (keyword == "HELP") continue;  // the docstring is free text
      std::string_view type_name = NextToken(rest);
      MetricType type;
      if (!ParseType(type_name, &type)) {
        return error("# TYPE " + std::string(name) + ": type must be counter, gauge, histogram, summary or untyped, got \"" +
                     std::string(type_name) + "\"");
      }
      if (!NextToken(rest).empty()) return error("unexpected text after # TYPE " + std::string(name));
      if (std::string err = families.Declare(name, type); !err.empty()) return error(err);
      continue;
    }
    Sample s;
    if (std::string err = ParseSampleLine(line, default_time_ms, &s); !err.empty()) return error(err);
    out.cumulative.push_back(families.Cumulative(s.name) ? 1 : 0);
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace logship::wire
