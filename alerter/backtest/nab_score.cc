#include "alerter/backtest/nab_score.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "alerter/backtest/series_reader.h"

namespace logship::alerter::backtest {

double NabScaledSigmoid(double y) {
  if (y >= 3.0) return -1.0;
  return 2.0 / (1.0 + std::exp(5.0 * y)) - 1.0;
}

double NabSeriesScore::Normalized() const {
  if (perfect == null) return raw * 100;
  return 100.0 * (raw - null) / (perfect - null);
}

NabSeriesScore ScoreNab(const std::vector<int64_t>& timestamps, const std::vector<NabWindow>& windows,
                        std::vector<int64_t> detections, const NabProfile& profile) {
  NabSeriesScore s;
  s.windows = windows.size();
  s.perfect = profile.a_tp * static_cast<double>(windows.size());
  const size_t n = timestamps.size();
  // NAB: min(floor(p * n), p * 5000); rows before it are probationary.
  const double probation = std::min(std::floor(profile.probation_fraction * static_cast<double>(n)),
                                    profile.probation_fraction * profile.probation_cap_rows);
  auto scored_row = [&](size_t i) { return static_cast<double>(i) >= probation; };

  // Windows as row ranges [first, last]; a window without rows can be neither found nor missed.
  struct Rows {
    size_t first, last;
    bool scored = true;  // has a row after the probation (else: only a "preceding window")
    bool detected = false;
  };
  std::vector<Rows> rows;
  for (const auto& w : windows) {
    size_t first = std::lower_bound(timestamps.begin(), timestamps.end(), w.start_ms) - timestamps.begin();
    size_t end = std::upper_bound(timestamps.begin(), timestamps.end(), w.end_ms) - timestamps.begin();
    if (first >= end) continue;
    rows.push_back(Rows{first, end - 1, scored_row(end - 1)});
    if (rows.back().scored) ++s.scored_windows;
  }
  std::sort(rows.begin(), rows.end(), [](const Rows& a, const Rows& b) { return a.first < b.first; });
  s.null = -profile.a_fn * static_cast<double>(s.scored_windows);

  // The flagged rows (a row flagged twice is one detection, as a per-row detector's would be).
  std::vector<size_t> flagged;
  for (int64_t d : detections) {
    size_t i = std::lower_bound(timestamps.begin(), timestamps.end(), d) - timestamps.begin();
    if (i < n && scored_row(i)) flagged.push_back(i);
  }
  std::sort(flagged.begin(), flagged.end());
  flagged.erase(std::unique(flagged.begin(), flagged.end()), flagged.end());

  const double max_tp = NabScaledSigmoid(-1.0);
  size_t w = 0;  // the first window not wholly before the row
  for (size_t i : flagged) {
    while (w < rows.size() && rows[w].last < i) ++w;
    if (w < rows.size() && i >= rows[w].first) {
      Rows& r = rows[w];
      if (r.detected) continue;  // only the first detection in a window counts
      r.detected = true;
      const double width = static_cast<double>(r.last - r.first + 1);
      const double y = -static_cast<double>(r.last - i + 1) / width;
      s.raw += profile.a_tp * NabScaledSigmoid(y) / max_tp;
      ++s.true_positives;
      continue;
    }
    double sig = -1.0;  // no preceding window: y = 3
    if (w > 0) {
      const Rows& before = rows[w - 1];
      const double width = static_cast<double>(before.last - before.first + 1);
      // A one-row window has no "width - 1" (NAB divides by zero): treat as distant.
      if (width > 1) sig = NabScaledSigmoid(static_cast<double>(i - before.last) / (width - 1));
    }
    s.raw += profile.a_fp * sig;
    ++s.false_positives;
  }
  for (const auto& r : rows) {
    if (r.scored && !r.detected) {
      s.raw -= profile.a_fn;
      ++s.false_negatives;
    }
  }
  return s;
}

double NabTotal(const std::vector<NabSeriesScore>& scores) {
  double raw = 0, null = 0, perfect = 0;
  for (const auto& s : scores) {
    raw += s.raw;
    null += s.null;
    perfect += s.perfect;
  }
  if (perfect == null) return 0;
  return 100.0 * (raw - null) / (perfect - null);
}

std::vector<double> NabWindowedGaussianScores(const std::vector<double>& values) {
  constexpr size_t kWindow = 6400, kStep = 100;
  std::vector<double> out;
  out.reserve(values.size());
  std::vector<double> window, step;
  double mean = 0, sd = 1;
  auto refresh = [&] {
    double sum = 0;
    for (double v : window) sum += v;
    mean = sum / static_cast<double>(window.size());
    double ss = 0;
    for (double v : window) ss += (v - mean) * (v - mean);
    sd = std::sqrt(ss / static_cast<double>(window.size()));  // numpy.std: population
    if (sd == 0.0) sd = 0.000001;
  };
  for (double v : values) {
    double score = 0;
    if (!window.empty()) {
      // 1 - Q(z) with the value mirrored to the upper tail (NAB's normalProbability()).
      const double x = v < mean ? 2 * mean - v : v;
      score = 1 - 0.5 * std::erfc(((x - mean) / sd) / std::sqrt(2.0));
    }
    out.push_back(score);
    if (window.size() < kWindow) {
      window.push_back(v);
      refresh();
    } else {
      step.push_back(v);
      if (step.size() == kStep) {
        window.erase(window.begin(), window.begin() + kStep);
        window.insert(window.end(), step.begin(), step.end());
        step.clear();
        refresh();
      }
    }
  }
  return out;
}

Result<std::map<std::string, std::vector<NabWindow>>> LoadNabWindows(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(path + ": expected a JSON object {file: [[start, end], ...]}");
  }
  std::map<std::string, std::vector<NabWindow>> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    auto& list = out[it.key()];
    if (!it.value().is_array()) return Status::InvalidArgument(path + ": " + it.key() + ": expected a list");
    for (const auto& w : it.value()) {
      if (!w.is_array() || w.size() != 2 || !w[0].is_string() || !w[1].is_string()) {
        return Status::InvalidArgument(path + ": " + it.key() + ": a window is [\"start\", \"end\"]");
      }
      auto a = ParseTimestamp(w[0].get<std::string>());
      auto b = ParseTimestamp(w[1].get<std::string>());
      if (!a.ok()) return Status::InvalidArgument(path + ": " + it.key() + ": " + a.status().message());
      if (!b.ok()) return Status::InvalidArgument(path + ": " + it.key() + ": " + b.status().message());
      list.push_back(NabWindow{*a, *b});
    }
    std::sort(list.begin(), list.end(),
              [](const NabWindow& x, const NabWindow& y) { return x.start_ms < y.start_ms; });
  }
  return out;
}

}  // namespace logship::alerter::backtest
