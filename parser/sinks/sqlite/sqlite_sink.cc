#include "parser/sinks/sqlite/sqlite_sink.h"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "parser/rules/timestamp.h"

// Storage layout of one day file (read by parser/search):
//
//   events(seq INTEGER PRIMARY KEY,      -- rowid alias, stable: the FTS5 rowid
//          id TEXT NOT NULL UNIQUE,      -- the event id; a replayed id is ignored
//          time_ns INTEGER NOT NULL, host TEXT, source TEXT, type TEXT, "offset" INTEGER,
//          raw BLOB,                     -- the line's bytes exactly (invalid UTF-8, NUL)
//          fields TEXT,                  -- JSON object, dotted names as flat keys
//          tags TEXT)                    -- JSON array
//   events_fts USING fts5(raw, content='events', content_rowid='seq')
//
// `id` is UNIQUE rather than the PRIMARY KEY so that the table keeps an explicit integer
// rowid (seq): FTS5 external content needs a rowid that VACUUM cannot renumber.
// raw is bound as a BLOB, so no byte is altered. The FTS index receives the same bytes as
// TEXT; SQLite's tokenizer reads invalid UTF-8 without failing (such bytes just end up in
// odd tokens). JSON field values that are not valid UTF-8 are stored with U+FFFD
// replacements: the lossless copy is raw.

namespace logship::sqlite {
namespace {

constexpr int kMaxOpenDays = 3;
constexpr int64_t kNsPerDay = 86'400LL * 1'000'000'000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  time_ns INTEGER NOT NULL,
  host TEXT NOT NULL,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  "offset" INTEGER NOT NULL,
  raw BLOB NOT NULL,
  fields TEXT NOT NULL,
  tags TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_time ON events(time_ns);
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(raw, content='events', content_rowid='seq');
)sql";

std::string FieldsJson(const ParsedEvent& e) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : e.fields) {
    std::visit([&](const auto& v) { j[f.name] = v; }, f.value);
  }
  if (e.event.syslog) {
    const auto& s = *e.event.syslog;
    if (s.facility >= 0) j["syslog.facility"] = s.facility;
    if (s.severity >= 0) j["syslog.severity"] = s.severity;
    if (!s.app.empty()) j["syslog.app"] = s.app;
    if (!s.procid.empty()) j["syslog.procid"] = s.procid;
    if (!s.msgid.empty()) j["syslog.msgid"] = s.msgid;
    if (!s.structured_data.empty() && s.structured_data != "-") j["syslog.structured_data"] = s.structured_data;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string TagsJson(const ParsedEvent& e) {
  nlohmann::json j = e.tags;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Status ClassifySqliteError(int rc, const std::string& context) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::Ok();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return Status::Retryable("sqlite " + context + ": " + sqlite3_errstr(rc));
    default:
      return Status::Permanent("sqlite " + context + ": " + sqlite3_errstr(rc));
  }
}

std::string DayFileName(int64_t time_ns) {
  int64_t day = FloorDiv(time_ns, kNsPerDay);
  // civil_from_days
  int64_t z = day + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  char buf[48];
  std::snprintf(buf, sizeof buf, "events-%04lld-%02lld-%02lld.db", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d));
  return buf;
}

int64_t DayFromFileName(const std::string& name) {
  int y, m, d;
  char tail[8] = {0};
  if (name.size() != 20 || std::sscanf(name.c_str(), "events-%4d-%2d-%2d%3s", &y, &m, &d, tail) != 4 ||
      std::string(tail) != ".db" || m < 1 || m > 12 || d < 1 || d > 31) {
    return -1;
  }
  return rules::DaysFromCivil(y, m, d);
}

struct SqliteSink::DayDb {
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* fts = nullptr;
  std::string path;
  ~DayDb() {
    sqlite3_finalize(insert);
    sqlite3_finalize(fts);
    if (db) sqlite3_close_v2(db);
  }
  Status Exec(const char* sql, const char* what) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::Ok();
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return ClassifySqliteError(rc, path + ": " + what).Annotate(msg);
  }
};

SqliteSink::SqliteSink(SqliteSinkConfig cfg, const Clock& clock, Millis busy_timeout)
    : cfg_(std::move(cfg)), clock_(clock), busy_timeout_(busy_timeout) {}
SqliteSink::~SqliteSink() = default;

Result<std::unique_ptr<SqliteSink>> SqliteSink::Open(const SqliteSinkConfig& cfg, const Clock& clock,
                                                     Millis busy_timeout) {
  if (cfg.dir.empty()) return Status::InvalidArgument("sqlite sink: dir is not set");
  std::error_code ec;
  std::filesystem::create_directories(cfg.dir, ec);
  if (ec) return Status::IOError("sqlite sink: cannot create " + cfg.dir + ": " + ec.message());
  std::unique_ptr<SqliteSink> sink(new SqliteSink(cfg, clock, busy_timeout));
  LOGSHIP_RETURN_IF_ERROR(sink->ApplyRetention());
  return sink;
}

Status SqliteSink::ApplyRetention() {
  const int64_t today = FloorDiv(clock_.NowNs(), kNsPerDay);
  retention_checked_day_ = today;
  if (cfg_.retention_days <= 0) return Status::Ok();
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::pair<int64_t, fs::path>> doomed;
  for (fs::directory_iterator it(cfg_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    int64_t day = DayFromFileName(it->path().filename().string());
    if (day >= 0 && day + cfg_.retention_days <= today) doomed.emplace_back(day, it->path());
  }
  if (ec) return Status::IOError("sqlite retention: " + cfg_.dir + ": " + ec.message());
  for (const auto& [day, path] : doomed) {
    open_.erase(day);  // close before unlinking
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(path.string() + suffix, ec);
    if (!fs::remove(path, ec) || ec) {
      if (ec) return Status::IOError("sqlite retention: remove " + path.string() + ": " + ec.message());
    }
    ++retention_deleted_total_;
  }
  return Status::Ok();
}

Result<SqliteSink::DayDb*> SqliteSink::GetDay(int64_t day) {
  if (auto it = open_.find(day); it != open_.end()) return it->second.get();
  while (static_cast<int>(open_.size()) >= kMaxOpenDays) open_.erase(open_.begin());  // oldest day
  auto d = std::make_unique<DayDb>();
  d->path = cfg_.dir + "/" + DayFileName(day * kNsPerDay);
  int rc = sqlite3_open_v2(d->path.c_str(), &d->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return ClassifySqliteError(rc, "open " + d->path);
  sqlite3_busy_timeout(d->db, static_cast<int>(busy_timeout_.count()));
  // WAL + synchronous=FULL: every COMMIT fsyncs the WAL, so an Ok Write survives power loss
  // (NORMAL would only survive a process crash).
  LOGSHIP_RETURN_IF_ERROR(d->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", "pragmas"));
  LOGSHIP_RETURN_IF_ERROR(d->Exec(kSchema, "schema"));
  rc = sqlite3_prepare_v3(d->db,
                          "INSERT OR IGNORE INTO events(id,time_ns,host,source,type,\"offset\",raw,fields,tags) "
                          "VALUES(?,?,?,?,?,?,?,?,?)",
                          -1, SQLITE_PREPARE_PERSISTENT, &d->insert, nullptr);
  if (rc != SQLITE_OK) return ClassifySqliteError(rc, "prepare insert " + d->path);
  rc = sqlite3_prepare_v3(d->db, "INSERT INTO events_fts(rowid, raw) VALUES(?, ?)", -1,
                          SQLITE_PREPARE_PERSISTENT, &d->fts, nullptr);
  if (rc != SQLITE_OK) return ClassifySqliteError(rc, "prepare fts " + d->path);
  DayDb* raw = d.get();
  open_.emplace(day, std::move(d));
  return raw;
}

Status SqliteSink::WriteDay(DayDb* d, std::span<const ParsedEvent* const> events) {
  LOGSHIP_RETURN_IF_ERROR(d->Exec("BEGIN IMMEDIATE", "begin"));
  uint64_t inserted = 0, dups = 0;
  auto fail = [&](int rc, const std::string& what) {
    Status st = ClassifySqliteError(rc, d->path + ": " + what).Annotate(sqlite3_errmsg(d->db));
    sqlite3_reset(d->insert);
    sqlite3_reset(d->fts);
    (void)d->Exec("ROLLBACK", "rollback");
    return st;
  };
  std::string fields, tags;
  for (const ParsedEvent* pe : events) {
    const Event& e = pe->event;
    fields = FieldsJson(*pe);
    tags = TagsJson(*pe);
    sqlite3_stmt* s = d->insert;
    sqlite3_bind_text(s, 1, e.id.data(), static_cast<int>(e.id.size()), SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, e.time_ns);
    sqlite3_bind_text(s, 3, e.host.data(), static_cast<int>(e.host.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 4, e.source.data(), static_cast<int>(e.source.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 5, e.type.data(), static_cast<int>(e.type.size()), SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, static_cast<int64_t>(e.offset));
    sqlite3_bind_blob64(s, 7, e.raw.data(), e.raw.size(), SQLITE_STATIC);
    sqlite3_bind_text(s, 8, fields.data(), static_cast<int>(fields.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 9, tags.data(), static_cast<int>(tags.size()), SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return fail(rc, "insert");
    if (sqlite3_changes(d->db) == 0) {
      ++dups;
      continue;
    }
    ++inserted;
    sqlite3_bind_int64(d->fts, 1, sqlite3_last_insert_rowid(d->db));
    sqlite3_bind_text64(d->fts, 2, e.raw.data(), e.raw.size(), SQLITE_STATIC, SQLITE_UTF8);
    rc = sqlite3_step(d->fts);
    sqlite3_reset(d->fts);
    if (rc != SQLITE_DONE) return fail(rc, "fts insert");
  }
  int rc = sqlite3_exec(d->db, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc, "commit");
  inserted_total_ += inserted;
  duplicates_total_ += dups;
  return Status::Ok();
}

Status SqliteSink::Write(std::span<const ParsedEvent> events) {
  if (FloorDiv(clock_.NowNs(), kNsPerDay) != retention_checked_day_) {
    LOGSHIP_RETURN_IF_ERROR(ApplyRetention());
  }
  if (events.empty()) return Status::Ok();
  // Group by UTC day of event time, keeping the batch order within a day.
  std::map<int64_t, std::vector<const ParsedEvent*>> by_day;
  for (const auto& e : events) by_day[FloorDiv(e.event.time_ns, kNsPerDay)].push_back(&e);
  for (const auto& [day, list] : by_day) {
    auto d = GetDay(day);
    if (!d.ok()) {
      open_.erase(day);
      return d.status();
    }
    Status st = WriteDay(d.value(), list);
    if (!st.ok()) {
      open_.erase(day);  // reopen on retry: the handle may be in a bad state
      return st;
    }
  }
  return Status::Ok();
}

}  // namespace logship::sqlite
