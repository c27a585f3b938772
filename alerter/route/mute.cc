#include "alerter/route/mute.h"

#include <nlohmann/json.hpp>

namespace logship::alerter {
namespace {

std::string_view ValueOf(const Labels& labels, std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return {};
}

bool AllMatch(const std::vector<LabelMatcher>& ms, const Labels& labels) {
  for (const auto& m : ms) {
    if (!m.Matches(labels)) return false;
  }
  return true;
}

Result<std::vector<LabelMatcher>> CompileAll(const std::vector<std::pair<std::string, std::string>>& in,
                                             const std::string& where) {
  std::vector<LabelMatcher> out;
  for (const auto& [label, text] : in) {
    auto m = MakeLabelMatcher(label, text);
    if (!m.ok()) return Status::InvalidArgument(where + ": " + m.status().message());
    out.push_back(std::move(*m));
  }
  return out;
}

}  // namespace

Result<std::pair<std::string, std::string>> ParseMatcherExpression(const std::string& expr) {
  size_t p = expr.find_first_of("=!");
  if (p == std::string::npos || p == 0) {
    return Status::InvalidArgument("matcher \"" + expr + "\": expected name=value, name!=value, name=~regex or name!~regex");
  }
  std::string name = expr.substr(0, p);
  std::string rest = expr.substr(p);
  std::string text;
  if (rest.starts_with("=~") || rest.starts_with("!~") || rest.starts_with("!=")) {
    text = rest;
  } else if (rest.starts_with("=")) {
    text = rest;  // "=value"
  } else {
    return Status::InvalidArgument("matcher \"" + expr + "\": expected an operator =, !=, =~ or !~ after the name");
  }
  auto m = MakeLabelMatcher(name, text);
  if (!m.ok()) return Status::InvalidArgument("matcher \"" + expr + "\": " + m.status().message());
  return std::make_pair(name, text);
}

std::string MatcherExpression(const std::string& label, const std::string& text) {
  if (text.starts_with("=") || text.starts_with("!=") || text.starts_with("!~")) return label + text;
  if (text.starts_with("re:")) return label + "=~" + text.substr(3);
  return label + "=" + text;
}

nlohmann::json SilenceToJson(const Silence& s, int64_t now_ms) {
  nlohmann::json matchers = nlohmann::json::array();
  for (const auto& [k, v] : s.matchers) matchers.push_back(MatcherExpression(k, v));
  const char* state = s.ActiveAt(now_ms) ? "active" : now_ms < s.starts_ms ? "pending" : "expired";
  return {
      {"id", s.id},
      {"matchers", matchers},
      {"createdBy", s.created_by},
      {"comment", s.comment},
      {"createdAt", s.created_ms},
      {"startsAt", s.starts_ms},
      {"endsAt", s.ends_ms},
      {"state", state},
  };
}

Result<Silence> SilenceFromJson(const nlohmann::json& j) {
  try {
    Silence s;
    s.id = j.at("id").get<std::string>();
    for (const auto& m : j.at("matchers")) {
      auto parsed = ParseMatcherExpression(m.get<std::string>());
      if (!parsed.ok()) return parsed.status();
      s.matchers.push_back(*parsed);
    }
    s.created_by = j.value("createdBy", std::string());
    s.comment = j.value("comment", std::string());
    s.created_ms = j.value("createdAt", int64_t{0});
    s.starts_ms = j.at("startsAt").get<int64_t>();
    s.ends_ms = j.at("endsAt").get<int64_t>();
    return s;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("silence: ") + e.what());
  }
}

Result<SilenceMatcher> SilenceMatcher::Compile(const Silence& s) {
  auto ms = CompileAll(s.matchers, "silence " + s.id);
  if (!ms.ok()) return ms.status();
  SilenceMatcher out;
  out.silence_ = s;
  out.matchers_ = std::move(*ms);
  return out;
}

bool SilenceMatcher::Matches(const Labels& labels) const { return AllMatch(matchers_, labels); }

Result<InhibitRule> InhibitRule::Compile(const InhibitRuleConfig& c, const std::string& where) {
  InhibitRule r;
  auto s = CompileAll(c.source_match, where + ".source_match");
  if (!s.ok()) return s.status();
  auto t = CompileAll(c.target_match, where + ".target_match");
  if (!t.ok()) return t.status();
  r.source_ = std::move(*s);
  r.target_ = std::move(*t);
  r.equal_ = c.equal;
  r.same_series_ = c.same_series;
  return r;
}

bool InhibitRule::Inhibits(const Labels& source, const Labels& target) const {
  if (!AllMatch(source_, source) || !AllMatch(target_, target)) return false;
  for (const auto& name : equal_) {
    if (ValueOf(source, name) != ValueOf(target, name)) return false;
  }
  if (same_series_) {
    // Every label but alertname and severity, compared both ways (sorted label lists).
    auto strip = [](const Labels& l) {
      Labels out;
      for (const auto& kv : l) {
        if (kv.first != "alertname" && kv.first != "severity") out.push_back(kv);
      }
      return out;
    };
    if (strip(source) != strip(target)) return false;
  }
  return true;
}

Result<std::vector<InhibitRule>> CompileInhibitRules(const std::vector<InhibitRuleConfig>& rules) {
  std::vector<InhibitRule> out;
  for (size_t i = 0; i < rules.size(); ++i) {
    auto r = InhibitRule::Compile(rules[i], "alerter.inhibit_rules[" + std::to_string(i) + "]");
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace logship::alerter
