#include "alerter/notify/notifier.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "alerter/notify/alertmanager/alertmanager_notifier.h"
#include "alerter/notify/log/log_notifier.h"
#include "alerter/notify/opsgenie/opsgenie_notifier.h"
#include "alerter/notify/pagerduty/pagerduty_notifier.h"
#include "alerter/notify/slack/slack_notifier.h"
#include "alerter/notify/webhook/webhook_notifier.h"

namespace logship::alerter {

const char* PageActionName(PageAction a) {
  switch (a) {
    case PageAction::kTrigger: return "trigger";
    case PageAction::kAcknowledge: return "acknowledge";
    case PageAction::kResolve: return "resolve";
  }
  return "?";
}

Labels RoutingLabels(const Page& page) {
  Labels out;
  out.reserve(page.labels.size() + 1);
  bool added = false;
  for (const auto& [k, v] : page.labels) {
    if (k == "severity") continue;  // the page's severity wins
    if (!added && k > "severity") {
      out.emplace_back("severity", SeverityName(page.severity));
      added = true;
    }
    out.emplace_back(k, v);
  }
  if (!added) out.emplace_back("severity", SeverityName(page.severity));
  return out;
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

}  // namespace

std::string PageSource(const Page& page) {
  for (const char* key : {"host", "instance"}) {
    for (const auto& [k, v] : page.labels) {
      if (k == key && !v.empty()) return v;
    }
  }
  return "logship";
}

nlohmann::json PageToEventsV2(const Page& page, const std::string& routing_key, bool full_payload) {
  nlohmann::json j;
  if (!routing_key.empty()) j["routing_key"] = routing_key;
  j["event_action"] = PageActionName(page.action);
  j["dedup_key"] = page.dedup_key;
  if (!full_payload && page.action != PageAction::kTrigger) return j;
  j["client"] = "logship";
  if (!page.url.empty()) j["client_url"] = page.url;
  nlohmann::json details = {
      {"labels", LabelsJson(page.labels)},
      {"value", page.value},
      {"annotations", LabelsJson(page.annotations)},
  };
  if (page.repeat > 0) details["repeat"] = page.repeat;
  if (page.flapping) details["flapping"] = true;
  if (!page.acked_by.empty()) details["acknowledged_by"] = page.acked_by;
  if (!page.comment.empty()) details["comment"] = page.comment;
  j["payload"] = {
      {"summary", PageSummary(page).substr(0, 1024)},  // PagerDuty's limit
      {"source", PageSource(page)},
      {"severity", SeverityName(page.severity)},
      {"timestamp", FormatTimestamp(page.time_ms)},
      {"component", page.alert},
      {"group", page.group},
      {"class", page.metric.empty() ? page.alert : page.metric},
      {"custom_details", details},
  };
  return j;
}

nlohmann::json PageToJson(const Page& page) {
  nlohmann::json j = {
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
  if (page.repeat > 0) j["repeat"] = page.repeat;
  if (page.flapping) j["flapping"] = true;
  if (!page.acked_by.empty()) j["acknowledged_by"] = page.acked_by;
  if (!page.comment.empty()) j["comment"] = page.comment;
  return j;
}

namespace {
nlohmann::json PairsJson(const std::vector<std::pair<std::string, std::string>>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [k, x] : v) a.push_back({k, x});
  return a;
}
std::vector<std::pair<std::string, std::string>> PairsFrom(const nlohmann::json& a) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& kv : a) out.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
  return out;
}
}  // namespace

nlohmann::json PageToStoreJson(const Page& p) {
  nlohmann::json j = {
      {"dedup_key", p.dedup_key}, {"action", static_cast<int>(p.action)}, {"severity", static_cast<int>(p.severity)},
      {"alert", p.alert},         {"group", p.group},                     {"metric", p.metric},
      {"labels", PairsJson(p.labels)}, {"annotations", PairsJson(p.annotations)},
      {"value", p.value},         {"time_ms", p.time_ms},                 {"starts_ms", p.starts_ms},
      {"repeat", p.repeat},       {"flapping", p.flapping},               {"acked_by", p.acked_by},
      {"comment", p.comment},     {"url", p.url},
  };
  if (p.previous_severity) j["previous_severity"] = static_cast<int>(*p.previous_severity);
  return j;
}

Result<Page> PageFromStoreJson(const nlohmann::json& j) {
  try {
    Page p;
    auto sev = [](int v) { return v == 2 ? Severity::kCritical : Severity::kWarning; };
    p.dedup_key = j.at("dedup_key").get<std::string>();
    int action = j.at("action").get<int>();
    if (action < 0 || action > 2) return Status::Corruption("page: bad action");
    p.action = static_cast<PageAction>(action);
    p.severity = sev(j.at("severity").get<int>());
    p.alert = j.at("alert").get<std::string>();
    p.group = j.at("group").get<std::string>();
    p.metric = j.value("metric", std::string());
    p.labels = PairsFrom(j.at("labels"));
    p.annotations = PairsFrom(j.at("annotations"));
    p.value = j.at("value").get<double>();
    p.time_ms = j.at("time_ms").get<int64_t>();
    p.starts_ms = j.value("starts_ms", int64_t{0});
    p.repeat = j.value("repeat", 0);
    p.flapping = j.value("flapping", false);
    p.acked_by = j.value("acked_by", std::string());
    p.comment = j.value("comment", std::string());
    p.url = j.value("url", std::string());
    if (j.contains("previous_severity")) p.previous_severity = sev(j["previous_severity"].get<int>());
    return p;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("page: ") + e.what());
  }
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
    NotifierConfig named = c;
    named.name = c.name.empty() ? c.type + "-" + std::to_string(i) : c.name;
    const std::string where = "alerter.notify[" + std::to_string(i) + "] (" + named.name + ")";
    const std::string url = c.url.empty() ? c.url_secret.value : c.url;
    if (!url.empty() && !url.starts_with("http://") && !url.starts_with("https://")) {
      return Status::InvalidArgument(where + ": url must start with http:// or https://");
    }
    if ((c.type == "webhook" || c.type == "alertmanager" || c.type == "slack") && url.empty()) {
      return Status::InvalidArgument(where + ": " + c.type + " needs a url");
    }
    if ((c.type == "pagerduty" || c.type == "opsgenie") && c.token.value.empty()) {
      return Status::InvalidArgument(where + ": " + c.type + " needs a token");
    }
    if (c.type == "webhook") {
      out.push_back(std::make_unique<WebhookNotifier>(named));
    } else if (c.type == "pagerduty") {
      out.push_back(std::make_unique<PagerDutyNotifier>(named));
    } else if (c.type == "alertmanager") {
      out.push_back(std::make_unique<AlertmanagerNotifier>(named));
    } else if (c.type == "opsgenie") {
      out.push_back(std::make_unique<OpsgenieNotifier>(named));
    } else if (c.type == "slack") {
      out.push_back(std::make_unique<SlackNotifier>(named));
    } else if (c.type == "log") {
      auto log = LogNotifier::Create(named.name, c.path.empty() ? default_path : c.path);
      if (!log.ok()) return log.status();
      out.push_back(std::move(*log));
    } else {
      return Status::InvalidArgument(where + ": unknown type \"" + c.type +
                                     "\" (expected webhook, log, pagerduty, alertmanager, opsgenie or slack)");
    }
  }
  return out;
}

}  // namespace logship::alerter
