// The per-series alert state machine:
//
//   inactive --condition--> pending --held for `for`--> firing(WARNING|CRITICAL) --clear--> resolved
//
// A firing alert escalates WARNING -> CRITICAL and downgrades CRITICAL -> WARNING as the
// same incident (same dedup key); it resolves as soon as no condition holds. Each severity
// must hold for `for` on its own before it is paged, and a downgrade waits until the
// critical condition has been clear for `for` (so a value hovering at the critical
// threshold does not page on every step). The state is a plain struct so it can
// be persisted (a later issue) and restored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "alerter/rules/alert_rules.h"
#include "logship/event.h"

namespace logship::alerter {

enum class AlertPhase { kInactive, kPending, kFiring };
const char* AlertPhaseName(AlertPhase p);

struct AlertState {
  std::string dedup_key;
  Labels labels;  // the group's labels (the rule's `by` labels and their values)
  AlertPhase phase = AlertPhase::kInactive;
  Severity severity = Severity::kWarning;  // paged severity; meaningful while kFiring
  // First evaluation time (ms) of the current unbroken run with the level at or above
  // warning / critical; -1 when the level is below.
  int64_t warning_since_ms = -1;
  int64_t critical_since_ms = -1;
  int64_t critical_clear_since_ms = -1;  // while firing CRITICAL: when the condition cleared
  int64_t fired_at_ms = -1;  // when the current incident was triggered; -1 if not firing
  int64_t last_eval_ms = -1;
  double value = 0;  // the value at the last evaluation
};

enum class AlertTransition {
  kNone,       // nothing to page (includes inactive->pending and pending->inactive)
  kTrigger,    // a new incident at `severity`
  kEscalate,   // WARNING -> CRITICAL, same incident
  kDowngrade,  // CRITICAL -> WARNING, same incident
  kResolve,    // the incident is over; the state is back to inactive
};
const char* AlertTransitionName(AlertTransition t);

// Advances `state` to evaluation time `now_ms`, given the highest severity whose condition
// holds now (nullopt: none) and the rule's `for`. REQUIRES: now_ms increases between calls.
AlertTransition StepAlert(AlertState& state, std::optional<Severity> level, int64_t now_ms,
                          Millis for_duration);

// Stable across restarts and machines: a hash of group, alert and the group's labels.
// 16 lowercase hex digits.
std::string MakeDedupKey(const std::string& group, const std::string& alert,
                         const Labels& labels);

}  // namespace logship::alerter
