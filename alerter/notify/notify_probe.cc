#include "alerter/notify/notify_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "logship/metrics.h"

namespace logship::alerter {
namespace {

struct NotifyProbe {
  prometheus::Family<prometheus::Counter>& sent;
  prometheus::Family<prometheus::Counter>& retries;
  prometheus::Family<prometheus::Counter>& errors;
};

NotifyProbe& Probe() {
  static NotifyProbe probe{
      prometheus::BuildCounter()
          .Name("logship_alerter_notify_sent_total")
          .Help("Requests delivered by each receiver")
          .Register(MetricsRegistry()),
      prometheus::BuildCounter()
          .Name("logship_alerter_notify_retries_total")
          .Help("Notification attempts retried after a retryable failure")
          .Register(MetricsRegistry()),
      prometheus::BuildCounter()
          .Name("logship_alerter_notify_errors_total")
          .Help("Deliveries a receiver gave up on, by kind (retryable after the last attempt, permanent, io)")
          .Register(MetricsRegistry()),
  };
  return probe;
}

}  // namespace

void CountNotifySent(const std::string& notifier, const std::string& type) {
  Probe().sent.Add({{"notifier", notifier}, {"type", type}}).Increment();
}
void CountNotifyRetry(const std::string& notifier, const std::string& type) {
  Probe().retries.Add({{"notifier", notifier}, {"type", type}}).Increment();
}
void CountNotifyError(const std::string& notifier, const std::string& type, const std::string& kind) {
  Probe().errors.Add({{"notifier", notifier}, {"type", type}, {"kind", kind}}).Increment();
}

}  // namespace logship::alerter
