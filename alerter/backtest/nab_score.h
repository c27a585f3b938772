// NAB scoring (Numenta Anomaly Benchmark, Lavin & Ahmad 2015), standard profile: our own
// implementation of the published rules (numenta/NAB nab/sweeper.py and nab/runner.py),
// checked against NAB's published per-file scores (alerter/backtest/nab_score_test.cc):
//
// - Rows are the series' timestamps. The first min(floor(0.15 n), 0.15 x 5000) rows are
//   probationary: detections there are ignored, and a window with no row after the
//   probation is not scored at all (neither found nor missed; it still counts in `perfect`).
// - A detection is mapped to the first row at or after its time. A detector that flags
//   several rows (NAB's detectors flag every row whose anomaly score is >= the threshold)
//   gives one detection per row.
// - Inside a labelled window [L, R] (rows, W = R - L + 1), only the first detection
//   counts: it scores A_TP * S(y) / S(-1) where y = -(R - i + 1) / W is its relative
//   position (-1 at the window's first row, ~0 at its last) and
//   S(y) = 2 / (1 + exp(5y)) - 1 is the scaled sigmoid (S = -1 for y >= 3). Later
//   detections in the window are ignored.
// - Every detection outside all windows is a false positive scoring A_FP * S(y) (negative):
//   y = |i - R_prev| / (W_prev - 1) relative to the preceding window (rows i past its end
//   R_prev), and y = 3 (S = -1) when no window precedes it. So a detection right after a
//   window costs little, a distant one the full A_FP.
// - Each scored window without a detection costs A_FN.
// - Normalised score = 100 * (raw - null) / (perfect - null) summed over the corpus, where
//   null = -A_FN * scored windows (NAB's null detector) and perfect = A_TP * windows.
// Standard profile: A_TP = 1, A_FP = 0.11, A_FN = 1.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "logship/status.h"

namespace logship::alerter::backtest {

struct NabProfile {
  double a_tp = 1.0;
  double a_fp = 0.11;
  double a_fn = 1.0;
  double probation_fraction = 0.15;
  double probation_cap_rows = 5000;  // probation <= probation_fraction x this (NAB: 750 rows)
};

struct NabWindow {
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // inclusive
};

struct NabSeriesScore {
  double raw = 0;      // the sum of TP, FP and FN scores
  double null = 0;     // raw score of a detector that never detects
  double perfect = 0;  // A_TP x windows (NAB: one detection at the start of every window)
  size_t windows = 0;
  size_t scored_windows = 0;   // windows with a row after the probation
  size_t true_positives = 0;   // windows detected
  size_t false_positives = 0;  // scored detections outside windows
  size_t false_negatives = 0;  // windows missed
  double Normalized() const;   // 100 * (raw - null) / (perfect - null); raw * 100 if no windows
};

// The scaled sigmoid S(y) above.
double NabScaledSigmoid(double y);

// Scores `detections` (times, any order) on a series with row times `timestamps`
// (sorted) and labelled `windows` (sorted, non-overlapping).
NabSeriesScore ScoreNab(const std::vector<int64_t>& timestamps, const std::vector<NabWindow>& windows,
                        std::vector<int64_t> detections, const NabProfile& profile = {});

// Normalised score over several series: 100 * (sum raw - sum null) / (sum perfect - sum null).
double NabTotal(const std::vector<NabSeriesScore>& scores);

// NAB's "windowedGaussian" detector (nab/detectors/gaussian/windowedGaussian_detector.py),
// the rolling z-score behind its published 39.6: per row, 1 - Q(|z|) of the value against
// the mean and population stddev of up to 6400 previous values (refreshed every row until
// full, then every 100 rows). Returns one anomaly score in [0, 1] per value; NAB flags a
// row when the score is >= its optimised threshold (1.0 for the standard profile).
std::vector<double> NabWindowedGaussianScores(const std::vector<double>& values);

// Reads NAB's windows file ({"file.csv": [["2014-02-26 13:45:00.000000", "..."], ...]}).
Result<std::map<std::string, std::vector<NabWindow>>> LoadNabWindows(const std::string& path);

}  // namespace logship::alerter::backtest
