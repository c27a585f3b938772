#include "alerter/backtest/nab_score.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "alerter/backtest/series_reader.h"

namespace logship::alerter::backtest {

double NabScaledSigmoid(double y) {
  if (y > 3.0) return -1.0;
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
  s.null = -profile.a_fn * static_cast<double>(windows.size());
  s.perfect = profile.a_tp * static_cast<double>(windows.size());
  const size_t n = timestamps.size();
  const size_t probation = std::min<size_t>(
      static_cast<size_t>(std::floor(profile.probation_fraction * static_cast<double>(n))),
      profile.probation_max_rows);

  // Windows as row ranges [first, last].
  struct Rows {
    size_t first, last;
    bool detected = false;
  };
  std::vector<Rows> rows;
  for (const auto& w : windows) {
    size_t first = std::lower_bound(timestamps.begin(), timestamps.end(), w.start_ms) - timestamps.begin();
    size_t end = std::upper_bound(timestamps.begin(), timestamps.end(), w.end_ms) - timestamps.begin();
    if (first >= end) {  // a window with no rows cannot be detected: counts as missed
      rows.push_back(Rows{first, first, false});
      rows.back().last = SIZE_MAX;
      continue;
    }
    rows.push_back(Rows{first, end - 1});
  }
  const double max_tp = NabScaledSigmoid(-1.0);

  std::sort(detections.begin(), detections.end());
  for (int64_t d : detections) {
    size_t i = std::lower_bound(timestamps.begin(), timestamps.end(), d) - timestamps.begin();
    if (i >= n || i < probation) continue;
    const Rows* inside = nullptr;
    const Rows* before = nullptr;
    for (auto& r : rows) {
      if (r.last == SIZE_MAX) continue;
      if (i >= r.first && i <= r.last) inside = &r;
      if (r.last < i) before = &r;
    }
    if (inside) {
      auto& r = const_cast<Rows&>(*inside);
      if (r.detected) continue;  // only the first detection in a window counts
      r.detected = true;
      const double width = static_cast<double>(r.last - r.first + 1);
      const double y = -static_cast<double>(r.last - i + 1) / width;
      s.raw += profile.a_tp * NabScaledSigmoid(y) / max_tp;
      ++s.true_positives;
    } else {
      double sig = -1.0;
      if (before) {
        const double width = static_cast<double>(before->last - before->first + 1);
        // A one-row window has no "width - 1": treat any later detection as distant.
        sig = width > 1 ? NabScaledSigmoid(static_cast<double>(i - before->last) / (width - 1)) : -1.0;
      }
      s.raw += profile.a_fp * sig;
      ++s.false_positives;
    }
  }
  for (const auto& r : rows) {
    if (!r.detected) {
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
