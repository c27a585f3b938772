#include "alerter/notify/notifier.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "alerter/notify/log_notifier.h"
#include "alerter/notify/webhook_notifier.h"

namespace logship::alerter {

const char* PageActionName(PageAction a) {
  return a == PageAction::kResolve ? "resolve" : "trigger";
}

std::string PageSummary(const Page& page) {
  for (const auto& [k, v] : page.annotations) {
    if (k == "summary") return v;
  }
  std::string labels;
  for (const auto& [k, v] : page.labels) {
    if (k == "alertname") continue;
    labels += (labels.empty() ? "" : ",") + k + "=\"" + v + "\"";
  }
  return page.alert + " " + SeverityName(page.severity) + ": " + FormatValue(page.value) +
         (labels.empty() ? "" : " {" + labels + "}");
}

std::string FormatTimestamp(int64_t time_ms) {
  int64_t secs = time_ms / 1000;
  int64_t ms = time_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

namespace {
nlohmann::json LabelsJson(const std::vector<std::pair<std::string, std::string>>& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

std::string PageSource(const Page& page) {
  for (const char* key : {"host", "instance"}) {
    for (const auto& [k, v] : page.labels) {
      if (k == key && !v.empty()) return v;
    }
  }
  return "logship";
}
}  // namespace

nlohmann::json PageToEventsV2(const Page& page, const std::string& routing_key) {
  nlohmann::json j;
  if (!routing_key.empty()) j["routing_key"] = routing_key;
  j["event_action"] = PageActionName(page.action);
  j["dedup_key"] = page.dedup_key;
  j["payload"] = {
      {"summary", PageSummary(page)},
      {"source", PageSource(page)},
      {"severity", SeverityName(page.severity)},
      {"timestamp", FormatTimestamp(page.time_ms)},
      {"component", page.alert},
      {"group", page.group},
      {"custom_details",
       {{"labels", LabelsJson(page.labels)},
        {"value", page.value},
        {"annotations", LabelsJson(page.annotations)}}},
  };
  return j;
}

nlohmann::json PageToJson(const Page& page) {
  return {
      {"time", FormatTimestamp(page.time_ms)},
      {"time_ms", page.time_ms},
      {"action", PageActionName(page.action)},
      {"severity", SeverityName(page.severity)},
      {"alert", page.alert},
      {"group", page.group},
      {"dedup_key", page.dedup_key},
      {"summary", PageSummary(page)},
      {"value", page.value},
      {"labels", LabelsJson(page.labels)},
      {"annotations", LabelsJson(page.annotations)},
  };
}

Result<std::vector<std::unique_ptr<Notifier>>> BuildNotifiers(
    const std::vector<NotifierConfig>& configs, const std::string& data_dir) {
  std::vector<std::unique_ptr<Notifier>> out;
  const std::string default_path = (data_dir.empty() ? "." : data_dir) + "/pages.jsonl";
  if (configs.empty()) {
    auto log = LogNotifier::Create("log", default_path);
    if (!log.ok()) return log.status();
    out.push_back(std::move(*log));
    return out;
  }
  for (size_t i = 0; i < configs.size(); ++i) {
    const NotifierConfig& c = configs[i];
    std::string name = c.name.empty() ? c.type + "-" + std::to_string(i) : c.name;
    if (c.type == "webhook") {
      if (c.url.empty()) {
        return Status::InvalidArgument("alerter.notify[" + std::to_string(i) + "] (" + name +
                                       "): webhook needs a url");
      }
      if (!c.url.starts_with("http://") && !c.url.starts_with("https://")) {
        return Status::InvalidArgument("alerter.notify[" + std::to_string(i) + "] (" + name +
                                       "): url must start with http:// or https://");
      }
      NotifierConfig named = c;
      named.name = name;
      out.push_back(std::make_unique<WebhookNotifier>(named));
    } else if (c.type == "log") {
      auto log = LogNotifier::Create(name, c.path.empty() ? default_path : c.path);
      if (!log.ok()) return log.status();
      out.push_back(std::move(*log));
    } else {
      return Status::InvalidArgument("alerter.notify[" + std::to_string(i) + "] (" + name +
                                     "): unknown type \"" + c.type + "\" (expected webhook or log)");
    }
  }
  return out;
}

}  // namespace logship::alerter
