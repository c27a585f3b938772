#include "alerter/notify/http_delivery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>
#include <thread>

#include "alerter/notify/notify_probe.h"

namespace logship::alerter {

HttpDeliveryOptions DeliveryOptionsFor(const NotifierConfig& config) {
  HttpDeliveryOptions o;
  o.max_attempts = config.max_attempts;
  return o;
}

HttpDelivery::HttpDelivery(std::string name, std::string type, HttpDeliveryOptions options, bool secret_url)
    : name_(std::move(name)),
      type_(std::move(type)),
      options_(std::move(options)),
      secret_url_(secret_url),
      client_(options_.http) {
  if (!options_.sleep) {
    options_.sleep = [](Millis d) {
      std::this_thread::sleep_for(d);
      return true;
    };
  }
  options_.max_attempts = std::max(1, options_.max_attempts);
}

std::string HttpDelivery::Redact(const std::string& message, const std::string& url) const {
  if (!secret_url_ || url.empty()) return message;
  std::string out = message;
  std::string bare = url.substr(0, url.find_first_of("?#"));
  for (const std::string& needle : {url, bare}) {
    for (size_t p; !needle.empty() && (p = out.find(needle)) != std::string::npos;) {
      out.replace(p, needle.size(), "<" + type_ + " url>");
    }
  }
  return out;
}

Result<HttpResponse> HttpDelivery::Send(const char* method, const std::string& url, const std::string& body,
                                        const HttpHeaders& headers, Millis timeout, const std::string& what) {
  Millis backoff = options_.initial_backoff;
  Status last;
  last_attempts_ = 0;
  last_retry_after_ = Millis(0);
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    last_attempts_ = attempt;
    auto resp = std::string_view(method) == "PUT" ? client_.Put(url, body, headers, timeout)
                                                  : client_.Post(url, body, headers, timeout);
    if (resp.ok()) {
      CountNotifySent(name_, type_);
      return resp;
    }
    last = resp.status();
    last_retry_after_ = client_.last_retry_after();
    if (!last.retryable() || attempt == options_.max_attempts) break;
    Millis wait = std::min(std::max(backoff, last_retry_after_), options_.max_backoff);
    spdlog::warn("receiver {}: {} attempt {}/{} failed: {}; retrying in {} ms", name_, what, attempt,
                 options_.max_attempts, Redact(last.ToString(), url), wait.count());
    CountNotifyRetry(name_, type_);
    if (!options_.sleep(wait)) break;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  const char* kind = last.retryable() ? "retryable" : "permanent";
  CountNotifyError(name_, type_, kind);
  std::string message = "receiver " + name_ + ": " + Redact(last.message(), url);
  spdlog::error("receiver {}: gave up on {} after {} attempt(s): {}", name_, what, last_attempts_,
                Redact(last.ToString(), url));
  return last.retryable() ? Status::Retryable(message) : Status::Permanent(message);
}

}  // namespace logship::alerter
