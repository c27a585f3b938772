// Muting: silences (operator-made, with expiry) and inhibition (one firing alert mutes
// others). A muted incident is not notified: no trigger, repeat or escalation; a resolve
// still goes to every receiver that got its trigger. Both match RoutingLabels() (the page's
// labels plus `severity`).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "alerter/rules/alert_rules.h"
#include "logship/config.h"
#include "logship/event.h"
#include "logship/status.h"

namespace logship::alerter {

// "name=value", "name!=value", "name=~regex", "name!~regex" -> ("name", "=value" /
// "!=value" / "=~regex" / "!~regex"), the matcher text of MakeLabelMatcher().
Result<std::pair<std::string, std::string>> ParseMatcherExpression(const std::string& expr);
// The inverse: ("name", "=~re") -> "name=~re".
std::string MatcherExpression(const std::string& label, const std::string& text);

struct Silence {
  std::string id;  // 16 hex digits
  std::vector<std::pair<std::string, std::string>> matchers;  // label -> matcher text
  std::string created_by;
  std::string comment;
  int64_t created_ms = 0;  // wall clock, ms since the epoch
  int64_t starts_ms = 0;
  int64_t ends_ms = 0;  // expiring a silence sets this to now

  bool ActiveAt(int64_t now_ms) const { return starts_ms <= now_ms && now_ms < ends_ms; }
};

nlohmann::json SilenceToJson(const Silence& s, int64_t now_ms);  // also "state": active/pending/expired
Result<Silence> SilenceFromJson(const nlohmann::json& j);

// A silence with its matchers compiled. Immutable.
class SilenceMatcher {
 public:
  static Result<SilenceMatcher> Compile(const Silence& s);
  const Silence& silence() const { return silence_; }
  bool Matches(const Labels& routing_labels) const;

 private:
  Silence silence_;
  std::vector<LabelMatcher> matchers_;
};

// Inhibit rules (alerter.inhibit_rules), compiled.
class InhibitRule {
 public:
  static Result<InhibitRule> Compile(const InhibitRuleConfig& c, const std::string& where);
  // Whether a firing alert with `source` labels mutes one with `target` labels (both
  // RoutingLabels()). An alert never inhibits itself (the caller skips identical keys).
  bool Inhibits(const Labels& source, const Labels& target) const;

 private:
  std::vector<LabelMatcher> source_;
  std::vector<LabelMatcher> target_;
  std::vector<std::string> equal_;
  bool same_series_ = false;
};

Result<std::vector<InhibitRule>> CompileInhibitRules(const std::vector<InhibitRuleConfig>& rules);

}  // namespace logship::alerter
