#include "alerter/notify/opsgenie/opsgenie_notifier.h"

#include <cctype>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace logship::alerter {
namespace {

// Percent-encodes a path segment (aliases are hex, but stay safe).
std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string Truncate(std::string s, size_t n) {
  if (s.size() > n) s.resize(n);
  return s;
}

}  // namespace

OpsgenieNotifier::OpsgenieNotifier(const NotifierConfig& config)
    : OpsgenieNotifier(config, DeliveryOptionsFor(config)) {}

OpsgenieNotifier::OpsgenieNotifier(const NotifierConfig& config, HttpDeliveryOptions options)
    : name_(config.name.empty() ? "opsgenie" : config.name),
      base_(!config.url.empty() ? config.url : !config.url_secret.value.empty() ? config.url_secret.value : kDefaultUrl),
      key_(config.token.value),
      timeout_(config.timeout),
      delivery_(name_, "opsgenie", std::move(options), !config.url_secret.value.empty()) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

Status OpsgenieNotifier::Notify(const Page& page) {
  std::string url;
  nlohmann::json body;
  switch (page.action) {
    case PageAction::kTrigger: {
      url = base_ + "/v2/alerts";
      nlohmann::json details = nlohmann::json::object();
      for (const auto& [k, v] : page.labels) details[k] = v;
      details["value"] = FormatValue(page.value);
      details["severity"] = SeverityName(page.severity);
      if (!page.url.empty()) details["url"] = page.url;
      std::string description = PageSummary(page);
      for (const auto& [k, v] : page.annotations) {
        if (k != "summary") description += "\n" + k + ": " + v;
      }
      body = {
          {"message", Truncate(PageSummary(page), 130)},
          {"alias", page.dedup_key},
          {"description", Truncate(description, 15000)},
          {"tags", {page.alert, SeverityName(page.severity)}},
          {"details", details},
          {"entity", PageSource(page)},
          {"source", "logship"},
          {"priority", page.severity == Severity::kCritical ? "P1" : "P3"},
      };
      break;
    }
    case PageAction::kAcknowledge:
      url = base_ + "/v2/alerts/" + Escape(page.dedup_key) + "/acknowledge?identifierType=alias";
      body = {{"user", page.acked_by.empty() ? "logship" : page.acked_by},
              {"source", "logship"},
              {"note", page.comment.empty() ? "acknowledged in logship" : page.comment}};
      break;
    case PageAction::kResolve:
      url = base_ + "/v2/alerts/" + Escape(page.dedup_key) + "/close?identifierType=alias";
      body = {{"user", "logship"}, {"source", "logship"}, {"note", "resolved: " + PageSummary(page)}};
      break;
  }
  HttpHeaders headers = {{"Content-Type", "application/json"}, {"Authorization", "GenieKey " + key_}};
  auto r = delivery_.Post(url, body.dump(), headers, timeout_,
                          std::string(PageActionName(page.action)) + " " + page.dedup_key);
  if (!r.ok()) return r.status();
  if (page.action == PageAction::kTrigger && page.previous_severity && *page.previous_severity != page.severity) {
    // Opsgenie deduplicates a create on an open alias (count + 1) and keeps the alert's
    // priority: an escalation (or downgrade) sets it explicitly. Retried as a whole with
    // the create, which is idempotent on the alias.
    const std::string priority = page.severity == Severity::kCritical ? "P1" : "P3";
    auto p = delivery_.Send("PUT", base_ + "/v2/alerts/" + Escape(page.dedup_key) + "/priority?identifierType=alias",
                            nlohmann::json{{"priority", priority}}.dump(), headers, timeout_,
                            "priority " + priority + " " + page.dedup_key);
    if (!p.ok()) return p.status();
  }
  return Status::Ok();
}

}  // namespace logship::alerter
