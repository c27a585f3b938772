#include "alerter/alerter_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "logship/metrics.h"

namespace logship::alerter {
namespace {

struct Families {
  prometheus::Counter& received;
  prometheus::Counter& late;
  prometheus::Counter& ignored;
  prometheus::Family<prometheus::Counter>& pages;
  prometheus::Gauge& pending;
  prometheus::Gauge& firing;
  prometheus::Gauge& series;
  prometheus::Gauge& clock;
  prometheus::Counter& submit_failures;
};

Families& F() {
  static Families f = [] {
    auto& r = MetricsRegistry();
    auto& active = prometheus::BuildGauge()
                       .Name("logship_alerter_active_alerts")
                       .Help("Alerts pending or firing")
                       .Register(r);
    return Families{
        prometheus::BuildCounter()
            .Name("logship_alerter_received_samples_total")
            .Help("Metric samples received by the alerter")
            .Register(r)
            .Add({}),
        prometheus::BuildCounter()
            .Name("logship_alerter_dropped_samples_total")
            .Help("Samples dropped, by reason (late: older than any evaluation can use)")
            .Register(r)
            .Add({{"reason", "late"}}),
        prometheus::BuildCounter()
            .Name("logship_alerter_ignored_samples_total")
            .Help("Samples no alert rule selects")
            .Register(r)
            .Add({}),
        prometheus::BuildCounter()
            .Name("logship_alerter_pages_total")
            .Help("Pages sent, by transition and severity")
            .Register(r),
        active.Add({{"phase", "pending"}}),
        active.Add({{"phase", "firing"}}),
        prometheus::BuildGauge()
            .Name("logship_alerter_series")
            .Help("Series held in memory by the alerter")
            .Register(r)
            .Add({}),
        prometheus::BuildGauge()
            .Name("logship_alerter_data_clock_seconds")
            .Help("The alerter's evaluation clock (data time), Unix seconds")
            .Register(r)
            .Add({}),
        prometheus::BuildCounter()
            .Name("logship_alerter_submit_failures_total")
            .Help("Evaluations whose pages and state the page sink could not take yet (retried)")
            .Register(r)
            .Add({}),
    };
  }();
  return f;
}

}  // namespace

void AlerterProbe::Received(uint64_t n) { F().received.Increment(static_cast<double>(n)); }
void AlerterProbe::DroppedLate(uint64_t n) { F().late.Increment(static_cast<double>(n)); }
void AlerterProbe::Ignored(uint64_t n) { F().ignored.Increment(static_cast<double>(n)); }
void AlerterProbe::Page(const std::string& transition, const std::string& severity) {
  F().pages.Add({{"transition", transition}, {"severity", severity}}).Increment();
}
void AlerterProbe::SubmitFailed() { F().submit_failures.Increment(); }
void AlerterProbe::SetGauges(double pending, double firing, double series, double clock_seconds) {
  F().pending.Set(pending);
  F().firing.Set(firing);
  F().series.Set(series);
  F().clock.Set(clock_seconds);
}

}  // namespace logship::alerter
