#include "alerter/notify/webhook/webhook_notifier.h"

#include <nlohmann/json.hpp>

namespace logship::alerter {
WebhookNotifier::WebhookNotifier(const NotifierConfig& config)
    : WebhookNotifier(config, DeliveryOptionsFor(config)) {}

WebhookNotifier::WebhookNotifier(const NotifierConfig& config, Options options)
    : name_(config.name.empty() ? "webhook" : config.name),
      url_(config.url.empty() ? config.url_secret.value : config.url),
      token_(config.token.value),
      timeout_(config.timeout),
      delivery_(name_, "webhook", std::move(options), !config.url_secret.value.empty()) {}

Status WebhookNotifier::Notify(const Page& page) {
  const std::string body = PageToEventsV2(page, token_, /*full_payload=*/true).dump();
  HttpHeaders headers = {{"Content-Type", "application/json"}};
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  auto r = delivery_.Post(url_, body, headers, timeout_,
                          std::string(PageActionName(page.action)) + " " + page.dedup_key);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace logship::alerter
