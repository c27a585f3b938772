#include "core/queue/queue_probe.h"

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
  prometheus::Family<prometheus::Counter>& claimed;
  prometheus::Family<prometheus::Counter>& dead_lettered;
  prometheus::Family<prometheus::Counter>& consumers_removed;
  prometheus::Family<prometheus::Counter>& imported;
};

prometheus::Family<prometheus::Counter>& Family(const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(MetricsRegistry());
}

const Families& GetFamilies() {
  static const Families* families = new Families{
      Family("logship_queue_sent_events_total",
             "Events (or sample batches) the queue acknowledged (Redis XADD reply, Kafka delivery report)"),
      Family("logship_queue_received_events_total", "Entries or messages consumed"),
      Family("logship_queue_bytes_total", "Bytes written (out) and read (in)"),
      Family("logship_queue_errors_total", "Failed queue calls by kind (retryable, permanent)"),
      Family("logship_queue_undecodable_entries_total",
             "Entries that did not decode (events: delivered as _undecodable; samples: acknowledged)"),
      Family("logship_queue_dropped_events_total",
             "Entries acknowledged without delivery (undecodable sample batches, deleted entries)"),
      Family("logship_queue_claimed_entries_total",
             "Pending entries of idle (dead) consumers claimed by this consumer (Redis XAUTOCLAIM)"),
      Family("logship_queue_dead_lettered_entries_total",
             "Entries moved to the dead-letter stream after too many deliveries without acknowledgement"),
      Family("logship_queue_consumers_removed_total",
             "Consumers removed from the group after being idle long with nothing pending"),
      Family("logship_queue_imported_entries_total",
             "Plain-text list items (rsyslog omhiredis queue mode) moved into the stream"),
  };
  return *families;
}

}  // namespace

QueueProbe QueueProbe::For(const std::string& system, const std::string& stream) {
  const Families& f = GetFamilies();
  return QueueProbe{
      &f.sent.Add({{"system", system}, {"stream", stream}}),
      &f.received.Add({{"system", system}, {"stream", stream}}),
      &f.bytes.Add({{"system", system}, {"stream", stream}, {"direction", "out"}}),
      &f.bytes.Add({{"system", system}, {"stream", stream}, {"direction", "in"}}),
      &f.errors.Add({{"system", system}, {"stream", stream}, {"kind", "retryable"}}),
      &f.errors.Add({{"system", system}, {"stream", stream}, {"kind", "permanent"}}),
      &f.undecodable.Add({{"system", system}, {"stream", stream}}),
      &f.dropped.Add({{"system", system}, {"stream", stream}}),
      &f.claimed.Add({{"system", system}, {"stream", stream}}),
      &f.dead_lettered.Add({{"system", system}, {"stream", stream}}),
      &f.consumers_removed.Add({{"system", system}, {"stream", stream}}),
      &f.imported.Add({{"system", system}, {"stream", stream}}),
  };
}

void QueueProbe::CountError(bool retryable) const {
  (retryable ? retryable_errors : permanent_errors)->Increment();
}

}  // namespace logship
