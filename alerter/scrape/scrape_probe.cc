#include "alerter/scrape/scrape_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "logship/metrics.h"

namespace logship::alerter {
namespace {

struct Families {
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Counter>& received;
  prometheus::Family<prometheus::Counter>& bytes;
  prometheus::Family<prometheus::Counter>& errors;
  prometheus::Family<prometheus::Counter>& dropped;
  prometheus::Family<prometheus::Gauge>& up;
  prometheus::Family<prometheus::Gauge>& duration;
};

prometheus::Family<prometheus::Counter>& CounterFamily(const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(MetricsRegistry());
}
prometheus::Family<prometheus::Gauge>& GaugeFamily(const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(MetricsRegistry());
}

const Families& GetFamilies() {
  static const Families* families = new Families{
      CounterFamily("logship_scrape_requests_total", "Scrapes attempted, by target"),
      CounterFamily("logship_scrape_received_samples_total", "Samples taken from successful scrapes"),
      CounterFamily("logship_scrape_bytes_total", "Scraped page bytes (after decompression)"),
      CounterFamily("logship_scrape_errors_total",
                    "Failed scrapes by kind (connect, timeout, tls, http, transfer, body_too_large, parse, "
                    "sample_limit)"),
      CounterFamily("logship_scrape_dropped_samples_total",
                    "Scraped samples dropped because the alerter was not taking them (buffer_full)"),
      GaugeFamily("logship_scrape_up", "1 when the target's last scrape succeeded, else 0"),
      GaugeFamily("logship_scrape_duration_seconds", "Duration of the target's last scrape"),
  };
  return *families;
}

}  // namespace

ScrapeProbe ScrapeProbe::For(const std::string& job, const std::string& instance) {
  const Families& f = GetFamilies();
  prometheus::Labels l{{"job", job}, {"instance", instance}};
  prometheus::Labels dropped = l;
  dropped["reason"] = "buffer_full";
  return ScrapeProbe{&f.requests.Add(l), &f.received.Add(l), &f.bytes.Add(l), &f.dropped.Add(dropped),
                     &f.up.Add(l),       &f.duration.Add(l), job,            instance};
}

void ScrapeProbe::CountError(const std::string& kind) const {
  GetFamilies().errors.Add({{"job", job}, {"instance", instance}, {"kind", kind}}).Increment();
}

}  // namespace logship::alerter
