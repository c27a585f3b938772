#include "alerter/notify/alertmanager/alertmanager_notifier.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace logship::alerter {
namespace {

std::string AlertsUrl(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/v2/alerts";
}

nlohmann::json AlertJson(const Page& page, Severity severity, int64_t starts_ms, int64_t ends_ms) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [k, v] : page.labels) labels[k] = v;
  labels["alertname"] = page.alert;
  labels["severity"] = SeverityName(severity);
  nlohmann::json annotations = nlohmann::json::object();
  for (const auto& [k, v] : page.annotations) annotations[k] = v;
  if (!annotations.contains("summary")) annotations["summary"] = PageSummary(page);
  nlohmann::json a = {
      {"labels", labels},
      {"annotations", annotations},
      {"startsAt", FormatTimestamp(starts_ms)},
      {"endsAt", FormatTimestamp(ends_ms)},
  };
  if (!page.url.empty()) a["generatorURL"] = page.url;
  return a;
}

}  // namespace

AlertmanagerNotifier::AlertmanagerNotifier(const NotifierConfig& config)
    : AlertmanagerNotifier(config, DeliveryOptionsFor(config)) {}

AlertmanagerNotifier::AlertmanagerNotifier(const NotifierConfig& config, HttpDeliveryOptions options,
                                           const Clock& clock)
    : name_(config.name.empty() ? "alertmanager" : config.name),
      url_(AlertsUrl(config.url.empty() ? config.url_secret.value : config.url)),
      token_(config.token.value),
      timeout_(config.timeout),
      resend_interval_(config.resend_interval),
      clock_(clock),
      delivery_(name_, "alertmanager", std::move(options), !config.url_secret.value.empty()) {}

std::string AlertmanagerNotifier::Body(const Page& page, int64_t now_ms) const {
  const int64_t starts = page.starts_ms > 0 ? page.starts_ms : page.time_ms;
  nlohmann::json alerts = nlohmann::json::array();
  if (page.action == PageAction::kResolve) {
    // Ended at the data time of the resolve, never in the future (Alertmanager would keep
    // it firing until then) and never before it started.
    alerts.push_back(AlertJson(page, page.severity, starts, std::max(starts, std::min(page.time_ms, now_ms))));
  } else {
    if (page.previous_severity && *page.previous_severity != page.severity) {
      alerts.push_back(AlertJson(page, *page.previous_severity, starts, std::max(starts, std::min(page.time_ms, now_ms))));
    }
    alerts.push_back(AlertJson(page, page.severity, starts, now_ms + 4 * resend_interval_.count()));
  }
  return alerts.dump();
}

Status AlertmanagerNotifier::Notify(const Page& page) {
  if (page.action == PageAction::kAcknowledge) return Status::Ok();  // nothing to tell
  HttpHeaders headers = {{"Content-Type", "application/json"}};
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  auto r = delivery_.Post(url_, Body(page, clock_.NowMs()), headers, timeout_,
                          std::string(PageActionName(page.action)) + " " + page.dedup_key);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace logship::alerter
