// Where parsed events are stored. The parser acknowledges the queue only after Write
// returned Ok, so Write must be durable when it returns Ok.
#pragma once

#include <span>

#include "logship/event.h"
#include "logship/status.h"

namespace logship {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Stores `events` durably. An event whose id is already stored is kept once (it counts
  // as stored). Retryable failures are retried by the caller with backoff; nothing is
  // acknowledged upstream until Ok. Thread-compatible.
  virtual Status Write(std::span<const ParsedEvent> events) = 0;
};

}  // namespace logship
