#include "shipper/hostmetrics/host_metrics.h"

#include <sstream>

#include "core/util/fs.h"

namespace logship {

Result<CpuTimes> ParseProcStat(const std::string& text) {
  std::istringstream in(text);
  std::string label;
  in >> label;
  if (label != "cpu") return Status::Corruption("/proc/stat: first line is not the aggregate cpu line");
  uint64_t v[10] = {};
  int n = 0;
  while (n < 10 && in >> v[n]) ++n;
  if (n < 4) return Status::Corruption("/proc/stat: cpu line has fewer than 4 fields");
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
  // included in user and nice.
  uint64_t idle = v[3], iowait = v[4], steal = v[7];
  uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6];
  return CpuTimes{busy, busy + idle + iowait + steal};
}

HostMetricsCollector::HostMetricsCollector(std::string host, const Clock& clock, std::string proc_root)
    : host_(std::move(host)), clock_(clock), proc_root_(std::move(proc_root)) {}

std::vector<Sample> HostMetricsCollector::Collect() {
  std::vector<Sample> out;
  int64_t now = clock_.NowMs();
  auto add = [&](const char* name, double value) {
    out.push_back(Sample{name, {{"host", host_}}, now, value});
  };
  if (auto stat = ReadWholeFile(proc_root_ + "/stat"); stat.ok()) {
    if (auto cpu = ParseProcStat(*stat); cpu.ok()) {
      if (have_prev_ && cpu->total > prev_.total) {
        add("host_cpu_utilisation",
            static_cast<double>(cpu->busy - prev_.busy) / static_cast<double>(cpu->total - prev_.total));
      }
      prev_ = *cpu;
      have_prev_ = true;
    }
  }
  if (auto load = ReadWholeFile(proc_root_ + "/loadavg"); load.ok()) {
    std::istringstream in(*load);
    double l1, l5, l15;
    if (in >> l1 >> l5 >> l15) {
      add("host_load1", l1);
      add("host_load5", l5);
      add("host_load15", l15);
    }
  }
  if (auto mem = ReadWholeFile(proc_root_ + "/meminfo"); mem.ok()) {
    std::istringstream in(*mem);
    std::string key, unit;
    uint64_t value, total = 0, available = 0;
    while (in >> key >> value) {
      std::getline(in, unit);
      if (key == "MemTotal:") total = value * 1024;
      if (key == "MemAvailable:") available = value * 1024;
    }
    if (total > 0) {
      add("host_memory_total_bytes", static_cast<double>(total));
      add("host_memory_available_bytes", static_cast<double>(available));
      add("host_memory_used_ratio", 1.0 - static_cast<double>(available) / static_cast<double>(total));
    }
  }
  return out;
}

}  // namespace logship
