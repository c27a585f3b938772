#include "alerter/dispatch/dispatch_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "logship/metrics.h"

namespace logship::alerter {
namespace {

struct Families {
  prometheus::Family<prometheus::Counter>& queued;
  prometheus::Family<prometheus::Counter>& escalations;
  prometheus::Family<prometheus::Counter>& muted;
  prometheus::Family<prometheus::Counter>& dropped;
  prometheus::Family<prometheus::Counter>& retries;
  prometheus::Gauge& outbox;
  prometheus::Family<prometheus::Gauge>& incidents;
  prometheus::Gauge& silences;
};

Families& F() {
  static Families f = [] {
    auto& r = MetricsRegistry();
    return Families{
        prometheus::BuildCounter()
            .Name("logship_alerter_dispatch_queued_total")
            .Help("Notifications written to the outbox, by receiver and action")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_alerter_dispatch_escalations_total")
            .Help("Receivers notified because an incident stayed unacknowledged")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_alerter_dispatch_muted_total")
            .Help("Incidents muted, by reason (silence, inhibit)")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_alerter_dispatch_dropped_total")
            .Help("Notifications dropped, by receiver and reason (permanent, unknown_receiver)")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_alerter_dispatch_retries_total")
            .Help("Deliveries put back in the outbox after a retryable failure")
            .Register(r),
        prometheus::BuildGauge()
            .Name("logship_alerter_outbox_entries")
            .Help("Notifications waiting in the outbox")
            .Register(r)
            .Add({}),
        prometheus::BuildGauge().Name("logship_alerter_incidents").Help("Open incidents by state").Register(r),
        prometheus::BuildGauge()
            .Name("logship_alerter_silences_active")
            .Help("Silences in effect")
            .Register(r)
            .Add({}),
    };
  }();
  return f;
}

}  // namespace

void DispatchProbe::Queued(const std::string& receiver, const std::string& action) {
  F().queued.Add({{"receiver", receiver}, {"action", action}}).Increment();
}
void DispatchProbe::Escalated(const std::string& receiver) { F().escalations.Add({{"receiver", receiver}}).Increment(); }
void DispatchProbe::Muted(const std::string& reason) { F().muted.Add({{"reason", reason}}).Increment(); }
void DispatchProbe::Dropped(const std::string& receiver, const std::string& reason) {
  F().dropped.Add({{"receiver", receiver}, {"reason", reason}}).Increment();
}
void DispatchProbe::Retried(const std::string& receiver) { F().retries.Add({{"receiver", receiver}}).Increment(); }
void DispatchProbe::SetGauges(double outbox, double firing, double acknowledged, double muted, double silences) {
  F().outbox.Set(outbox);
  F().incidents.Add({{"state", "firing"}}).Set(firing);
  F().incidents.Add({{"state", "acknowledged"}}).Set(acknowledged);
  F().incidents.Add({{"state", "muted"}}).Set(muted);
  F().silences.Set(silences);
}

}  // namespace logship::alerter
