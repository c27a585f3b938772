// Metrics of the receivers (STYLE.md habit 10), registered once in MetricsRegistry(). Every
// receiver (pagerduty, alertmanager, opsgenie, slack, webhook, log) reports through these,
// labelled with its configured name and its type.
#pragma once

#include <string>

namespace logship::alerter {

// logship_alerter_notify_sent_total{notifier,type}          requests delivered (2xx / written)
// logship_alerter_notify_retries_total{notifier,type}       attempts retried after a retryable failure
// logship_alerter_notify_errors_total{notifier,type,kind}   deliveries given up on (kind: retryable
//                                                           after the last attempt, permanent (4xx),
//                                                           io)
void CountNotifySent(const std::string& notifier, const std::string& type);
void CountNotifyRetry(const std::string& notifier, const std::string& type);
void CountNotifyError(const std::string& notifier, const std::string& type, const std::string& kind);

}  // namespace logship::alerter
