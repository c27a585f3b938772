// Notifiers (receivers): where pages go. A Page is one event of an incident, identified
// across its life by dedup_key: trigger (a new incident, a severity change, a repeat),
// acknowledge (someone took it) and resolve (it is over).
//
// Receivers live one per folder (notify/pagerduty, notify/alertmanager, notify/opsgenie,
// notify/slack, notify/webhook, notify/log); HTTP ones deliver through HttpDelivery
// (notify/http_delivery.h), where every result is Ok, Retryable or Permanent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "alerter/rules/alert_rules.h"
#include "logship/config.h"
#include "logship/event.h"
#include "logship/status.h"

namespace logship::alerter {

enum class PageAction { kTrigger, kAcknowledge, kResolve };
const char* PageActionName(PageAction a);  // "trigger", "acknowledge", "resolve"

struct Page {
  std::string dedup_key;
  PageAction action = PageAction::kTrigger;
  Severity severity = Severity::kWarning;  // on resolve/acknowledge: the incident's severity
  std::string alert;                       // the rule's alert name
  std::string group;                       // the rule's group name
  std::string metric;                      // the rule's metric ("" when unknown)
  Labels labels;  // alertname, the group's `by` labels and the rule's labels, sorted
  std::vector<std::pair<std::string, std::string>> annotations;  // expanded, sorted by key
  double value = 0;       // the rule's value at `time_ms`
  int64_t time_ms = 0;    // data time of the evaluation that produced the page (ms, epoch)
  int64_t starts_ms = 0;  // data time the incident was opened (0: time_ms)
  // Set on a trigger that changes the severity of an open incident: the severity before.
  std::optional<Severity> previous_severity;
  int repeat = 0;          // 0: first notification; n: the n-th repeat of this trigger
  bool flapping = false;   // the series is flapping (docs/alerting.md, "Flapping")
  std::string acked_by;    // acknowledge: who
  std::string comment;     // acknowledge: their comment
  std::string url;         // link back to the incident in logship's API ("" when none)
};

// The "summary" annotation, or "<alert> <severity>: <value> {labels}" when absent.
std::string PageSummary(const Page& page);
// The page's labels plus `severity` (what routes, silences and inhibit rules match).
Labels RoutingLabels(const Page& page);
// RFC 3339 UTC with milliseconds: "2023-11-14T22:13:20.000Z".
std::string FormatTimestamp(int64_t time_ms);
// The `source` of a page: its `host` label, else `instance`, else "logship".
std::string PageSource(const Page& page);
// The PagerDuty Events API v2 body (see docs/alerting.md). routing_key omitted when "".
// `full_payload`: also for acknowledge/resolve (the generic webhook); PagerDuty itself
// gets only routing_key, event_action and dedup_key for those.
nlohmann::json PageToEventsV2(const Page& page, const std::string& routing_key,
                              bool full_payload = true);
// The JSON line LogNotifier writes.
nlohmann::json PageToJson(const Page& page);
// Lossless round trip, for the dispatcher's outbox.
nlohmann::json PageToStoreJson(const Page& page);
Result<Page> PageFromStoreJson(const nlohmann::json& j);

// What a receiver does by itself, which decides what the dispatcher does for it.
struct NotifierTraits {
  // The receiver repeats and escalates on its own (PagerDuty, Opsgenie, Alertmanager):
  // logship does not repeat triggers to it.
  bool escalates_itself = false;
  // The receiver is told about acknowledgements (PagerDuty, Opsgenie, Slack, webhook, log).
  bool takes_acknowledge = true;
  // Active alerts are re-sent this often (Alertmanager); 0: never.
  Millis resend_interval{0};
};

// Sends pages somewhere. Implementations are thread-compatible (one caller at a time).
class Notifier {
 public:
  virtual ~Notifier() = default;
  // Ok when the page was delivered. May retry a few times (bounded) before failing;
  // Retryable: try again later; Permanent: the receiver rejected it (retrying is useless).
  virtual Status Notify(const Page& page) = 0;
  virtual const std::string& name() const = 0;
  virtual std::string type() const { return "custom"; }
  virtual NotifierTraits traits() const { return {}; }
  // After a Retryable Notify(): how long the receiver asked us to wait (Retry-After), 0
  // when it did not say. The dispatcher's outbox waits at least this long.
  virtual Millis last_retry_after() const { return Millis(0); }
};

// Builds one notifier per config entry. A log notifier with an empty path writes
// <data_dir>/pages.jsonl. An empty list builds one such log notifier named "log".
Result<std::vector<std::unique_ptr<Notifier>>> BuildNotifiers(
    const std::vector<NotifierConfig>& configs, const std::string& data_dir);

}  // namespace logship::alerter
