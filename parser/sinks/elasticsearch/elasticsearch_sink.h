// ElasticsearchSink: stores parsed events in Elasticsearch or OpenSearch through the
// `_bulk` API (docs/sinks.md, "Elasticsearch / OpenSearch").
//
// Each event is a `create` action with `_id` = the event id, into an index named from the
// event's UTC time (logs-%Y.%m.%d), so a replayed event is refused with 409 and counts as
// stored. Per-item results are read: 2xx and 409 are stored; 429 and 5xx items (or a whole
// request answered 429/5xx, or a connection failure) are retried with exponential backoff
// within the write, up to max_retries, after which Write returns Retryable and the parser
// retries the batch; any other rejected item (400 mapper_parsing_exception, ...) is
// appended to the dead-letter file (JSON lines, fsynced, bounded by dead_letter_max_bytes;
// beyond the bound the event is counted as dropped and logged) and counts as handled.
// 401/403 and other whole-request 4xx are Permanent.
//
// Tested against tests/support/HttpReceiver scripted with Elasticsearch's documented
// response shapes; no Elasticsearch server runs in this project's tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/http/http_client.h"
#include "logship/clock.h"
#include "logship/config.h"
#include "logship/sink.h"
#include "parser/sinks/common/sink_probe.h"

namespace logship::elasticsearch {

// The index for an event time: %Y %m %d %H from UTC, %% a literal %, other text as is.
std::string IndexName(std::string_view pattern, int64_t time_ns);

// The document (_source) of one event, valid UTF-8 JSON:
//   {"@timestamp": RFC 3339 with nanoseconds, "message": the parsed `message` field or else
//    the raw line, "event.original": the raw line (invalid UTF-8 as U+FFFD),
//    "logship.raw_base64": the raw bytes, only when they are not valid UTF-8,
//    "logship.id" / ".host" / ".source" / ".type" / ".offset", "tags": [...],
//    every parsed field under its own (dotted) name}
// A parsed field named @timestamp, event.original, tags or logship[.*] is stored as
// "parsed.<name>" instead.
std::string DocumentJson(const ParsedEvent& e);

enum class ItemOutcome {
  kStored,     // 2xx
  kDuplicate,  // 409: the id is already stored
  kRetry,      // 429 or 5xx
  kReject,     // any other status: dead letter
};
struct ItemResult {
  ItemOutcome outcome = ItemOutcome::kStored;
  int status = 0;
  std::string error;  // the item's "error" object as JSON, "" when none
};
ItemOutcome ClassifyItemStatus(int status);

// Reads a 2xx `_bulk` reply (filtered or not) into one result per action. Corruption when
// it is not JSON or does not hold exactly `expected_items` items.
Result<std::vector<ItemResult>> ParseBulkReply(std::string_view body, size_t expected_items);

class ElasticsearchSink final : public EventSink {
 public:
  // No I/O. REQUIRES: config validated (core/config), dead_letter_path set.
  static Result<std::unique_ptr<ElasticsearchSink>> Create(const ElasticsearchSinkConfig& config,
                                                           const Clock& clock = SystemClock());

  // Thread-compatible. After a failed Write, the events of that batch already stored or
  // dead-lettered are remembered (by id) and skipped when the parser retries the batch.
  Status Write(std::span<const ParsedEvent> events) override;
  SinkBatching batching() const override { return {config_.flush_interval}; }

  uint64_t created_total() const { return created_total_; }
  uint64_t duplicates_total() const { return duplicates_total_; }
  uint64_t dead_lettered_total() const { return dead_lettered_total_; }
  uint64_t dropped_total() const { return dropped_total_; }
  uint64_t requests_total() const { return requests_total_; }

 private:
  struct DeadLetter {
    size_t event;  // index into the batch
    int status;
    std::string error;
  };
  ElasticsearchSink(const ElasticsearchSinkConfig& config, const Clock& clock);
  Status WriteDeadLetters(std::span<const ParsedEvent> events, const std::vector<DeadLetter>& letters,
                          const std::vector<std::string>& docs);

  ElasticsearchSinkConfig config_;
  const Clock& clock_;
  HttpClient http_;
  HttpHeaders headers_;
  std::string bulk_url_;
  sinks::SinkProbe probe_;
  std::unordered_set<std::string> resolved_;  // ids handled by the last, failed Write
  uint64_t created_total_ = 0;
  uint64_t duplicates_total_ = 0;
  uint64_t dead_lettered_total_ = 0;
  uint64_t dropped_total_ = 0;
  uint64_t requests_total_ = 0;
};

}  // namespace logship::elasticsearch

namespace logship {
using elasticsearch::ElasticsearchSink;
}  // namespace logship
