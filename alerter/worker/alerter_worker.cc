#include "alerter/worker/alerter_worker.h"

#include <spdlog/spdlog.h>

namespace logship {

AlerterWorker::AlerterWorker(alerter::Alerter* alerter, SampleConsumer* input, alerter::Scraper* scraper)
    : alerter_(alerter), input_(input), scraper_(scraper) {}

AlerterWorker::~AlerterWorker() { Stop(); }

void AlerterWorker::Start() { thread_ = std::thread([this] { Loop(); }); }

void AlerterWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

alerter::AlerterStats AlerterWorker::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alerter_->stats();
}

std::vector<alerter::PageRecord> AlerterWorker::pages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alerter_->pages_sent();
}

void AlerterWorker::Loop() {
  Millis backoff(100);
  std::vector<Sample> samples;
  alerter::ScrapedSamples scraped;
  // Scraped samples are ingested whether or not the queue answers.
  auto ingest_scraped = [&] {
    if (scraper_ == nullptr) return;
    scraped.clear();
    scraper_->TakeSamples(&scraped);
    if (scraped.samples.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    alerter_->Ingest(scraped.samples, scraped.cumulative);
    alerter_->Evaluate();
  };
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    auto polled = input_->Poll(10000, Millis(200));
    ingest_scraped();
    if (!polled.ok()) {
      spdlog::warn("alerter: reading samples failed ({}); retrying in {} ms", polled.status().ToString(),
                   backoff.count());
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, backoff, [this] { return stopping_; });
      backoff = std::min(backoff * 2, Millis(5000));
      continue;
    }
    backoff = Millis(100);
    if (polled->empty()) {
      idle_.store(true);  // the queue's samples are all handled (scrapes never end)
      continue;
    }
    idle_.store(false);
    samples.clear();
    for (auto& d : *polled) samples.push_back(std::move(d.value));
    {
      std::lock_guard<std::mutex> lock(mu_);
      alerter_->Ingest(samples);
      alerter_->Evaluate();
    }
    if (Status s = input_->Ack(*polled); !s.ok()) {
      spdlog::warn("alerter: acknowledging {} samples failed: {}", polled->size(), s.ToString());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  alerter_->Evaluate();
}

}  // namespace logship
