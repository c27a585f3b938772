// HttpDelivery: how every HTTP receiver sends one request. The verdict of each attempt is
// ClassifyHttpResult()'s (core/http/http_client.h): Ok; Retryable (connect/timeout, 408,
// 429, 5xx) retried here up to max_attempts with exponential backoff that waits at least
// the server's Retry-After; Permanent (other 4xx, bad URL, TLS verification) not retried.
// Each outcome is counted in the notify probe (notify/notify_probe.h) under the
// receiver's name and type. Messages never contain the token or a secret URL.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "alerter/rules/alert_rules.h"
#include "core/http/http_client.h"
#include "logship/config.h"
#include "logship/status.h"

namespace logship::alerter {

struct HttpDeliveryOptions {
  int max_attempts = 3;          // including the first
  Millis initial_backoff{500};   // doubled after each Retryable failure
  Millis max_backoff{30000};     // also caps the server's Retry-After within one delivery
  // How to wait between attempts; tests replace it to run instantly. Returns false to
  // abandon the remaining attempts (shutdown).
  std::function<bool(Millis)> sleep;
  HttpClient::Options http;
};

// Defaults with the receiver's configured max_attempts.
HttpDeliveryOptions DeliveryOptionsFor(const NotifierConfig& config);

class HttpDelivery {
 public:
  // `name`/`type` label the metrics; `secret_url`: the URL is a secret (never in messages).
  HttpDelivery(std::string name, std::string type, HttpDeliveryOptions options, bool secret_url = false);

  // POSTs `body`; Ok on 2xx. `what` names the request in logs ("trigger 0123abcd").
  Result<HttpResponse> Post(const std::string& url, const std::string& body, const HttpHeaders& headers,
                            Millis timeout, const std::string& what) {
    return Send("POST", url, body, headers, timeout, what);
  }
  // POST or PUT, with the same retries.
  Result<HttpResponse> Send(const char* method, const std::string& url, const std::string& body,
                            const HttpHeaders& headers, Millis timeout, const std::string& what);

  int last_attempts() const { return last_attempts_; }
  // The Retry-After of the last Retryable failure (0 when none): the outbox waits this long.
  Millis last_retry_after() const { return last_retry_after_; }
  const HttpDeliveryOptions& options() const { return options_; }

 private:
  std::string Redact(const std::string& message, const std::string& url) const;

  std::string name_;
  std::string type_;
  HttpDeliveryOptions options_;
  bool secret_url_;
  HttpClient client_;
  int last_attempts_ = 0;
  Millis last_retry_after_{0};
};

}  // namespace logship::alerter
