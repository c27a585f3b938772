#include "shipper/shipper.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <functional>

#include "core/util/fs.h"
#include "logship/metrics.h"
#include "shipper/hostmetrics/check_command.h"
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
        held_released_(errors_.Add({{"kind", "held_file_released_unfinished"}})),
        open_(gauges_.Add({{"state", "open"}})),
        draining_(gauges_.Add({{"state", "draining"}})),
        waiting_(gauges_.Add({{"state", "waiting"}})) {}

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
  prometheus::Counter& held_released_;
  prometheus::Gauge& open_;
  prometheus::Gauge& draining_;
  prometheus::Gauge& waiting_;
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
    if (tailer_ != nullptr) tailer_->Interrupt();
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
  FileTailerOptions options;
  options.max_open_files = config_.shipper.max_open_files;
  options.max_hold = config_.shipper.max_hold;
  options.inotify = config_.shipper.inotify;
  FileTailer tailer(config_.shipper.files, config_.host, &checkpoints, clock_, options);
  {
    std::lock_guard<std::mutex> lock(mu_);
    tailer_ = &tailer;
  }
  struct Unpublish {
    Shipper* s;
    ~Unpublish() {
      std::lock_guard<std::mutex> lock(s->mu_);
      s->tailer_ = nullptr;
    }
  } unpublish{this};
  // Checkpoints are saved (fsync, rename) at most every checkpoint_interval under load,
  // at once when the files are caught up, and on the way out; in between the on-disk
  // offsets lag what was acknowledged, never lead it.
  int64_t last_save_ms = clock_.NowMs();
  bool unsaved = false;
  auto save = [&] {
    if (Status s = checkpoints.Save(); !s.ok()) {
      probe_->checkpoint_errors_.Increment();
      spdlog::error("shipper: saving checkpoints: {}", s.ToString());
    }
    last_save_ms = clock_.NowMs();
    unsaved = false;
  };
  struct SaveOnExit {
    std::function<void()> save;
    bool* unsaved;
    ~SaveOnExit() {
      if (*unsaved) save();
    }
  } save_on_exit{save, &unsaved};
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
    probe_->waiting_.Set(static_cast<double>(ts.files_waiting));
    probe_->held_released_.Increment(
        static_cast<double>(ts.held_files_released_unfinished - prev.held_files_released_unfinished));
    probe_->lag_.Set(static_cast<double>(ts.lag_bytes));
    prev = ts;
    if (n == 0) {
      if (unsaved) save();
      caught_up_.store(tailer.CaughtUp());
      // Wakes on a directory event (new file, growth), on Stop, or after poll_interval.
      tailer.WaitForChange(config_.shipper.poll_interval);
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
    (void)tailer.Commit(/*save=*/false);
    unsaved = true;
    if (clock_.NowMs() - last_save_ms >= config_.shipper.checkpoint_interval.count() || tailer.CaughtUp()) save();
    probe_->sent_.Increment(static_cast<double>(batch.size()));
    probe_->bytes_.Increment(static_cast<double>(bytes));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.events_sent += batch.size();
    stats_.bytes_sent += bytes;
    stats_.lines_split = tailer.stats().lines_split;
  }
}

void Shipper::HostMetricsLoop() {
  const HostMetricsConfig& hm = config_.shipper.host_metrics;
  HostMetricsCollector collector(config_.host, clock_, hm);
  collector.Collect();  // the first reading only sets the baseline for CPU and rate deltas
  // Checks run in their own threads; this loop publishes what they produced, at least
  // every kCheckTick, so that this thread stays the only user of `samples_`.
  CheckScheduler checks(hm.checks, config_.host, clock_);
  checks.Start();
  const Millis kCheckTick(500);
  const bool have_checks = !hm.checks.empty();
  // Scheduling uses the steady clock; clock_ only stamps the samples.
  using Steady = std::chrono::steady_clock;
  Steady::time_point next_collect = Steady::now() + hm.interval;
  for (;;) {
    auto wait = std::chrono::ceil<Millis>(next_collect - Steady::now());
    if (have_checks) wait = std::min(wait, kCheckTick);
    if (!WaitFor(std::max(wait, Millis(0)))) return;
    std::vector<Sample> samples;
    if (Steady::now() >= next_collect) {
      samples = collector.Collect();
      next_collect = std::max(next_collect + hm.interval, Steady::now());
    }
    std::vector<Sample> from_checks = checks.TakeSamples();
    std::move(from_checks.begin(), from_checks.end(), std::back_inserter(samples));
    if (samples.empty()) continue;
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
