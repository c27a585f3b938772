// WebhookNotifier (type: webhook): POSTs each page as a PagerDuty Events API v2 event, with
// the full payload for every action (trigger, acknowledge, resolve). When a token is set
// it is sent as the routing_key and as "Authorization: Bearer <token>". For receivers that
// do not escalate by themselves: the dispatcher repeats triggers until acknowledged.
#pragma once

#include <memory>
#include <string>

#include "alerter/notify/http_delivery.h"
#include "alerter/notify/notifier.h"

namespace logship::alerter {

class WebhookNotifier final : public Notifier {
 public:
  using Options = HttpDeliveryOptions;

  // `config` is a webhook NotifierConfig (name, url, token, timeout, max_attempts).
  WebhookNotifier(const NotifierConfig& config, Options options);
  explicit WebhookNotifier(const NotifierConfig& config);

  Status Notify(const Page& page) override;
  const std::string& name() const override { return name_; }
  std::string type() const override { return "webhook"; }
  NotifierTraits traits() const override { return {false, true, Millis(0)}; }
  Millis last_retry_after() const override { return delivery_.last_retry_after(); }

  // Number of HTTP attempts made by the last Notify() (for tests and stats).
  int last_attempts() const { return delivery_.last_attempts(); }

 private:
  std::string name_;
  std::string url_;
  std::string token_;  // never logged
  Millis timeout_;
  HttpDelivery delivery_;
};

}  // namespace logship::alerter
