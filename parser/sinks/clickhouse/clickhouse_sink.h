// ClickHouseSink: stores parsed events in ClickHouse over HTTP (docs/sinks.md).
//
// Each Write sends JSONEachRow INSERTs of at most batch_max_bytes into one table:
//
//   ENGINE = ReplacingMergeTree() PARTITION BY day ORDER BY (host, id)
//
// A replayed event (same host and id, hence same day) is merged away by ClickHouse in the
// background; until then a table can hold both copies, so readers deduplicate with FINAL
// (`logship search` does). Retention drops whole day partitions (ALTER TABLE ... DROP
// PARTITION): the Debian server (18.16) predates TTL (19.6).
//
// Lifecycle: Create does no I/O; the first Write creates the database and table (IF NOT
// EXISTS) and applies retention, then again whenever the UTC day changes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/sink.h"
#include "parser/sinks/clickhouse/clickhouse_client.h"
#include "parser/sinks/common/sink_probe.h"

namespace logship::clickhouse {

// The CREATE TABLE statement of the event table (IF NOT EXISTS).
std::string CreateTableSql(const std::string& database, const std::string& table);
// Appends the JSONEachRow line (with its '\n') of one event.
void AppendRow(const ParsedEvent& e, std::string* out);

class ClickHouseSink final : public EventSink {
 public:
  // REQUIRES: config validated (core/config: url scheme, database and table names).
  // `clock` (not owned, outlives the sink) decides which partitions are past retention.
  static Result<std::unique_ptr<ClickHouseSink>> Create(const ClickHouseSinkConfig& config,
                                                        const Clock& clock = SystemClock());

  // Ok only after every INSERT of the batch returned 200 (ClickHouse has written the part;
  // see docs/sinks.md on fsync). On a failure the INSERTs that succeeded stay; the retry
  // sends them again and ReplacingMergeTree keeps one copy. Thread-compatible.
  Status Write(std::span<const ParsedEvent> events) override;
  SinkBatching batching() const override { return {config_.flush_interval}; }

  // CREATE DATABASE / TABLE IF NOT EXISTS.
  Status EnsureTable();
  // Drops the day partitions whose whole day is older than retention_days.
  Status ApplyRetention();

  uint64_t rows_sent_total() const { return rows_sent_total_; }
  uint64_t inserts_total() const { return inserts_total_; }
  uint64_t partitions_dropped_total() const { return partitions_dropped_total_; }

 private:
  ClickHouseSink(const ClickHouseSinkConfig& config, const Clock& clock);
  Status Flush(const std::string& body, size_t rows);

  ClickHouseSinkConfig config_;
  const Clock& clock_;
  ClickHouseClient client_;
  sinks::SinkProbe probe_;
  std::string insert_sql_;
  bool table_ready_ = false;
  int64_t retention_checked_day_ = INT64_MIN;
  int64_t retention_retry_after_ns_ = 0;
  uint64_t rows_sent_total_ = 0;
  uint64_t inserts_total_ = 0;
  uint64_t partitions_dropped_total_ = 0;
};

}  // namespace logship::clickhouse

namespace logship {
using clickhouse::ClickHouseSink;
}  // namespace logship
