#include "alerter/backtest/nab_score.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "alerter/backtest/series_reader.h"
#include "tests/support/subprocess.h"

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
  EXPECT_EQ(NabScaledSigmoid(3.0), -1.0);  // NAB: >= 3 is "well behind the window"
}

TEST(NabScore, ProbationIsMinOfFifteenPercentAndSevenHundredFifty) {
  // 100 rows: probation 15 rows; a detection on row 15 counts, on row 14 does not.
  auto early = ScoreNab(Rows(), kOne, {14 * kMin});
  EXPECT_EQ(early.false_positives, 0u);
  auto first = ScoreNab(Rows(), kOne, {15 * kMin});
  EXPECT_EQ(first.false_positives, 1u);
  // 10,000 rows: 0.15 x 10,000 = 1,500 > 750, so rows 750.. are scored.
  std::vector<int64_t> t;
  for (int i = 0; i < 10000; ++i) t.push_back(i * kMin);
  EXPECT_EQ(ScoreNab(t, {}, {749 * kMin}).false_positives, 0u);
  EXPECT_EQ(ScoreNab(t, {}, {750 * kMin}).false_positives, 1u);
}

TEST(NabScore, AWindowInsideTheProbationIsNotScored) {
  // NAB drops probationary rows before scoring, so a window wholly inside the probation is
  // neither found nor missed (not in the null score); it still counts in `perfect`.
  const std::vector<NabWindow> early_and_a = {{5 * kMin, 9 * kMin}, {40 * kMin, 49 * kMin}};
  auto s = ScoreNab(Rows(), early_and_a, {6 * kMin});
  EXPECT_EQ(s.windows, 2u);
  EXPECT_EQ(s.scored_windows, 1u);
  EXPECT_DOUBLE_EQ(s.raw, -1);  // only A is missed
  EXPECT_DOUBLE_EQ(s.null, -1);
  EXPECT_DOUBLE_EQ(s.perfect, 2);
  // And it is still the window a later false positive is measured from: row 12 is 3 rows
  // after it (W = 5): y = 3/4, but row 12 is probationary too; row 16: y = 7/4.
  auto fp = ScoreNab(Rows(), early_and_a, {16 * kMin});
  EXPECT_NEAR(fp.raw, -1 + 0.11 * NabScaledSigmoid(7.0 / 4), 1e-12);
}

TEST(NabScore, EveryFlaggedRowOutsideAWindowIsAFalsePositive) {
  // A detector that flags rows (NAB's) pays for each; the same row twice is one flag.
  auto s = ScoreNab(Rows(), kOne, {90 * kMin, 91 * kMin, 92 * kMin, 92 * kMin});
  EXPECT_EQ(s.false_positives, 3u);
  EXPECT_NEAR(s.raw, -1 - 3 * 0.11, 1e-12);
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

std::string NabDir() { return ::logship::testing::SourceDir() + "/alerter/backtest/testdata/nab"; }

// Our scorer and our port of NAB's windowedGaussian detector reproduce NAB's published
// standard-profile scores (numenta/NAB results/windowedGaussian/
// windowedGaussian_standard_scores.csv, threshold 1.0) for these series.
TEST(NabScore, ReproducesNabsPublishedWindowedGaussianScores) {
  auto windows = LoadNabWindows(NabDir() + "/windows.json");
  ASSERT_TRUE(windows.ok()) << windows.status().ToString();
  const struct {
    const char* file;
    double raw;
    size_t fp_rows;
  } kPublished[] = {
      {"ec2_cpu_utilization_24ae8d.csv", -1.26667875935, 11},
      {"rds_cpu_utilization_cc0c53.csv", -0.138449197924, 0},
      {"ec2_cpu_utilization_c6585a.csv", -1.32, 12},
  };
  for (const auto& p : kPublished) {
    SCOPED_TRACE(p.file);
    auto points = ReadSeries(NabDir() + "/" + p.file);
    ASSERT_TRUE(points.ok()) << points.status().ToString();
    std::vector<int64_t> times;
    std::vector<double> values;
    for (const auto& pt : *points) {
      times.push_back(pt.time_ms);
      values.push_back(pt.value);
    }
    auto scores = NabWindowedGaussianScores(values);
    ASSERT_EQ(scores.size(), values.size());
    std::vector<int64_t> flagged;
    for (size_t i = 0; i < scores.size(); ++i) {
      if (scores[i] >= 1.0) flagged.push_back(times[i]);
    }
    auto s = ScoreNab(times, windows->at(p.file), flagged);
    EXPECT_NEAR(s.raw, p.raw, 1e-9);
    EXPECT_EQ(s.false_positives, p.fp_rows);
  }
}

}  // namespace
}  // namespace logship::alerter::backtest
