// increase() and rate() of a CUMULATIVE counter over a window, with Prometheus' semantics
// (promql/functions.go, extrapolatedRate), so thresholds written for Prometheus rules
// carry over (docs/alerting.md, "Counters"):
//   - at least two points in the window, else no value;
//   - a decrease between two points is a counter reset (the process restarted from 0): the
//     value before the reset is added, so the increase never goes negative;
//   - the increase between the first and last point is extrapolated towards the window
//     edges: all the way when the gap to an edge is under 1.1 x the average point spacing,
//     else by half a spacing; towards the start never past where the counter would have
//     been 0.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>

namespace logship::alerter {

// Points [first, last) in time order, `time(it)` in ms and `value(it)` the counter,
// inside the window (range_start_ms, range_end_ms]. Returns the extrapolated increase.
template <class It, class TimeFn, class ValueFn>
std::optional<double> CumulativeIncrease(It first, It last, int64_t range_start_ms, int64_t range_end_ms,
                                         TimeFn time, ValueFn value) {
  if (first == last || std::next(first) == last) return std::nullopt;
  size_t n = 0;
  double increase = 0, prev = 0;
  double first_value = 0;
  int64_t first_ms = 0, last_ms = 0;
  for (It it = first; it != last; ++it, ++n) {
    const double v = value(it);
    if (n == 0) {
      first_value = v;
      first_ms = time(it);
    } else {
      increase += v >= prev ? v - prev : v;  // a decrease: the counter restarted from 0
    }
    prev = v;
    last_ms = time(it);
  }
  const double sampled = static_cast<double>(last_ms - first_ms) / 1000.0;
  if (sampled <= 0) return std::nullopt;
  const double average = sampled / static_cast<double>(n - 1);
  const double threshold = average * 1.1;
  double to_start = static_cast<double>(first_ms - range_start_ms) / 1000.0;
  double to_end = static_cast<double>(range_end_ms - last_ms) / 1000.0;
  if (to_start >= threshold) to_start = average / 2;
  if (increase > 0 && first_value >= 0) {
    // The counter cannot have been below 0: do not extrapolate to before it started.
    const double to_zero = sampled * (first_value / increase);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = average / 2;
  return increase * (sampled + to_start + to_end) / sampled;
}

}  // namespace logship::alerter
