// Metrics of the scrape input (STYLE.md habit 10), registered once in MetricsRegistry(),
// one set of series per target, labelled {job, instance}:
//   logship_scrape_requests_total             scrapes attempted
//   logship_scrape_received_samples_total     samples taken from successful scrapes
//   logship_scrape_bytes_total                page bytes read (after decompression)
//   logship_scrape_errors_total{kind}         failed scrapes: connect, timeout, tls, http,
//                                             transfer, body_too_large, parse, sample_limit
//   logship_scrape_dropped_samples_total{reason="buffer_full"}  scrapes the alerter had
//                                             no room for (it is not taking samples)
//   logship_scrape_up                         1 after a successful scrape, else 0 (gauge)
//   logship_scrape_duration_seconds           the last scrape's duration (gauge)
#pragma once

#include <string>

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace logship::alerter {

// Pointers stay valid for the life of the process. Thread-safe.
struct ScrapeProbe {
  prometheus::Counter* requests;
  prometheus::Counter* received_samples;
  prometheus::Counter* bytes;
  prometheus::Counter* dropped_samples;
  prometheus::Gauge* up;
  prometheus::Gauge* duration;
  std::string job, instance;

  static ScrapeProbe For(const std::string& job, const std::string& instance);
  void CountError(const std::string& kind) const;  // logship_scrape_errors_total{kind}
};

}  // namespace logship::alerter
