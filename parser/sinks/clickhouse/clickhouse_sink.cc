#include "parser/sinks/clickhouse/clickhouse_sink.h"

#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "parser/rules/timestamp.h"
#include "parser/sinks/common/event_encoding.h"

// Table layout (docs/sinks.md, "ClickHouse"). Columns the search reads:
//   day          Date, the UTC day of time_ns (clamped to ClickHouse's Date range): the
//                partition, so retention and time ranges work on whole days
//   time_ns      Int64 event time; `time` (DateTime) is derived for people querying by hand
//   id, host, source, type, offset, raw   as in the event; raw keeps every byte
//   fields       the fields as a JSON object (what search prints)
//   tags         Array(String)
//   field_names / field_values   every field as text, parallel arrays: field:value, globs
//   num_names / num_values       fields holding a number (typed, or text that is all a
//                                number) as Float64: field>=N comparisons
// ClickHouse 18.16 has no JSON functions that could query `fields` exactly (JSONExtract
// came in 19.6), hence the arrays, queried with arrayExists.

namespace logship::clickhouse {
namespace {

constexpr int64_t kMaxDateDay = 65535;  // Date is UInt16 days: 2149-06-06
constexpr int64_t kRetentionRetryNs = 600LL * 1'000'000'000;

void AppendStringArray(std::string* out, const std::vector<std::string_view>& values) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->push_back(',');
    sinks::AppendJsonString(out, values[i], sinks::Utf8Policy::kKeepBytes);
  }
  out->push_back(']');
}

}  // namespace

std::string CreateTableSql(const std::string& database, const std::string& table) {
  return "CREATE TABLE IF NOT EXISTS " + QuoteIdentifier(database) + "." + QuoteIdentifier(table) +
         " (\n"
         "  `day` Date,\n"
         "  `time_ns` Int64,\n"
         "  `time` DateTime MATERIALIZED toDateTime(intDiv(`time_ns`, 1000000000)),\n"
         "  `id` String,\n"
         "  `host` String,\n"
         "  `source` String,\n"
         "  `type` String,\n"
         "  `offset` UInt64,\n"
         "  `raw` String,\n"
         "  `fields` String,\n"
         "  `tags` Array(String),\n"
         "  `field_names` Array(String),\n"
         "  `field_values` Array(String),\n"
         "  `num_names` Array(String),\n"
         "  `num_values` Array(Float64)\n"
         ") ENGINE = ReplacingMergeTree()\n"
         "PARTITION BY `day`\n"
         "ORDER BY (`host`, `id`)";
}

void AppendRow(const ParsedEvent& pe, std::string* out) {
  using sinks::AppendJsonString;
  using sinks::Utf8Policy;
  const Event& e = pe.event;
  const int64_t day = std::clamp<int64_t>(sinks::UtcDayIndex(e.time_ns), 0, kMaxDateDay);
  *out += "{\"day\":\"" + sinks::FormatDay(day) + "\",\"time_ns\":" + std::to_string(e.time_ns) + ",\"id\":";
  AppendJsonString(out, e.id, Utf8Policy::kKeepBytes);
  *out += ",\"host\":";
  AppendJsonString(out, e.host, Utf8Policy::kKeepBytes);
  *out += ",\"source\":";
  AppendJsonString(out, e.source, Utf8Policy::kKeepBytes);
  *out += ",\"type\":";
  AppendJsonString(out, e.type, Utf8Policy::kKeepBytes);
  *out += ",\"offset\":" + std::to_string(e.offset) + ",\"raw\":";
  AppendJsonString(out, e.raw, Utf8Policy::kKeepBytes);
  *out += ",\"fields\":";
  AppendJsonString(out, sinks::FieldsJson(pe), Utf8Policy::kKeepBytes);
  *out += ",\"tags\":";
  AppendStringArray(out, std::vector<std::string_view>(pe.tags.begin(), pe.tags.end()));

  const std::vector<Field> fields = sinks::StoredFields(pe);
  std::vector<std::string> texts;
  texts.reserve(fields.size());
  std::vector<std::string_view> names, values, num_names;
  std::vector<double> nums;
  for (const Field& f : fields) {
    double num = 0;
    bool is_num = false;
    if (const auto* s = std::get_if<std::string>(&f.value)) {
      texts.push_back(*s);
      is_num = sinks::ParseNumber(*s, &num);
    } else if (const auto* i = std::get_if<int64_t>(&f.value)) {
      texts.push_back(std::to_string(*i));
      num = static_cast<double>(*i);
      is_num = true;
    } else {
      double d = std::get<double>(f.value);
      is_num = std::isfinite(d);
      texts.push_back(is_num ? sinks::FormatDouble(d) : (std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf")));
      num = d;
    }
    if (is_num) {
      num_names.push_back(f.name);
      nums.push_back(num);
    }
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    names.push_back(fields[i].name);
    values.push_back(texts[i]);
  }
  *out += ",\"field_names\":";
  AppendStringArray(out, names);
  *out += ",\"field_values\":";
  AppendStringArray(out, values);
  *out += ",\"num_names\":";
  AppendStringArray(out, num_names);
  *out += ",\"num_values\":[";
  for (size_t i = 0; i < nums.size(); ++i) {
    if (i > 0) out->push_back(',');
    *out += sinks::FormatDouble(nums[i]);
  }
  *out += "]}\n";
}

ClickHouseSink::ClickHouseSink(const ClickHouseSinkConfig& config, const Clock& clock)
    : config_(config),
      clock_(clock),
      client_(config),
      probe_(sinks::SinkProbe::For("clickhouse")),
      insert_sql_("INSERT INTO " + QuoteIdentifier(config.database) + "." + QuoteIdentifier(config.table) +
                  " FORMAT JSONEachRow") {}

Result<std::unique_ptr<ClickHouseSink>> ClickHouseSink::Create(const ClickHouseSinkConfig& config,
                                                               const Clock& clock) {
  if (config.url.empty()) return Status::InvalidArgument("clickhouse sink: url is not set");
  return std::unique_ptr<ClickHouseSink>(new ClickHouseSink(config, clock));
}

Status ClickHouseSink::EnsureTable() {
  probe_.requests->Increment(2);
  auto db = client_.Query("CREATE DATABASE IF NOT EXISTS " + QuoteIdentifier(config_.database));
  if (!db.ok()) {
    probe_.CountError(db.status().retryable());
    return db.status();
  }
  auto table = client_.Query(CreateTableSql(config_.database, config_.table));
  if (!table.ok()) {
    probe_.CountError(table.status().retryable());
    return table.status();
  }
  table_ready_ = true;
  return Status::Ok();
}

Status ClickHouseSink::ApplyRetention() {
  const int64_t today = sinks::UtcDayIndex(clock_.NowNs());
  if (config_.retention_days <= 0) {
    retention_checked_day_ = today;
    return Status::Ok();
  }
  probe_.requests->Increment();
  auto parts = client_.Query("SELECT DISTINCT toString(`partition`) FROM system.parts WHERE `database` = " +
                             QuoteString(config_.database) + " AND `table` = " + QuoteString(config_.table) +
                             " AND active FORMAT TabSeparated");
  if (!parts.ok()) {
    probe_.CountError(parts.status().retryable());
    return parts.status().Annotate("retention");
  }
  std::istringstream lines(parts.value());
  std::string line;
  while (std::getline(lines, line)) {
    // A Date partition prints as 2023-11-14 (18.x) or '2023-11-14' (newer servers).
    line.erase(std::remove(line.begin(), line.end(), '\''), line.end());
    int y = 0, m = 0, d = 0;
    if (std::sscanf(line.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3) continue;
    const int64_t day = rules::DaysFromCivil(y, m, d);
    if (day + config_.retention_days > today) continue;
    probe_.requests->Increment();
    auto dropped = client_.Query("ALTER TABLE " + QuoteIdentifier(config_.database) + "." +
                                 QuoteIdentifier(config_.table) + " DROP PARTITION " +
                                 QuoteString(sinks::FormatDay(day)));
    if (!dropped.ok()) {
      probe_.CountError(dropped.status().retryable());
      return dropped.status().Annotate("retention");
    }
    ++partitions_dropped_total_;
    probe_.retention_dropped->Increment();
    spdlog::info("clickhouse: retention dropped partition {} of {}.{}", sinks::FormatDay(day), config_.database,
                 config_.table);
  }
  retention_checked_day_ = today;
  return Status::Ok();
}

Status ClickHouseSink::Flush(const std::string& body, size_t rows) {
  probe_.requests->Increment();
  probe_.bytes->Increment(static_cast<double>(body.size()));
  Status st = client_.Insert(insert_sql_, body);
  if (!st.ok()) {
    probe_.CountError(st.retryable());
    const int code = client_.last_code();
    if (code == 60 || code == 81) table_ready_ = false;  // dropped under us: create it again
    return st;
  }
  ++inserts_total_;
  rows_sent_total_ += rows;
  probe_.sent->Increment(static_cast<double>(rows));
  return Status::Ok();
}

Status ClickHouseSink::Write(std::span<const ParsedEvent> events) {
  if (!table_ready_) LOGSHIP_RETURN_IF_ERROR(EnsureTable());
  const int64_t now = clock_.NowNs();
  if (sinks::UtcDayIndex(now) != retention_checked_day_ && now >= retention_retry_after_ns_) {
    // Retention must not hold up ingestion: log, count and try again in a while.
    if (Status st = ApplyRetention(); !st.ok()) {
      retention_retry_after_ns_ = now + kRetentionRetryNs;
      spdlog::warn("clickhouse: {}", st.ToString());
    }
  }
  if (events.empty()) return Status::Ok();
  probe_.received->Increment(static_cast<double>(events.size()));
  std::string body, row;
  body.reserve(std::min<uint64_t>(config_.batch_max_bytes, 1 << 20));
  size_t rows = 0;
  for (const ParsedEvent& e : events) {
    row.clear();
    AppendRow(e, &row);
    if (!body.empty() && body.size() + row.size() > config_.batch_max_bytes) {
      LOGSHIP_RETURN_IF_ERROR(Flush(body, rows));
      body.clear();
      rows = 0;
    }
    body += row;
    ++rows;
  }
  if (!body.empty()) LOGSHIP_RETURN_IF_ERROR(Flush(body, rows));
  return Status::Ok();
}

}  // namespace logship::clickhouse
