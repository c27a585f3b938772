// SqliteSink: the embedded event store. One database file per UTC day of event time
// (<dir>/events-YYYY-MM-DD.db), WAL journal with synchronous=FULL (a commit is on disk
// when Write returns Ok), an FTS5 index over the raw line, retention by deleting whole
// day files. Schema and storage rules: docs/grok.md ("Storage") and the comments in
// sqlite_sink.cc.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/sink.h"

struct sqlite3;

namespace logship::sqlite {

// Maps an SQLite result code to a Status: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR,
// SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOMEM, SQLITE_PROTOCOL -> Retryable (the disk or a
// concurrent writer is the problem: back off); everything else (corruption, schema,
// constraint, misuse, too big) -> Permanent. Ok for SQLITE_OK/ROW/DONE.
Status ClassifySqliteError(int rc, const std::string& context);

// "events-2024-01-31.db" for the UTC day holding `time_ns`.
std::string DayFileName(int64_t time_ns);
// The UTC day index (days since 1970-01-01) named by "events-YYYY-MM-DD.db"; -1 if the
// name is not a day file.
int64_t DayFromFileName(const std::string& name);

class SqliteSink final : public EventSink {
 public:
  // REQUIRES: cfg.dir is set. Creates the directory and applies retention. `clock` (not
  // owned, outlives the sink) decides which day files are past retention. A write waits
  // up to `busy_timeout` for another writer's lock before failing Retryable.
  static Result<std::unique_ptr<SqliteSink>> Open(const SqliteSinkConfig& cfg,
                                                  const Clock& clock = SystemClock(),
                                                  Millis busy_timeout = Millis(5000));
  ~SqliteSink() override;

  // Inserts `events` with INSERT OR IGNORE, one transaction per day file touched; Ok only
  // after every COMMIT. An id already stored counts as a duplicate (and as stored). On a
  // failure the day files committed before it stay committed; a retry re-inserts them as
  // duplicates. Thread-compatible.
  Status Write(std::span<const ParsedEvent> events) override;

  // Deletes day files whose whole day is older than retention_days. Called by Open and
  // when the wall-clock day changes during Write.
  Status ApplyRetention();

  uint64_t inserted_total() const { return inserted_total_; }
  uint64_t duplicates_total() const { return duplicates_total_; }
  uint64_t retention_deleted_files_total() const { return retention_deleted_total_; }

 private:
  struct DayDb;
  SqliteSink(SqliteSinkConfig cfg, const Clock& clock, Millis busy_timeout);
  Result<DayDb*> GetDay(int64_t day);
  Status WriteDay(DayDb* db, std::span<const ParsedEvent* const> events);

  SqliteSinkConfig cfg_;
  const Clock& clock_;
  Millis busy_timeout_;
  std::map<int64_t, std::unique_ptr<DayDb>> open_;  // by day; a few most recent kept open
  int64_t retention_checked_day_ = -1;
  uint64_t inserted_total_ = 0;
  uint64_t duplicates_total_ = 0;
  uint64_t retention_deleted_total_ = 0;
};

}  // namespace logship::sqlite

namespace logship {
using sqlite::SqliteSink;
}  // namespace logship
