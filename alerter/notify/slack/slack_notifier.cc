#include "alerter/notify/slack/slack_notifier.h"

#include <nlohmann/json.hpp>

namespace logship::alerter {

SlackNotifier::SlackNotifier(const NotifierConfig& config) : SlackNotifier(config, DeliveryOptionsFor(config)) {}

SlackNotifier::SlackNotifier(const NotifierConfig& config, HttpDeliveryOptions options)
    : name_(config.name.empty() ? "slack" : config.name),
      url_(config.url.empty() ? config.url_secret.value : config.url),
      timeout_(config.timeout),
      delivery_(name_, "slack", std::move(options), /*secret_url=*/true) {}

std::string SlackNotifier::Body(const Page& page) {
  const bool critical = page.severity == Severity::kCritical;
  std::string text;
  std::string color;
  switch (page.action) {
    case PageAction::kTrigger:
      text = std::string(critical ? ":rotating_light: [CRITICAL] " : ":warning: [WARNING] ") + PageSummary(page);
      if (page.repeat > 0) text += " (repeat " + std::to_string(page.repeat) + ")";
      if (page.flapping) text += " (flapping)";
      color = critical ? "#d00000" : "#f2c744";
      break;
    case PageAction::kAcknowledge:
      text = ":eyes: [ACKNOWLEDGED by " + (page.acked_by.empty() ? std::string("someone") : page.acked_by) + "] " +
             PageSummary(page);
      color = "#439fe0";
      break;
    case PageAction::kResolve:
      text = ":white_check_mark: [RESOLVED] " + PageSummary(page);
      color = "#2eb886";
      break;
  }
  nlohmann::json fields = nlohmann::json::array();
  fields.push_back({{"title", "severity"}, {"value", SeverityName(page.severity)}, {"short", true}});
  fields.push_back({{"title", "value"}, {"value", FormatValue(page.value)}, {"short", true}});
  for (const auto& [k, v] : page.labels) {
    if (k != "alertname") fields.push_back({{"title", k}, {"value", v}, {"short", true}});
  }
  if (!page.comment.empty()) fields.push_back({{"title", "comment"}, {"value", page.comment}, {"short", false}});
  std::string details;
  for (const auto& [k, v] : page.annotations) {
    if (k != "summary") details += (details.empty() ? "" : "\n") + k + ": " + v;
  }
  nlohmann::json attachment = {
      {"color", color},
      {"title", page.alert + " (" + page.group + ")"},
      {"text", details},
      {"fields", fields},
      {"footer", "logship · " + page.dedup_key},
      {"ts", page.time_ms / 1000},
  };
  if (!page.url.empty()) attachment["title_link"] = page.url;
  return nlohmann::json{{"text", text}, {"attachments", nlohmann::json::array({attachment})}}.dump();
}

Status SlackNotifier::Notify(const Page& page) {
  auto r = delivery_.Post(url_, Body(page), {{"Content-Type", "application/json"}}, timeout_,
                          std::string(PageActionName(page.action)) + " " + page.dedup_key);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace logship::alerter
