// Notifiers: where pages go. A Page is one event of an incident (trigger, escalate and
// downgrade are all "trigger" with the current severity; resolve ends it), identified
// across its life by dedup_key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "alerter/rules/alert_rules.h"
#include "logship/config.h"
#include "logship/event.h"
#include "logship/status.h"

namespace logship::alerter {

enum class PageAction { kTrigger, kResolve };
const char* PageActionName(PageAction a);  // "trigger", "resolve"

struct Page {
  std::string dedup_key;
  PageAction action = PageAction::kTrigger;
  Severity severity = Severity::kWarning;  // on resolve: the severity it had when firing
  std::string alert;                       // the rule's alert name
  std::string group;                       // the rule's group name
  Labels labels;  // alertname, the group's `by` labels and the rule's labels, sorted
  std::vector<std::pair<std::string, std::string>> annotations;  // expanded, sorted by key
  double value = 0;      // the rule's value at `time_ms`
  int64_t time_ms = 0;   // data time of the evaluation that produced the page (ms, epoch)
};

// The "summary" annotation, or "<alert> <severity>: <value> {labels}" when absent.
std::string PageSummary(const Page& page);
// RFC 3339 UTC with milliseconds: "2023-11-14T22:13:20.000Z".
std::string FormatTimestamp(int64_t time_ms);
// The PagerDuty Events API v2 body (see docs/alerting.md). routing_key omitted when "".
nlohmann::json PageToEventsV2(const Page& page, const std::string& routing_key);
// The JSON line LogNotifier writes.
nlohmann::json PageToJson(const Page& page);

// Sends pages somewhere. Implementations are thread-compatible.
class Notifier {
 public:
  virtual ~Notifier() = default;
  // Ok when the page was delivered. Blocks for retries (bounded) before failing.
  virtual Status Notify(const Page& page) = 0;
  virtual const std::string& name() const = 0;
};

// Builds one notifier per config entry (type "webhook" or "log"). A log notifier with an
// empty path writes <data_dir>/pages.jsonl. An empty list builds one such log notifier.
Result<std::vector<std::unique_ptr<Notifier>>> BuildNotifiers(
    const std::vector<NotifierConfig>& configs, const std::string& data_dir);

}  // namespace logship::alerter
