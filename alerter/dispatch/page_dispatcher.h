// PageDispatcher: turns the evaluator's pages into notifications, durably.
//
// It keeps one INCIDENT per dedup key (opened by a trigger, closed by a resolve) and, per
// incident and receiver, what that receiver was told. For each incident it
//   - routes by labels (RouteTree: receivers, escalation order, repeat interval),
//   - mutes it while a silence matches or an inhibit rule applies (no trigger, repeat or
//     escalation; a resolve still reaches every receiver that got the trigger),
//   - sends the trigger to each due receiver; a severity change (WARNING <-> CRITICAL) goes
//     to every receiver already notified, as a trigger with the same dedup key; an
//     escalation to CRITICAL clears an acknowledgement and restarts the escalation clock,
//   - repeats the trigger every repeat_interval to receivers that do not escalate by
//     themselves (webhook, Slack, log) until acknowledged, and notifies the next receiver
//     of the route once the incident stayed unacknowledged escalate_after x its position,
//   - re-sends active alerts to Alertmanager every resend_interval,
//   - forwards an acknowledgement (API) to the receivers that take one (PagerDuty,
//     Opsgenie, Slack, webhook, log),
//   - sends each resolve once to each receiver that was notified.
//
// Durability (write-ahead): a Submit() writes the evaluator's state changes, the incident
// updates and the notifications (the outbox) in ONE SQLite transaction before anything is
// sent; a notification leaves the outbox only once its receiver said Ok (or rejected it
// permanently). After a crash the outbox is sent on restart (at-least-once; receivers
// deduplicate by dedup key), and the restored incidents make a re-submitted trigger a no-op
// (no second page) and a later resolve reach everyone (no forgotten resolve).
//
// Clock: repeats, escalation, silences and acknowledgements run on the wall clock
// (DispatcherOptions::clock); the evaluator's pages carry data time.
//
// Thread-safe. Lifecycle: Open (loads the state) -> Start (a timer thread and one delivery
// thread per receiver, so a slow receiver delays no other) -> Stop.
// RunOnce() does one round on the caller's thread (tests, or without Start()).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerter/dispatch/page_sink.h"
#include "alerter/notify/notifier.h"
#include "alerter/route/mute.h"
#include "alerter/route/route_tree.h"
#include "alerter/state/state_store.h"
#include "logship/clock.h"
#include "logship/config.h"

namespace logship::alerter {

struct DispatcherOptions {
  const Clock* clock = &SystemClock();
  Millis tick{1000};               // the longest the delivery thread sleeps between rounds
  Millis initial_backoff{1000};    // outbox retry after a failed delivery, doubling
  Millis max_backoff{300'000};
  Millis retention{24 * 3600'000};  // resolved incidents and expired silences are kept this long
  std::string external_url;        // base of Page::url ("<base>/api/v1/alerts/<id>"); "" for none
};

class PageDispatcher final : public PageSink {
 public:
  // Opens (creates) the state file, compiles routes and inhibit rules, and loads the
  // incidents, the outbox and the silences. Takes the notifiers.
  static Result<std::unique_ptr<PageDispatcher>> Open(const std::string& state_path, const RouteConfig& route,
                                                      const std::vector<InhibitRuleConfig>& inhibit_rules,
                                                      std::vector<std::unique_ptr<Notifier>> notifiers,
                                                      DispatcherOptions options = {});
  ~PageDispatcher() override;

  // --- evaluator side ---
  // Durable before it returns Ok (see above); delivery happens on the delivery thread (or
  // the next RunOnce()), so `failed` is all false.
  Status Submit(const EvaluationOutput& out, std::vector<bool>* failed) override;
  Result<EvaluatorSnapshot> LoadEvaluatorState();

  // --- delivery ---
  void Start();
  // Idempotent. Delivers what is due once more, then stops; what is left stays in the
  // outbox for the next start.
  void Stop();
  // Timers (unmute, repeat, escalation, resend, expiry) then every due delivery. Returns
  // the number of delivery attempts.
  size_t RunOnce();

  // --- API side ---
  // Incidents as JSON (docs/alerting.md, "API"), newest first; resolved ones only when asked.
  std::vector<nlohmann::json> ListIncidents(bool include_resolved) const;
  // By id or a unique prefix of it.
  Result<nlohmann::json> GetIncident(const std::string& id) const;
  // Acknowledges a firing incident: stops its repeats and escalation and forwards the
  // acknowledgement. NotFound / InvalidArgument (ambiguous prefix, already resolved).
  Result<nlohmann::json> Acknowledge(const std::string& id, const std::string& by, const std::string& comment);
  // Validates and stores a silence; assigns id and created time. starts_ms 0 means now.
  Result<Silence> AddSilence(Silence silence);
  std::vector<Silence> ListSilences(bool include_expired) const;
  Result<Silence> ExpireSilence(const std::string& id);

  size_t outbox_size() const;
  int64_t now_ms() const { return options_.clock->NowMs(); }

 private:
  struct Delivery {
    int severity = 0;       // severity of the last trigger queued (0: none)
    bool acked = false;     // an acknowledge was queued
    bool resolved = false;  // the resolve was queued
    int64_t last_ms = 0;    // wall time of the last trigger queued (repeat / resend clock)
    int repeats = 0;
  };
  struct Incident {
    Page page;  // the latest page of the incident
    bool firing = true;
    int64_t opened_ms = 0;  // wall: opened, or re-armed (escalation clock)
    int64_t updated_ms = 0;
    int64_t resolved_ms = 0;
    std::string acked_by, ack_comment;
    int64_t acked_ms = 0;  // 0: not acknowledged
    bool muted = false;
    std::string muted_by;  // "silence <id>" or "inhibited by <id>"
    std::map<std::string, Delivery> deliveries;  // by receiver
  };
  struct OutboxEntry {
    std::string receiver;
    std::string incident;
    Page page;
    int attempts = 0;
    int64_t next_ms = 0;
  };

  PageDispatcher(std::unique_ptr<StateStore> store, RouteTree routes, std::vector<InhibitRule> inhibit,
                 std::vector<std::unique_ptr<Notifier>> notifiers, DispatcherOptions options);
  Status Load();
  Notifier* FindNotifier(const std::string& name) const;
  // REQUIRES: mu_ held and a store transaction open.
  Status ApplyPage(const Page& page, int64_t now);
  Status Advance(const std::string& id, Incident& inc, int64_t now, bool* changed);
  Status Queue(const std::string& receiver, const std::string& id, const Page& page, int64_t now);
  Status SaveIncident(const std::string& id, const Incident& inc);
  std::string MutedBy(const std::string& id, const Incident& inc, const Labels& labels, int64_t now) const;
  Result<std::string> Resolve(const std::string& id_or_prefix) const;
  nlohmann::json IncidentJson(const std::string& id, const Incident& inc) const;
  Status ReloadAfterFailure();
  void UpdateGauges() const;
  void RunTimers();
  std::mutex& ReceiverMutex(const std::string& receiver);
  // Sends the receiver's due notifications in outbox order; stops at one that must wait.
  size_t DeliverDue(const std::string& receiver);
  std::vector<std::string> OrphanReceivers() const;  // in the outbox, not configured
  void Loop();
  void ReceiverLoop(const std::string& receiver);

  const DispatcherOptions options_;
  std::unique_ptr<StateStore> store_;
  RouteTree routes_;
  std::vector<InhibitRule> inhibit_;
  std::vector<std::unique_ptr<Notifier>> notifiers_;  // used by the delivering thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Incident> incidents_;   // GUARDED_BY(mu_)
  std::map<int64_t, OutboxEntry> outbox_;       // GUARDED_BY(mu_), by seq
  std::vector<SilenceMatcher> silences_;        // GUARDED_BY(mu_)
  bool stopping_ = false;                       // GUARDED_BY(mu_)
  uint64_t wake_gen_ = 0;                       // GUARDED_BY(mu_); bumped when there is news
  std::map<std::string, std::unique_ptr<std::mutex>> receiver_mu_;  // GUARDED_BY(mu_)
  std::thread thread_;                          // timers
  std::vector<std::thread> receiver_threads_;   // one per notifier
};

}  // namespace logship::alerter
