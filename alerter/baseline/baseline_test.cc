#include "alerter/baseline/baseline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;
constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;

BaselineSpec Spec(BaselineMethod m, double k = 4) {
  BaselineSpec s;
  s.method = m;
  s.k = k;
  s.window = milliseconds(kHour);
  s.min_points = 20;
  return s;
}

// Feeds value(i) at one point per `step` for n points; returns the indexes that were
// judged off-baseline (each judged before it is added, as the alerter does).
std::vector<int> Feed(const BaselineSpec& spec, int n, int64_t step,
                     const std::function<double(int)>& value) {
  auto est = MakeBaselineEstimator(spec);
  std::vector<int> hits;
  for (int i = 0; i < n; ++i) {
    int64_t t = i * step;
    double v = value(i);
    if (BaselineHolds(spec, est->Expected(t), v)) hits.push_back(i);
    est->Add(t, v);
    EXPECT_LE(est->MemoryBytes(), 2048u) << BaselineMethodName(spec.method);
  }
  return hits;
}

double Noise(int i) {  // deterministic noise in [-1, 1]
  static std::vector<double> n = [] {
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> v(100000);
    for (auto& x : v) x = u(rng);
    return v;
  }();
  return n[static_cast<size_t>(i) % n.size()];
}

class AllMethods : public testing::TestWithParam<BaselineMethod> {};

TEST_P(AllMethods, QuietOnNoiseAlertsOnStepUp) {
  BaselineSpec spec = Spec(GetParam());
  if (GetParam() == BaselineMethod::kSeasonal) spec.season = milliseconds(kHour);
  // 10 + noise for 3 hours (1 point a minute), then a step to 20.
  auto hits = Feed(spec, 240, kMin, [](int i) { return (i < 180 ? 10 : 20) + Noise(i); });
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits.front(), 180);
}

TEST_P(AllMethods, SpikeIsCaughtAndNoiseIsNot) {
  BaselineSpec spec = Spec(GetParam());
  if (GetParam() == BaselineMethod::kSeasonal) spec.season = milliseconds(kHour);
  auto hits = Feed(spec, 200, kMin, [](int i) { return 10 + Noise(i) + (i == 150 ? 30 : 0); });
  ASSERT_EQ(hits.size(), 1u) << BaselineMethodName(GetParam());
  EXPECT_EQ(hits[0], 150);
}

TEST_P(AllMethods, WarmUpGivesNoVerdict) {
  BaselineSpec spec = Spec(GetParam());
  spec.min_history = milliseconds(2 * kHour);
  auto est = MakeBaselineEstimator(spec);
  for (int i = 0; i < 100; ++i) est->Add(i * kMin, 10);
  EXPECT_FALSE(est->Expected(100 * kMin).has_value());  // < 2h of history
  EXPECT_FALSE(BaselineHolds(spec, est->Expected(100 * kMin), 1e9));
}

INSTANTIATE_TEST_SUITE_P(Baseline, AllMethods,
                         testing::Values(BaselineMethod::kMean, BaselineMethod::kEwma,
                                         BaselineMethod::kMad, BaselineMethod::kSeasonal),
                         [](const auto& info) { return std::string(BaselineMethodName(info.param)); });

TEST(Baseline, SlowDriftIsFollowed) {
  // +5% per hour of drift over 10 hours: each window sees a nearly level series.
  for (auto m : {BaselineMethod::kMean, BaselineMethod::kEwma, BaselineMethod::kMad}) {
    auto hits = Feed(Spec(m), 600, kMin, [](int i) { return 100 * std::pow(1.05, i / 60.0) + 2 * Noise(i); });
    EXPECT_TRUE(hits.empty()) << BaselineMethodName(m) << " paged " << hits.size() << " times";
  }
}

TEST(Baseline, SeasonalLevelTimeConstantDecidesHowLongAnOutageStaysOffBaseline) {
  // A daily request-rate cycle (100..900/s, 5-minute points); on day 8 from 10:00 the
  // rate halves for 6 hours (72 points, a lost region). The level (EWMA of value -
  // profile, time constant `window`) follows the drop: with 1 h it absorbs it in under
  // 2 hours and the condition clears although the outage goes on; with 1 d it holds about
  // half as long again (then the spread, which learns the outage's clipped residuals, has
  // widened enough). Neither holds for the whole outage.
  auto rate = [](int i) {
    double phase = static_cast<double>(i % 288) / 288.0;
    double v = 500 - 400 * std::cos(2 * M_PI * phase) + 10 * Noise(i);
    int start = 8 * 288 + 120;  // day 8, 10:00
    if (i >= start && i < start + 72) v *= 0.5;
    return v;
  };
  auto held = [&](int64_t level_ms) {
    BaselineSpec spec = Spec(BaselineMethod::kSeasonal, 4);
    spec.season = milliseconds(kDay);
    spec.bucket = milliseconds(30 * kMin);
    spec.window = milliseconds(level_ms);
    spec.direction = BaselineDirection::kBelow;
    int n = 0;
    for (int i : Feed(spec, 9 * 288, 5 * kMin, rate)) n += i >= 8 * 288 + 120 && i < 8 * 288 + 192;
    return n;
  };
  const int fast = held(kHour), slow = held(kDay);
  EXPECT_GE(fast, 1);   // the drop is seen...
  EXPECT_LE(fast, 24);  // ...but for at most 2 of its 6 hours (19 points now)
  EXPECT_GE(slow, fast * 3 / 2);  // 30 points now
  EXPECT_LT(slow, 72);
}

TEST(Baseline, DirectionBelowIgnoresRise) {
  BaselineSpec spec = Spec(BaselineMethod::kMad);
  spec.direction = BaselineDirection::kBelow;
  auto up = Feed(spec, 240, kMin, [](int i) { return (i < 180 ? 10 : 20) + Noise(i); });
  EXPECT_TRUE(up.empty());
  auto down = Feed(spec, 240, kMin, [](int i) { return (i < 180 ? 10 : 2) + Noise(i); });
  ASSERT_FALSE(down.empty());
  EXPECT_EQ(down.front(), 180);
}

TEST(Baseline, DailySeasonalityOnlySeasonalStaysQuiet) {
  // A request rate with a strong daily cycle (100..900/s), 5-minute points, 6 days; on day 5
  // at 03:00 (night, normally ~100/s) the rate jumps to the daytime level for 30 minutes.
  auto rate = [](int i) {
    double phase = static_cast<double>(i % 288) / 288.0;
    double v = 500 - 400 * std::cos(2 * M_PI * phase) + 10 * Noise(i);
    int anomaly = 5 * 288 + 36;  // day 5, 03:00
    if (i >= anomaly && i < anomaly + 6) v += 600;
    return v;
  };
  BaselineSpec seasonal = Spec(BaselineMethod::kSeasonal, 5);
  seasonal.season = milliseconds(kDay);
  seasonal.bucket = milliseconds(30 * kMin);
  auto hits = Feed(seasonal, 6 * 288, 5 * kMin, rate);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits.front(), 5 * 288 + 36);
  for (int h : hits) EXPECT_LT(h, 5 * 288 + 36 + 6) << "false alarm at point " << h;

  // The non-seasonal mean over 1 hour cannot tell the cycle from the anomaly as well:
  // with a flat window it still pages at the start of the rise. (Documented, not a goal.)
  BaselineSpec ratio = Spec(BaselineMethod::kSeasonal, 0);
  ratio.season = milliseconds(kDay);
  ratio.max_ratio = 3;
  auto ratio_hits = Feed(ratio, 6 * 288, 5 * kMin, rate);
  ASSERT_FALSE(ratio_hits.empty());
  EXPECT_EQ(ratio_hits.front(), 5 * 288 + 36);
}

// The seasonal profile keeps 16-bit buckets under one exponent per estimator: the same
// daily cycle must be learned as well at any magnitude (bytes/s in the billions, or
// fractions in the millionths), and the memory stays under 768 bytes for a week of hours.
TEST(Baseline, SeasonalCompactBucketsKeepAnyMagnitude) {
  std::map<double, double> worst_error;  // by scale: the largest |center - truth| / (500 x scale)
  for (double scale : {1.0, 1e-6, 1e3, 4e9}) {
    BaselineSpec spec = Spec(BaselineMethod::kSeasonal, 4);
    spec.season = milliseconds(kDay);
    spec.bucket = milliseconds(kHour);
    auto est = MakeBaselineEstimator(spec);
    auto truth = [&](int i) { return scale * (500 - 400 * std::cos(2 * M_PI * (i % 288) / 288.0)); };
    double worst = 0;
    for (int i = 0; i < 6 * 288; ++i) {
      const int64_t t = i * 5 * kMin;
      if (i >= 4 * 288) {
        auto band = est->Expected(t);
        ASSERT_TRUE(band) << scale;
        // Against the hour's average of the cycle (a bucket is one hour wide).
        double hour = 0;
        for (int k = 0; k < 12; ++k) hour += truth((i / 12) * 12 + k) / 12;
        worst = std::max(worst, std::fabs(band->center - hour) / (scale * 500));
        EXPECT_GT(band->spread, 0);
        EXPECT_LT(band->spread, scale * 100);
      }
      est->Add(t, truth(i) + scale * 2 * Noise(i));
    }
    worst_error[scale] = worst;
    // The profile lags a cycle sampled every 5 min by about 8% of its mean; what matters
    // is that the 16-bit buckets add nothing at any magnitude.
    EXPECT_LT(worst, 0.1) << "scale " << scale;
    EXPECT_NEAR(worst, worst_error[1.0], 0.005) << "scale " << scale;
  }
  BaselineSpec week = Spec(BaselineMethod::kSeasonal);
  week.season = milliseconds(7 * kDay);
  week.bucket = milliseconds(kHour);
  EXPECT_LE(MakeBaselineEstimator(week)->MemoryBytes(), 768u);
}

TEST(Baseline, NonFiniteValuesAreNotLearned) {
  for (BaselineMethod m : {BaselineMethod::kMean, BaselineMethod::kEwma, BaselineMethod::kMad,
                           BaselineMethod::kSeasonal}) {
    BaselineSpec spec = Spec(m);
    spec.season = milliseconds(kHour);
    auto est = MakeBaselineEstimator(spec);
    for (int i = 0; i < 240; ++i) {
      est->Add(i * kMin, 10 + Noise(i));
      if (i % 7 == 0) est->Add(i * kMin, std::nan(""));
      if (i % 11 == 0) est->Add(i * kMin, INFINITY);
    }
    auto band = est->Expected(240 * kMin);
    ASSERT_TRUE(band) << BaselineMethodName(m);
    EXPECT_NEAR(band->center, 10, 1) << BaselineMethodName(m);
    EXPECT_TRUE(std::isfinite(band->spread)) << BaselineMethodName(m);
  }
}

TEST(Baseline, MinValueSuppressesLowVolume) {
  BaselineSpec spec = Spec(BaselineMethod::kMad);
  spec.min_value = 5;
  // 0/1 events a minute, then 4: a big relative jump but below min_value.
  auto hits = Feed(spec, 100, kMin, [](int i) { return i < 90 ? (i % 2) : 4.0; });
  EXPECT_TRUE(hits.empty());
  // A collapse from a busy baseline is not suppressed (the baseline is above min_value).
  auto collapse = Feed(spec, 100, kMin, [](int i) { return i < 90 ? 50 + Noise(i) : 0.0; });
  ASSERT_FALSE(collapse.empty());
  EXPECT_EQ(collapse.front(), 90);
}

TEST(Baseline, RatioTests) {
  BaselineSpec spec;
  spec.k = 0;
  spec.min_ratio = 0.1;
  spec.max_ratio = 5;
  EXPECT_TRUE(BaselineHolds(spec, BaselineBand{100, 1}, 9));
  EXPECT_FALSE(BaselineHolds(spec, BaselineBand{100, 1}, 11));
  EXPECT_TRUE(BaselineHolds(spec, BaselineBand{100, 1}, 501));
  EXPECT_FALSE(BaselineHolds(spec, BaselineBand{100, 1}, 499));
  EXPECT_FALSE(BaselineHolds(spec, std::nullopt, 1e9));
  // A center at or below 0 (a seasonal center after a deep drop) has no ratios: a
  // positive value is not "5x above" it, nor 0 "below 10%" of it.
  EXPECT_FALSE(BaselineHolds(spec, BaselineBand{-400, 1}, 10));
  EXPECT_FALSE(BaselineHolds(spec, BaselineBand{0, 1}, 10));
  EXPECT_FALSE(BaselineHolds(spec, BaselineBand{-400, 1}, -1000));
  // The band test still applies to such a center.
  spec.k = 3;
  EXPECT_TRUE(BaselineHolds(spec, BaselineBand{-400, 1}, 10));
}

TEST(Baseline, MinDeviationOnFlatLine) {
  BaselineSpec spec = Spec(BaselineMethod::kMad);
  spec.min_deviation = 0.05;
  auto est = MakeBaselineEstimator(spec);
  for (int i = 0; i < 60; ++i) est->Add(i * kMin, 0.134);
  auto band = est->Expected(60 * kMin);
  ASSERT_TRUE(band);
  EXPECT_FLOAT_EQ(band->spread, 0);
  EXPECT_FALSE(BaselineHolds(spec, band, 0.15));
  EXPECT_TRUE(BaselineHolds(spec, band, 0.2));
}

TEST(Baseline, MadFallsBackToMeanDeviationOnQuantisedSeries) {
  // A quantised near-constant CPU series: 0.066 most of the time, 0.134 one point in
  // three. The MAD is 0 (two thirds of the points equal the median), which made every
  // excursion to 0.134 "off-baseline"; the band now comes from the mean absolute deviation.
  BaselineSpec spec = Spec(BaselineMethod::kMad, 3);
  auto value = [](int i) { return i % 3 == 0 ? 0.134 : 0.066; };
  auto est = MakeBaselineEstimator(spec);
  for (int i = 0; i < 60; ++i) est->Add(i * kMin, value(i));
  auto band = est->Expected(60 * kMin);
  ASSERT_TRUE(band);
  EXPECT_NEAR(band->center, 0.066, 1e-6);
  // The window (t - 1h, t] holds points 1..59, 19 of them 0.068 off the median.
  EXPECT_NEAR(band->spread, 1.2533 * 19 * 0.068 / 59, 1e-5);
  EXPECT_TRUE(Feed(spec, 300, kMin, value).empty());
  // A real level shift on the same series still pages, at once.
  auto shift = Feed(spec, 300, kMin, [&](int i) { return i < 200 ? value(i) : 0.5; });
  ASSERT_FALSE(shift.empty());
  EXPECT_EQ(shift.front(), 200);
  // A flat window keeps spread 0 (any change is off-baseline unless min_deviation).
  auto flat = MakeBaselineEstimator(spec);
  for (int i = 0; i < 60; ++i) flat->Add(i * kMin, 0.066);
  ASSERT_TRUE(flat->Expected(60 * kMin));
  EXPECT_EQ(flat->Expected(60 * kMin)->spread, 0);
}

TEST(Baseline, MadIgnoresOutliersInItsWindow) {
  BaselineSpec spec = Spec(BaselineMethod::kMad);
  auto est = MakeBaselineEstimator(spec);
  for (int i = 0; i < 60; ++i) est->Add(i * kMin, i % 10 == 0 ? 1000 : 10 + 0.1 * (i % 3));
  auto band = est->Expected(60 * kMin);
  ASSERT_TRUE(band);
  EXPECT_NEAR(band->center, 10.1, 0.11);
  EXPECT_LT(band->spread, 0.2);
}

TEST(Baseline, MadWindowIsDecimatedNotUnbounded) {
  BaselineSpec spec = Spec(BaselineMethod::kMad);
  auto est = MakeBaselineEstimator(spec);
  for (int i = 0; i < 100000; ++i) est->Add(i * 1000, 10);  // 1 point/s for a day
  EXPECT_LE(est->MemoryBytes(), 2048u);
}

}  // namespace
}  // namespace logship::alerter
