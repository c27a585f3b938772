#include "alerter/backtest/backtest.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "alerter/alerter.h"

namespace logship::alerter::backtest {

std::vector<TimelineEntry> RunBacktest(std::shared_ptr<const RuleSet> rules,
                                       const std::vector<SeriesPoint>& points,
                                       const std::string& metric) {
  std::string name = metric;
  if (name.empty() && !rules->rules.empty()) name = rules->rules.front().metric;
  AlerterOptions options;
  options.lateness = Millis(0);
  options.max_page_records = 0;  // keep every record; the loop below drains them
  // No notifiers (spelled out: a bare {} would pick the PageSink* overload, a null sink).
  auto alerter = Alerter::Create(rules, std::vector<std::unique_ptr<Notifier>>{}, options);
  std::vector<TimelineEntry> out;
  size_t seen = 0;
  auto drain = [&] {
    const auto& pages = alerter->pages_sent();
    for (; seen < pages.size(); ++seen) {
      const PageRecord& r = pages[seen];
      out.push_back(TimelineEntry{r.page.time_ms, r.page.group, r.page.alert, r.transition,
                                  r.page.severity, r.page.value, r.baseline});
    }
  };
  constexpr size_t kBatch = 512;
  std::vector<Sample> batch;
  batch.reserve(kBatch);
  for (size_t i = 0; i < points.size(); ++i) {
    batch.push_back(Sample{name, {}, points[i].time_ms, points[i].value});
    if (batch.size() == kBatch || i + 1 == points.size()) {
      alerter->Ingest(batch);
      alerter->Evaluate();
      batch.clear();
      drain();
    }
  }
  return out;
}

std::vector<int64_t> Detections(const std::vector<TimelineEntry>& timeline, const std::string& alert) {
  std::vector<int64_t> out;
  for (const auto& e : timeline) {
    if (e.transition == AlertTransition::kTrigger && (alert.empty() || e.alert == alert)) {
      // A downgrade is also sent as a trigger page but is recorded as kDowngrade: only
      // new incidents land here.
      out.push_back(e.time_ms);
    }
  }
  return out;
}

std::vector<int64_t> FiringRows(const std::vector<TimelineEntry>& timeline, const std::vector<int64_t>& row_times,
                                const std::string& alert) {
  // Open intervals [trigger, resolve) per (group, alert); one still open runs to the end.
  std::vector<std::pair<int64_t, int64_t>> spans;
  std::map<std::pair<std::string, std::string>, int64_t> open;
  for (const auto& e : timeline) {
    if (!alert.empty() && e.alert != alert) continue;
    const auto key = std::make_pair(e.group, e.alert);
    if (e.transition == AlertTransition::kTrigger) {
      open.emplace(key, e.time_ms);
    } else if (e.transition == AlertTransition::kResolve) {
      auto it = open.find(key);
      if (it != open.end()) {
        spans.emplace_back(it->second, e.time_ms);
        open.erase(it);
      }
    }
  }
  for (const auto& [key, since] : open) spans.emplace_back(since, std::numeric_limits<int64_t>::max());
  std::vector<int64_t> out;
  for (const auto& [from, to] : spans) {
    for (auto it = std::lower_bound(row_times.begin(), row_times.end(), from); it != row_times.end() && *it < to; ++it) {
      out.push_back(*it);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string FormatTime(int64_t time_ms) {
  std::time_t secs = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatTimelineTable(const std::vector<TimelineEntry>& timeline) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof(line), "%-19s  %-24s  %-10s  %-8s  %12s  %12s\n", "time", "alert",
                "transition", "severity", "value", "baseline");
  os << line;
  for (const auto& e : timeline) {
    std::snprintf(line, sizeof(line), "%-19s  %-24s  %-10s  %-8s  %12s  %12s\n",
                  FormatTime(e.time_ms).c_str(), (e.group + "/" + e.alert).c_str(),
                  AlertTransitionName(e.transition), SeverityName(e.severity),
                  FormatValue(e.value).c_str(), e.baseline ? FormatValue(*e.baseline).c_str() : "-");
    os << line;
  }
  return os.str();
}

std::string FormatTimelineJson(const std::vector<TimelineEntry>& timeline) {
  std::string out;
  for (const auto& e : timeline) {
    nlohmann::json j = {{"time", FormatTime(e.time_ms)},
                        {"time_ms", e.time_ms},
                        {"group", e.group},
                        {"alert", e.alert},
                        {"transition", AlertTransitionName(e.transition)},
                        {"severity", SeverityName(e.severity)},
                        {"value", e.value}};
    j["baseline"] = e.baseline ? nlohmann::json(*e.baseline) : nlohmann::json(nullptr);
    out += j.dump() + "\n";
  }
  return out;
}

}  // namespace logship::alerter::backtest
