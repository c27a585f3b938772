#include "shipper/shipper.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "core/util/fs.h"
#include "logship/metrics.h"
#include "shipper/hostmetrics/host_metrics.h"
#include "shipper/tail/checkpoint_store.h"
#include "shipper/tail/file_tailer.h"

namespace logship {

// The shipper's metrics, registered once per process.
class Shipper::Probe {
 public:
  Probe()
      : received_(prometheus::BuildCounter().Name("logship_shipper_received_events_total")
                      .Help("Lines read from files").Register(MetricsRegistry()).Add({})),
        sent_(prometheus::BuildCounter().Name("logship_shipper_sent_events_total")
                  .Help("Events acknowledged by the queue").Register(MetricsRegistry()).Add({})),
        bytes_(prometheus::BuildCounter().Name("logship_shipper_bytes_total")
                   .Help("Bytes of lines acknowledged by the queue").Register(MetricsRegistry()).Add({})),
        errors_(prometheus::BuildCounter().Name("logship_shipper_errors_total")
                    .Help("Errors by kind").Register(MetricsRegistry())),
        dropped_(prometheus::BuildCounter().Name("logship_shipper_dropped_events_total")
                     .Help("Host metric samples dropped after the queue refused them").Register(MetricsRegistry())
                     .Add({})),
        split_(prometheus::BuildCounter().Name("logship_shipper_split_lines_total")
                   .Help("Pieces cut from lines longer than max_line_bytes").Register(MetricsRegistry()).Add({})),
        gauges_(prometheus::BuildGauge().Name("logship_shipper_files").Help("Files by state")
                    .Register(MetricsRegistry())),
        lag_(prometheus::BuildGauge().Name("logship_shipper_lag_bytes").Help("Unread bytes over all files")
                 .Register(MetricsRegistry()).Add({})),
        publish_errors_(errors_.Add({{"kind", "publish"}})),
        checkpoint_errors_(errors_.Add({{"kind", "checkpoint"}})),
        file_errors_(errors_.Add({{"kind", "file"}})),
        open_(gauges_.Add({{"state", "open"}})),
        draining_(gauges_.Add({{"state", "draining"}})) {}

  prometheus::Counter& received_;
  prometheus::Counter& sent_;
  prometheus::Counter& bytes_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Counter& dropped_;
  prometheus::Counter& split_;
  prometheus::Family<prometheus::Gauge>& gauges_;
  prometheus::Gauge& lag_;
  prometheus::Counter& publish_errors_;
  prometheus::Counter& checkpoint_errors_;
  prometheus::Counter& file_errors_;
  prometheus::Gauge& open_;
  prometheus::Gauge& draining_;
};

Shipper::Shipper(Config config, EventProducer* events, SampleProducer* samples, const Clock& clock)
    : config_(std::move(config)), events_(events), samples_(samples), clock_(clock), probe_(std::make_unique<Probe>()) {}

Shipper::~Shipper() { Stop(); }

Status Shipper::Start() {
  LOGSHIP_RETURN_IF_ERROR(MakeDirs(config_.data_dir));
  tail_thread_ = std::thread([this] { TailLoop(); });
  if (samples_ != nullptr && config_.shipper.host_metrics.enabled) {
    metrics_thread_ = std::thread([this] { HostMetricsLoop(); });
  }
  return Status::Ok();
}

void Shipper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (tail_thread_.joinable()) tail_thread_.join();
  if (metrics_thread_.joinable()) metrics_thread_.join();
}

ShipperStats Shipper::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool Shipper::WaitFor(Millis d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

void Shipper::TailLoop() {
  CheckpointStore checkpoints(config_.data_dir + "/shipper.checkpoints.json");
  if (Status s = checkpoints.Load(); !s.ok()) {
    // A corrupt checkpoint must not be silently replaced by "start over": that would
    // duplicate everything. Stop and let the operator decide.
    spdlog::critical("shipper: {}; move the file away to re-read every file from the start", s.ToString());
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    return;
  }
  FileTailer tailer(config_.shipper.files, config_.host, &checkpoints, clock_);
  std::vector<Event> batch;
  int64_t last_poll_ms = 0;
  TailStats prev{};
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    int64_t now = clock_.NowMs();
    if (now - last_poll_ms >= config_.shipper.poll_interval.count()) {
      tailer.Poll();
      last_poll_ms = now;
    }
    batch.clear();
    size_t n = tailer.ReadBatch(config_.shipper.batch_max_events, config_.shipper.batch_max_bytes, &batch);
    const TailStats& ts = tailer.stats();
    probe_->received_.Increment(static_cast<double>(ts.lines_read - prev.lines_read));
    probe_->split_.Increment(static_cast<double>(ts.lines_split - prev.lines_split));
    probe_->file_errors_.Increment(static_cast<double>(ts.errors - prev.errors));
    probe_->open_.Set(static_cast<double>(ts.open_files));
    probe_->draining_.Set(static_cast<double>(ts.draining_files));
    probe_->lag_.Set(static_cast<double>(ts.lag_bytes));
    prev = ts;
    if (n == 0) {
      caught_up_.store(tailer.CaughtUp());
      if (!WaitFor(config_.shipper.poll_interval)) return;
      last_poll_ms = 0;  // poll on the next round
      continue;
    }
    caught_up_.store(false);
    uint64_t bytes = 0;
    for (const Event& e : batch) bytes += e.raw.size();
    Millis backoff(100);
    for (;;) {
      Status s = events_->Publish(batch);
      if (s.ok()) break;
      if (s.code() == StatusCode::kCancelled) return;
      probe_->publish_errors_.Increment();
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.publish_retries;
      }
      spdlog::warn("shipper: publishing {} events failed ({}); retrying in {} ms", batch.size(), s.ToString(),
                   backoff.count());
      // Stopping here abandons the batch: its checkpoint did not advance, so the next
      // start reads it again.
      if (!WaitFor(backoff)) return;
      backoff = std::min(backoff * 2, Millis(5000));
    }
    if (Status s = tailer.Commit(); !s.ok()) {
      probe_->checkpoint_errors_.Increment();
      spdlog::error("shipper: saving checkpoints: {}", s.ToString());
    }
    probe_->sent_.Increment(static_cast<double>(batch.size()));
    probe_->bytes_.Increment(static_cast<double>(bytes));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.events_sent += batch.size();
    stats_.bytes_sent += bytes;
    stats_.lines_split = tailer.stats().lines_split;
  }
}

void Shipper::HostMetricsLoop() {
  HostMetricsCollector collector(config_.host, clock_);
  collector.Collect();  // the first CPU reading only sets the baseline for the delta
  while (WaitFor(config_.shipper.host_metrics.interval)) {
    std::vector<Sample> samples = collector.Collect();
    Status s;
    for (int attempt = 0; attempt < 3; ++attempt) {
      s = samples_->Publish(samples);
      if (s.ok() || s.code() == StatusCode::kCancelled) break;
      if (!WaitFor(Millis(200 << attempt))) return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (s.ok()) {
      stats_.samples_sent += samples.size();
    } else if (s.code() != StatusCode::kCancelled) {
      // Samples are readings of the present: after three tries they are counted as
      // dropped and the next interval's reading replaces them.
      stats_.samples_dropped += samples.size();
      probe_->dropped_.Increment(static_cast<double>(samples.size()));
      spdlog::warn("shipper: dropped {} host metric samples: {}", samples.size(), s.ToString());
    }
  }
}

}  // namespace logship
