#include "shipper/shipper.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <deque>
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
  // Batches are pipelined: up to the producer's max_in_flight() are published at once
  // while the next is read, and each is committed through its TailMark in the order it
  // was read, only once it and every earlier batch were acknowledged.
  struct Batch {
    std::vector<Event> events;
    TailMark mark;
    uint64_t bytes = 0;
    bool failed = false;  // its Finish failed: publish it again before committing
  };
  std::deque<Batch> in_flight;
  size_t unfinished = 0;  // the newest `unfinished` of in_flight were begun, not finished
  const size_t window = std::max<size_t>(1, events_->max_in_flight());
  auto acknowledged = [&](const Batch& b) {
    (void)tailer.Commit(/*save=*/false, &b.mark);
    unsaved = true;
    if (clock_.NowMs() - last_save_ms >= config_.shipper.checkpoint_interval.count()) save();
    probe_->sent_.Increment(static_cast<double>(b.events.size()));
    probe_->bytes_.Increment(static_cast<double>(b.bytes));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.events_sent += b.events.size();
    stats_.bytes_sent += b.bytes;
    stats_.lines_split = tailer.stats().lines_split;
  };
  // Publishes one batch until the queue takes it; false when the shipper is stopping
  // (the batch's checkpoint did not advance, so the next start reads it again).
  auto publish_until_taken = [&](const Batch& b) {
    Millis backoff(100);
    for (;;) {
      Status s = events_->Publish(b.events);
      if (s.ok()) return true;
      if (s.code() == StatusCode::kCancelled) return false;
      probe_->publish_errors_.Increment();
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.publish_retries;
      }
      spdlog::warn("shipper: publishing {} events failed ({}); retrying in {} ms", b.events.size(), s.ToString(),
                   backoff.count());
      if (!WaitFor(backoff)) return false;
      backoff = std::min(backoff * 2, Millis(5000));
    }
  };
  // Finishes the oldest batch in flight. When it failed, finishes the others too, then
  // publishes the failed ones again in order (one at a time, with backoff) and commits
  // every batch in order. False when stopping.
  auto finish_oldest = [&]() -> bool {
    Status s = events_->Finish();
    --unfinished;
    if (s.ok()) {
      acknowledged(in_flight.front());
      in_flight.pop_front();
      return true;
    }
    in_flight.front().failed = true;
    for (size_t i = 1; i < in_flight.size(); ++i) in_flight[i].failed = !events_->Finish().ok();
    unfinished = 0;
    if (s.code() == StatusCode::kCancelled) return false;
    probe_->publish_errors_.Increment();
    spdlog::warn("shipper: publishing {} events failed ({}); publishing again", in_flight.front().events.size(),
                 s.ToString());
    while (!in_flight.empty()) {
      if (in_flight.front().failed && !publish_until_taken(in_flight.front())) return false;
      acknowledged(in_flight.front());
      in_flight.pop_front();
    }
    return true;
  };
  // On the way out, what is in flight is finished (each Finish is bounded by the queue's
  // timeout) and committed up to the first failure; the rest is read again next start.
  struct FinishOnExit {
    std::deque<Batch>* in_flight;
    size_t* unfinished;
    EventProducer* events;
    std::function<void(const Batch&)> acknowledged;
    ~FinishOnExit() {
      // Batches finished already but not committed failed: nothing after them commits.
      bool ok = *unfinished == in_flight->size();
      for (size_t i = in_flight->size() - *unfinished; i < in_flight->size(); ++i) {
        ok = events->Finish().ok() && ok;
        if (ok) acknowledged((*in_flight)[i]);
      }
    }
  } finish_on_exit{&in_flight, &unfinished, events_, acknowledged};
  int64_t last_poll_ms = 0;
  TailStats prev{};
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    int64_t now = clock_.NowMs();
    if (now - last_poll_ms >= config_.shipper.poll_interval.count()) {
      // Poll may restart a truncated file from 0: nothing may be in flight then.
      while (!in_flight.empty()) {
        if (!finish_oldest()) return;
      }
      tailer.Poll();
      last_poll_ms = now;
    }
    if (in_flight.size() >= window) {
      if (!finish_oldest()) return;
      continue;
    }
    Batch batch;
    batch.events.reserve(std::min<size_t>(config_.shipper.batch_max_events, 4096));
    size_t n = tailer.ReadBatch(config_.shipper.batch_max_events, config_.shipper.batch_max_bytes, &batch.events,
                                &batch.mark);
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
      if (!in_flight.empty()) {
        if (!finish_oldest()) return;
        continue;
      }
      if (unsaved) save();
      caught_up_.store(tailer.CaughtUp());
      // Wakes on a directory event (new file, growth), on Stop, or after poll_interval.
      tailer.WaitForChange(config_.shipper.poll_interval);
      last_poll_ms = 0;  // poll on the next round
      continue;
    }
    caught_up_.store(false);
    for (const Event& e : batch.events) batch.bytes += e.raw.size();
    in_flight.push_back(std::move(batch));
    events_->Begin(in_flight.back().events);
    ++unfinished;
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
