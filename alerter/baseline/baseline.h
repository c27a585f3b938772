// Learned baselines: per-series estimators of the value a metric is expected to have, used
// by baseline alert conditions ("the value is outside baseline +- k * spread").
//
// Every estimator keeps small bounded memory per series (MemoryBytes() <= 2 KB): the rolling
// mean keeps 32 sub-window aggregates, the median/MAD a decimated window of at most 128
// points, the seasonal profile at most 168 buckets of 4 bytes (<= 752 bytes in all). Time is the caller's (DATA time, ms);
// Add() times must not decrease.
//
// Thread-compatible. The reference is docs/alerting.md ("Baseline conditions").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace logship::alerter {

enum class BaselineMethod {
  kMean,      // rolling mean +- k * stddev over `window`
  kEwma,      // exponentially weighted mean +- k * EW stddev (`alpha`, or time constant `window`)
  kMad,       // rolling median +- k * 1.4826 * MAD over `window` (robust to outliers; the
              // mean absolute deviation x 1.2533 when the MAD is 0)
  kSeasonal,  // same phase of the previous `season`(s), shifted by the recent level
};
const char* BaselineMethodName(BaselineMethod m);
enum class BaselineDirection { kAbove, kBelow, kBoth };
const char* BaselineDirectionName(BaselineDirection d);

// An immutable baseline condition, compiled from a rule's `{baseline: {...}}`.
struct BaselineSpec {
  BaselineMethod method = BaselineMethod::kMad;
  BaselineDirection direction = BaselineDirection::kBoth;
  std::chrono::milliseconds window{3'600'000};  // mean/mad: window; ewma/seasonal: level time constant
  double alpha = 0;  // ewma: weight of each new point (0 < alpha <= 1); 0 = time-based from window
  double k = 3;      // band half-width in spreads; 0 = no band test (ratio tests only)
  // Seasonal: the season length and its bucket width (at most 168 buckets; more are
  // merged into the last one, so keep season / bucket <= 168).
  std::chrono::milliseconds season{86'400'000};
  std::chrono::milliseconds bucket{0};  // 0 = season / 48 (a day: 30 min; a week: 3.5 h)
  // Warm-up: no verdict until this much history and this many points were seen.
  std::chrono::milliseconds min_history{0};
  size_t min_points = 10;
  // Guards against sparse / low-volume series and flat lines.
  double min_value = 0;      // no alert while both the value and the baseline are below this
  double min_deviation = 0;  // |value - baseline| must also exceed this (absolute)
  // Ratio tests (0 = off): value > max_ratio * baseline (above), value < min_ratio * baseline (below).
  double max_ratio = 0;
  double min_ratio = 0;
};

// The expected value and its spread (one "sigma") at a time.
struct BaselineBand {
  double center = 0;
  double spread = 0;
};

class BaselineEstimator {
 public:
  virtual ~BaselineEstimator() = default;
  // The band expected at `t_ms` from the points added so far; nullopt while warming up.
  virtual std::optional<BaselineBand> Expected(int64_t t_ms) const = 0;
  // Adds a point; NaN and infinite values are ignored. REQUIRES: t_ms >= the previous
  // point's time.
  virtual void Add(int64_t t_ms, double value) = 0;
  // Approximate bytes held (for the per-series memory budget).
  virtual size_t MemoryBytes() const = 0;
};

// REQUIRES: `spec` outlives the estimator (estimators keep a reference, not a copy: the
// rule's spec is shared by every group's estimator).
std::unique_ptr<BaselineEstimator> MakeBaselineEstimator(const BaselineSpec& spec);

// Whether `value` is off-baseline under `spec` given the band (nullopt band: never).
// Ratio tests never hold against a center <= 0.
bool BaselineHolds(const BaselineSpec& spec, const std::optional<BaselineBand>& band, double value);

}  // namespace logship::alerter
