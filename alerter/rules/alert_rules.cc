#include "alerter/rules/alert_rules.h"

#include <glob.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace logship::alerter {
namespace {

const std::set<std::string> kRootKeys = {"groups"};
const std::set<std::string> kGroupKeys = {"name", "interval", "rules"};
const std::set<std::string> kRuleKeys = {"alert",    "metric",   "match",  "function",
                                         "window",   "by",       "warning", "critical",
                                         "for",      "labels",   "annotations", "keep_firing_for",
                                         "counter",  "divide_by", "min_samples"};
const std::set<std::string> kConditionKeys = {"above", "at_least", "below", "at_most", "baseline"};
const std::set<std::string> kBaselineKeys = {
    "method",    "direction",  "window",     "alpha",         "k",         "season",
    "bucket",    "min_history", "min_points", "min_value",    "min_rate",  "min_deviation",
    "max_ratio", "min_ratio"};

// Error helper: "<file>:<line>: <what>".
class Reporter {
 public:
  explicit Reporter(const std::string& name) : name_(name) {}
  std::string Where(const YAML::Node& node) const {
    return name_ + ":" + std::to_string(node.Mark().line + 1);
  }
  Status Error(const YAML::Node& node, const std::string& what) const {
    return Status::InvalidArgument(Where(node) + ": " + what);
  }

 private:
  const std::string& name_;
};

bool IsIdentifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool IsScalarString(const YAML::Node& n) { return n.IsScalar(); }

Status CheckKeys(const Reporter& r, const YAML::Node& map, const std::set<std::string>& allowed,
                 const std::string& what) {
  if (!map.IsMap()) return r.Error(map, what + " must be a mapping");
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key = it->first.Scalar();
    if (!allowed.count(key)) {
      std::string expected;
      for (const auto& k : allowed) expected += (expected.empty() ? "" : ", ") + k;
      return r.Error(it->first, "unknown key \"" + key + "\" in " + what + " (expected one of: " +
                                    expected + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> GetString(const Reporter& r, const YAML::Node& parent, const YAML::Node& node,
                              const std::string& key) {
  if (!node) return r.Error(parent, "missing required key \"" + key + "\"");
  if (!IsScalarString(node) || node.Scalar().empty()) {
    return r.Error(node, "\"" + key + "\" must be a non-empty string");
  }
  return node.Scalar();
}

Result<Millis> GetDuration(const Reporter& r, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) return r.Error(node, "\"" + key + "\" must be a duration like 30s");
  auto d = ParseDuration(node.Scalar());
  if (!d.ok()) return r.Error(node, "\"" + key + "\": " + d.status().message());
  return d;
}

Result<double> GetNumber(const Reporter& r, const YAML::Node& v, const std::string& key) {
  if (!v.IsScalar()) return r.Error(v, "\"" + key + "\" must be a number");
  const std::string& text = v.Scalar();
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(d)) {
    return r.Error(v, "\"" + key + "\" must be a number, got \"" + text + "\"");
  }
  return d;
}

// `{baseline: {method: mad, window: 1h, k: 4, direction: both, min_history: 30m, ...}}`.
Result<Condition> ParseBaseline(const Reporter& r, const YAML::Node& node, const std::string& key) {
  LOGSHIP_RETURN_IF_ERROR(CheckKeys(r, node, kBaselineKeys, key));
  auto spec = std::make_shared<BaselineSpec>();
  static const std::map<std::string, BaselineMethod> kMethods = {
      {"mean", BaselineMethod::kMean}, {"ewma", BaselineMethod::kEwma},
      {"mad", BaselineMethod::kMad},   {"seasonal", BaselineMethod::kSeasonal}};
  static const std::map<std::string, BaselineDirection> kDirections = {
      {"above", BaselineDirection::kAbove}, {"below", BaselineDirection::kBelow},
      {"both", BaselineDirection::kBoth}};
  const YAML::Node& m = node["method"];
  if (!m) return r.Error(node, "\"" + key + "\": missing required key \"method\" (mean, ewma, mad, seasonal)");
  if (!m.IsScalar() || !kMethods.count(m.Scalar())) {
    return r.Error(m, "\"" + key + ".method\" must be one of mean, ewma, mad, seasonal");
  }
  spec->method = kMethods.at(m.Scalar());
  if (const YAML::Node& d = node["direction"]) {
    if (!d.IsScalar() || !kDirections.count(d.Scalar())) {
      return r.Error(d, "\"" + key + ".direction\" must be one of above, below, both");
    }
    spec->direction = kDirections.at(d.Scalar());
  }
  auto duration = [&](const char* name, std::chrono::milliseconds& out, bool positive) -> Status {
    const YAML::Node& n = node[name];
    if (!n) return Status::Ok();
    auto d = GetDuration(r, n, key + "." + name);
    if (!d.ok()) return d.status();
    if (positive && d->count() <= 0) return r.Error(n, "\"" + key + "." + name + "\" must be positive");
    out = *d;
    return Status::Ok();
  };
  auto number = [&](const char* name, double& out, double lo, double hi, const char* range) -> Status {
    const YAML::Node& n = node[name];
    if (!n) return Status::Ok();
    auto d = GetNumber(r, n, key + "." + name);
    if (!d.ok()) return d.status();
    if (*d < lo || *d > hi) {
      return r.Error(n, "\"" + key + "." + name + "\" must be " + range + ", got " + n.Scalar());
    }
    out = *d;
    return Status::Ok();
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  LOGSHIP_RETURN_IF_ERROR(duration("window", spec->window, true));
  LOGSHIP_RETURN_IF_ERROR(duration("season", spec->season, true));
  LOGSHIP_RETURN_IF_ERROR(duration("bucket", spec->bucket, true));
  LOGSHIP_RETURN_IF_ERROR(duration("min_history", spec->min_history, false));
  LOGSHIP_RETURN_IF_ERROR(number("alpha", spec->alpha, 1e-9, 1, "in (0, 1]"));
  LOGSHIP_RETURN_IF_ERROR(number("k", spec->k, 0, kInf, ">= 0"));
  LOGSHIP_RETURN_IF_ERROR(number("min_value", spec->min_value, 0, kInf, ">= 0"));
  LOGSHIP_RETURN_IF_ERROR(number("min_rate", spec->min_value, 0, kInf, ">= 0"));
  LOGSHIP_RETURN_IF_ERROR(number("min_deviation", spec->min_deviation, 0, kInf, ">= 0"));
  LOGSHIP_RETURN_IF_ERROR(number("max_ratio", spec->max_ratio, 1, kInf, ">= 1"));
  LOGSHIP_RETURN_IF_ERROR(number("min_ratio", spec->min_ratio, 0, 1, "in [0, 1]"));
  double points = static_cast<double>(spec->min_points);
  LOGSHIP_RETURN_IF_ERROR(number("min_points", points, 0, 1e9, "in [0, 1e9]"));
  spec->min_points = static_cast<size_t>(points);
  if (node["min_value"] && node["min_rate"]) {
    return r.Error(node["min_rate"], "\"" + key + "\": use one of min_value and min_rate (aliases)");
  }
  if (node["alpha"] && spec->method != BaselineMethod::kEwma) {
    return r.Error(node["alpha"], "\"" + key + ".alpha\" applies to method ewma only");
  }
  if ((node["season"] || node["bucket"]) && spec->method != BaselineMethod::kSeasonal) {
    return r.Error(node["season"] ? node["season"] : node["bucket"],
                   "\"" + key + ".season\" / \"bucket\" apply to method seasonal only");
  }
  if (spec->method == BaselineMethod::kSeasonal) {
    int64_t bucket = spec->bucket.count() > 0 ? spec->bucket.count() : spec->season.count() / 48;
    if (bucket <= 0 || (spec->season.count() + bucket - 1) / bucket > 168) {
      return r.Error(node, "\"" + key + "\": season / bucket must be at most 168 buckets");
    }
  }
  if (spec->k == 0 && spec->max_ratio == 0 && spec->min_ratio == 0) {
    return r.Error(node, "\"" + key + "\": k is 0 and no max_ratio / min_ratio: nothing to test");
  }
  if (spec->max_ratio > 0 && spec->direction == BaselineDirection::kBelow) {
    return r.Error(node["max_ratio"], "\"" + key + ".max_ratio\" needs direction above or both");
  }
  if (spec->min_ratio > 0 && spec->direction == BaselineDirection::kAbove) {
    return r.Error(node["min_ratio"], "\"" + key + ".min_ratio\" needs direction below or both");
  }
  Condition c;
  c.method = Condition::Method::kBaseline;
  c.baseline = std::move(spec);
  return c;
}

Result<Condition> ParseCondition(const Reporter& r, const YAML::Node& node,
                                 const std::string& key) {
  LOGSHIP_RETURN_IF_ERROR(CheckKeys(r, node, kConditionKeys, key));
  if (node.size() != 1) {
    return r.Error(node, "\"" + key +
                             "\" needs exactly one of above: N, at_least: N, below: N, at_most: N or baseline: {...}");
  }
  auto it = node.begin();
  const std::string op = it->first.Scalar();
  if (op == "baseline") return ParseBaseline(r, it->second, key + ".baseline");
  Condition c;
  c.direction = op == "above" || op == "at_least" ? Condition::Direction::kAbove : Condition::Direction::kBelow;
  c.inclusive = op == "at_least" || op == "at_most";
  auto v = GetNumber(r, it->second, key + "." + it->first.Scalar());
  if (!v.ok()) return v.status();
  c.threshold = *v;
  return c;
}

Result<LabelMatcher> ParseMatcher(const Reporter& r, const YAML::Node& key_node,
                                  const YAML::Node& value_node) {
  if (!value_node.IsScalar()) {
    return r.Error(value_node, "matcher for \"" + key_node.Scalar() + "\" must be a string");
  }
  auto m = MakeLabelMatcher(key_node.Scalar(), value_node.Scalar());
  if (!m.ok()) return r.Error(m.status().message().starts_with("bad label") ? key_node : value_node,
                              m.status().message());
  return m;
}

Result<RuleFunction> ParseFunction(const Reporter& r, const YAML::Node& node) {
  static const std::map<std::string, RuleFunction> kFunctions = {
      {"rate", RuleFunction::kRate}, {"increase", RuleFunction::kIncrease},
      {"avg", RuleFunction::kAvg},   {"max", RuleFunction::kMax},
      {"min", RuleFunction::kMin},   {"last", RuleFunction::kLast}};
  if (!node.IsScalar() || !kFunctions.count(node.Scalar())) {
    return r.Error(node, "\"function\" must be one of rate, increase, avg, max, min, last");
  }
  return kFunctions.at(node.Scalar());
}

Result<std::vector<std::pair<std::string, std::string>>> ParseStringMap(
    const Reporter& r, const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return r.Error(node, "\"" + key + "\" must be a mapping of strings");
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->second.IsScalar()) {
      return r.Error(it->second, "\"" + key + "." + it->first.Scalar() + "\" must be a string");
    }
    out.emplace_back(it->first.Scalar(), it->second.Scalar());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<AlertRule> ParseRule(const Reporter& r, const YAML::Node& node, const std::string& group,
                            Millis interval) {
  LOGSHIP_RETURN_IF_ERROR(CheckKeys(r, node, kRuleKeys, "rule"));
  AlertRule rule;
  rule.group = group;
  rule.interval = interval;
  rule.origin = r.Where(node);

  auto alert = GetString(r, node, node["alert"], "alert");
  if (!alert.ok()) return alert.status();
  rule.alert = *alert;
  if (!IsIdentifier(rule.alert)) {
    return r.Error(node["alert"], "alert name \"" + rule.alert + "\" must match [A-Za-z_][A-Za-z0-9_]*");
  }
  auto metric = GetString(r, node, node["metric"], "metric");
  if (!metric.ok()) return metric.status();
  rule.metric = *metric;

  if (!node["function"]) return r.Error(node, "rule " + rule.alert + ": missing required key \"function\"");
  auto fn = ParseFunction(r, node["function"]);
  if (!fn.ok()) return fn.status();
  rule.function = *fn;

  if (!node["window"]) return r.Error(node, "rule " + rule.alert + ": missing required key \"window\"");
  auto window = GetDuration(r, node["window"], "window");
  if (!window.ok()) return window.status();
  if (window->count() <= 0) return r.Error(node["window"], "\"window\" must be positive");
  rule.window = *window;

  if (const YAML::Node& f = node["for"]) {
    if (f.IsMap()) {  // per severity: {warning: 5m, critical: 1m}
      LOGSHIP_RETURN_IF_ERROR(CheckKeys(r, f, {"warning", "critical"}, "for"));
      for (const char* sev : {"warning", "critical"}) {
        if (!f[sev]) continue;
        auto d = GetDuration(r, f[sev], std::string("for.") + sev);
        if (!d.ok()) return d.status();
        (std::string(sev) == "warning" ? rule.for_duration : rule.critical_for) = *d;
      }
    } else {
      auto d = GetDuration(r, f, "for");
      if (!d.ok()) return d.status();
      rule.for_duration = rule.critical_for = *d;
    }
  }
  if (const YAML::Node& k = node["keep_firing_for"]) {
    auto d = GetDuration(r, k, "keep_firing_for");
    if (!d.ok()) return d.status();
    rule.keep_firing_for = *d;
  }

  if (const YAML::Node& match = node["match"]) {
    if (!match.IsMap()) return r.Error(match, "\"match\" must be a mapping of label: matcher");
    for (auto it = match.begin(); it != match.end(); ++it) {
      auto m = ParseMatcher(r, it->first, it->second);
      if (!m.ok()) return m.status();
      rule.matchers.push_back(std::move(*m));
    }
  }

  if (const YAML::Node& by = node["by"]) {
    if (!by.IsSequence()) return r.Error(by, "\"by\" must be a list of label names");
    for (const auto& l : by) {
      if (!l.IsScalar() || !IsIdentifier(l.Scalar())) {
        return r.Error(l, "\"by\" entries must be label names");
      }
      rule.by.push_back(l.Scalar());
    }
    std::sort(rule.by.begin(), rule.by.end());
    rule.by.erase(std::unique(rule.by.begin(), rule.by.end()), rule.by.end());
  }

  if (const YAML::Node& c = node["counter"]) {
    if (!IsCounterFunction(rule.function)) {
      return r.Error(c, "\"counter\" applies to function rate or increase only");
    }
    if (!c.IsScalar() || (c.Scalar() != "auto" && c.Scalar() != "delta" && c.Scalar() != "cumulative")) {
      return r.Error(c, "\"counter\" must be one of auto, delta, cumulative");
    }
    rule.counter = c.Scalar() == "delta"        ? CounterKind::kDelta
                   : c.Scalar() == "cumulative" ? CounterKind::kCumulative
                                                : CounterKind::kAuto;
  }
  if (const YAML::Node& d = node["divide_by"]) {
    LOGSHIP_RETURN_IF_ERROR(CheckKeys(r, d, {"match", "min_value"}, "divide_by"));
    RuleDivisor div;
    if (const YAML::Node& match = d["match"]) {
      if (!match.IsMap()) return r.Error(match, "\"divide_by.match\" must be a mapping of label: matcher ({} for all series)");
      for (auto it = match.begin(); it != match.end(); ++it) {
        auto m = ParseMatcher(r, it->first, it->second);
        if (!m.ok()) return m.status();
        div.matchers.push_back(std::move(*m));
      }
    } else {
      return r.Error(d, "\"divide_by\": missing required key \"match\" ({} for all series of the metric)");
    }
    if (const YAML::Node& mv = d["min_value"]) {
      auto v = GetNumber(r, mv, "divide_by.min_value");
      if (!v.ok()) return v.status();
      if (*v < 0) return r.Error(mv, "\"divide_by.min_value\" must be >= 0");
      div.min_value = *v;
    }
    rule.divide_by = std::move(div);
  }
  if (const YAML::Node& ms = node["min_samples"]) {
    auto v = GetNumber(r, ms, "min_samples");
    if (!v.ok()) return v.status();
    if (*v < 0 || *v > 1e9 || *v != static_cast<double>(static_cast<int64_t>(*v))) {
      return r.Error(ms, "\"min_samples\" must be a whole number from 0 to 1e9, got " + ms.Scalar());
    }
    rule.min_samples = static_cast<size_t>(*v);
  }

  for (const char* sev : {"warning", "critical"}) {
    if (const YAML::Node& c = node[sev]) {
      auto cond = ParseCondition(r, c, sev);
      if (!cond.ok()) return cond.status();
      (std::string(sev) == "warning" ? rule.warning : rule.critical) = *cond;
    }
  }
  if (!rule.warning && !rule.critical) {
    return r.Error(node, "rule " + rule.alert + ": needs \"warning\" and/or \"critical\"");
  }
  if (rule.warning && rule.critical && rule.warning->method == Condition::Method::kStatic &&
      rule.critical->method == Condition::Method::kStatic) {
    const Condition& w = *rule.warning;
    const Condition& c = *rule.critical;
    if (w.direction != c.direction) {
      return r.Error(node["critical"], "rule " + rule.alert +
                                           ": warning and critical must both be above/at_least or both below/at_most");
    }
    bool beyond = w.direction == Condition::Direction::kAbove ? c.threshold >= w.threshold
                                                              : c.threshold <= w.threshold;
    if (!beyond) {
      return r.Error(node["critical"], "rule " + rule.alert +
                                           ": the critical threshold must be at or beyond the warning one");
    }
  }

  if (const YAML::Node& labels = node["labels"]) {
    auto l = ParseStringMap(r, labels, "labels");
    if (!l.ok()) return l.status();
    for (const auto& [k, v] : *l) {
      if (!IsIdentifier(k)) return r.Error(labels, "bad label name \"" + k + "\"");
    }
    rule.labels = std::move(*l);
  }
  if (const YAML::Node& ann = node["annotations"]) {
    auto a = ParseStringMap(r, ann, "annotations");
    if (!a.ok()) return a.status();
    for (const auto& [k, v] : *a) {
      Status st = CheckTemplate(v);
      if (!st.ok()) return r.Error(ann[k], "annotation \"" + k + "\": " + st.message());
    }
    rule.annotations = std::move(*a);
  }
  return rule;
}

Result<std::vector<std::string>> ExpandPath(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> out;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) out.push_back(e.path().string());
    }
    if (ec) return Status::IOError(path + ": " + ec.message());
  } else if (path.find_first_of("*?[") != std::string::npos) {
    glob_t g{};
    if (::glob(path.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
  } else {
    out.push_back(path);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<LabelMatcher> MakeLabelMatcher(const std::string& label, const std::string& text) {
  LabelMatcher m;
  m.label = label;
  if (!IsIdentifier(m.label)) return Status::InvalidArgument("bad label name \"" + m.label + "\"");
  const std::string& v = text;
  if (v.starts_with("=~")) {
    m.op = LabelMatcher::Op::kRegex;
    m.value = v.substr(2);
  } else if (v.starts_with("re:")) {
    m.op = LabelMatcher::Op::kRegex;
    m.value = v.substr(3);
  } else if (v.starts_with("!~")) {
    m.op = LabelMatcher::Op::kNotRegex;
    m.value = v.substr(2);
  } else if (v.starts_with("!=")) {
    m.op = LabelMatcher::Op::kNotEqual;
    m.value = v.substr(2);
  } else if (v.starts_with("=")) {
    m.value = v.substr(1);
  } else {
    m.value = v;
  }
  if (m.op == LabelMatcher::Op::kRegex || m.op == LabelMatcher::Op::kNotRegex) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<RE2>("^(?:" + m.value + ")$", opts);
    if (!re->ok()) {
      return Status::InvalidArgument("matcher for \"" + m.label + "\": bad regex \"" + m.value +
                                     "\": " + re->error());
    }
    m.re = std::move(re);
  }
  return m;
}

const char* RuleFunctionName(RuleFunction f) {
  switch (f) {
    case RuleFunction::kRate: return "rate";
    case RuleFunction::kIncrease: return "increase";
    case RuleFunction::kAvg: return "avg";
    case RuleFunction::kMax: return "max";
    case RuleFunction::kMin: return "min";
    case RuleFunction::kLast: return "last";
  }
  return "?";
}

const char* CounterKindName(CounterKind k) {
  switch (k) {
    case CounterKind::kAuto: return "auto";
    case CounterKind::kDelta: return "delta";
    case CounterKind::kCumulative: return "cumulative";
  }
  return "?";
}

const char* SeverityName(Severity s) {
  return s == Severity::kCritical ? "critical" : "warning";
}

bool LabelMatcher::Matches(const Labels& labels) const {
  std::string_view actual;
  for (const auto& [k, v] : labels) {
    if (k == label) {
      actual = v;
      break;
    }
  }
  switch (op) {
    case Op::kEqual: return actual == value;
    case Op::kNotEqual: return actual != value;
    case Op::kRegex: return RE2::FullMatch(actual, *re);
    case Op::kNotRegex: return !RE2::FullMatch(actual, *re);
  }
  return false;
}

bool AlertRule::Selects(const Sample& sample) const {
  if (sample.name != metric) return false;
  for (const auto& m : matchers) {
    if (!m.Matches(sample.labels)) return false;
  }
  return true;
}

Result<Millis> ParseDuration(const std::string& text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i - start > 9) {
      return Status::InvalidArgument("bad duration \"" + text + "\" (expected e.g. 500ms, 30s, 1m, 1h30m)");
    }
    int64_t n = std::stoll(text.substr(start, i - start));
    size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(ustart, i - ustart);
    int64_t mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit == "d") mult = 86'400'000;
    else {
      return Status::InvalidArgument("bad duration \"" + text +
                                     "\" (units: ms, s, m, h, d; a unit is required)");
    }
    total += n * mult;
  }
  return Millis(total);
}

std::string FormatValue(double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", value);
  return buf;
}

namespace {
// Calls fn(expr) for each {{ expr }} (trimmed) and out(text) for literal text.
template <class Expr, class Text>
Status WalkTemplate(const std::string& tmpl, Expr expr, Text text) {
  size_t pos = 0;
  while (true) {
    size_t open = tmpl.find("{{", pos);
    if (open == std::string::npos) {
      text(tmpl.substr(pos));
      return Status::Ok();
    }
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string::npos) return Status::InvalidArgument("unterminated \"{{\"");
    text(tmpl.substr(pos, open - pos));
    std::string e = tmpl.substr(open + 2, close - open - 2);
    size_t b = e.find_first_not_of(" \t"), en = e.find_last_not_of(" \t");
    e = b == std::string::npos ? "" : e.substr(b, en - b + 1);
    LOGSHIP_RETURN_IF_ERROR(expr(e));
    pos = close + 2;
  }
}

bool KnownExpr(const std::string& e) {
  return e == "$value" || e == "$severity" || e == "$alert" ||
         (e.starts_with("$labels.") && IsIdentifier(e.substr(8)));
}
}  // namespace

Status CheckTemplate(const std::string& tmpl) {
  return WalkTemplate(
      tmpl,
      [](const std::string& e) {
        if (KnownExpr(e)) return Status::Ok();
        return Status::InvalidArgument("unknown template expression \"{{ " + e +
                                       " }}\" (expected $labels.NAME, $value, $severity, $alert)");
      },
      [](const std::string&) {});
}

std::string ExpandTemplate(const std::string& tmpl, const Labels& labels, double value,
                           const std::string& severity, const std::string& alert) {
  std::string out;
  Status st = WalkTemplate(
      tmpl,
      [&](const std::string& e) {
        if (e == "$value") out += FormatValue(value);
        else if (e == "$severity") out += severity;
        else if (e == "$alert") out += alert;
        else if (e.starts_with("$labels.")) {
          std::string name = e.substr(8);
          for (const auto& [k, v] : labels) {
            if (k == name) out += v;
          }
        }
        return Status::Ok();
      },
      [&](const std::string& t) { out += t; });
  if (!st.ok()) return tmpl;  // CheckTemplate() rejected it at load; keep the raw text
  return out;
}

Result<std::vector<AlertRule>> ParseAlertRules(const std::string& yaml_text,
                                               const std::string& name) {
  Reporter r(name);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  std::vector<AlertRule> rules;
  try {
    if (!root || root.IsNull()) return rules;  // an empty file has no rules
    LOGSHIP_RETURN_IF_ERROR(CheckKeys(r, root, kRootKeys, "rule file"));
    const YAML::Node& groups = root["groups"];
    if (!groups || !groups.IsSequence()) return r.Error(root, "\"groups\" must be a list");
    std::set<std::string> group_names;
    for (const auto& g : groups) {
      LOGSHIP_RETURN_IF_ERROR(CheckKeys(r, g, kGroupKeys, "group"));
      auto gname = GetString(r, g, g["name"], "name");
      if (!gname.ok()) return gname.status();
      if (!group_names.insert(*gname).second) {
        return r.Error(g["name"], "duplicate group name \"" + *gname + "\"");
      }
      Millis interval{10000};
      if (g["interval"]) {
        auto i = GetDuration(r, g["interval"], "interval");
        if (!i.ok()) return i.status();
        if (i->count() < 1000) return r.Error(g["interval"], "\"interval\" must be at least 1s");
        interval = *i;
      }
      const YAML::Node& list = g["rules"];
      if (!list) return r.Error(g, "group " + *gname + ": missing required key \"rules\"");
      if (!list.IsSequence()) return r.Error(list, "\"rules\" must be a list");
      std::set<std::string> alert_names;
      for (const auto& rn : list) {
        auto rule = ParseRule(r, rn, *gname, interval);
        if (!rule.ok()) return rule.status();
        if (!alert_names.insert(rule->alert).second) {
          return r.Error(rn, "duplicate alert \"" + rule->alert + "\" in group \"" + *gname + "\"");
        }
        rules.push_back(std::move(*rule));
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return rules;
}

Result<std::shared_ptr<const RuleSet>> MakeRuleSet(std::vector<AlertRule> rules) {
  auto set = std::make_shared<RuleSet>();
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& rule : rules) {
    if (!seen.insert({rule.group, rule.alert}).second) {
      return Status::InvalidArgument(rule.origin + ": duplicate alert \"" + rule.alert +
                                     "\" in group \"" + rule.group + "\"");
    }
    set->max_window = std::max(set->max_window, rule.window);
    set->rules.push_back(std::move(rule));
  }
  return std::shared_ptr<const RuleSet>(std::move(set));
}

Result<std::shared_ptr<const RuleSet>> LoadAlertRules(const std::vector<std::string>& paths) {
  std::vector<AlertRule> all;
  for (const auto& p : paths) {
    auto files = ExpandPath(p);
    if (!files.ok()) return files.status();
    if (files->empty()) return Status::NotFound("alert rules: no files match \"" + p + "\"");
    for (const auto& f : *files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) return Status::IOError("alert rules: cannot read " + f);
      std::stringstream ss;
      ss << in.rdbuf();
      auto rules = ParseAlertRules(ss.str(), f);
      if (!rules.ok()) return rules.status();
      for (auto& r : *rules) all.push_back(std::move(r));
    }
  }
  return MakeRuleSet(std::move(all));
}

}  // namespace logship::alerter
