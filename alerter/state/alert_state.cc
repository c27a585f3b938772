#include "alerter/state/alert_state.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

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

AlertTiming TimingOf(const AlertRule& rule) {
  return AlertTiming{rule.for_duration, rule.critical_for, rule.keep_firing_for};
}

namespace {

// The raw machine; returns the raw transition.
AlertTransition StepRaw(AlertState& s, std::optional<Severity> level, int64_t now_ms,
                        const AlertTiming& timing) {
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

  // The highest severity that has held for its `for`.
  std::optional<Severity> due;
  if (s.critical_since_ms >= 0 && now_ms - s.critical_since_ms >= timing.critical_for.count()) {
    due = Severity::kCritical;
  } else if (s.warning_since_ms >= 0 && now_ms - s.warning_since_ms >= timing.warning_for.count()) {
    due = Severity::kWarning;
  }

  switch (s.phase) {
    case AlertPhase::kInactive:
    case AlertPhase::kPending:
      if (due) {
        s.phase = AlertPhase::kFiring;
        s.severity = *due;
        s.critical_clear_since_ms = -1;
        s.clear_since_ms = -1;
        return AlertTransition::kTrigger;
      }
      s.phase = warn ? AlertPhase::kPending : AlertPhase::kInactive;
      return AlertTransition::kNone;
    case AlertPhase::kFiring:
      if (!warn) {
        if (s.clear_since_ms < 0) s.clear_since_ms = now_ms;
        if (now_ms - s.clear_since_ms >= timing.keep_firing_for.count()) {
          s.phase = AlertPhase::kInactive;
          s.critical_clear_since_ms = -1;
          s.clear_since_ms = -1;
          return AlertTransition::kResolve;
        }
        return AlertTransition::kNone;  // kept firing
      }
      s.clear_since_ms = -1;
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
          const int64_t wait = std::max(timing.critical_for, timing.keep_firing_for).count();
          if (now_ms - s.critical_clear_since_ms >= wait) {
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

}  // namespace

AlertTransition StepAlert(AlertState& s, std::optional<Severity> level, int64_t now_ms,
                          const AlertTiming& timing, const FlapPolicy& flap) {
  s.last_eval_ms = now_ms;
  const AlertTransition raw = StepRaw(s, level, now_ms, timing);

  // Flip bookkeeping and the flapping flag (hysteresis: start above, stop at or below).
  const bool detect = flap.start > 0;
  if (detect) {
    if (raw == AlertTransition::kTrigger || raw == AlertTransition::kResolve) s.flips.push_back(now_ms);
    const int64_t horizon = now_ms - flap.window.count();
    auto keep = std::upper_bound(s.flips.begin(), s.flips.end(), horizon);
    s.flips.erase(s.flips.begin(), keep);
    // Bounded: only the count up to `start` matters.
    const size_t cap = static_cast<size_t>(std::max(flap.start, 1)) + 1;
    if (s.flips.size() > cap) s.flips.erase(s.flips.begin(), s.flips.end() - cap);
    const int n = static_cast<int>(s.flips.size());
    if (!s.flapping && n >= flap.start) {
      s.flapping = true;
    } else if (s.flapping && n <= flap.stop) {
      s.flapping = false;
      // Leaving the flapping state: tell the world where the series really is.
      if (raw == AlertTransition::kNone || raw == AlertTransition::kDowngrade ||
          raw == AlertTransition::kEscalate) {
        if (s.open && s.phase != AlertPhase::kFiring) {
          s.open = false;
          s.fired_at_ms = -1;
          return AlertTransition::kResolve;
        }
        if (s.open && s.phase == AlertPhase::kFiring && s.severity != s.paged_severity) {
          const bool up = s.severity == Severity::kCritical;
          s.paged_severity = s.severity;
          return up ? AlertTransition::kEscalate : AlertTransition::kDowngrade;
        }
      }
    }
  } else {
    s.flips.clear();
    s.flapping = false;
  }

  switch (raw) {
    case AlertTransition::kNone:
      return AlertTransition::kNone;
    case AlertTransition::kTrigger:
      if (!s.open) {
        s.open = true;
        s.paged_severity = s.severity;
        s.fired_at_ms = now_ms;
        return AlertTransition::kTrigger;
      }
      // Held open by flapping: only a higher severity is news.
      if (s.severity == Severity::kCritical && s.paged_severity == Severity::kWarning) {
        s.paged_severity = Severity::kCritical;
        return AlertTransition::kEscalate;
      }
      return AlertTransition::kNone;
    case AlertTransition::kEscalate:
      if (!s.open) {  // cannot happen (escalations come from firing), but stay consistent
        s.open = true;
        s.fired_at_ms = now_ms;
        s.paged_severity = Severity::kCritical;
        return AlertTransition::kTrigger;
      }
      if (s.paged_severity == Severity::kCritical) return AlertTransition::kNone;
      s.paged_severity = Severity::kCritical;
      return AlertTransition::kEscalate;
    case AlertTransition::kDowngrade:
      if (s.flapping || s.paged_severity == Severity::kWarning) return AlertTransition::kNone;
      s.paged_severity = Severity::kWarning;
      return AlertTransition::kDowngrade;
    case AlertTransition::kResolve:
      if (s.flapping || !s.open) return AlertTransition::kNone;
      s.open = false;
      s.fired_at_ms = -1;
      return AlertTransition::kResolve;
  }
  return AlertTransition::kNone;
}

AlertTransition StepAlert(AlertState& s, std::optional<Severity> level, int64_t now_ms,
                          Millis for_duration) {
  return StepAlert(s, level, now_ms, AlertTiming{for_duration, for_duration, Millis(0)});
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

nlohmann::json AlertStateToJson(const AlertState& s) {
  nlohmann::json labels = nlohmann::json::array();
  for (const auto& [k, v] : s.labels) labels.push_back({k, v});
  return {
      {"dedup_key", s.dedup_key},
      {"labels", labels},
      {"phase", static_cast<int>(s.phase)},
      {"severity", static_cast<int>(s.severity)},
      {"warning_since_ms", s.warning_since_ms},
      {"critical_since_ms", s.critical_since_ms},
      {"critical_clear_since_ms", s.critical_clear_since_ms},
      {"clear_since_ms", s.clear_since_ms},
      {"fired_at_ms", s.fired_at_ms},
      {"last_eval_ms", s.last_eval_ms},
      {"value", s.value},
      {"open", s.open},
      {"paged_severity", static_cast<int>(s.paged_severity)},
      {"flapping", s.flapping},
      {"flips", s.flips},
  };
}

Result<AlertState> AlertStateFromJson(const nlohmann::json& j) {
  try {
    AlertState s;
    s.dedup_key = j.at("dedup_key").get<std::string>();
    for (const auto& kv : j.at("labels")) s.labels.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
    int phase = j.at("phase").get<int>();
    if (phase < 0 || phase > 2) return Status::Corruption("alert state: bad phase");
    s.phase = static_cast<AlertPhase>(phase);
    auto sev = [](int v) { return v == 2 ? Severity::kCritical : Severity::kWarning; };
    s.severity = sev(j.at("severity").get<int>());
    s.warning_since_ms = j.at("warning_since_ms").get<int64_t>();
    s.critical_since_ms = j.at("critical_since_ms").get<int64_t>();
    s.critical_clear_since_ms = j.at("critical_clear_since_ms").get<int64_t>();
    s.clear_since_ms = j.value("clear_since_ms", int64_t{-1});
    s.fired_at_ms = j.at("fired_at_ms").get<int64_t>();
    s.last_eval_ms = j.at("last_eval_ms").get<int64_t>();
    s.value = j.value("value", 0.0);
    s.open = j.at("open").get<bool>();
    s.paged_severity = sev(j.at("paged_severity").get<int>());
    s.flapping = j.value("flapping", false);
    s.flips = j.value("flips", std::vector<int64_t>{});
    return s;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("alert state: ") + e.what());
  }
}

bool SameDurableState(const AlertState& a, const AlertState& b) {
  return a.phase == b.phase && a.severity == b.severity && a.warning_since_ms == b.warning_since_ms &&
         a.critical_since_ms == b.critical_since_ms && a.critical_clear_since_ms == b.critical_clear_since_ms &&
         a.clear_since_ms == b.clear_since_ms && a.fired_at_ms == b.fired_at_ms && a.open == b.open &&
         a.paged_severity == b.paged_severity && a.flapping == b.flapping && a.flips == b.flips;
}

}  // namespace logship::alerter
