// Metrics of the Redis stream queue, one set of series per stream (STYLE.md habit 10).
#pragma once

#include <string>

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace logship {

// Counters for one stream; the families are registered once per process in
// MetricsRegistry(). Pointers stay valid for the life of the process. Thread-safe.
struct RedisStreamProbe {
  prometheus::Counter* sent_events;       // logship_redis_stream_sent_events_total
  prometheus::Counter* received_events;   // logship_redis_stream_received_events_total
  prometheus::Counter* sent_bytes;        // logship_redis_stream_bytes_total{direction="out"}
  prometheus::Counter* received_bytes;    // logship_redis_stream_bytes_total{direction="in"}
  prometheus::Counter* retryable_errors;  // logship_redis_stream_errors_total{kind="retryable"}
  prometheus::Counter* permanent_errors;  // logship_redis_stream_errors_total{kind="permanent"}
  prometheus::Counter* undecodable;       // logship_redis_stream_undecodable_entries_total
  prometheus::Counter* dropped;           // logship_redis_stream_dropped_events_total

  static RedisStreamProbe ForStream(const std::string& stream);
  // Counts a non-Ok status as a retryable or permanent error.
  void CountError(bool retryable) const;
};

}  // namespace logship
