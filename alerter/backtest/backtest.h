// Replays one series through the alerter (the same Alerter code path as live traffic,
// DATA time, no notifiers) and returns the alert timeline.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alerter/backtest/series_reader.h"
#include "alerter/rules/alert_rules.h"
#include "alerter/state/alert_state.h"

namespace logship::alerter::backtest {

struct TimelineEntry {
  int64_t time_ms = 0;  // the evaluation step (data time)
  std::string group, alert;
  AlertTransition transition = AlertTransition::kNone;
  Severity severity = Severity::kWarning;
  double value = 0;
  std::optional<double> baseline;  // the paged condition's baseline, if it is one
};

// Feeds `points` as samples named `metric` (no labels) to an Alerter over `rules` with
// zero lateness, and returns every page in order. An empty `metric` means the first
// rule's metric.
std::vector<TimelineEntry> RunBacktest(std::shared_ptr<const RuleSet> rules,
                                       const std::vector<SeriesPoint>& points,
                                       const std::string& metric);

// The trigger times (the start of each incident) of one alert, or of every alert when
// `alert` is empty: what NAB counts as detections.
std::vector<int64_t> Detections(const std::vector<TimelineEntry>& timeline, const std::string& alert = "");

// Every row time (of `row_times`, sorted) at which an incident of `alert` (any alert when
// empty) is open: from its trigger up to, not including, its resolve. The strict reading
// of NAB, whose detectors flag rows: an alert that stays firing past a window's end costs
// one false positive per row.
std::vector<int64_t> FiringRows(const std::vector<TimelineEntry>& timeline, const std::vector<int64_t>& row_times,
                                const std::string& alert = "");

std::string FormatTime(int64_t time_ms);  // "2014-02-14 14:27:00" (UTC)
std::string FormatTimelineTable(const std::vector<TimelineEntry>& timeline);
std::string FormatTimelineJson(const std::vector<TimelineEntry>& timeline);  // one object a line

}  // namespace logship::alerter::backtest
