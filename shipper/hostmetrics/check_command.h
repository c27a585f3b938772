// Custom checks (host_metrics.checks, docs/shipper-metrics.md): a command run on its own
// interval, argv without a shell, whose stdout is Prometheus text format ("name value"
// lines are the same thing without labels). Each sample gets the labels host and check.
//
// A run that fails (the command cannot be started, runs past its timeout, exits non-zero,
// writes more than max_output_bytes or something that does not parse) yields no samples,
// one log line and one count in logship_shipper_check_errors_total{check,kind}.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/event.h"

namespace logship {

enum class CheckError { kNone, kSpawn, kTimeout, kExit, kOutputTooLarge, kParse, kStopped };
// "spawn", "timeout", "exit", "output_too_large", "parse", "stopped" (the label `kind`).
const char* CheckErrorKind(CheckError e);

struct CheckResult {
  CheckError error = CheckError::kNone;
  std::string message;          // for the log when error != kNone
  std::vector<Sample> samples;  // empty unless error == kNone
};

// Runs `check` once and parses its output; samples without a timestamp get `now_ms`.
// Blocks for at most check.timeout (plus the time to reap a killed process), or less when
// `*stop` becomes true (checked every 50 ms; the command is then killed and the result is
// kStopped). Thread-safe: spawned with posix_spawn, every descriptor close-on-exec; stdin
// is /dev/null; the command leads its own process group, which is killed on timeout.
CheckResult RunCheck(const HostCheckConfig& check, const std::string& host, int64_t now_ms,
                     const std::atomic<bool>* stop = nullptr);

// Runs each check in its own thread on its own interval (the first run right after
// Start), so a slow check delays neither the /proc collectors nor the other checks.
// Samples wait in a bounded buffer until TakeSamples; when it is full the newest samples
// are dropped and counted.
//
// Lifecycle: construct (no threads) -> Start -> Stop (kills commands in flight, joins).
class CheckScheduler {
 public:
  struct Stats {
    uint64_t runs = 0;
    uint64_t errors = 0;
    uint64_t dropped_samples = 0;
    std::map<std::string, uint64_t> errors_by_kind;
  };

  CheckScheduler(std::vector<HostCheckConfig> checks, std::string host, const Clock& clock,
                 size_t max_pending_samples = 10000);
  ~CheckScheduler();

  void Start();
  // Idempotent.
  void Stop();

  // Moves out the samples collected since the last call. Thread-safe.
  std::vector<Sample> TakeSamples();
  Stats stats() const;

 private:
  void Loop(const HostCheckConfig& check);

  const std::vector<HostCheckConfig> checks_;
  const std::string host_;
  const Clock& clock_;
  const size_t max_pending_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sample> pending_;  // GUARDED_BY(mu_)
  Stats stats_;                  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace logship
