// WebhookNotifier: POSTs each page as a PagerDuty Events API v2 event. Works against
// PagerDuty itself (https://events.pagerduty.com/v2/enqueue, the token is the routing key)
// and any webhook that accepts that JSON.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "alerter/notify/notifier.h"
#include "core/http/http_client.h"

namespace logship::alerter {

class WebhookNotifier final : public Notifier {
 public:
  struct Options {
    int max_attempts = 5;  // including the first
    Millis initial_backoff{500};  // doubled after each Retryable failure
    Millis max_backoff{30000};    // also caps the server's Retry-After
    // How to wait between attempts; tests replace it to run instantly.
    std::function<void(Millis)> sleep;
    HttpClient::Options http;
  };

  // `config` is a webhook NotifierConfig (name, url, token, timeout).
  WebhookNotifier(const NotifierConfig& config, Options options);
  explicit WebhookNotifier(const NotifierConfig& config);

  // Retries Retryable failures with backoff up to max_attempts; Permanent failures are
  // not retried. A failure is logged (without the token) and counted in
  // logship_alerter_notify_errors_total{notifier, kind}.
  Status Notify(const Page& page) override;
  const std::string& name() const override { return name_; }

  // Number of HTTP attempts made by the last Notify() (for tests and stats).
  int last_attempts() const { return last_attempts_; }

 private:
  std::string name_;
  std::string url_;
  std::string token_;  // never logged
  Millis timeout_;
  Options options_;
  HttpClient client_;
  int last_attempts_ = 0;
};

}  // namespace logship::alerter
