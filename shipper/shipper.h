// Shipper: the per-host daemon. Tails files and forwards their lines; collects host
// metrics. A file's checkpoint advances only after the queue acknowledged the batch
// (Producer::Publish returned Ok); while the queue is down, reading pauses, the batch is
// retried with backoff, and memory stays at one batch.
//
// Lifecycle: construct (no I/O) -> Start -> Stop (finishes or abandons the batch in flight;
// an abandoned batch is simply read again on the next start because its checkpoint did not
// advance).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/queue.h"

namespace logship {

class FileTailer;

struct ShipperStats {
  uint64_t events_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t publish_retries = 0;
  uint64_t lines_split = 0;
  uint64_t samples_sent = 0;
  uint64_t samples_dropped = 0;
};

class Shipper {
 public:
  // `events` and `samples` must outlive the Shipper; `samples` may be null (no host metrics).
  Shipper(Config config, EventProducer* events, SampleProducer* samples, const Clock& clock = SystemClock());
  ~Shipper();

  Status Start();
  // Stops both loops and joins them. Idempotent.
  void Stop();

  // True when every file was read to its end and everything read was acknowledged.
  bool CaughtUp() const { return caught_up_.load(); }
  ShipperStats stats() const;

 private:
  class Probe;
  void TailLoop();
  void HostMetricsLoop();
  void AgeLoop();
  bool WaitFor(Millis d);  // false when stopping

  Config config_;
  EventProducer* events_;
  SampleProducer* samples_;
  const Clock& clock_;
  std::unique_ptr<Probe> probe_;
  std::thread tail_thread_, metrics_thread_, age_thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  FileTailer* tailer_ = nullptr;  // GUARDED_BY(mu_); the tail loop's, so Stop can wake it
  std::atomic<bool> caught_up_{false};
  // When the batch being published was read (clock_ ms); 0 when none is in flight.
  std::atomic<int64_t> oldest_unacked_ms_{0};
  ShipperStats stats_;     // GUARDED_BY(mu_)
  Status start_status_;
};

}  // namespace logship
