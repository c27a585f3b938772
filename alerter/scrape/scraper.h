// Scraper: pulls Prometheus text-format pages (node_exporter, any /metrics endpoint) from
// the targets in `alerter.scrape` and hands their samples to the alerter, which evaluates
// them with the same rules as queue samples (docs/alerting.md, "Scrape targets").
//
// Per target and scrape, like Prometheus:
//   - every sample gets the target labels `job`, `instance` (the URL's host:port) and the
//     configured extra labels; a scraped label of the same name is kept as exported_<name>;
//   - samples without a timestamp get the scrape's start time (wall clock, ms);
//   - health samples: up (1 or 0), scrape_duration_seconds, scrape_samples_scraped;
//   - a failed scrape (connect error, timeout, TLS, HTTP status, unparsable page, body or
//     sample limit exceeded) yields no scraped samples, up 0, and one count in
//     logship_scrape_errors_total{job,kind}; nothing throws and nothing stops the others.
// Counters (TYPE counter, histogram _bucket/_count/_sum, summary _count/_sum) are flagged
// cumulative, so rate()/increase() read them with reset handling.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/http/http_client.h"
#include "logship/clock.h"
#include "logship/config.h"
#include "logship/event.h"
#include "logship/status.h"

namespace logship::alerter {

// A target compiled from its config: immutable, shared by its scrape thread.
struct ScrapeTarget {
  ScrapeTargetConfig config;
  std::string instance;  // the `instance` label
  Labels labels;         // job, instance and the extra labels, sorted by name
};

// Validates the URL and builds the target labels.
Result<ScrapeTarget> MakeScrapeTarget(const ScrapeTargetConfig& config);

// Samples, and which of them are cumulative counters (parallel vectors).
struct ScrapedSamples {
  std::vector<Sample> samples;
  std::vector<uint8_t> cumulative;
  void clear() {
    samples.clear();
    cumulative.clear();
  }
};

// The outcome of one scrape.
struct ScrapeResult {
  ScrapedSamples scraped;  // the target's samples with target labels (empty when !up)
  bool up = false;
  // When !up: connect, timeout, tls, http, transfer, body_too_large, parse, sample_limit.
  std::string error_kind;
  std::string error;  // what went wrong (URL without its query; never the token)
  double duration_seconds = 0;
  size_t body_bytes = 0;
};

// The HTTP client options a target's config asks for (TLS files and checks, body limit,
// compression).
HttpClient::Options ScrapeClientOptions(const ScrapeTargetConfig& config);

// Scrapes `target` once through `http` (made with ScrapeClientOptions(target.config), or
// the TLS settings and body limit may differ). `start_ms` is the time stamped on samples
// that carry none. Never throws.
ScrapeResult ScrapeOnce(HttpClient& http, const ScrapeTarget& target, int64_t start_ms);

// Adds `target` labels (sorted) to scraped `labels` (sorted): target labels win, a
// scraped label with a target label's name is renamed exported_<name> (repeatedly
// prefixed until free). Labels stay sorted.
void ApplyTargetLabels(const Labels& target, Labels& labels);

// The health samples of one scrape: up, scrape_duration_seconds, scrape_samples_scraped.
void AppendHealthSamples(const ScrapeTarget& target, const ScrapeResult& result, int64_t start_ms,
                         ScrapedSamples* out);

struct ScraperOptions {
  const Clock* clock = &SystemClock();
  // Scraped samples waiting for TakeSamples(). A scrape that does not fit is dropped
  // whole and counted (logship_scrape_dropped_samples_total{reason="buffer_full"}).
  size_t max_buffered_samples = 1'000'000;
};

// Scrapes every target on its own thread at a fixed rate (the first scrape at Start(); a
// scrape slower than the interval skips the missed slots). Lifecycle: Create (no I/O) ->
// Start -> Stop. Thread-safe: TakeSamples() may be called from any thread.
class Scraper {
 public:
  static Result<std::unique_ptr<Scraper>> Create(const std::vector<ScrapeTargetConfig>& targets,
                                                 ScraperOptions options = {});
  ~Scraper();  // Stop()s
  Scraper(const Scraper&) = delete;
  Scraper& operator=(const Scraper&) = delete;

  void Start();
  void Stop();  // idempotent; waits for scrapes in flight (at most one timeout)

  // Appends what was scraped since the last call to `out`, oldest first.
  void TakeSamples(ScrapedSamples* out);

  size_t target_count() const { return targets_.size(); }
  uint64_t scrapes_completed() const;  // successful or not (tests poll this)

 private:
  explicit Scraper(std::vector<ScrapeTarget> targets, ScraperOptions options);
  void Loop(size_t index);

  std::vector<ScrapeTarget> targets_;
  ScraperOptions options_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;     // GUARDED_BY(mu_)
  ScrapedSamples buffer_;     // GUARDED_BY(mu_)
  uint64_t completed_ = 0;    // GUARDED_BY(mu_)
};

}  // namespace logship::alerter
