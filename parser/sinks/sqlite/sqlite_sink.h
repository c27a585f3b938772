// SqliteSink: the embedded event store. Each UTC day of event time is kDayShards database
// files (<dir>/events-YYYY-MM-DD.db for shard 0, events-YYYY-MM-DD.<k>.db for shard k);
// an event's shard is a hash of its id (ShardOfId), so every copy of an id lands in the
// same file and that file's UNIQUE id keeps one. Several parser processes write different
// shards at once instead of queueing on one file's write lock. WAL journal with
// synchronous=FULL (a commit is on disk when Write returns Ok), an FTS5 index over the raw
// line, retention by deleting whole days. Schema and storage
// rules: docs/grok.md ("Storage") and the comments in sqlite_sink.cc.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

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

// Files per day. Part of the storage format: an id's shard must not change while copies
// of it can still arrive, so this is a constant, not a setting.
inline constexpr int kDayShards = 4;

// The shard (0 .. kDayShards-1) that stores event id `id`: FNV-1a 64 of its bytes, modulo
// kDayShards. Stable across builds and machines.
int ShardOfId(std::string_view id);

// "events-2024-01-31.db" (shard 0) or "events-2024-01-31.2.db" (shard 2) for the UTC day
// holding `time_ns`.
std::string DayFileName(int64_t time_ns, int shard = 0);
// The UTC day index (days since 1970-01-01) named by "events-YYYY-MM-DD.db" or
// "events-YYYY-MM-DD.<shard>.db"; -1 if the name is not a day file. `shard`, when not
// null, receives the shard number.
int64_t DayFromFileName(const std::string& name, int* shard = nullptr);

class SqliteSink final : public EventSink {
 public:
  // REQUIRES: cfg.dir is set. Creates the directory and applies retention. `clock` (not
  // owned, outlives the sink) decides which day files are past retention. A write waits
  // up to `busy_timeout` for another writer's lock before failing Retryable.
  static Result<std::unique_ptr<SqliteSink>> Open(const SqliteSinkConfig& cfg,
                                                  const Clock& clock = SystemClock(),
                                                  Millis busy_timeout = Millis(5000));
  ~SqliteSink() override;

  // Inserts `events` with INSERT OR IGNORE, one transaction per (day, shard) file touched;
  // Ok only after every COMMIT. Files another writer holds are skipped and come back to
  // after the others; when every file left is taken they are polled (every 200 us) for up
  // to busy_timeout, then the write fails Retryable. An id
  // already stored counts as a duplicate (and as stored). On a failure the files committed
  // before it stay committed; a retry re-inserts them as duplicates. Thread-compatible.
  Status Write(std::span<const ParsedEvent> events) override;

  // Deletes the files of days wholly older than retention_days. Called by Open and
  // when the wall-clock day changes during Write.
  Status ApplyRetention();

  uint64_t inserted_total() const { return inserted_total_; }
  uint64_t duplicates_total() const { return duplicates_total_; }
  uint64_t retention_deleted_files_total() const { return retention_deleted_total_; }

 private:
  struct DayDb;
  SqliteSink(SqliteSinkConfig cfg, const Clock& clock, Millis busy_timeout);
  // The open handle of (day, shard), opened (and created) if needed.
  Result<DayDb*> GetDay(int64_t day, int shard);
  // One transaction. A write lock held by another connection sets *busy and returns Ok at
  // once, nothing written.
  Status WriteDay(DayDb* db, std::span<const ParsedEvent* const> events, bool* busy);

  SqliteSinkConfig cfg_;
  const Clock& clock_;
  Millis busy_timeout_;
  // By day * kDayShards + shard: the shards of a few most recent days kept open.
  std::map<int64_t, std::unique_ptr<DayDb>> open_;
  unsigned next_start_ = 0;  // which file of a batch to try first (rotates, seeded by pid)
  std::string fields_buf_, tags_buf_;
  int64_t retention_checked_day_ = -1;
  uint64_t inserted_total_ = 0;
  uint64_t duplicates_total_ = 0;
  uint64_t retention_deleted_total_ = 0;
};

}  // namespace logship::sqlite

namespace logship {
using sqlite::SqliteSink;
}  // namespace logship
