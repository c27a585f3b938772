// Metrics of the notifiers (STYLE.md habit 10), registered once in MetricsRegistry().
#pragma once

#include <string>

namespace logship::alerter {

// logship_alerter_notify_sent_total{notifier}             pages delivered
// logship_alerter_notify_retries_total{notifier}          retried attempts
// logship_alerter_notify_errors_total{notifier,kind}      pages given up on (kind: retryable
//                                                         after the last attempt, permanent,
//                                                         io)
void CountNotifySent(const std::string& notifier);
void CountNotifyRetry(const std::string& notifier);
void CountNotifyError(const std::string& notifier, const std::string& kind);

}  // namespace logship::alerter
