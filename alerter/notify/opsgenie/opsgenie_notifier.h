// OpsgenieNotifier (type: opsgenie): the Opsgenie Alert API v2, with the page's dedup_key as
// the alert's alias and "Authorization: GenieKey <key>" (the key is a secret):
//   trigger      POST <url>/v2/alerts  {message, alias, description, tags, details, entity,
//                                       source: "logship", priority}
//   acknowledge  POST <url>/v2/alerts/<alias>/acknowledge?identifierType=alias {user, source, note}
//   resolve      POST <url>/v2/alerts/<alias>/close?identifierType=alias       {user, source, note}
// Priority: critical -> P1, warning -> P3. Opsgenie answers 202; 429 and 5xx are retried,
// other 4xx are permanent. Opsgenie escalates by itself: logship does not repeat to it.
// A re-trigger with the same alias is deduplicated by Opsgenie (its count goes up); the
// priority of an open alert is not changed by an escalation (that needs a PUT).
#pragma once

#include <string>

#include "alerter/notify/http_delivery.h"
#include "alerter/notify/notifier.h"

namespace logship::alerter {

class OpsgenieNotifier final : public Notifier {
 public:
  static constexpr const char* kDefaultUrl = "https://api.opsgenie.com";

  OpsgenieNotifier(const NotifierConfig& config, HttpDeliveryOptions options);
  explicit OpsgenieNotifier(const NotifierConfig& config);

  Status Notify(const Page& page) override;
  const std::string& name() const override { return name_; }
  std::string type() const override { return "opsgenie"; }
  NotifierTraits traits() const override { return {true, true, Millis(0)}; }
  Millis last_retry_after() const override { return delivery_.last_retry_after(); }

 private:
  std::string name_;
  std::string base_;
  std::string key_;  // never logged
  Millis timeout_;
  HttpDelivery delivery_;
};

}  // namespace logship::alerter
