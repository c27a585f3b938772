// Metrics of the page dispatcher (STYLE.md habit 10), registered once in MetricsRegistry().
//   logship_alerter_dispatch_queued_total{receiver,action}   notifications written to the outbox
//                                                            (action: trigger, repeat, resend,
//                                                            acknowledge, resolve)
//   logship_alerter_dispatch_escalations_total{receiver}     receivers notified because an incident
//                                                            stayed unacknowledged
//   logship_alerter_dispatch_muted_total{reason}             incidents muted (silence, inhibit)
//   logship_alerter_dispatch_dropped_total{receiver,reason}  notifications dropped (permanent: the
//                                                            receiver rejected it; unknown_receiver)
//   logship_alerter_dispatch_retries_total{receiver}         deliveries put back in the outbox
//   logship_alerter_outbox_entries                           notifications waiting (gauge)
//   logship_alerter_incidents{state}                         firing, acknowledged, muted (gauge)
//   logship_alerter_silences_active                          (gauge)
#pragma once

#include <string>

namespace logship::alerter {

struct DispatchProbe {
  static void Queued(const std::string& receiver, const std::string& action);
  static void Escalated(const std::string& receiver);
  static void Muted(const std::string& reason);
  static void Dropped(const std::string& receiver, const std::string& reason);
  static void Retried(const std::string& receiver);
  static void SetGauges(double outbox, double firing, double acknowledged, double muted, double silences);
};

}  // namespace logship::alerter
