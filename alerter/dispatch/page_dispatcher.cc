#include "alerter/dispatch/page_dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>

#include "alerter/dispatch/dispatch_probe.h"

namespace logship::alerter {
namespace {

std::string RandomId() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

Severity SeverityOf(int v) { return v == 2 ? Severity::kCritical : Severity::kWarning; }

// What a queued page is, for the queued-notifications metric.
const char* QueueAction(const Page& p, bool resend) {
  if (p.action != PageAction::kTrigger) return PageActionName(p.action);
  if (resend) return "resend";
  return p.repeat > 0 ? "repeat" : "trigger";
}

}  // namespace

Result<std::unique_ptr<PageDispatcher>> PageDispatcher::Open(const std::string& state_path, const RouteConfig& route,
                                                             const std::vector<InhibitRuleConfig>& inhibit_rules,
                                                             std::vector<std::unique_ptr<Notifier>> notifiers,
                                                             DispatcherOptions options) {
  std::vector<std::string> names;
  for (const auto& n : notifiers) {
    if (std::find(names.begin(), names.end(), n->name()) != names.end()) {
      return Status::InvalidArgument("alerter: receiver name \"" + n->name() + "\" used twice");
    }
    names.push_back(n->name());
  }
  auto routes = RouteTree::Compile(route, names);
  if (!routes.ok()) return routes.status();
  auto inhibit = CompileInhibitRules(inhibit_rules);
  if (!inhibit.ok()) return inhibit.status();
  auto store = StateStore::Open(state_path);
  if (!store.ok()) return store.status();
  std::unique_ptr<PageDispatcher> d(new PageDispatcher(std::move(*store), std::move(*routes), std::move(*inhibit),
                                                       std::move(notifiers), std::move(options)));
  LOGSHIP_RETURN_IF_ERROR(d->Load());
  return d;
}

PageDispatcher::PageDispatcher(std::unique_ptr<StateStore> store, RouteTree routes, std::vector<InhibitRule> inhibit,
                               std::vector<std::unique_ptr<Notifier>> notifiers, DispatcherOptions options)
    : options_(std::move(options)),
      store_(std::move(store)),
      routes_(std::move(routes)),
      inhibit_(std::move(inhibit)),
      notifiers_(std::move(notifiers)) {}

PageDispatcher::~PageDispatcher() { Stop(); }

// ---------------------------------------------------------------------------------------
// Persistence

namespace {

nlohmann::json DeliveryJson(int severity, bool acked, bool resolved, int64_t last_ms, int repeats) {
  return {{"severity", severity}, {"acked", acked}, {"resolved", resolved}, {"last_ms", last_ms}, {"repeats", repeats}};
}

}  // namespace

Status PageDispatcher::SaveIncident(const std::string& id, const Incident& inc) {
  nlohmann::json deliveries = nlohmann::json::object();
  for (const auto& [name, d] : inc.deliveries) {
    deliveries[name] = DeliveryJson(d.severity, d.acked, d.resolved, d.last_ms, d.repeats);
  }
  nlohmann::json j = {
      {"id", id},
      {"page", PageToStoreJson(inc.page)},
      {"firing", inc.firing},
      {"opened_ms", inc.opened_ms},
      {"updated_ms", inc.updated_ms},
      {"resolved_ms", inc.resolved_ms},
      {"acked_by", inc.acked_by},
      {"ack_comment", inc.ack_comment},
      {"acked_ms", inc.acked_ms},
      {"muted", inc.muted},
      {"muted_by", inc.muted_by},
      {"deliveries", deliveries},
  };
  return store_->PutIncident(id, j);
}

Status PageDispatcher::Load() {
  incidents_.clear();
  outbox_.clear();
  silences_.clear();
  auto incidents = store_->LoadIncidents();
  if (!incidents.ok()) return incidents.status();
  for (const auto& j : *incidents) {
    try {
      Incident inc;
      auto page = PageFromStoreJson(j.at("page"));
      if (!page.ok()) return page.status().Annotate(store_->path());
      inc.page = std::move(*page);
      inc.firing = j.at("firing").get<bool>();
      inc.opened_ms = j.at("opened_ms").get<int64_t>();
      inc.updated_ms = j.value("updated_ms", int64_t{0});
      inc.resolved_ms = j.value("resolved_ms", int64_t{0});
      inc.acked_by = j.value("acked_by", std::string());
      inc.ack_comment = j.value("ack_comment", std::string());
      inc.acked_ms = j.value("acked_ms", int64_t{0});
      inc.muted = j.value("muted", false);
      inc.muted_by = j.value("muted_by", std::string());
      for (const auto& [name, d] : j.at("deliveries").items()) {
        Delivery& del = inc.deliveries[name];
        del.severity = d.at("severity").get<int>();
        del.acked = d.at("acked").get<bool>();
        del.resolved = d.at("resolved").get<bool>();
        del.last_ms = d.at("last_ms").get<int64_t>();
        del.repeats = d.value("repeats", 0);
      }
      incidents_[j.at("id").get<std::string>()] = std::move(inc);
    } catch (const std::exception& e) {
      return Status::Corruption("alerter state " + store_->path() + ": incident: " + e.what());
    }
  }
  auto outbox = store_->LoadOutbox();
  if (!outbox.ok()) return outbox.status();
  for (auto& row : *outbox) {
    auto page = PageFromStoreJson(row.page);
    if (!page.ok()) return page.status().Annotate(store_->path() + " outbox");
    outbox_[row.seq] = OutboxEntry{row.receiver, row.incident, std::move(*page), row.attempts, row.next_ms};
  }
  auto silences = store_->LoadSilences();
  if (!silences.ok()) return silences.status();
  for (const auto& j : *silences) {
    auto s = SilenceFromJson(j);
    if (!s.ok()) return s.status().Annotate(store_->path());
    auto m = SilenceMatcher::Compile(*s);
    if (!m.ok()) return m.status().Annotate(store_->path());
    silences_.push_back(std::move(*m));
  }
  if (!outbox_.empty()) {
    spdlog::info("alerter: {} notification(s) left in the outbox by the last run will be sent", outbox_.size());
  }
  return Status::Ok();
}

Status PageDispatcher::ReloadAfterFailure() {
  Status st = Load();
  if (!st.ok()) spdlog::error("alerter: reloading the state after a failed write: {}", st.ToString());
  return st;
}

Result<EvaluatorSnapshot> PageDispatcher::LoadEvaluatorState() {
  std::lock_guard<std::mutex> lock(mu_);
  EvaluatorSnapshot snap;
  auto states = store_->LoadAlertStates();
  if (!states.ok()) return states.status();
  snap.states = std::move(*states);
  auto progress = store_->LoadRuleProgress();
  if (!progress.ok()) return progress.status();
  snap.progress = std::move(*progress);
  return snap;
}

// ---------------------------------------------------------------------------------------
// Incidents

Notifier* PageDispatcher::FindNotifier(const std::string& name) const {
  for (const auto& n : notifiers_) {
    if (n->name() == name) return n.get();
  }
  return nullptr;
}

Status PageDispatcher::Queue(const std::string& receiver, const std::string& id, const Page& page, int64_t now) {
  auto seq = store_->AddOutbox(receiver, id, PageToStoreJson(page), now);
  if (!seq.ok()) return seq.status();
  outbox_[*seq] = OutboxEntry{receiver, id, page, 0, now};
  return Status::Ok();
}

std::string PageDispatcher::MutedBy(const std::string& id, const Incident& inc, const Labels& labels,
                                    int64_t now) const {
  for (const auto& s : silences_) {
    if (s.silence().ActiveAt(now) && s.Matches(labels)) return "silence " + s.silence().id;
  }
  if (inhibit_.empty()) return "";
  for (const auto& [other_id, other] : incidents_) {
    if (other_id == id || !other.firing) continue;
    const Labels source = RoutingLabels(other.page);
    for (const auto& rule : inhibit_) {
      if (rule.Inhibits(source, labels)) return "inhibited by " + other_id;
    }
  }
  return "";
}

Status PageDispatcher::ApplyPage(const Page& in, int64_t now) {
  Page page = in;
  const std::string id = page.dedup_key;
  if (!options_.external_url.empty()) page.url = options_.external_url + "/api/v1/alerts/" + id;
  auto it = incidents_.find(id);
  if (page.action == PageAction::kResolve) {
    if (it == incidents_.end() || !it->second.firing) return Status::Ok();  // nothing open: a no-op
    Incident& inc = it->second;
    if (page.starts_ms == 0) page.starts_ms = inc.page.starts_ms;
    inc.firing = false;
    inc.resolved_ms = now;
    inc.updated_ms = now;
    inc.page = page;
    for (auto& [name, d] : inc.deliveries) {
      if (d.severity == 0 || d.resolved) continue;
      d.resolved = true;
      if (FindNotifier(name) == nullptr) continue;
      LOGSHIP_RETURN_IF_ERROR(Queue(name, id, page, now));
      DispatchProbe::Queued(name, "resolve");
    }
    return SaveIncident(id, inc);
  }
  if (page.action != PageAction::kTrigger) return Status::Ok();
  if (it == incidents_.end() || !it->second.firing) {
    Incident fresh;
    fresh.opened_ms = now;
    fresh.updated_ms = now;
    if (page.starts_ms == 0) page.starts_ms = page.time_ms;
    fresh.page = page;
    incidents_.insert_or_assign(id, std::move(fresh));
  } else {
    Incident& inc = it->second;
    if (page.severity == Severity::kCritical && inc.page.severity == Severity::kWarning) {
      // Re-armed at a higher severity: people must look again.
      inc.acked_by.clear();
      inc.ack_comment.clear();
      inc.acked_ms = 0;
      inc.opened_ms = now;
      for (auto& [name, d] : inc.deliveries) d.acked = false;
    }
    if (page.starts_ms == 0) page.starts_ms = inc.page.starts_ms;
    inc.page = page;
    inc.updated_ms = now;
  }
  return Status::Ok();  // the caller advances and saves it
}

Status PageDispatcher::Advance(const std::string& id, Incident& inc, int64_t now, bool* changed) {
  if (!inc.firing) return Status::Ok();
  const Labels labels = RoutingLabels(inc.page);
  const std::string muted_by = MutedBy(id, inc, labels, now);
  if (muted_by != inc.muted_by) {
    if (inc.muted && muted_by.empty()) inc.opened_ms = now;  // unmuted: escalation starts over
    if (!inc.muted && !muted_by.empty()) DispatchProbe::Muted(muted_by.starts_with("silence") ? "silence" : "inhibit");
    inc.muted = !muted_by.empty();
    inc.muted_by = muted_by;
    *changed = true;
  }
  if (inc.muted) return Status::Ok();

  const int severity = static_cast<int>(inc.page.severity);
  const bool acked = inc.acked_ms > 0;
  const std::vector<RouteTarget> targets = routes_.Targets(labels);
  auto repeat_of = [&](const std::string& name) {
    for (const auto& t : targets) {
      if (t.receiver == name) return t.repeat_interval;
    }
    return Millis(0);  // no longer routed here: updates and the resolve, but no repeats
  };

  // Receivers already told: severity changes, resends, repeats.
  for (auto& [name, d] : inc.deliveries) {
    if (d.severity == 0) continue;
    Notifier* n = FindNotifier(name);
    if (n == nullptr) continue;
    Page p = inc.page;
    if (d.severity != severity) {
      p.previous_severity = SeverityOf(d.severity);
      d.severity = severity;
      d.last_ms = now;
      d.repeats = 0;
      LOGSHIP_RETURN_IF_ERROR(Queue(name, id, p, now));
      DispatchProbe::Queued(name, "trigger");
      *changed = true;
      continue;
    }
    const NotifierTraits traits = n->traits();
    if (traits.resend_interval.count() > 0) {
      if (now - d.last_ms >= traits.resend_interval.count()) {
        d.last_ms = now;
        LOGSHIP_RETURN_IF_ERROR(Queue(name, id, p, now));
        DispatchProbe::Queued(name, QueueAction(p, true));
        *changed = true;
      }
      continue;
    }
    const Millis repeat = repeat_of(name);
    if (!traits.escalates_itself && !acked && repeat.count() > 0 && now - d.last_ms >= repeat.count()) {
      p.repeat = ++d.repeats;
      d.last_ms = now;
      LOGSHIP_RETURN_IF_ERROR(Queue(name, id, p, now));
      DispatchProbe::Queued(name, QueueAction(p, false));
      *changed = true;
    }
  }
  // Receivers that became due (escalation order), until someone acknowledges.
  if (acked) return Status::Ok();
  for (const auto& t : targets) {
    auto dit = inc.deliveries.find(t.receiver);
    if (dit != inc.deliveries.end() && dit->second.severity != 0) continue;
    if (now - inc.opened_ms < t.due_after.count()) continue;
    if (FindNotifier(t.receiver) == nullptr) continue;
    Delivery& d = inc.deliveries[t.receiver];
    d.severity = severity;
    d.last_ms = now;
    LOGSHIP_RETURN_IF_ERROR(Queue(t.receiver, id, inc.page, now));
    DispatchProbe::Queued(t.receiver, "trigger");
    if (t.due_after.count() > 0) {
      DispatchProbe::Escalated(t.receiver);
      spdlog::warn("alerter: incident {} ({}) unacknowledged for {} ms: escalated to {}", id, inc.page.alert,
                   now - inc.opened_ms, t.receiver);
    }
    *changed = true;
  }
  return Status::Ok();
}

Status PageDispatcher::Submit(const EvaluationOutput& out, std::vector<bool>* failed) {
  failed->assign(out.pages.size(), false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = now_ms();
    Status st = store_->Begin();
    if (!st.ok()) return st;
    auto body = [&]() -> Status {
      for (const auto& c : out.states) {
        LOGSHIP_RETURN_IF_ERROR(c.erased ? store_->DeleteAlertState(c.state.dedup_key)
                                         : store_->PutAlertState(c.rule, c.state));
      }
      for (const auto& [rule, ms] : out.progress) LOGSHIP_RETURN_IF_ERROR(store_->PutRuleProgress(rule, ms));
      // All pages first, then every touched incident advances: within one evaluation the
      // order of pages does not decide inhibition.
      // (An incident triggered and resolved within the same evaluation advances before its
      // resolve, so its trigger is not lost.)
      std::vector<std::string> touched;
      auto advance = [&](const std::string& id) -> Status {
        auto it = incidents_.find(id);
        if (it == incidents_.end()) return Status::Ok();
        bool changed = false;
        LOGSHIP_RETURN_IF_ERROR(Advance(id, it->second, now, &changed));
        return SaveIncident(id, it->second);
      };
      for (const auto& page : out.pages) {
        auto t = std::find(touched.begin(), touched.end(), page.dedup_key);
        if (page.action == PageAction::kResolve && t != touched.end()) {
          LOGSHIP_RETURN_IF_ERROR(advance(page.dedup_key));
          touched.erase(t);
        }
        LOGSHIP_RETURN_IF_ERROR(ApplyPage(page, now));
        if (page.action == PageAction::kTrigger &&
            std::find(touched.begin(), touched.end(), page.dedup_key) == touched.end()) {
          touched.push_back(page.dedup_key);
        }
      }
      for (const auto& id : touched) LOGSHIP_RETURN_IF_ERROR(advance(id));
      return store_->Commit();
    };
    st = body();
    if (!st.ok()) {
      store_->Rollback();
      (void)ReloadAfterFailure();
      return st;
    }
    if (!out.pages.empty()) ++wake_gen_;
  }
  cv_.notify_all();
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// Delivery

void PageDispatcher::RunTimers() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = now_ms();
  const size_t queued_before = outbox_.size();
  Status st = store_->Begin();
  if (st.ok()) {
    auto body = [&]() -> Status {
      for (auto it = incidents_.begin(); it != incidents_.end();) {
        Incident& inc = it->second;
        if (!inc.firing && now - inc.resolved_ms > options_.retention.count()) {
          LOGSHIP_RETURN_IF_ERROR(store_->DeleteIncident(it->first));
          it = incidents_.erase(it);
          continue;
        }
        bool changed = false;
        LOGSHIP_RETURN_IF_ERROR(Advance(it->first, inc, now, &changed));
        if (changed) LOGSHIP_RETURN_IF_ERROR(SaveIncident(it->first, inc));
        ++it;
      }
      for (auto it = silences_.begin(); it != silences_.end();) {
        if (now - it->silence().ends_ms > options_.retention.count()) {
          LOGSHIP_RETURN_IF_ERROR(store_->DeleteSilence(it->silence().id));
          it = silences_.erase(it);
        } else {
          ++it;
        }
      }
      return store_->Commit();
    };
    st = body();
    if (!st.ok()) {
      store_->Rollback();
      (void)ReloadAfterFailure();
    }
  }
  if (!st.ok()) spdlog::error("alerter: dispatcher timers: {}", st.ToString());
  if (outbox_.size() != queued_before) ++wake_gen_;  // repeats, escalations: the receivers' turn
  UpdateGauges();
}

std::mutex& PageDispatcher::ReceiverMutex(const std::string& receiver) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& m = receiver_mu_[receiver];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

size_t PageDispatcher::DeliverDue(const std::string& receiver) {
  // One delivery at a time per receiver (its outbox order is kept); receivers don't wait
  // for each other.
  std::lock_guard<std::mutex> one(ReceiverMutex(receiver));
  Notifier* n = FindNotifier(receiver);
  size_t attempts = 0;
  for (int round_no = 0; round_no < 1000; ++round_no) {
    // The receiver's oldest entry, when it is due.
    int64_t seq = 0;
    OutboxEntry e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = std::find_if(outbox_.begin(), outbox_.end(), [&](const auto& kv) { return kv.second.receiver == receiver; });
      if (it == outbox_.end() || it->second.next_ms > now_ms()) break;
      seq = it->first;
      e = it->second;
    }
    Status result = n == nullptr ? Status::Permanent("unknown receiver") : n->Notify(e.page);
    ++attempts;
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = now_ms();
    if (result.ok() || !result.retryable()) {
      if (!result.ok()) {
        DispatchProbe::Dropped(e.receiver, n == nullptr ? "unknown_receiver" : "permanent");
        spdlog::error("alerter: {} of incident {} to {} dropped: {}", PageActionName(e.page.action), e.incident,
                      e.receiver, result.ToString());
      }
      Status st = store_->DeleteOutbox(seq);
      if (!st.ok()) spdlog::error("alerter: outbox: {} (it will be sent again)", st.ToString());
      outbox_.erase(seq);
    } else {
      auto it = outbox_.find(seq);
      if (it == outbox_.end()) continue;
      it->second.attempts++;
      int shift = std::min(it->second.attempts - 1, 20);
      Millis wait = std::min(options_.initial_backoff * (int64_t{1} << shift), options_.max_backoff);
      wait = std::max(wait, n->last_retry_after());
      it->second.next_ms = now + wait.count();
      DispatchProbe::Retried(e.receiver);
      spdlog::warn("alerter: {} of incident {} to {} failed ({}); retrying in {} ms", PageActionName(e.page.action),
                   e.incident, e.receiver, result.ToString(), wait.count());
      Status st = store_->UpdateOutbox(seq, it->second.attempts, it->second.next_ms);
      if (!st.ok()) spdlog::error("alerter: outbox: {}", st.ToString());
      break;  // backing off: nothing else of this receiver goes before this entry
    }
  }
  if (attempts > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    UpdateGauges();
  }
  return attempts;
}

std::vector<std::string> PageDispatcher::OrphanReceivers() const {
  std::set<std::string> names;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [seq, e] : outbox_) {
    if (FindNotifier(e.receiver) == nullptr) names.insert(e.receiver);
  }
  return {names.begin(), names.end()};
}

size_t PageDispatcher::RunOnce() {
  RunTimers();
  size_t attempts = 0;
  for (const auto& n : notifiers_) attempts += DeliverDue(n->name());
  for (const auto& name : OrphanReceivers()) attempts += DeliverDue(name);
  return attempts;
}

void PageDispatcher::UpdateGauges() const {
  size_t firing = 0, acked = 0, muted = 0, active = 0;
  const int64_t now = now_ms();
  for (const auto& [id, inc] : incidents_) {
    if (!inc.firing) continue;
    ++firing;
    acked += inc.acked_ms > 0;
    muted += inc.muted;
  }
  for (const auto& s : silences_) active += s.silence().ActiveAt(now);
  DispatchProbe::SetGauges(static_cast<double>(outbox_.size()), static_cast<double>(firing),
                           static_cast<double>(acked), static_cast<double>(muted), static_cast<double>(active));
}

void PageDispatcher::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
  for (const auto& n : notifiers_) {
    const std::string name = n->name();
    receiver_threads_.emplace_back([this, name] { ReceiverLoop(name); });
  }
}

void PageDispatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  const bool was_running = thread_.joinable();
  if (thread_.joinable()) thread_.join();
  for (auto& t : receiver_threads_) t.join();
  receiver_threads_.clear();
  // What the last evaluation queued before the stop (what fails stays in the outbox).
  if (was_running) RunOnce();
}

// The timer thread: repeats, escalations, unmutes, resends and expiry, every tick or when
// woken; deliveries to receivers no longer configured are dropped here.
void PageDispatcher::Loop() {
  uint64_t seen = 0;
  for (;;) {
    RunTimers();
    for (const auto& name : OrphanReceivers()) DeliverDue(name);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.notify_all();  // the receivers look at what the timers queued
    seen = wake_gen_;
    if (stopping_) break;
    cv_.wait_for(lock, options_.tick, [&] { return stopping_ || wake_gen_ != seen; });
    if (stopping_) break;
  }
}

// One thread per receiver, so a slow or failing receiver (timeouts, retries with backoff)
// delays only its own notifications.
void PageDispatcher::ReceiverLoop(const std::string& receiver) {
  uint64_t seen = 0;
  for (;;) {
    DeliverDue(receiver);
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) break;
    Millis wait = options_.tick;
    const int64_t now = now_ms();
    for (const auto& [seq, e] : outbox_) {
      if (e.receiver != receiver) continue;
      wait = std::min(wait, Millis(std::max<int64_t>(e.next_ms - now, 10)));
      break;  // only its oldest entry can be sent next
    }
    seen = wake_gen_;
    cv_.wait_for(lock, wait, [&] { return stopping_ || wake_gen_ != seen; });
    if (stopping_) break;
  }
}

size_t PageDispatcher::outbox_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outbox_.size();
}

// ---------------------------------------------------------------------------------------
// API

Result<std::string> PageDispatcher::Resolve(const std::string& id) const {
  if (incidents_.count(id)) return id;
  if (id.size() < 4) return Status::NotFound("alert " + id + ": give at least 4 characters of its id");
  std::string found;
  for (const auto& [key, inc] : incidents_) {
    if (key.compare(0, id.size(), id) != 0) continue;
    if (!found.empty()) return Status::InvalidArgument("alert id " + id + " is ambiguous");
    found = key;
  }
  if (found.empty()) return Status::NotFound("no alert with id " + id);
  return found;
}

nlohmann::json PageDispatcher::IncidentJson(const std::string& id, const Incident& inc) const {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [k, v] : inc.page.labels) labels[k] = v;
  nlohmann::json annotations = nlohmann::json::object();
  for (const auto& [k, v] : inc.page.annotations) annotations[k] = v;
  nlohmann::json receivers = nlohmann::json::array();
  for (const auto& [name, d] : inc.deliveries) {
    if (d.severity == 0) continue;
    receivers.push_back({{"name", name},
                         {"severity", SeverityName(SeverityOf(d.severity))},
                         {"repeats", d.repeats},
                         {"acknowledged", d.acked},
                         {"resolved", d.resolved},
                         {"lastSentAt", FormatTimestamp(d.last_ms)}});
  }
  nlohmann::json j = {
      {"id", id},
      {"alert", inc.page.alert},
      {"group", inc.page.group},
      {"status", inc.firing ? "firing" : "resolved"},
      {"severity", SeverityName(inc.page.severity)},
      {"summary", PageSummary(inc.page)},
      {"value", inc.page.value},
      {"labels", labels},
      {"annotations", annotations},
      {"startsAt", FormatTimestamp(inc.page.starts_ms ? inc.page.starts_ms : inc.page.time_ms)},
      {"updatedAt", FormatTimestamp(inc.updated_ms)},
      {"acknowledged", inc.acked_ms > 0},
      {"muted", inc.muted},
      {"flapping", inc.page.flapping},
      {"receivers", receivers},
  };
  if (!inc.firing) j["resolvedAt"] = FormatTimestamp(inc.resolved_ms);
  if (inc.acked_ms > 0) {
    j["acknowledgedBy"] = inc.acked_by;
    j["acknowledgedAt"] = FormatTimestamp(inc.acked_ms);
    if (!inc.ack_comment.empty()) j["ackComment"] = inc.ack_comment;
  }
  if (inc.muted) j["mutedBy"] = inc.muted_by;
  return j;
}

std::vector<nlohmann::json> PageDispatcher::ListIncidents(bool include_resolved) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<int64_t, nlohmann::json>> rows;
  for (const auto& [id, inc] : incidents_) {
    if (!inc.firing && !include_resolved) continue;
    rows.emplace_back(inc.opened_ms, IncidentJson(id, inc));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<nlohmann::json> out;
  for (auto& r : rows) out.push_back(std::move(r.second));
  return out;
}

Result<nlohmann::json> PageDispatcher::GetIncident(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = Resolve(id);
  if (!key.ok()) return key.status();
  return IncidentJson(*key, incidents_.at(*key));
}

Result<nlohmann::json> PageDispatcher::Acknowledge(const std::string& id, const std::string& by,
                                                   const std::string& comment) {
  nlohmann::json result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = Resolve(id);
    if (!key.ok()) return key.status();
    Incident& inc = incidents_.at(*key);
    if (!inc.firing) return Status::InvalidArgument("alert " + *key + " is already resolved");
    if (inc.acked_ms > 0) return IncidentJson(*key, inc);  // idempotent
    const int64_t now = now_ms();
    LOGSHIP_RETURN_IF_ERROR(store_->Begin());
    auto body = [&]() -> Status {
      inc.acked_by = by.empty() ? "api" : by;
      inc.ack_comment = comment;
      inc.acked_ms = now;
      inc.updated_ms = now;
      for (auto& [name, d] : inc.deliveries) {
        Notifier* n = FindNotifier(name);
        if (d.severity == 0 || d.resolved || d.acked || n == nullptr || !n->traits().takes_acknowledge) continue;
        Page p = inc.page;
        p.action = PageAction::kAcknowledge;
        p.acked_by = inc.acked_by;
        p.comment = comment;
        p.repeat = 0;
        d.acked = true;
        LOGSHIP_RETURN_IF_ERROR(Queue(name, *key, p, now));
        DispatchProbe::Queued(name, "acknowledge");
      }
      LOGSHIP_RETURN_IF_ERROR(SaveIncident(*key, inc));
      return store_->Commit();
    };
    Status st = body();
    if (!st.ok()) {
      store_->Rollback();
      (void)ReloadAfterFailure();
      return st;
    }
    spdlog::info("alerter: incident {} ({}) acknowledged by {}", *key, inc.page.alert, inc.acked_by);
    result = IncidentJson(*key, inc);
    ++wake_gen_;
  }
  cv_.notify_all();
  return result;
}

Result<Silence> PageDispatcher::AddSilence(Silence s) {
  Silence stored;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = now_ms();
    if (s.matchers.empty()) return Status::InvalidArgument("a silence needs at least one matcher");
    if (s.starts_ms == 0) s.starts_ms = now;
    if (s.ends_ms <= s.starts_ms || s.ends_ms <= now) {
      return Status::InvalidArgument("a silence must end after it starts and in the future");
    }
    s.id = RandomId();
    s.created_ms = now;
    auto m = SilenceMatcher::Compile(s);
    if (!m.ok()) return m.status();
    LOGSHIP_RETURN_IF_ERROR(store_->PutSilence(s.id, SilenceToJson(s, now)));
    silences_.push_back(std::move(*m));
    spdlog::info("alerter: silence {} by {} until {}", s.id, s.created_by, FormatTimestamp(s.ends_ms));
    stored = s;
    ++wake_gen_;
  }
  cv_.notify_all();
  return stored;
}

std::vector<Silence> PageDispatcher::ListSilences(bool include_expired) const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = now_ms();
  std::vector<Silence> out;
  for (const auto& s : silences_) {
    if (include_expired || s.silence().ends_ms > now) out.push_back(s.silence());
  }
  std::sort(out.begin(), out.end(), [](const Silence& a, const Silence& b) { return a.created_ms > b.created_ms; });
  return out;
}

Result<Silence> PageDispatcher::ExpireSilence(const std::string& id) {
  Silence result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = now_ms();
    auto it = std::find_if(silences_.begin(), silences_.end(), [&](const SilenceMatcher& m) {
      return m.silence().id == id;
    });
    if (it == silences_.end()) return Status::NotFound("no silence with id " + id);
    Silence s = it->silence();
    if (s.ends_ms > now) {
      s.ends_ms = std::max(now, s.starts_ms);
      auto m = SilenceMatcher::Compile(s);
      if (!m.ok()) return m.status();
      LOGSHIP_RETURN_IF_ERROR(store_->PutSilence(s.id, SilenceToJson(s, now)));
      *it = std::move(*m);
      spdlog::info("alerter: silence {} expired", s.id);
    }
    result = s;
    ++wake_gen_;
  }
  cv_.notify_all();
  return result;
}

}  // namespace logship::alerter
