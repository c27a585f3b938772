#include "alerter/state/state_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <functional>

namespace logship::alerter {
namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_states (dedup_key TEXT PRIMARY KEY, rule TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rule_progress (rule TEXT PRIMARY KEY, last_step_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, receiver TEXT NOT NULL,
  incident TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL, next_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, body TEXT NOT NULL);
)sql";

// RAII statement.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

Status StateStore::Error(int rc, const std::string& what) const {
  std::string msg = "alerter state " + path_ + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return Status::Retryable(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    default:
      return Status::IOError(msg);
  }
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  std::unique_ptr<StateStore> st(new StateStore(path));
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("alerter state: create " + dir.string() + ": " + ec.message());
  int rc = sqlite3_open_v2(path.c_str(), &st->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return st->Error(rc, "open");
  sqlite3_busy_timeout(st->db_, 5000);
  LOGSHIP_RETURN_IF_ERROR(st->Exec("PRAGMA journal_mode=WAL"));
  LOGSHIP_RETURN_IF_ERROR(st->Exec("PRAGMA synchronous=FULL"));
  LOGSHIP_RETURN_IF_ERROR(st->Exec(kSchema));
  // The schema version: refuse a newer file rather than misread it.
  {
    Stmt q;
    rc = sqlite3_prepare_v2(st->db_, "SELECT value FROM meta WHERE key='schema_version'", -1, &q.s, nullptr);
    if (rc != SQLITE_OK) return st->Error(rc, "read schema version");
    if (sqlite3_step(q.s) == SQLITE_ROW) {
      int v = std::atoi(reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0)));
      if (v > kSchemaVersion) {
        return Status::Corruption("alerter state " + path + ": schema version " + std::to_string(v) +
                                  " is newer than this logship (" + std::to_string(kSchemaVersion) + ")");
      }
    } else {
      LOGSHIP_RETURN_IF_ERROR(st->Run("INSERT INTO meta(key, value) VALUES('schema_version', ?)",
                                      {std::to_string(kSchemaVersion)}, {}));
    }
  }
  return st;
}

StateStore::~StateStore() {
  if (db_ != nullptr) sqlite3_close(db_);
}

Status StateStore::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Error(rc, std::string("exec ") + std::string(sql).substr(0, 40));
  return Status::Ok();
}

// Binds `text` to ?1.. and then `ints` after them, and steps to completion.
Status StateStore::Run(const char* sql, const std::vector<std::string>& text, const std::vector<int64_t>& ints) {
  Stmt q;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &q.s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare");
  int i = 1;
  for (const auto& t : text) sqlite3_bind_text(q.s, i++, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
  for (int64_t v : ints) sqlite3_bind_int64(q.s, i++, v);
  rc = sqlite3_step(q.s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(rc, "write");
  return Status::Ok();
}

Status StateStore::Begin() { return Exec("BEGIN IMMEDIATE"); }
Status StateStore::Commit() { return Exec("COMMIT"); }
void StateStore::Rollback() { (void)Exec("ROLLBACK"); }

Status StateStore::PutAlertState(const std::string& rule, const AlertState& s) {
  return Run("INSERT OR REPLACE INTO alert_states(dedup_key, rule, body) VALUES(?, ?, ?)",
             {s.dedup_key, rule, AlertStateToJson(s).dump()}, {});
}

Status StateStore::DeleteAlertState(const std::string& key) {
  return Run("DELETE FROM alert_states WHERE dedup_key = ?", {key}, {});
}

Result<std::vector<std::pair<std::string, AlertState>>> StateStore::LoadAlertStates() {
  std::vector<std::pair<std::string, AlertState>> out;
  Stmt q;
  int rc = sqlite3_prepare_v2(db_, "SELECT rule, body FROM alert_states ORDER BY rule, dedup_key", -1, &q.s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "load alert states");
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    std::string rule = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0));
    auto j = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(q.s, 1)), nullptr, false);
    if (j.is_discarded()) return Status::Corruption("alerter state " + path_ + ": alert state is not JSON");
    auto s = AlertStateFromJson(j);
    if (!s.ok()) return s.status().Annotate(path_);
    out.emplace_back(std::move(rule), std::move(*s));
  }
  if (rc != SQLITE_DONE) return Error(rc, "load alert states");
  return out;
}

Status StateStore::PutRuleProgress(const std::string& rule, int64_t last_step_ms) {
  return Run("INSERT OR REPLACE INTO rule_progress(rule, last_step_ms) VALUES(?, ?)", {rule}, {last_step_ms});
}

Result<std::map<std::string, int64_t>> StateStore::LoadRuleProgress() {
  std::map<std::string, int64_t> out;
  Stmt q;
  int rc = sqlite3_prepare_v2(db_, "SELECT rule, last_step_ms FROM rule_progress", -1, &q.s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "load rule progress");
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    out[reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0))] = sqlite3_column_int64(q.s, 1);
  }
  if (rc != SQLITE_DONE) return Error(rc, "load rule progress");
  return out;
}

namespace {
Result<std::vector<nlohmann::json>> LoadBodies(sqlite3* db, const char* sql, const std::string& what,
                                               const std::function<Status(int, const std::string&)>& error) {
  std::vector<nlohmann::json> out;
  Stmt q;
  int rc = sqlite3_prepare_v2(db, sql, -1, &q.s, nullptr);
  if (rc != SQLITE_OK) return error(rc, "load " + what);
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    auto j = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0)), nullptr, false);
    if (j.is_discarded()) return Status::Corruption("alerter state: a row of " + what + " is not JSON");
    out.push_back(std::move(j));
  }
  if (rc != SQLITE_DONE) return error(rc, "load " + what);
  return out;
}
}  // namespace

Status StateStore::PutIncident(const std::string& id, const nlohmann::json& body) {
  return Run("INSERT OR REPLACE INTO incidents(id, body) VALUES(?, ?)", {id, body.dump()}, {});
}

Status StateStore::DeleteIncident(const std::string& id) { return Run("DELETE FROM incidents WHERE id = ?", {id}, {}); }

Result<std::vector<nlohmann::json>> StateStore::LoadIncidents() {
  return LoadBodies(db_, "SELECT body FROM incidents ORDER BY id", "incidents",
                    [this](int rc, const std::string& w) { return Error(rc, w); });
}

Result<int64_t> StateStore::AddOutbox(const std::string& receiver, const std::string& incident,
                                      const nlohmann::json& page, int64_t next_ms) {
  LOGSHIP_RETURN_IF_ERROR(Run("INSERT INTO outbox(receiver, incident, body, attempts, next_ms) VALUES(?, ?, ?, 0, ?)",
                              {receiver, incident, page.dump()}, {next_ms}));
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status StateStore::UpdateOutbox(int64_t seq, int attempts, int64_t next_ms) {
  return Run("UPDATE outbox SET attempts = ?, next_ms = ? WHERE seq = ?", {}, {attempts, next_ms, seq});
}

Status StateStore::DeleteOutbox(int64_t seq) { return Run("DELETE FROM outbox WHERE seq = ?", {}, {seq}); }

Result<std::vector<OutboxRow>> StateStore::LoadOutbox() {
  std::vector<OutboxRow> out;
  Stmt q;
  int rc = sqlite3_prepare_v2(db_, "SELECT seq, receiver, incident, body, attempts, next_ms FROM outbox ORDER BY seq",
                              -1, &q.s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "load outbox");
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    OutboxRow r;
    r.seq = sqlite3_column_int64(q.s, 0);
    r.receiver = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 1));
    r.incident = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 2));
    r.page = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(q.s, 3)), nullptr, false);
    if (r.page.is_discarded()) return Status::Corruption("alerter state " + path_ + ": outbox row is not JSON");
    r.attempts = sqlite3_column_int(q.s, 4);
    r.next_ms = sqlite3_column_int64(q.s, 5);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return Error(rc, "load outbox");
  return out;
}

Status StateStore::PutSilence(const std::string& id, const nlohmann::json& body) {
  return Run("INSERT OR REPLACE INTO silences(id, body) VALUES(?, ?)", {id, body.dump()}, {});
}

Status StateStore::DeleteSilence(const std::string& id) { return Run("DELETE FROM silences WHERE id = ?", {id}, {}); }

Result<std::vector<nlohmann::json>> StateStore::LoadSilences() {
  return LoadBodies(db_, "SELECT body FROM silences ORDER BY id", "silences",
                    [this](int rc, const std::string& w) { return Error(rc, w); });
}

}  // namespace logship::alerter
