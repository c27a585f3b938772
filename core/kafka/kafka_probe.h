// Metrics of the Kafka queue, one set of series per topic (STYLE.md habit 10).
#pragma once

#include <string>

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace logship {

// Counters for one topic; the families are registered once per process in
// MetricsRegistry(). Pointers stay valid for the life of the process. Thread-safe.
struct KafkaProbe {
  prometheus::Counter* sent_events;       // logship_kafka_sent_events_total (delivery reports Ok)
  prometheus::Counter* received_events;   // logship_kafka_received_events_total
  prometheus::Counter* sent_bytes;        // logship_kafka_bytes_total{direction="out"}
  prometheus::Counter* received_bytes;    // logship_kafka_bytes_total{direction="in"}
  prometheus::Counter* retryable_errors;  // logship_kafka_errors_total{kind="retryable"}
  prometheus::Counter* permanent_errors;  // logship_kafka_errors_total{kind="permanent"}
  prometheus::Counter* undecodable;       // logship_kafka_undecodable_messages_total
  prometheus::Counter* dropped;           // logship_kafka_dropped_events_total

  static KafkaProbe ForTopic(const std::string& topic);
  // Counts a non-Ok status as a retryable or permanent error.
  void CountError(bool retryable) const;
};

}  // namespace logship
