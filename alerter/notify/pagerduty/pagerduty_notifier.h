// PagerDutyNotifier (type: pagerduty): the PagerDuty Events API v2
// (https://developer.pagerduty.com/docs/events-api-v2/overview/).
//   trigger      {routing_key, event_action: "trigger", dedup_key, client, client_url,
//                 payload: {summary, source, severity, timestamp, component, group, class,
//                 custom_details}}
//   acknowledge  {routing_key, event_action: "acknowledge", dedup_key}
//   resolve      {routing_key, event_action: "resolve", dedup_key}
// Severity: warning -> "warning", critical -> "critical". The routing key is a secret
// ({env: ...} / {file: ...}) and never appears in logs. 2xx (PagerDuty answers 202) is Ok;
// 429 and 5xx are retried with backoff honouring Retry-After; other 4xx are permanent and
// counted. PagerDuty escalates by itself: logship does not repeat triggers to it.
#pragma once

#include <string>

#include "alerter/notify/http_delivery.h"
#include "alerter/notify/notifier.h"

namespace logship::alerter {

class PagerDutyNotifier final : public Notifier {
 public:
  static constexpr const char* kDefaultUrl = "https://events.pagerduty.com/v2/enqueue";

  PagerDutyNotifier(const NotifierConfig& config, HttpDeliveryOptions options);
  explicit PagerDutyNotifier(const NotifierConfig& config);

  Status Notify(const Page& page) override;
  const std::string& name() const override { return name_; }
  std::string type() const override { return "pagerduty"; }
  NotifierTraits traits() const override { return {true, true, Millis(0)}; }
  Millis last_retry_after() const override { return delivery_.last_retry_after(); }
  int last_attempts() const { return delivery_.last_attempts(); }

 private:
  std::string name_;
  std::string url_;
  std::string routing_key_;  // never logged
  Millis timeout_;
  HttpDelivery delivery_;
};

}  // namespace logship::alerter
