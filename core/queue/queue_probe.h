// Metrics of a queue client, one set of series per system and stream (Redis stream or
// Kafka topic), STYLE.md habit 10.
#pragma once

#include <string>

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace logship {

// Counters for one stream of one system; the families are registered once per process in
// MetricsRegistry(), labelled {system="redis"|"kafka", stream="<name>"}. Pointers stay
// valid for the life of the process. Thread-safe.
struct QueueProbe {
  prometheus::Counter* sent_events;       // logship_queue_sent_events_total (acknowledged by the queue)
  prometheus::Counter* received_events;   // logship_queue_received_events_total
  prometheus::Counter* sent_bytes;        // logship_queue_bytes_total{direction="out"}
  prometheus::Counter* received_bytes;    // logship_queue_bytes_total{direction="in"}
  prometheus::Counter* retryable_errors;  // logship_queue_errors_total{kind="retryable"}
  prometheus::Counter* permanent_errors;  // logship_queue_errors_total{kind="permanent"}
  prometheus::Counter* undecodable;       // logship_queue_undecodable_entries_total
  prometheus::Counter* dropped;           // logship_queue_dropped_events_total
  // Redis consumer groups only (docs/redis-streams.md):
  prometheus::Counter* claimed;           // logship_queue_claimed_entries_total (XAUTOCLAIM)
  prometheus::Counter* dead_lettered;     // logship_queue_dead_lettered_entries_total
  prometheus::Counter* consumers_removed; // logship_queue_consumers_removed_total (XGROUP DELCONSUMER)
  prometheus::Counter* imported;          // logship_queue_imported_entries_total (list -> stream)

  // `system` is "redis" or "kafka"; `stream` the stream or topic name.
  static QueueProbe For(const std::string& system, const std::string& stream);
  // Counts a non-Ok status as a retryable or permanent error.
  void CountError(bool retryable) const;
};

}  // namespace logship
