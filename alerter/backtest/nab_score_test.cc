#include "alerter/backtest/nab_score.h"

#include <gtest/gtest.h>

#include <cmath>

namespace logship::alerter::backtest {
namespace {

// 100 rows, one a minute. Probation: floor(0.15 * 100) = 15 rows.
// Window A: rows 40..49 (W = 10). Window B: rows 70..79.
constexpr int64_t kMin = 60'000;
std::vector<int64_t> Rows() {
  std::vector<int64_t> t;
  for (int i = 0; i < 100; ++i) t.push_back(i * kMin);
  return t;
}
const std::vector<NabWindow> kTwo = {{40 * kMin, 49 * kMin}, {70 * kMin, 79 * kMin}};
const std::vector<NabWindow> kOne = {{40 * kMin, 49 * kMin}};
// Hand-computed (S(y) = 2 / (1 + e^{5y}) - 1, S(-1) = 0.98661430):
//   last row of a window: y = -1/10, S = 0.24491866, / S(-1) = 0.24824155
//   row 41 of 40..49:     y = -9/10, S = 0.97802587, / S(-1) = 0.99129530
//   3 rows after A:       y = 3/9,   S = -0.68226179, x 0.11 = -0.07504880

TEST(NabScore, ScaledSigmoid) {
  EXPECT_NEAR(NabScaledSigmoid(-1), 0.98661430, 1e-8);
  EXPECT_NEAR(NabScaledSigmoid(0), 0.0, 1e-12);
  EXPECT_EQ(NabScaledSigmoid(3.5), -1.0);
}

TEST(NabScore, NoDetectionsIsTheNullScore) {
  auto s = ScoreNab(Rows(), kTwo, {});
  EXPECT_DOUBLE_EQ(s.raw, -2);
  EXPECT_DOUBLE_EQ(s.null, -2);
  EXPECT_DOUBLE_EQ(s.perfect, 2);
  EXPECT_EQ(s.false_negatives, 2u);
  EXPECT_DOUBLE_EQ(s.Normalized(), 0);
}

TEST(NabScore, FirstRowOfEveryWindowIsPerfect) {
  auto s = ScoreNab(Rows(), kTwo, {40 * kMin, 70 * kMin});
  EXPECT_NEAR(s.raw, 2, 1e-12);
  EXPECT_NEAR(s.Normalized(), 100, 1e-9);
}

TEST(NabScore, OneEarlyHitOneMiss) {
  auto s = ScoreNab(Rows(), kTwo, {40 * kMin});
  EXPECT_NEAR(s.raw, 0, 1e-12);  // +1 - 1
  EXPECT_NEAR(s.Normalized(), 50, 1e-9);
}

TEST(NabScore, LateDetectionEarnsLess) {
  auto s = ScoreNab(Rows(), kOne, {49 * kMin});
  EXPECT_NEAR(s.raw, 0.24824155, 1e-7);
  EXPECT_NEAR(s.Normalized(), 100 * (0.24824155 + 1) / 2, 1e-5);
}

TEST(NabScore, OnlyTheFirstDetectionInAWindowCounts) {
  auto s = ScoreNab(Rows(), kOne, {45 * kMin, 41 * kMin, 47 * kMin});
  EXPECT_NEAR(s.raw, 0.99129530, 1e-7);
  EXPECT_EQ(s.true_positives, 1u);
  EXPECT_EQ(s.false_positives, 0u);
}

TEST(NabScore, FalsePositivesWeightedByDistanceToThePrecedingWindow) {
  // Row 52: 3 rows after A -> -0.07504880. Row 90: y = 41/9 > 3 -> -0.11.
  // Row 20: no preceding window -> -0.11. Row 10: in probation, ignored.
  auto s = ScoreNab(Rows(), kOne, {40 * kMin, 52 * kMin, 90 * kMin, 20 * kMin, 10 * kMin});
  EXPECT_NEAR(s.raw, 1 - 0.07504880 - 0.11 - 0.11, 1e-7);
  EXPECT_EQ(s.false_positives, 3u);
}

TEST(NabScore, DetectionBetweenRowsMapsToTheNextRow) {
  auto s = ScoreNab(Rows(), kOne, {39 * kMin + 1});  // -> row 40
  EXPECT_NEAR(s.raw, 1, 1e-12);
}

TEST(NabScore, TotalNormalisesOverSeries) {
  auto a = ScoreNab(Rows(), kTwo, {40 * kMin});          // raw 0, null -2, perfect 2
  auto b = ScoreNab(Rows(), {}, {20 * kMin, 30 * kMin});  // raw -0.22, no windows
  EXPECT_NEAR(NabTotal({a, b}), 100 * (0 - 0.22 + 2) / 4, 1e-9);
}

}  // namespace
}  // namespace logship::alerter::backtest
