#include "alerter/state/alert_state.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace logship::alerter
