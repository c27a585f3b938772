#include "alerter/notify/pagerduty/pagerduty_notifier.h"

#include <nlohmann/json.hpp>

namespace logship::alerter {

PagerDutyNotifier::PagerDutyNotifier(const NotifierConfig& config)
    : PagerDutyNotifier(config, DeliveryOptionsFor(config)) {}

PagerDutyNotifier::PagerDutyNotifier(const NotifierConfig& config, HttpDeliveryOptions options)
    : name_(config.name.empty() ? "pagerduty" : config.name),
      url_(!config.url.empty() ? config.url : !config.url_secret.value.empty() ? config.url_secret.value : kDefaultUrl),
      routing_key_(config.token.value),
      timeout_(config.timeout),
      delivery_(name_, "pagerduty", std::move(options), !config.url_secret.value.empty()) {}

Status PagerDutyNotifier::Notify(const Page& page) {
  const std::string body = PageToEventsV2(page, routing_key_, /*full_payload=*/false).dump();
  auto r = delivery_.Post(url_, body, {{"Content-Type", "application/json"}}, timeout_,
                          std::string(PageActionName(page.action)) + " " + page.dedup_key);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace logship::alerter
