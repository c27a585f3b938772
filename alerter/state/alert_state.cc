#include "alerter/state/alert_state.h"

#include <cstdio>

#include "core/base/hash.h"

namespace logship::alerter {

const char* AlertPhaseName(AlertPhase p) {
  switch (p) {
    case AlertPhase::kInactive: return "inactive";
    case AlertPhase::kPending: return "pending";
    case AlertPhase::kFiring: return "firing";
  }
  return "?";
}

const char* AlertTransitionName(AlertTransition t) {
  switch (t) {
    case AlertTransition::kNone: return "none";
    case AlertTransition::kTrigger: return "trigger";
    case AlertTransition::kEscalate: return "escalate";
    case AlertTransition::kDowngrade: return "downgrade";
    case AlertTransition::kResolve: return "resolve";
  }
  return "?";
}

AlertTransition StepAlert(AlertState& s, std::optional<Severity> level, int64_t now_ms,
                          Millis for_duration) {
  s.last_eval_ms = now_ms;
  const bool warn = level.has_value();  // critical implies the warning level too
  const bool crit = level == Severity::kCritical;
  if (!warn) {
    s.warning_since_ms = s.critical_since_ms = -1;
  } else {
    if (s.warning_since_ms < 0) s.warning_since_ms = now_ms;
    if (!crit) {
      s.critical_since_ms = -1;
    } else if (s.critical_since_ms < 0) {
      s.critical_since_ms = now_ms;
    }
  }

  // The highest severity that has held for `for`.
  std::optional<Severity> due;
  const int64_t for_ms = for_duration.count();
  if (s.critical_since_ms >= 0 && now_ms - s.critical_since_ms >= for_ms) {
    due = Severity::kCritical;
  } else if (s.warning_since_ms >= 0 && now_ms - s.warning_since_ms >= for_ms) {
    due = Severity::kWarning;
  }

  switch (s.phase) {
    case AlertPhase::kInactive:
    case AlertPhase::kPending:
      if (due) {
        s.phase = AlertPhase::kFiring;
        s.severity = *due;
        s.fired_at_ms = now_ms;
        s.critical_clear_since_ms = -1;
        return AlertTransition::kTrigger;
      }
      s.phase = warn ? AlertPhase::kPending : AlertPhase::kInactive;
      return AlertTransition::kNone;
    case AlertPhase::kFiring:
      if (!warn) {
        s.phase = AlertPhase::kInactive;
        s.fired_at_ms = -1;
        s.critical_clear_since_ms = -1;
        return AlertTransition::kResolve;
      }
      if (due == Severity::kCritical && s.severity == Severity::kWarning) {
        s.severity = Severity::kCritical;
        s.critical_clear_since_ms = -1;
        return AlertTransition::kEscalate;
      }
      if (s.severity == Severity::kCritical) {
        if (crit) {
          s.critical_clear_since_ms = -1;
        } else {
          if (s.critical_clear_since_ms < 0) s.critical_clear_since_ms = now_ms;
          if (now_ms - s.critical_clear_since_ms >= for_ms) {
            s.severity = Severity::kWarning;
            s.critical_clear_since_ms = -1;
            return AlertTransition::kDowngrade;
          }
        }
      }
      return AlertTransition::kNone;
  }
  return AlertTransition::kNone;
}

std::string MakeDedupKey(const std::string& group, const std::string& alert,
                         const Labels& labels) {
  Hash64 h;
  // Length-prefixed, so ("ab","c") and ("a","bc") differ.
  auto add = [&h](const std::string& s) { h.Add(static_cast<uint64_t>(s.size())).Add(s); };
  add(group);
  add(alert);
  for (const auto& [k, v] : labels) {
    add(k);
    add(v);
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h.Digest()));
  return buf;
}

}  // namespace logship::alerter
