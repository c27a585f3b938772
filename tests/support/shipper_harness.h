// Helpers for tests that run the real `logship shipper` binary: a config file written by
// the test, the process (start, SIGKILL, SIGTERM), its /metrics endpoint, its memory and
// the files it holds open, and collectors that read what arrived in the queue.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "logship/config.h"
#include "logship/queue.h"
#include "logship/status.h"
#include "tests/support/subprocess.h"

namespace logship::testing {

// `logship shipper --config <dir>/logship.yaml`, logging to <dir>/shipper.log (appended
// across restarts). Not thread-safe.
class ShipperProcess {
 public:
  explicit ShipperProcess(std::string dir);
  ~ShipperProcess();

  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/logship.yaml"; }
  void WriteConfig(const std::string& yaml) const;

  // Later Starts run the shipper with this user and group id (through util-linux
  // setpriv, which keeps the parent-death SIGKILL), e.g. to see permission errors a root
  // test process would not meet. The binary and the config must be reachable by them.
  void RunAs(uid_t uid, gid_t gid) { run_as_ = {uid, gid}; }
  Status Start();
  // SIGKILL and reap. Returns the exit status (128 + 9 expected).
  int Kill();
  // SIGTERM and wait up to `timeout_ms`; the exit status, -1 on timeout.
  int Stop(int timeout_ms = 20000);
  // Started and not yet reaped (it may have exited on its own: see Alive).
  bool running() const { return process_ != nullptr && process_->running(); }
  // Running and not exited (not a zombie).
  bool Alive() const;
  pid_t pid() const { return running() ? process_->pid() : -1; }
  std::string Log() const;
  // The last `lines` lines of the log, for failure messages.
  std::string LogTail(size_t lines = 60) const;

  // Resident set size in KiB (VmRSS); -1 when not running.
  int64_t RssKiB() const;
  // (device, inode) of every regular file the process has open (deleted ones included).
  std::set<std::pair<uint64_t, uint64_t>> OpenFiles() const;

 private:
  std::string dir_;
  std::unique_ptr<Subprocess> process_;
  std::optional<std::pair<uid_t, gid_t>> run_as_;
};

// True when `uid`/`gid` can run the logship binary (every directory on its path
// searchable, the file executable): probes with `logship --help` through setpriv.
bool CanRunLogshipAs(uid_t uid, gid_t gid);

// GET http://127.0.0.1:<port>/metrics; the body.
Result<std::string> ScrapeMetrics(int port);

// The value of the series `name` whose labels include every pair of `labels` (the first
// such series), in Prometheus text format; nullopt when there is none.
std::optional<double> MetricValue(const std::string& text, const std::string& name,
                                  const std::vector<std::pair<std::string, std::string>>& labels = {});
// Every series of `name`: its labels (sorted by name) and value.
std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, double>> MetricSeries(
    const std::string& text, const std::string& name);

// Polls `condition` every 20 ms until it holds or `timeout` passed; returns its last value.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Reads events from the queue as they arrive. Not thread-safe.
class EventCollector {
 public:
  virtual ~EventCollector() = default;
  // Reads what is new (a bounded amount: call again until nothing comes) and calls
  // `sink(raw, id)` for each event. Not Ok when the queue cannot be read right now (e.g.
  // during an outage); call again later.
  virtual Status Collect(const std::function<void(const std::string& raw, const std::string& id)>& sink) = 0;
};

// A consumer group on the Redis events stream (logship's own consumer, so every entry
// form the producer may write is decoded), acknowledging what it read.
std::unique_ptr<EventCollector> MakeRedisCollector(const QueueConfig& queue);

// `kcat -C -e` from the next unread offset of partition 0 of `topic` each time: value =
// raw line, header `id` = event id. Fails (Permanent) when the broker no longer has the
// next offset (the mock trimmed messages before they were read).
class KcatCollector final : public EventCollector {
 public:
  KcatCollector(std::string bootstrap, std::string topic, std::string scratch_dir);
  Status Collect(const std::function<void(const std::string& raw, const std::string& id)>& sink) override;
  // A new broker (the mock restarted: new address, empty log): start again at offset 0.
  void Reset(std::string bootstrap);
  int64_t next_offset() const { return next_offset_; }

 private:
  std::string bootstrap_;
  std::string topic_;
  std::string scratch_;
  int64_t next_offset_ = 0;
};

}  // namespace logship::testing
