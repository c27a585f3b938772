// HostMetricsCollector: CPU, load and memory from /proc as samples.
//
// CPU utilisation is the fraction of time not idle, not waiting for I/O and not stolen
// by the hypervisor, from /proc/stat deltas between two collections (what
// node_exporter-based dashboards compute from node_cpu_seconds_total).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "logship/clock.h"
#include "logship/event.h"
#include "logship/status.h"

namespace logship {

struct CpuTimes {
  uint64_t busy = 0;   // user + nice + system + irq + softirq (+ guest counted in user)
  uint64_t total = 0;  // busy + idle + iowait + steal
};

// Parses the aggregate "cpu" line of /proc/stat.
Result<CpuTimes> ParseProcStat(const std::string& text);

class HostMetricsCollector {
 public:
  // `proc_root` is "/proc" except in tests.
  HostMetricsCollector(std::string host, const Clock& clock, std::string proc_root = "/proc");

  // Samples for this instant. The first call has no CPU utilisation (it needs a delta).
  // Sample names: host_cpu_utilisation (0..1), host_load1, host_load5, host_load15,
  // host_memory_total_bytes, host_memory_available_bytes, host_memory_used_ratio.
  std::vector<Sample> Collect();

 private:
  std::string host_;
  const Clock& clock_;
  std::string proc_root_;
  bool have_prev_ = false;
  CpuTimes prev_;
};

}  // namespace logship
