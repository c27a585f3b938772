#include "core/kafka/kafka_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "logship/metrics.h"

namespace logship {
namespace {

struct Families {
  prometheus::Family<prometheus::Counter>& sent;
  prometheus::Family<prometheus::Counter>& received;
  prometheus::Family<prometheus::Counter>& bytes;
  prometheus::Family<prometheus::Counter>& errors;
  prometheus::Family<prometheus::Counter>& undecodable;
  prometheus::Family<prometheus::Counter>& dropped;
};

const Families& GetFamilies() {
  static const Families* families = [] {
    auto& r = MetricsRegistry();
    return new Families{
        prometheus::BuildCounter()
            .Name("logship_kafka_sent_events_total")
            .Help("Events (or sample batches) whose delivery report was Ok")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_kafka_received_events_total")
            .Help("Messages consumed")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_kafka_bytes_total")
            .Help("Key, header and value bytes produced (out) and consumed (in)")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_kafka_errors_total")
            .Help("Failed Kafka calls by kind (retryable, permanent)")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_kafka_undecodable_messages_total")
            .Help("Messages that did not decode (events: delivered as _undecodable; samples: acked)")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_kafka_dropped_events_total")
            .Help("Messages acknowledged without delivery (undecodable sample batches)")
            .Register(r),
    };
  }();
  return *families;
}

}  // namespace

KafkaProbe KafkaProbe::ForTopic(const std::string& topic) {
  const Families& f = GetFamilies();
  return KafkaProbe{
      &f.sent.Add({{"topic", topic}}),
      &f.received.Add({{"topic", topic}}),
      &f.bytes.Add({{"topic", topic}, {"direction", "out"}}),
      &f.bytes.Add({{"topic", topic}, {"direction", "in"}}),
      &f.errors.Add({{"topic", topic}, {"kind", "retryable"}}),
      &f.errors.Add({{"topic", topic}, {"kind", "permanent"}}),
      &f.undecodable.Add({{"topic", topic}}),
      &f.dropped.Add({{"topic", topic}}),
  };
}

void KafkaProbe::CountError(bool retryable) const {
  (retryable ? retryable_errors : permanent_errors)->Increment();
}

}  // namespace logship
