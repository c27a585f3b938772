// Where parsed events are stored. The parser acknowledges the queue only after Write
// returned Ok, so Write must be durable when it returns Ok.
#pragma once

#include <chrono>
#include <span>

#include "logship/event.h"
#include "logship/status.h"

namespace logship {

// How a sink wants its batches gathered. Stores that prefer few large writes (ClickHouse:
// about one INSERT a second) ask the caller to keep collecting for `linger` after the first
// event of a batch arrived, or until the batch is full.
struct SinkBatching {
  std::chrono::milliseconds linger{0};  // 0: write whatever one poll returned
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Stores `events` durably. An event whose id is already stored is kept once (it counts
  // as stored). Retryable failures are retried by the caller with backoff; nothing is
  // acknowledged upstream until Ok. Thread-compatible.
  virtual Status Write(std::span<const ParsedEvent> events) = 0;
  // Constant for the sink's lifetime.
  virtual SinkBatching batching() const { return {}; }
};

}  // namespace logship
