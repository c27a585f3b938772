#include "parser/sinks/common/sink_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "logship/metrics.h"

namespace logship::sinks {
namespace {

using CounterFamily = prometheus::Family<prometheus::Counter>;

CounterFamily& Family(const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(MetricsRegistry());
}

struct Families {
  CounterFamily& received = Family("logship_sink_received_events_total", "Events handed to the sink's Write");
  CounterFamily& sent = Family("logship_sink_sent_events_total",
                               "Events the store confirmed (new, already stored, or dead-lettered)");
  CounterFamily& bytes = Family("logship_sink_bytes_total", "Request body bytes sent (before compression)");
  CounterFamily& errors = Family("logship_sink_errors_total", "Failed requests by kind (retryable, permanent)");
  CounterFamily& dropped = Family("logship_sink_dropped_events_total",
                                  "Events the store rejected that could not be dead-lettered (file full)");
  CounterFamily& duplicates =
      Family("logship_sink_duplicate_events_total", "Events whose id was already stored (Elasticsearch 409)");
  CounterFamily& dead_lettered =
      Family("logship_sink_dead_lettered_events_total", "Events the store rejected, written to the dead-letter file");
  CounterFamily& requests = Family("logship_sink_requests_total", "HTTP requests made to the store");
  CounterFamily& retention = Family("logship_sink_retention_dropped_partitions_total",
                                    "Day partitions dropped by retention (ClickHouse)");
};

const Families& GetFamilies() {
  static const Families* families = new Families();
  return *families;
}

}  // namespace

SinkProbe SinkProbe::For(const std::string& sink) {
  const Families& f = GetFamilies();
  prometheus::Labels l{{"sink", sink}};
  return SinkProbe{
      &f.received.Add(l),
      &f.sent.Add(l),
      &f.bytes.Add(l),
      &f.errors.Add({{"sink", sink}, {"kind", "retryable"}}),
      &f.errors.Add({{"sink", sink}, {"kind", "permanent"}}),
      &f.dropped.Add(l),
      &f.duplicates.Add(l),
      &f.dead_lettered.Add(l),
      &f.requests.Add(l),
      &f.retention.Add(l),
  };
}

void SinkProbe::CountError(bool retryable) const {
  (retryable ? retryable_errors : permanent_errors)->Increment();
}

}  // namespace logship::sinks
