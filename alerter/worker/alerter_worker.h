// AlerterWorker: the alerter daemon's loop. Takes metric samples from the queue (and from
// the scrape targets, when a Scraper is given), feeds them to the Alerter, evaluates, and
// acknowledges the queue's samples once they are ingested.
//
// Lifecycle: construct (no I/O) -> Start -> Stop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "alerter/alerter.h"
#include "alerter/scrape/scraper.h"
#include "logship/queue.h"

namespace logship {

class AlerterWorker {
 public:
  // `alerter`, `input` and `scraper` (optional) must outlive the worker. Scraped samples
  // are taken after each poll of the queue (at most every 200 ms).
  AlerterWorker(alerter::Alerter* alerter, SampleConsumer* input, alerter::Scraper* scraper = nullptr);
  ~AlerterWorker();

  void Start();
  void Stop();  // idempotent; evaluates once more with what was received

  bool Idle() const { return idle_.load(); }
  // Copies of the alerter's counters, safe from any thread.
  alerter::AlerterStats stats() const;
  std::vector<alerter::PageRecord> pages() const;

 private:
  void Loop();

  alerter::Alerter* alerter_;
  SampleConsumer* input_;
  alerter::Scraper* scraper_;
  mutable std::mutex mu_;  // guards alerter_ calls
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::atomic<bool> idle_{false};
  std::thread thread_;
};

}  // namespace logship
