// AlertmanagerNotifier (type: alertmanager): Prometheus Alertmanager API v2,
// POST <url>/api/v2/alerts with a JSON array of alerts:
//   {labels: {alertname, severity, <the page's labels>}, annotations: {<annotations>,
//    summary}, startsAt, endsAt, generatorURL}
// A firing alert's endsAt is send time + 4 x resend_interval, so Alertmanager resolves it by
// itself if logship stops re-sending; the dispatcher re-sends active alerts every
// resend_interval. A resolve sends the same labels with endsAt = the resolve time. A severity
// change ends the alert with the old severity label (its labels identify it in
// Alertmanager) and starts the one with the new. Acknowledgements are not sent
// (Alertmanager has silences, not acks); Alertmanager repeats and groups by itself.
#pragma once

#include <string>

#include "alerter/notify/http_delivery.h"
#include "alerter/notify/notifier.h"
#include "logship/clock.h"

namespace logship::alerter {

class AlertmanagerNotifier final : public Notifier {
 public:
  // `clock` (not owned) gives the send time for endsAt.
  AlertmanagerNotifier(const NotifierConfig& config, HttpDeliveryOptions options,
                       const Clock& clock = SystemClock());
  explicit AlertmanagerNotifier(const NotifierConfig& config);

  Status Notify(const Page& page) override;
  const std::string& name() const override { return name_; }
  std::string type() const override { return "alertmanager"; }
  NotifierTraits traits() const override { return {true, false, resend_interval_}; }
  Millis last_retry_after() const override { return delivery_.last_retry_after(); }

  // The request body for `page` at wall time `now_ms` (exposed for tests).
  std::string Body(const Page& page, int64_t now_ms) const;

 private:
  std::string name_;
  std::string url_;    // <base>/api/v2/alerts
  std::string token_;  // optional bearer; never logged
  Millis timeout_;
  Millis resend_interval_;
  const Clock& clock_;
  HttpDelivery delivery_;
};

}  // namespace logship::alerter
