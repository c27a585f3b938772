// The per-series alert state machine:
//
//   inactive --condition--> pending --held for `for`--> firing(WARNING|CRITICAL) --clear--> resolved
//
// Two layers in one struct:
//  - the RAW machine follows the conditions: each severity must hold for its own `for`
//    before it fires; a firing alert escalates WARNING -> CRITICAL and downgrades CRITICAL
//    -> WARNING as the same incident (same dedup key); it resolves once no condition has
//    held for `keep_firing_for` (0: at once). A downgrade waits until the critical
//    condition has been clear for max(critical `for`, keep_firing_for), so a value hovering
//    at the critical threshold does not page on every step.
//  - the PAGED layer decides what the outside world is told, with flap detection (below).
//
// Flap detection with hysteresis (docs/alerting.md, "Flapping"): every raw open (trigger)
// and raw close (resolve) is a flip; flips older than `window` are forgotten. A series
// starts flapping when it has at least `start` flips in the window and stops flapping when
// it has at most `stop` (< start) flips in the window. While flapping the incident is held
// open: raw resolves and re-triggers are not paged (nor downgrades); an escalation to
// CRITICAL still is. When flapping stops, a series that is not firing is resolved; one
// that is firing at another severity than last paged is re-paged at its severity.
//
// The struct is plain data so it can be persisted (alerter/state/state_store.h) and
// restored after a restart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "alerter/rules/alert_rules.h"
#include "logship/event.h"

namespace logship::alerter {

enum class AlertPhase { kInactive, kPending, kFiring };
const char* AlertPhaseName(AlertPhase p);

struct AlertTiming {
  Millis warning_for{0};
  Millis critical_for{0};
  Millis keep_firing_for{0};
};
AlertTiming TimingOf(const AlertRule& rule);

struct FlapPolicy {
  Millis window{3'600'000};
  int start = 6;  // flips in the window to start flapping; 0 disables flap detection
  int stop = 2;   // flips in the window at or below which flapping stops; < start
};

struct AlertState {
  std::string dedup_key;
  Labels labels;  // the group's labels (the rule's `by` labels and their values)
  // Raw layer.
  AlertPhase phase = AlertPhase::kInactive;
  Severity severity = Severity::kWarning;  // raw severity; meaningful while kFiring
  // First evaluation time (ms) of the current unbroken run with the level at or above
  // warning / critical; -1 when the level is below.
  int64_t warning_since_ms = -1;
  int64_t critical_since_ms = -1;
  int64_t critical_clear_since_ms = -1;  // while firing CRITICAL: when the condition cleared
  int64_t clear_since_ms = -1;  // while firing: when no condition held any more
  int64_t fired_at_ms = -1;     // when the current incident was opened; -1 if not open
  int64_t last_eval_ms = -1;
  double value = 0;  // the value at the last evaluation
  // Paged layer.
  bool open = false;                             // an incident is open (trigger paged)
  Severity paged_severity = Severity::kWarning;  // the severity last paged while open
  bool flapping = false;
  std::vector<int64_t> flips;  // raw open/close times within the flap window, ascending

  // Whether the state can be forgotten (nothing open, pending or remembered).
  bool Idle() const { return phase == AlertPhase::kInactive && !open && flips.empty(); }
};

enum class AlertTransition {
  kNone,       // nothing to page (includes inactive->pending and pending->inactive)
  kTrigger,    // a new incident at `paged_severity`
  kEscalate,   // WARNING -> CRITICAL, same incident
  kDowngrade,  // CRITICAL -> WARNING, same incident
  kResolve,    // the incident is over
};
const char* AlertTransitionName(AlertTransition t);

// Advances `state` to evaluation time `now_ms`, given the highest severity whose condition
// holds now (nullopt: none). Returns what to page; after it, state.paged_severity is the
// severity to page (for kResolve: the severity the incident had). REQUIRES: now_ms
// increases between calls.
AlertTransition StepAlert(AlertState& state, std::optional<Severity> level, int64_t now_ms,
                          const AlertTiming& timing, const FlapPolicy& flap = FlapPolicy{Millis(0), 0, 0});
// One `for` for both severities, no keep_firing_for, no flap detection.
AlertTransition StepAlert(AlertState& state, std::optional<Severity> level, int64_t now_ms,
                          Millis for_duration);

// Stable across restarts and machines: a hash of group, alert and the group's labels.
// 16 lowercase hex digits.
std::string MakeDedupKey(const std::string& group, const std::string& alert,
                         const Labels& labels);

// Persisted form (every field; value and last_eval_ms included).
nlohmann::json AlertStateToJson(const AlertState& s);
Result<AlertState> AlertStateFromJson(const nlohmann::json& j);
// Whether two states differ in anything but value and last_eval_ms (what is worth a write).
bool SameDurableState(const AlertState& a, const AlertState& b);

}  // namespace logship::alerter
