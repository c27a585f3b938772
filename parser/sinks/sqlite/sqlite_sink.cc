#include "parser/sinks/sqlite/sqlite_sink.h"

#include <sqlite3.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <thread>
#include <vector>

#include "parser/rules/timestamp.h"
#include "parser/sinks/common/event_encoding.h"

// Storage layout of one day shard file (read by parser/search; every shard of a day has
// the same schema, and an id is only ever stored in the shard ShardOfId names):
//
//   events(seq INTEGER PRIMARY KEY,      -- rowid alias, stable: the FTS5 rowid
//          id TEXT NOT NULL UNIQUE,      -- the event id; a replayed id is ignored
//          time_ns INTEGER NOT NULL, host TEXT, source TEXT, type TEXT, "offset" INTEGER,
//          raw BLOB,                     -- the line's bytes exactly (invalid UTF-8, NUL)
//          fields TEXT,                  -- JSON object, dotted names as flat keys
//          tags TEXT)                    -- JSON array
//   events_fts USING fts5(raw, content='events', content_rowid='seq', columnsize=0)
//
// `id` is UNIQUE rather than the PRIMARY KEY so that the table keeps an explicit integer
// rowid (seq): FTS5 external content needs a rowid that VACUUM cannot renumber.
// raw is bound as a BLOB, so no byte is altered. The FTS index receives the same bytes as
// TEXT; SQLite's tokenizer reads invalid UTF-8 without failing (such bytes just end up in
// odd tokens). JSON field values that are not valid UTF-8 are stored with U+FFFD
// replacements: the lossless copy is raw. columnsize=0: FTS5 keeps no per-row token
// counts (only bm25 ranking would read them, and search orders by time), which saves one
// B-tree insert per event; files created before it have the %_docsize table and work the
// same.

namespace logship::sqlite {
namespace {

constexpr int kMaxOpenFiles = 3 * kDayShards;  // the shards of the 3 most recent days
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
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(raw, content='events', content_rowid='seq', columnsize=0);
)sql";

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

int ShardOfId(std::string_view id) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a 64
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<int>(h % kDayShards);
}

std::string DayFileName(int64_t time_ns, int shard) {
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
  char buf[64];
  if (shard == 0) {
    std::snprintf(buf, sizeof buf, "events-%04lld-%02lld-%02lld.db", static_cast<long long>(y),
                  static_cast<long long>(m), static_cast<long long>(d));
  } else {
    std::snprintf(buf, sizeof buf, "events-%04lld-%02lld-%02lld.%d.db", static_cast<long long>(y),
                  static_cast<long long>(m), static_cast<long long>(d), shard);
  }
  return buf;
}

int64_t DayFromFileName(const std::string& name, int* shard) {
  // "events-YYYY-MM-DD" then ".db" (shard 0) or ".<k>.db" with 1 <= k < kDayShards.
  auto digits = [&](size_t pos, size_t n) {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (name[i] < '0' || name[i] > '9') return -1;
      v = v * 10 + (name[i] - '0');
    }
    return v;
  };
  if (name.size() < 20 || name.compare(0, 7, "events-") != 0 || name[11] != '-' || name[14] != '-') return -1;
  const int y = digits(7, 4), m = digits(12, 2), d = digits(15, 2);
  if (y < 0 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
  int k = 0;
  const std::string tail = name.substr(17);
  if (tail != ".db") {
    if (tail.size() != 5 || tail[0] != '.' || tail.compare(2, 3, ".db") != 0) return -1;
    k = tail[1] - '0';
    if (k < 1 || k >= kDayShards) return -1;
  }
  if (shard) *shard = k;
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
    : cfg_(std::move(cfg)),
      clock_(clock),
      busy_timeout_(busy_timeout),
      next_start_(static_cast<unsigned>(getpid())) {}
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
    for (int k = 0; k < kDayShards; ++k) open_.erase(day * kDayShards + k);  // close before unlinking
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(path.string() + suffix, ec);
    if (!fs::remove(path, ec) || ec) {
      if (ec) return Status::IOError("sqlite retention: remove " + path.string() + ": " + ec.message());
    }
    ++retention_deleted_total_;
  }
  return Status::Ok();
}

Result<SqliteSink::DayDb*> SqliteSink::GetDay(int64_t day, int shard) {
  const int64_t key = day * kDayShards + shard;
  if (auto it = open_.find(key); it != open_.end()) return it->second.get();
  while (static_cast<int>(open_.size()) >= kMaxOpenFiles) open_.erase(open_.begin());  // oldest day
  auto d = std::make_unique<DayDb>();
  d->path = cfg_.dir + "/" + DayFileName(day * kNsPerDay, shard);
  int rc = sqlite3_open_v2(d->path.c_str(), &d->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return ClassifySqliteError(rc, "open " + d->path);
  sqlite3_busy_timeout(d->db, static_cast<int>(busy_timeout_.count()));
  // page_size only applies to a new file (before its first table); 16 KiB pages cut the
  // B-tree and FTS5 segment work per event by about 0.7 us (bench/RESULTS.md).
  LOGSHIP_RETURN_IF_ERROR(d->Exec("PRAGMA page_size=16384;", "pragmas"));
  // WAL + synchronous=FULL: every COMMIT fsyncs the WAL, so an Ok Write survives power loss
  // (NORMAL would only survive a process crash). Measured here, NORMAL saved no CPU.
  LOGSHIP_RETURN_IF_ERROR(d->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", "pragmas"));
  bool fresh = false;
  {
    sqlite3_stmt* q = nullptr;
    rc = sqlite3_prepare_v2(d->db, "SELECT count(*) FROM sqlite_master WHERE name='events_fts'", -1, &q, nullptr);
    if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) fresh = sqlite3_column_int(q, 0) == 0;
    sqlite3_finalize(q);
    if (rc != SQLITE_OK) return ClassifySqliteError(rc, "schema " + d->path).Annotate(sqlite3_errmsg(d->db));
  }
  LOGSHIP_RETURN_IF_ERROR(d->Exec(kSchema, "schema"));
  if (fresh) {
    // FTS5 merges its segments once 16 (default 4) share a level: each token is rewritten
    // about half as often (about 1 us less per event), a query reads a few more segments.
    // Stored in the file's FTS5 config, so set once, when the table is created.
    LOGSHIP_RETURN_IF_ERROR(
        d->Exec("INSERT INTO events_fts(events_fts, rank) VALUES('automerge', 16)", "fts automerge"));
  }
  rc = sqlite3_prepare_v3(d->db,
                          "INSERT OR IGNORE INTO events(id,time_ns,host,source,type,\"offset\",raw,fields,tags) "
                          "VALUES(?,?,?,?,?,?,?,?,?)",
                          -1, SQLITE_PREPARE_PERSISTENT, &d->insert, nullptr);
  if (rc != SQLITE_OK) return ClassifySqliteError(rc, "prepare insert " + d->path);
  rc = sqlite3_prepare_v3(d->db, "INSERT INTO events_fts(rowid, raw) VALUES(?, ?)", -1,
                          SQLITE_PREPARE_PERSISTENT, &d->fts, nullptr);
  if (rc != SQLITE_OK) return ClassifySqliteError(rc, "prepare fts " + d->path);
  DayDb* raw = d.get();
  open_.emplace(key, std::move(d));
  return raw;
}

Status SqliteSink::WriteDay(DayDb* d, std::span<const ParsedEvent* const> events, bool* busy) {
  *busy = false;
  // No busy wait here: Write decides what to do while another writer holds the file.
  sqlite3_busy_timeout(d->db, 0);
  int begin_rc = sqlite3_exec(d->db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  sqlite3_busy_timeout(d->db, static_cast<int>(busy_timeout_.count()));
  if ((begin_rc & 0xff) == SQLITE_BUSY) {
    *busy = true;
    return Status::Ok();
  }
  if (begin_rc != SQLITE_OK) {
    return ClassifySqliteError(begin_rc, d->path + ": begin").Annotate(sqlite3_errmsg(d->db));
  }
  uint64_t inserted = 0, dups = 0;
  auto fail = [&](int rc, const std::string& what) {
    Status st = ClassifySqliteError(rc, d->path + ": " + what).Annotate(sqlite3_errmsg(d->db));
    sqlite3_reset(d->insert);
    sqlite3_reset(d->fts);
    (void)d->Exec("ROLLBACK", "rollback");
    return st;
  };
  std::string& fields = fields_buf_;
  std::string& tags = tags_buf_;
  for (const ParsedEvent* pe : events) {
    const Event& e = pe->event;
    fields.clear();
    sinks::AppendFieldsJson(&fields, *pe);
    tags.clear();
    sinks::AppendTagsJson(&tags, pe->tags);
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
  // Group by (UTC day of event time, shard of the id), keeping the batch order within one.
  std::map<int64_t, std::vector<const ParsedEvent*>> groups;
  for (const auto& e : events) {
    groups[FloorDiv(e.event.time_ns, kNsPerDay) * kDayShards + ShardOfId(e.event.id)].push_back(&e);
  }
  std::vector<std::pair<int64_t, std::vector<const ParsedEvent*>>> unwritten(
      std::make_move_iterator(groups.begin()), std::make_move_iterator(groups.end()));
  // Rotate the starting file so that parsers sharing the store begin on different shards.
  std::rotate(unwritten.begin(), unwritten.begin() + (next_start_++ % unwritten.size()), unwritten.end());
  // Files another writer holds are put back and tried after the others. When every file
  // left is taken, poll them every 200 us (SQLite's own busy handler sleeps 1, 2, 5, 10 ms
  // ... and so oversleeps a lock another parser holds for a few ms) until busy_timeout
  // has passed without progress: then Retryable.
  auto wait_start = std::chrono::steady_clock::now();
  while (!unwritten.empty()) {
    bool progressed = false;
    for (size_t i = 0; i < unwritten.size();) {
      const int64_t key = unwritten[i].first;
      const int64_t day = FloorDiv(key, kDayShards);
      const int shard = static_cast<int>(key - day * kDayShards);
      auto d = GetDay(day, shard);
      if (!d.ok()) {
        open_.erase(key);
        return d.status();
      }
      bool busy = false;
      Status st = WriteDay(d.value(), unwritten[i].second, &busy);
      if (!st.ok()) {
        open_.erase(key);  // reopen on retry: the handle may be in a bad state
        return st;
      }
      if (busy) {
        ++i;
        continue;
      }
      progressed = true;
      unwritten.erase(unwritten.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (progressed) {
      wait_start = std::chrono::steady_clock::now();
    } else if (!unwritten.empty()) {
      if (std::chrono::steady_clock::now() - wait_start >= busy_timeout_) {
        const int64_t day = FloorDiv(unwritten.front().first, kDayShards);
        return ClassifySqliteError(
            SQLITE_BUSY, cfg_.dir + "/" +
                             DayFileName(day * kNsPerDay, static_cast<int>(unwritten.front().first - day * kDayShards)) +
                             ": begin: locked by another writer past the busy timeout");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  return Status::Ok();
}

}  // namespace logship::sqlite
