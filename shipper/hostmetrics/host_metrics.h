// HostMetricsCollector: CPU, load, memory, filesystem usage, disk I/O and network I/O from
// /proc as samples (docs/shipper-metrics.md lists every sample).
//
// CPU utilisation is the fraction of time not idle, not waiting for I/O and not stolen
// by the hypervisor, from /proc/stat deltas between two collections (what
// node_exporter-based dashboards compute from node_cpu_seconds_total). Disk and network
// rates are counter deltas divided by the time between two collections.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/event.h"
#include "logship/status.h"

namespace re2 {
class RE2;
}

namespace logship {

struct CpuTimes {
  uint64_t busy = 0;   // user + nice + system + irq + softirq (+ guest counted in user)
  uint64_t total = 0;  // busy + idle + iowait + steal
};

// Parses the aggregate "cpu" line of /proc/stat.
Result<CpuTimes> ParseProcStat(const std::string& text);
// The per-CPU lines ("cpu0", "cpu1", ...) of /proc/stat, keyed by CPU number ("0", "1").
std::map<std::string, CpuTimes> ParseProcStatPerCpu(const std::string& text);

// Cumulative counters of one block device (/proc/diskstats). Sectors are 512 bytes
// whatever the device's sector size.
struct DiskCounters {
  uint64_t reads = 0;           // reads completed
  uint64_t sectors_read = 0;
  uint64_t writes = 0;          // writes completed
  uint64_t sectors_written = 0;
  uint64_t io_ms = 0;           // milliseconds spent doing I/O
};
// Keyed by device name; malformed lines are skipped.
std::map<std::string, DiskCounters> ParseDiskStats(const std::string& text);

// Cumulative counters of one interface (/proc/net/dev).
struct NetCounters {
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_drops = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_drops = 0;
};
// Keyed by interface name; the two header lines and malformed lines are skipped.
std::map<std::string, NetCounters> ParseNetDev(const std::string& text);

// One line of /proc/self/mounts, octal escapes (\040 for a space) decoded.
struct MountEntry {
  std::string device, mountpoint, fstype;
};
std::vector<MountEntry> ParseMounts(const std::string& text);

struct FsUsage {
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;   // free blocks, including those reserved for root
  uint64_t avail_bytes = 0;  // free blocks available to unprivileged users
};
// statvfs(2). May block on an unreachable network filesystem.
Result<FsUsage> StatFs(const std::string& mountpoint);
using StatFsFn = std::function<Result<FsUsage>(const std::string& mountpoint)>;

// Counts of failed reads or parses, by source. Single-threaded like the collector.
struct HostMetricsErrors {
  uint64_t stat = 0, loadavg = 0, meminfo = 0, mounts = 0, statfs = 0, diskstats = 0, netdev = 0;
};

// Not thread-safe: one thread calls Collect().
class HostMetricsCollector {
 public:
  // `config.proc_root` is "/proc" except in tests and containers. `statfs` is StatFs except
  // in tests. `config`'s regular expressions must compile (the config schema checks them).
  HostMetricsCollector(std::string host, const Clock& clock, const HostMetricsConfig& config,
                       StatFsFn statfs = StatFs);
  // CPU, load and memory only, from `proc_root`.
  HostMetricsCollector(std::string host, const Clock& clock, std::string proc_root = "/proc");
  ~HostMetricsCollector();

  // Samples for this instant. The first call has no CPU utilisation and no rates (they
  // need a delta); neither has a device or interface seen for the first time, or whose
  // counters went backwards (reset), or a call at the same clock time as the previous one.
  std::vector<Sample> Collect();

  const HostMetricsErrors& errors() const { return errors_; }

 private:
  void CollectCpu(std::vector<Sample>& out, int64_t now);
  void CollectFilesystems(std::vector<Sample>& out, int64_t now);
  void CollectDisks(std::vector<Sample>& out, int64_t now, double dt_s);
  void CollectNetwork(std::vector<Sample>& out, int64_t now, double dt_s);
  Sample Make(std::string_view name, Labels labels, int64_t now, double value) const;

  std::string host_;
  const Clock& clock_;
  HostMetricsConfig config_;
  StatFsFn statfs_;
  std::unique_ptr<re2::RE2> mount_exclude_, disk_exclude_, net_exclude_;
  HostMetricsErrors errors_;
  int64_t prev_ms_ = -1;  // clock time of the previous Collect, -1 before the first
  bool have_prev_cpu_ = false;
  CpuTimes prev_cpu_;
  std::map<std::string, CpuTimes> prev_per_cpu_;
  std::map<std::string, DiskCounters> prev_disks_;
  std::map<std::string, NetCounters> prev_net_;
};

}  // namespace logship
