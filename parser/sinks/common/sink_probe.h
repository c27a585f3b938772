// Metrics of a remote event sink (ClickHouse, Elasticsearch), STYLE.md habit 10: one set of
// series per sink kind, labelled {sink="clickhouse"|"elasticsearch"}.
#pragma once

#include <string>

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace logship::sinks {

// Families are registered once per process in MetricsRegistry(); pointers stay valid for
// the life of the process. Thread-safe.
struct SinkProbe {
  prometheus::Counter* received;          // logship_sink_received_events_total: events given to Write
  prometheus::Counter* sent;              // logship_sink_sent_events_total: events the store confirmed
  prometheus::Counter* bytes;             // logship_sink_bytes_total: request body bytes (uncompressed)
  prometheus::Counter* retryable_errors;  // logship_sink_errors_total{kind="retryable"}
  prometheus::Counter* permanent_errors;  // logship_sink_errors_total{kind="permanent"}
  prometheus::Counter* dropped;           // logship_sink_dropped_events_total: rejected, dead-letter file full
  prometheus::Counter* duplicates;        // logship_sink_duplicate_events_total: id already stored (409)
  prometheus::Counter* dead_lettered;     // logship_sink_dead_lettered_events_total
  prometheus::Counter* requests;          // logship_sink_requests_total: HTTP requests made
  prometheus::Counter* retention_dropped; // logship_sink_retention_dropped_partitions_total

  static SinkProbe For(const std::string& sink);
  // Counts a non-Ok status as a retryable or a permanent error.
  void CountError(bool retryable) const;
};

}  // namespace logship::sinks
