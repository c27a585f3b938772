#include "shipper/shipper.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <functional>
#include <map>

#include "core/util/fs.h"
#include "logship/metrics.h"
#include "shipper/hostmetrics/check_command.h"
#include "shipper/hostmetrics/host_metrics.h"
#include "shipper/tail/checkpoint_store.h"
#include "shipper/tail/file_tailer.h"

namespace logship {

// The shipper's metrics (docs/shipper.md, "Metrics"),
// registered once per process. Families live in the process-wide registry; the
// per-file series are owned by the probe and removed when their file is let go, so
// their number is bounded by shipper.max_open_files.
class Shipper::Probe {
 public:
  Probe()
      : received_(prometheus::BuildCounter().Name("logship_shipper_received_events_total")
                      .Help("Lines (or pieces of split lines) read from files").Register(MetricsRegistry()).Add({})),
        sent_(prometheus::BuildCounter().Name("logship_shipper_sent_events_total")
                  .Help("Events acknowledged by the queue").Register(MetricsRegistry()).Add({})),
        bytes_(prometheus::BuildCounter().Name("logship_shipper_bytes_total")
                   .Help("Bytes of lines acknowledged by the queue").Register(MetricsRegistry()).Add({})),
        errors_(prometheus::BuildCounter().Name("logship_shipper_errors_total")
                    .Help("Errors by kind; a failing file is counted once per failure, not per retry")
                    .Register(MetricsRegistry())),
        retries_(prometheus::BuildCounter().Name("logship_shipper_publish_retries_total")
                     .Help("Batches published again after the queue failed or refused them")
                     .Register(MetricsRegistry()).Add({})),
        dropped_(prometheus::BuildCounter().Name("logship_shipper_dropped_events_total")
                     .Help("Host metric samples dropped after the queue refused them").Register(MetricsRegistry())
                     .Add({})),
        split_(prometheus::BuildCounter().Name("logship_shipper_split_lines_total")
                   .Help("Pieces cut from lines longer than max_line_bytes").Register(MetricsRegistry()).Add({})),
        rotations_(prometheus::BuildCounter().Name("logship_shipper_rotations_total")
                       .Help("Files seen renamed away or deleted (then read to their end)")
                       .Register(MetricsRegistry()).Add({})),
        truncations_(prometheus::BuildCounter().Name("logship_shipper_truncations_total")
                         .Help("Files seen truncated (read again from the start)").Register(MetricsRegistry()).Add({})),
        copies_(prometheus::BuildCounter().Name("logship_shipper_copytruncate_copies_total")
                    .Help("copytruncate copies recognised and read on from where the original stopped")
                    .Register(MetricsRegistry()).Add({})),
        files_(prometheus::BuildGauge().Name("logship_shipper_files")
                   .Help("Files by state: open (held included), held (rotated or deleted, being drained), "
                         "waiting (over max_open_files), error (glob matches failing)")
                   .Register(MetricsRegistry())),
        held_bytes_(prometheus::BuildGauge().Name("logship_shipper_held_bytes")
                        .Help("Size of the held files: disk space kept in use by rotated or deleted files")
                        .Register(MetricsRegistry()).Add({})),
        held_deleted_bytes_(prometheus::BuildGauge().Name("logship_shipper_held_deleted_bytes")
                                .Help("Size of the held files that were deleted: disk space only the shipper's "
                                      "descriptors keep in use (bounded by shipper.max_held_bytes)")
                                .Register(MetricsRegistry()).Add({})),
        lag_(prometheus::BuildGauge().Name("logship_shipper_lag_bytes")
                 .Help("Bytes not yet acknowledged over all open files (size - acknowledged offset)")
                 .Register(MetricsRegistry()).Add({})),
        file_lag_(prometheus::BuildGauge().Name("logship_shipper_file_lag_bytes")
                      .Help("Bytes of one open file not yet acknowledged (size - acknowledged offset)")
                      .Register(MetricsRegistry())),
        oldest_age_(prometheus::BuildGauge().Name("logship_shipper_oldest_unacked_event_age_seconds")
                        .Help("Age of the oldest event read but not yet acknowledged by the queue; 0 when none")
                        .Register(MetricsRegistry()).Add({})),
        publish_retryable_(errors_.Add({{"kind", "publish_retryable"}})),
        publish_permanent_(errors_.Add({{"kind", "publish_permanent"}})),
        checkpoint_errors_(errors_.Add({{"kind", "checkpoint"}})),
        held_released_(errors_.Add({{"kind", "held_file_released_unfinished"}})),
        open_(files_.Add({{"state", "open"}})),
        held_(files_.Add({{"state", "held"}})),
        waiting_(files_.Add({{"state", "waiting"}})),
        in_error_(files_.Add({{"state", "error"}})) {
    for (size_t k = 0; k < kTailErrorKinds; ++k) {
      tail_errors_[k] = &errors_.Add({{"kind", TailErrorName(static_cast<TailError>(k))}});
    }
  }

  ~Probe() {
    for (auto& [key, series] : file_series_) file_lag_.Remove(series.gauge);
  }

  // Counts what the tailer did since `prev` and sets the gauges.
  void Update(const TailStats& ts, const TailStats& prev) {
    received_.Increment(static_cast<double>(ts.lines_read - prev.lines_read));
    split_.Increment(static_cast<double>(ts.lines_split - prev.lines_split));
    rotations_.Increment(static_cast<double>(ts.rotations - prev.rotations));
    truncations_.Increment(static_cast<double>(ts.truncations - prev.truncations));
    copies_.Increment(static_cast<double>(ts.copies_recognised - prev.copies_recognised));
    for (size_t k = 0; k < kTailErrorKinds; ++k) {
      tail_errors_[k]->Increment(static_cast<double>(ts.errors_by_kind[k] - prev.errors_by_kind[k]));
    }
    held_released_.Increment(
        static_cast<double>(ts.held_files_released_unfinished - prev.held_files_released_unfinished));
    open_.Set(static_cast<double>(ts.open_files));
    held_.Set(static_cast<double>(ts.draining_files));
    waiting_.Set(static_cast<double>(ts.files_waiting));
    in_error_.Set(static_cast<double>(ts.files_in_error));
    held_bytes_.Set(static_cast<double>(ts.held_bytes));
    held_deleted_bytes_.Set(static_cast<double>(ts.held_deleted_bytes));
    lag_.Set(static_cast<double>(ts.lag_bytes));
  }

  // One file_lag_bytes series per open file, labelled {path, inode}; series of files no
  // longer open (released, closed for max_open_files, renamed) are removed.
  void UpdateFiles(const std::vector<TailedFileInfo>& files) {
    ++sync_round_;
    for (const TailedFileInfo& f : files) {
      auto it = file_series_.find(f.key);
      if (it != file_series_.end() && it->second.path != f.path) {
        file_lag_.Remove(it->second.gauge);
        file_series_.erase(it);
        it = file_series_.end();
      }
      if (it == file_series_.end()) {
        prometheus::Gauge* g = &file_lag_.Add({{"path", f.path}, {"inode", std::to_string(f.inode)}});
        it = file_series_.emplace(f.key, FileSeries{f.path, g, 0}).first;
      }
      it->second.gauge->Set(static_cast<double>(f.lag_bytes()));
      it->second.round = sync_round_;
    }
    std::erase_if(file_series_, [&](auto& kv) {
      if (kv.second.round == sync_round_) return false;
      file_lag_.Remove(kv.second.gauge);
      return true;
    });
  }

  prometheus::Counter& received_;
  prometheus::Counter& sent_;
  prometheus::Counter& bytes_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Counter& retries_;
  prometheus::Counter& dropped_;
  prometheus::Counter& split_;
  prometheus::Counter& rotations_;
  prometheus::Counter& truncations_;
  prometheus::Counter& copies_;
  prometheus::Family<prometheus::Gauge>& files_;
  prometheus::Gauge& held_bytes_;
  prometheus::Gauge& held_deleted_bytes_;
  prometheus::Gauge& lag_;
  prometheus::Family<prometheus::Gauge>& file_lag_;
  prometheus::Gauge& oldest_age_;
  prometheus::Counter& publish_retryable_;
  prometheus::Counter& publish_permanent_;
  prometheus::Counter& checkpoint_errors_;
  prometheus::Counter& held_released_;
  prometheus::Gauge& open_;
  prometheus::Gauge& held_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& in_error_;
  prometheus::Counter* tail_errors_[kTailErrorKinds];

 private:
  struct FileSeries {
    std::string path;
    prometheus::Gauge* gauge;
    uint64_t round;
  };
  std::map<std::string, FileSeries> file_series_;  // by "<device>:<inode>"
  uint64_t sync_round_ = 0;
};

Shipper::Shipper(Config config, EventProducer* events, SampleProducer* samples, const Clock& clock)
    : config_(std::move(config)), events_(events), samples_(samples), clock_(clock), probe_(std::make_unique<Probe>()) {}

Shipper::~Shipper() { Stop(); }

Status Shipper::Start() {
  LOGSHIP_RETURN_IF_ERROR(MakeDirs(config_.data_dir));
  tail_thread_ = std::thread([this] { TailLoop(); });
  age_thread_ = std::thread([this] { AgeLoop(); });
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
  if (age_thread_.joinable()) age_thread_.join();
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
  options.max_held_bytes = config_.shipper.max_held_bytes;
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
    int64_t begun_ms = 0;  // when it was handed to the queue, for the oldest-unacked age
  };
  std::deque<Batch> in_flight;
  // Batches done with give their events back to the tailer (FileTailer::Recycle) and
  // their emptied vectors to the next batches: no allocation per line or per batch.
  std::vector<std::vector<Event>> free_vectors;
  auto pop_front = [&] {
    tailer.Recycle(&in_flight.front().events);
    free_vectors.push_back(std::move(in_flight.front().events));
    in_flight.pop_front();
  };
  size_t unfinished = 0;  // the newest `unfinished` of in_flight were begun, not finished
  const size_t window = std::max<size_t>(1, events_->max_in_flight());
  // Called for in_flight.front() just before it is popped.
  auto acknowledged = [&](const Batch& b) {
    (void)tailer.Commit(/*save=*/false, &b.mark);
    oldest_unacked_ms_.store(in_flight.size() > 1 ? in_flight[1].begun_ms : 0);
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
  auto count_failure = [&](const Status& s) {
    const bool permanent = s.code() == StatusCode::kPermanent;
    (permanent ? probe_->publish_permanent_ : probe_->publish_retryable_).Increment();
    probe_->retries_.Increment();
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.publish_retries;
  };
  auto publish_until_taken = [&](const Batch& b) {
    Millis backoff(100);
    uint64_t failures = 0;
    for (;;) {
      Status s = events_->Publish(b.events);
      if (s.ok()) {
        if (failures > 0) {
          spdlog::info("shipper: the queue accepted the batch after {} failed attempts; reading resumes", failures);
        }
        return true;
      }
      if (s.code() == StatusCode::kCancelled) return false;
      count_failure(s);
      ++failures;
      // Retryable or not, the batch is never dropped: a refused batch (e.g. a message
      // over the broker's size limit) blocks this input until the operator acts, loudly.
      if (s.code() == StatusCode::kPermanent) {
        spdlog::error("shipper: the queue refused a batch of {} events ({}); it is not dropped: retrying in {} ms "
                      "until the queue accepts it (fix the queue's configuration or limits)",
                      b.events.size(), s.ToString(), backoff.count());
      } else {
        spdlog::warn("shipper: publishing {} events failed ({}); retrying in {} ms", b.events.size(), s.ToString(),
                     backoff.count());
      }
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
      pop_front();
      return true;
    }
    in_flight.front().failed = true;
    for (size_t i = 1; i < in_flight.size(); ++i) in_flight[i].failed = !events_->Finish().ok();
    unfinished = 0;
    if (s.code() == StatusCode::kCancelled) return false;
    count_failure(s);
    spdlog::warn("shipper: publishing {} events failed ({}); publishing again", in_flight.front().events.size(),
                 s.ToString());
    while (!in_flight.empty()) {
      if (in_flight.front().failed && !publish_until_taken(in_flight.front())) return false;
      acknowledged(in_flight.front());
      pop_front();
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
    bool polled = false;
    if (now - last_poll_ms >= config_.shipper.poll_interval.count()) {
      // Batches stay in flight: a file Poll restarts after a truncation gets a new
      // generation, and the marks of the batches read before no longer advance it
      // (FileTailer::Commit), as when ReadBatch itself finds the truncation. Waiting for
      // them here emptied the producer's pipeline every poll_interval.
      tailer.Poll();
      last_poll_ms = now;
      polled = true;
    }
    if (in_flight.size() >= window) {
      if (!finish_oldest()) return;
      continue;
    }
    Batch batch;
    if (!free_vectors.empty()) {
      batch.events = std::move(free_vectors.back());
      free_vectors.pop_back();
    }
    batch.events.reserve(std::min<size_t>(config_.shipper.batch_max_events, 4096));
    size_t n = tailer.ReadBatch(config_.shipper.batch_max_events, config_.shipper.batch_max_bytes, &batch.events,
                                &batch.mark);
    const TailStats& ts = tailer.stats();
    probe_->Update(ts, prev);
    prev = ts;
    if (polled) probe_->UpdateFiles(tailer.Files());
    if (n == 0) {
      free_vectors.push_back(std::move(batch.events));
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
    // A file read under a new identity: its checkpoint goes to disk before its first
    // events go out (FileTailer::TakeSaveRequest).
    if (tailer.TakeSaveRequest()) save();
    for (const Event& e : batch.events) batch.bytes += e.raw.size();
    batch.begun_ms = clock_.NowMs();
    in_flight.push_back(std::move(batch));
    if (in_flight.size() == 1) oldest_unacked_ms_.store(in_flight.front().begun_ms);
    events_->Begin(in_flight.back().events);
    ++unfinished;
  }
}

// Keeps logship_shipper_oldest_unacked_event_age_seconds current while the tail loop is
// blocked in a publish (a Kafka publish may wait up to queue.kafka.timeout).
void Shipper::AgeLoop() {
  do {
    int64_t since = oldest_unacked_ms_.load();
    probe_->oldest_age_.Set(since == 0 ? 0.0 : static_cast<double>(std::max<int64_t>(clock_.NowMs() - since, 0)) / 1000);
  } while (WaitFor(Millis(500)));
  probe_->oldest_age_.Set(0);
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
