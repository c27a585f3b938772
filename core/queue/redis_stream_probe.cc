#include "core/queue/redis_stream_probe.h"

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
            .Name("logship_redis_stream_sent_events_total")
            .Help("Events (or sample batches) acknowledged by Redis on XADD")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_redis_stream_received_events_total")
            .Help("Stream entries read with XREADGROUP")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_redis_stream_bytes_total")
            .Help("Field bytes written (out) and read (in)")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_redis_stream_errors_total")
            .Help("Failed Redis calls by kind (retryable, permanent)")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_redis_stream_undecodable_entries_total")
            .Help("Entries that did not decode (events: delivered as _undecodable; samples: acked)")
            .Register(r),
        prometheus::BuildCounter()
            .Name("logship_redis_stream_dropped_events_total")
            .Help("Entries acknowledged without delivery (undecodable samples, deleted entries)")
            .Register(r),
    };
  }();
  return *families;
}

}  // namespace

RedisStreamProbe RedisStreamProbe::ForStream(const std::string& stream) {
  const Families& f = GetFamilies();
  return RedisStreamProbe{
      &f.sent.Add({{"stream", stream}}),
      &f.received.Add({{"stream", stream}}),
      &f.bytes.Add({{"stream", stream}, {"direction", "out"}}),
      &f.bytes.Add({{"stream", stream}, {"direction", "in"}}),
      &f.errors.Add({{"stream", stream}, {"kind", "retryable"}}),
      &f.errors.Add({{"stream", stream}, {"kind", "permanent"}}),
      &f.undecodable.Add({{"stream", stream}}),
      &f.dropped.Add({{"stream", stream}}),
  };
}

void RedisStreamProbe::CountError(bool retryable) const {
  (retryable ? retryable_errors : permanent_errors)->Increment();
}

}  // namespace logship
