#include "alerter/notify/webhook_notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerter/notify/notify_probe.h"

namespace logship::alerter {

WebhookNotifier::WebhookNotifier(const NotifierConfig& config)
    : WebhookNotifier(config, Options()) {}

WebhookNotifier::WebhookNotifier(const NotifierConfig& config, Options options)
    : name_(config.name.empty() ? "webhook" : config.name),
      url_(config.url),
      token_(config.token.value),
      timeout_(config.timeout),
      options_(std::move(options)),
      client_(options_.http) {
  if (!options_.sleep) options_.sleep = [](Millis d) { std::this_thread::sleep_for(d); };
  options_.max_attempts = std::max(1, options_.max_attempts);
}

Status WebhookNotifier::Notify(const Page& page) {
  const std::string body = PageToEventsV2(page, token_).dump();
  HttpHeaders headers = {{"Content-Type", "application/json"}};
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);

  Millis backoff = options_.initial_backoff;
  Status last;
  last_attempts_ = 0;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    last_attempts_ = attempt;
    auto resp = client_.Post(url_, body, headers, timeout_);
    if (resp.ok()) {
      CountNotifySent(name_);
      return Status::Ok();
    }
    last = resp.status();
    if (!last.retryable()) break;
    if (attempt == options_.max_attempts) break;
    Millis wait = std::min(std::max(backoff, client_.last_retry_after()), options_.max_backoff);
    spdlog::warn("notifier {}: page {} {} attempt {}/{} failed: {}; retrying in {} ms", name_,
                 page.dedup_key, PageActionName(page.action), attempt, options_.max_attempts,
                 last.ToString(), wait.count());
    CountNotifyRetry(name_);
    options_.sleep(wait);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  const char* kind = last.retryable() ? "retryable" : "permanent";
  CountNotifyError(name_, kind);
  spdlog::error("notifier {}: gave up on page {} ({} {} {}) after {} attempt(s): {}", name_,
                page.dedup_key, page.alert, PageActionName(page.action),
                SeverityName(page.severity), last_attempts_, last.ToString());
  return last.Annotate("notifier " + name_);
}

}  // namespace logship::alerter
