// Metrics of the alert evaluator (STYLE.md habit 10), registered once in MetricsRegistry().
//   logship_alerter_received_samples_total
//   logship_alerter_dropped_samples_total{reason="late"}  samples older than any step can use
//   logship_alerter_ignored_samples_total                 samples no rule selects
//   logship_alerter_pages_total{transition,severity}      trigger/escalate/downgrade/resolve
//   logship_alerter_active_alerts{phase}                  pending / firing (gauge)
//   logship_alerter_series                                series held in memory (gauge)
//   logship_alerter_data_clock_seconds                    the evaluation clock (gauge)
//   logship_alerter_submit_failures_total                 evaluations the page sink could not take
//                                                         yet (its state file failed); retried
#pragma once

#include <cstdint>
#include <string>

namespace logship::alerter {

struct AlerterProbe {
  static void Received(uint64_t n);
  static void DroppedLate(uint64_t n);
  static void Ignored(uint64_t n);
  static void Page(const std::string& transition, const std::string& severity);
  static void SubmitFailed();
  static void SetGauges(double pending, double firing, double series, double clock_seconds);
};

}  // namespace logship::alerter
