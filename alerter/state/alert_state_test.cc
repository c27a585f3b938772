#include "alerter/state/alert_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;
constexpr auto W = Severity::kWarning;
constexpr auto C = Severity::kCritical;
constexpr auto N = AlertTransition::kNone;

// Steps a state through `levels` at 10 s intervals; returns the transitions.
std::vector<AlertTransition> RunLevels(AlertState& s, const std::vector<std::optional<Severity>>& levels,
                                 milliseconds for_duration) {
  std::vector<AlertTransition> out;
  int64_t t = 1'000'000;
  for (const auto& l : levels) {
    out.push_back(StepAlert(s, l, t, for_duration));
    t += 10'000;
  }
  return out;
}

TEST(AlertStateTest, ForDelaysTheTriggerAndASpikeNeverPages) {
  AlertState s;
  auto tr = RunLevels(s, {W, W, std::nullopt, W, W, W, W}, milliseconds(30000));
  EXPECT_EQ(tr, (std::vector<AlertTransition>{N, N, N, N, N, N, AlertTransition::kTrigger}));
  EXPECT_EQ(s.phase, AlertPhase::kFiring);
  EXPECT_EQ(s.severity, W);
}

TEST(AlertStateTest, PendingGoesBackToInactiveSilently) {
  AlertState s;
  RunLevels(s, {W}, milliseconds(30000));
  EXPECT_EQ(s.phase, AlertPhase::kPending);
  RunLevels(s, {std::nullopt}, milliseconds(30000));
  EXPECT_EQ(s.phase, AlertPhase::kInactive);
}

TEST(AlertStateTest, EscalateThenResolveIsOneIncident) {
  AlertState s;
  auto tr = RunLevels(s, {W, W, C, C, C, std::nullopt}, milliseconds(10000));
  EXPECT_EQ(tr, (std::vector<AlertTransition>{N, AlertTransition::kTrigger, N,
                                              AlertTransition::kEscalate, N,
                                              AlertTransition::kResolve}));
  EXPECT_EQ(s.phase, AlertPhase::kInactive);
}

TEST(AlertStateTest, CriticalRightAwayWhenBothHeldForFor) {
  AlertState s;
  auto tr = RunLevels(s, {C, C}, milliseconds(10000));
  EXPECT_EQ(tr[1], AlertTransition::kTrigger);
  EXPECT_EQ(s.severity, C);
}

TEST(AlertStateTest, DowngradeWaitsForAndDoesNotResolve) {
  AlertState s;
  auto tr = RunLevels(s, {C, W, C, W, W, W}, milliseconds(0));
  // for 0: trigger critical, downgrade, escalate, downgrade.
  EXPECT_EQ(tr, (std::vector<AlertTransition>{AlertTransition::kTrigger, AlertTransition::kDowngrade,
                                              AlertTransition::kEscalate,
                                              AlertTransition::kDowngrade, N, N}));
  AlertState t;
  tr = RunLevels(t, {C, C, C, W, C, W, W, W}, milliseconds(20000));
  // Critical after 20 s; the brief dip to warning does not downgrade; the later one does
  // after 20 s clear.
  EXPECT_EQ(tr, (std::vector<AlertTransition>{N, N, AlertTransition::kTrigger, N, N, N, N,
                                              AlertTransition::kDowngrade}));
  EXPECT_EQ(t.phase, AlertPhase::kFiring);
  EXPECT_EQ(t.severity, W);
}

TEST(AlertStateTest, DedupKeyIsStableAndDistinct) {
  Labels a = {{"host", "web-1"}};
  Labels b = {{"host", "web-2"}};
  EXPECT_EQ(MakeDedupKey("http", "Rate", a), MakeDedupKey("http", "Rate", a));
  EXPECT_EQ(MakeDedupKey("http", "Rate", a).size(), 16u);
  EXPECT_NE(MakeDedupKey("http", "Rate", a), MakeDedupKey("http", "Rate", b));
  EXPECT_NE(MakeDedupKey("http", "Rate", a), MakeDedupKey("http", "Errors", a));
  EXPECT_NE(MakeDedupKey("ab", "c", {}), MakeDedupKey("a", "bc", {}));
}

std::vector<AlertTransition> RunTimed(AlertState& s, const std::vector<std::optional<Severity>>& levels,
                                      const AlertTiming& timing, const FlapPolicy& flap = {Millis(0), 0, 0}) {
  std::vector<AlertTransition> out;
  int64_t t = s.last_eval_ms < 0 ? 1'000'000 : s.last_eval_ms + 10'000;  // continues in time
  for (const auto& l : levels) {
    out.push_back(StepAlert(s, l, t, timing, flap));
    t += 10'000;
  }
  return out;
}

constexpr auto T = AlertTransition::kTrigger;
constexpr auto E = AlertTransition::kEscalate;
constexpr auto D = AlertTransition::kDowngrade;
constexpr auto R = AlertTransition::kResolve;
const std::optional<Severity> O = std::nullopt;

TEST(AlertStateTest, ForPerSeverity) {
  // Warning must hold 30 s, critical only 10 s: a sudden critical pages critical first.
  AlertState s;
  auto tr = RunTimed(s, {C, C, C, C}, AlertTiming{milliseconds(30000), milliseconds(10000), milliseconds(0)});
  EXPECT_EQ(tr, (std::vector<AlertTransition>{N, T, N, N}));
  EXPECT_EQ(s.paged_severity, C);
  // Critical holds longer: warning first, then the escalation once critical held 30 s.
  AlertState w;
  tr = RunTimed(w, {C, C, C, C, C}, AlertTiming{milliseconds(0), milliseconds(30000), milliseconds(0)});
  EXPECT_EQ(tr, (std::vector<AlertTransition>{T, N, N, E, N}));
}

TEST(AlertStateTest, KeepFiringForBridgesShortGaps) {
  AlertTiming timing{milliseconds(0), milliseconds(0), milliseconds(20000)};
  AlertState s;
  // A 10 s gap does not resolve; a 30 s one does (after 20 s clear: the third clear step).
  auto tr = RunTimed(s, {W, O, W, O, O, O, O}, timing);
  EXPECT_EQ(tr, (std::vector<AlertTransition>{T, N, N, N, N, R, N}));
  EXPECT_FALSE(s.open);
  EXPECT_TRUE(s.Idle());
}

TEST(AlertStateTest, FlappingHoldsTheIncidentOpenUntilItCalmsDown) {
  // Flips counted over 100 s; flapping from 4 flips, over at <= 1.
  FlapPolicy flap{milliseconds(100000), 4, 1};
  AlertTiming timing{};
  AlertState s;
  // W O W O: trigger, resolve, trigger, then the 4th flip (a resolve) starts flapping and
  // is held; further flips are silent; a critical still escalates.
  auto tr = RunTimed(s, {W, O, W, O, W, O, C, O}, timing, flap);
  EXPECT_EQ(tr, (std::vector<AlertTransition>{T, R, T, N, N, N, E, N}));
  EXPECT_TRUE(s.flapping);
  EXPECT_TRUE(s.open);
  // Quiet from here (at 80 s): the flips age out of the 100 s window; at <= 1 left the
  // held incident resolves, once.
  tr = RunTimed(s, std::vector<std::optional<Severity>>(20, O), timing, flap);
  int resolves = 0;
  for (auto x : tr) resolves += x == R;
  EXPECT_EQ(resolves, 1);
  EXPECT_FALSE(s.flapping);
  EXPECT_FALSE(s.open);
  // Hysteresis: the state does not start flapping again on the next single trigger.
  tr = RunTimed(s, {W}, timing, flap);
  EXPECT_EQ(tr[0], T);
}

TEST(AlertStateTest, FlappingEndsFiringAtADifferentSeverity) {
  FlapPolicy flap{milliseconds(60000), 4, 1};
  AlertState s;
  auto tr = RunTimed(s, {C, O, C, O, W, W, W, W, W, W, W, W}, AlertTiming{}, flap);
  // trigger(crit), resolve, trigger(crit), held resolve (flapping), raw trigger at warning:
  // held (lower); once flips age out (60 s after the 2nd), a downgrade to the real severity.
  EXPECT_EQ(tr[0], T);
  EXPECT_EQ(tr[1], R);
  EXPECT_EQ(tr[2], T);
  EXPECT_EQ(tr[3], N);
  EXPECT_EQ(tr[4], N);
  EXPECT_EQ(std::count(tr.begin(), tr.end(), D), 1);
  EXPECT_EQ(s.paged_severity, W);
  EXPECT_TRUE(s.open);
}

TEST(AlertStateTest, JsonRoundTrip) {
  AlertState s;
  s.dedup_key = "00000000000000aa";
  s.labels = {{"host", "web-1"}};
  RunTimed(s, {W, C, C}, AlertTiming{}, FlapPolicy{milliseconds(60000), 4, 1});
  auto back = AlertStateFromJson(AlertStateToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(SameDurableState(s, *back));
  EXPECT_EQ(back->labels, s.labels);
  EXPECT_EQ(back->dedup_key, s.dedup_key);
  EXPECT_EQ(back->last_eval_ms, s.last_eval_ms);
  EXPECT_FALSE(AlertStateFromJson(nlohmann::json::parse(R"({"phase": 1})")).ok());
}

}  // namespace
}  // namespace logship::alerter
