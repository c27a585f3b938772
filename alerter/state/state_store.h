// StateStore: the alerter's durable state in one SQLite file (alerter.state_path, default
// <data_dir>/alerter/state.db; WAL journal, synchronous=FULL: a committed transaction is on
// disk when Commit() returns Ok). It holds
//   alert_states   the per-series state machines (alerter/state/alert_state.h), by dedup key
//   rule_progress  the last evaluated step of each rule
//   incidents      what the dispatcher told the receivers (alerter/dispatch/), by dedup key
//   outbox         notifications written before they are sent (write-ahead): a crash
//                  between the write and the delivery sends them after the restart
//   silences       operator silences, with expiry
// Rows other than alert_states/rule_progress are JSON documents owned by their writer.
//
// Thread-compatible: the owner (PageDispatcher) serialises every call.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerter/state/alert_state.h"
#include "logship/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace logship::alerter {

struct OutboxRow {
  int64_t seq = 0;  // delivery order
  std::string receiver;
  std::string incident;  // dedup key
  nlohmann::json page;   // PageToStoreJson()
  int attempts = 0;
  int64_t next_ms = 0;  // wall clock: not before
};

class StateStore {
 public:
  // Creates the file (and its directory) if needed.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // One transaction at a time; the writes between are atomic.
  Status Begin();
  Status Commit();
  void Rollback();

  Status PutAlertState(const std::string& rule, const AlertState& state);
  Status DeleteAlertState(const std::string& dedup_key);
  // (rule, state) pairs.
  Result<std::vector<std::pair<std::string, AlertState>>> LoadAlertStates();
  Status PutRuleProgress(const std::string& rule, int64_t last_step_ms);
  Result<std::map<std::string, int64_t>> LoadRuleProgress();

  Status PutIncident(const std::string& id, const nlohmann::json& body);
  Status DeleteIncident(const std::string& id);
  Result<std::vector<nlohmann::json>> LoadIncidents();

  Result<int64_t> AddOutbox(const std::string& receiver, const std::string& incident, const nlohmann::json& page,
                            int64_t next_ms);
  Status UpdateOutbox(int64_t seq, int attempts, int64_t next_ms);
  Status DeleteOutbox(int64_t seq);
  Result<std::vector<OutboxRow>> LoadOutbox();  // in seq order

  Status PutSilence(const std::string& id, const nlohmann::json& body);
  Status DeleteSilence(const std::string& id);
  Result<std::vector<nlohmann::json>> LoadSilences();

  const std::string& path() const { return path_; }

 private:
  explicit StateStore(std::string path) : path_(std::move(path)) {}
  Status Exec(const char* sql);
  Status Run(const char* sql, const std::vector<std::string>& text, const std::vector<int64_t>& ints);
  Status Error(int rc, const std::string& what) const;

  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace logship::alerter
