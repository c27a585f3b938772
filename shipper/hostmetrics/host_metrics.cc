#include "shipper/hostmetrics/host_metrics.h"

#include <re2/re2.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

#include "core/util/fs.h"

namespace logship {
namespace {

Result<CpuTimes> ParseCpuFields(std::istringstream& in, std::string_view what) {
  uint64_t v[10] = {};
  int n = 0;
  while (n < 10 && in >> v[n]) ++n;
  if (n < 4) return Status::Corruption("/proc/stat: " + std::string(what) + " line has fewer than 4 fields");
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
  // included in user and nice.
  uint64_t idle = v[3], iowait = v[4], steal = v[7];
  uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6];
  return CpuTimes{busy, busy + idle + iowait + steal};
}

// Decodes the octal escapes the kernel writes for space, tab, newline and backslash.
std::string UnescapeMountField(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + i + 1, s.begin() + i + 4, [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Rate of a cumulative counter; false when it went backwards (reset or wrap).
bool Rate(uint64_t cur, uint64_t prev, double dt_s, double* out) {
  if (cur < prev) return false;
  *out = static_cast<double>(cur - prev) / dt_s;
  return true;
}

// Counts a failure of `source` and logs the first one (a missing file stays missing, so
// repeating the line every interval would only be noise).
void Fail(uint64_t& counter, const std::string& what) {
  if (counter++ == 0) spdlog::warn("host metrics: {} (logged once; further failures are only counted)", what);
}

}  // namespace

Result<CpuTimes> ParseProcStat(const std::string& text) {
  std::istringstream in(text);
  std::string label;
  in >> label;
  if (label != "cpu") return Status::Corruption("/proc/stat: first line is not the aggregate cpu line");
  return ParseCpuFields(in, "cpu");
}

std::map<std::string, CpuTimes> ParseProcStatPerCpu(const std::string& text) {
  std::map<std::string, CpuTimes> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 || !std::isdigit(static_cast<unsigned char>(line[3]))) {
      continue;
    }
    std::istringstream in(line);
    std::string label;
    in >> label;
    if (auto t = ParseCpuFields(in, label); t.ok()) out[label.substr(3)] = *t;
  }
  return out;
}

std::map<std::string, DiskCounters> ParseDiskStats(const std::string& text) {
  std::map<std::string, DiskCounters> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    uint64_t major, minor;
    std::string name;
    uint64_t f[10];
    if (!(in >> major >> minor >> name)) continue;
    int n = 0;
    while (n < 10 && in >> f[n]) ++n;
    if (n < 10) continue;
    // reads, reads merged, sectors read, ms reading, writes, writes merged, sectors
    // written, ms writing, I/Os in progress, ms doing I/O.
    out[name] = DiskCounters{f[0], f[2], f[4], f[6], f[9]};
  }
  return out;
}

std::map<std::string, NetCounters> ParseNetDev(const std::string& text) {
  std::map<std::string, NetCounters> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;  // the header lines have '|', not ':'
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    std::istringstream in(line.substr(colon + 1));
    uint64_t f[16];
    int n = 0;
    while (n < 16 && in >> f[n]) ++n;
    if (n < 16 || name.empty()) continue;
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes
    // packets errs drop fifo colls carrier compressed.
    out[name] = NetCounters{f[0], f[1], f[2], f[3], f[8], f[9], f[10], f[11]};
  }
  return out;
}

std::vector<MountEntry> ParseMounts(const std::string& text) {
  std::vector<MountEntry> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string device, mountpoint, fstype;
    if (!(in >> device >> mountpoint >> fstype)) continue;
    out.push_back(MountEntry{UnescapeMountField(device), UnescapeMountField(mountpoint), fstype});
  }
  return out;
}

Result<FsUsage> StatFs(const std::string& mountpoint) {
  struct statvfs st;
  if (statvfs(mountpoint.c_str(), &st) != 0) {
    return Status::IOError("statvfs " + mountpoint + ": " + std::strerror(errno));
  }
  uint64_t frsize = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
  return FsUsage{st.f_blocks * frsize, st.f_bfree * frsize, st.f_bavail * frsize};
}

HostMetricsCollector::HostMetricsCollector(std::string host, const Clock& clock, const HostMetricsConfig& config,
                                           StatFsFn statfs)
    : host_(std::move(host)),
      clock_(clock),
      config_(config),
      statfs_(std::move(statfs)),
      mount_exclude_(std::make_unique<RE2>(config.filesystem_exclude_mounts, RE2::Quiet)),
      disk_exclude_(std::make_unique<RE2>(config.disk_exclude, RE2::Quiet)),
      net_exclude_(std::make_unique<RE2>(config.network_exclude, RE2::Quiet)) {
  config_.checks.clear();  // run by CheckScheduler, not here
}

HostMetricsCollector::HostMetricsCollector(std::string host, const Clock& clock, std::string proc_root)
    : HostMetricsCollector(std::move(host), clock, [&] {
        HostMetricsConfig c;
        c.proc_root = std::move(proc_root);
        c.filesystems = c.disks = c.network = false;
        return c;
      }()) {}

HostMetricsCollector::~HostMetricsCollector() = default;

Sample HostMetricsCollector::Make(std::string_view name, Labels labels, int64_t now, double value) const {
  labels.emplace_back("host", host_);
  std::sort(labels.begin(), labels.end());
  return Sample{std::string(name), std::move(labels), now, value};
}

std::vector<Sample> HostMetricsCollector::Collect() {
  std::vector<Sample> out;
  int64_t now = clock_.NowMs();
  // Rates need a previous collection at an earlier time.
  double dt_s = prev_ms_ >= 0 && now > prev_ms_ ? static_cast<double>(now - prev_ms_) / 1000.0 : 0;
  prev_ms_ = now;
  CollectCpu(out, now);
  if (auto load = ReadWholeFile(config_.proc_root + "/loadavg"); load.ok()) {
    std::istringstream in(*load);
    double l1, l5, l15;
    if (in >> l1 >> l5 >> l15) {
      out.push_back(Make("host_load1", {}, now, l1));
      out.push_back(Make("host_load5", {}, now, l5));
      out.push_back(Make("host_load15", {}, now, l15));
    } else {
      Fail(errors_.loadavg, config_.proc_root + "/loadavg: expected three load averages");
    }
  } else {
    Fail(errors_.loadavg, load.status().ToString());
  }
  if (auto mem = ReadWholeFile(config_.proc_root + "/meminfo"); mem.ok()) {
    std::istringstream in(*mem);
    std::string key, unit;
    uint64_t value, total = 0, available = 0;
    while (in >> key >> value) {
      std::getline(in, unit);
      if (key == "MemTotal:") total = value * 1024;
      if (key == "MemAvailable:") available = value * 1024;
    }
    if (total > 0) {
      out.push_back(Make("host_memory_total_bytes", {}, now, static_cast<double>(total)));
      out.push_back(Make("host_memory_available_bytes", {}, now, static_cast<double>(available)));
      out.push_back(Make("host_memory_used_ratio", {}, now,
                         1.0 - static_cast<double>(available) / static_cast<double>(total)));
    } else {
      Fail(errors_.meminfo, config_.proc_root + "/meminfo: no MemTotal");
    }
  } else {
    Fail(errors_.meminfo, mem.status().ToString());
  }
  if (config_.filesystems) CollectFilesystems(out, now);
  if (config_.disks) CollectDisks(out, now, dt_s);
  if (config_.network) CollectNetwork(out, now, dt_s);
  return out;
}

void HostMetricsCollector::CollectCpu(std::vector<Sample>& out, int64_t now) {
  auto stat = ReadWholeFile(config_.proc_root + "/stat");
  if (!stat.ok()) return Fail(errors_.stat, stat.status().ToString());
  if (auto cpu = ParseProcStat(*stat); cpu.ok()) {
    if (have_prev_cpu_ && cpu->total > prev_cpu_.total && cpu->busy >= prev_cpu_.busy) {
      out.push_back(Make("host_cpu_utilisation", {}, now,
                         static_cast<double>(cpu->busy - prev_cpu_.busy) /
                             static_cast<double>(cpu->total - prev_cpu_.total)));
    }
    prev_cpu_ = *cpu;
    have_prev_cpu_ = true;
  } else {
    Fail(errors_.stat, cpu.status().ToString());
  }
  if (!config_.per_cpu) return;
  std::map<std::string, CpuTimes> cur = ParseProcStatPerCpu(*stat);
  for (const auto& [cpu, t] : cur) {
    auto prev = prev_per_cpu_.find(cpu);
    if (prev == prev_per_cpu_.end() || t.total <= prev->second.total || t.busy < prev->second.busy) continue;
    out.push_back(Make("host_cpu_core_utilisation", {{"cpu", cpu}}, now,
                       static_cast<double>(t.busy - prev->second.busy) /
                           static_cast<double>(t.total - prev->second.total)));
  }
  prev_per_cpu_ = std::move(cur);
}

void HostMetricsCollector::CollectFilesystems(std::vector<Sample>& out, int64_t now) {
  auto text = ReadWholeFile(config_.proc_root + "/self/mounts");
  if (!text.ok()) return Fail(errors_.mounts, text.status().ToString());
  std::vector<MountEntry> mounts = ParseMounts(*text);
  // A mount point mounted over is hidden: only its last (visible) entry is reported.
  std::set<std::string> seen;
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    const MountEntry& m = *it;
    if (!seen.insert(m.mountpoint).second) continue;
    if (m.fstype == "tmpfs" && !config_.filesystem_tmpfs) continue;
    const auto& types = config_.filesystem_exclude_types;
    if (std::find(types.begin(), types.end(), m.fstype) != types.end()) continue;
    if (RE2::PartialMatch(m.mountpoint, *mount_exclude_)) continue;
    auto usage = statfs_(m.mountpoint);
    if (!usage.ok()) {
      Fail(errors_.statfs, usage.status().ToString());
      continue;
    }
    if (usage->size_bytes == 0) continue;  // nothing to report (e.g. an empty autofs)
    Labels labels{{"device", m.device}, {"fstype", m.fstype}, {"mountpoint", m.mountpoint}};
    out.push_back(Make("host_filesystem_size_bytes", labels, now, static_cast<double>(usage->size_bytes)));
    out.push_back(Make("host_filesystem_avail_bytes", labels, now, static_cast<double>(usage->avail_bytes)));
    // df's Use%: used / (used + available to users); blocks reserved for root count as
    // neither, so a full filesystem reads 1 even when root still has room.
    uint64_t used = usage->size_bytes - std::min(usage->free_bytes, usage->size_bytes);
    uint64_t denom = used + usage->avail_bytes;
    out.push_back(Make("host_filesystem_used_ratio", std::move(labels), now,
                       denom == 0 ? 0.0 : static_cast<double>(used) / static_cast<double>(denom)));
  }
}

void HostMetricsCollector::CollectDisks(std::vector<Sample>& out, int64_t now, double dt_s) {
  auto text = ReadWholeFile(config_.proc_root + "/diskstats");
  if (!text.ok()) return Fail(errors_.diskstats, text.status().ToString());
  std::map<std::string, DiskCounters> cur = ParseDiskStats(*text);
  for (auto it = cur.begin(); it != cur.end();) {
    it = RE2::PartialMatch(it->first, *disk_exclude_) ? cur.erase(it) : std::next(it);
  }
  if (dt_s > 0) {
    for (const auto& [dev, c] : cur) {
      auto p = prev_disks_.find(dev);
      if (p == prev_disks_.end()) continue;
      const DiskCounters& o = p->second;
      double reads, writes, rbytes, wbytes, io_ms;
      if (!Rate(c.reads, o.reads, dt_s, &reads) || !Rate(c.writes, o.writes, dt_s, &writes) ||
          !Rate(c.sectors_read, o.sectors_read, dt_s, &rbytes) ||
          !Rate(c.sectors_written, o.sectors_written, dt_s, &wbytes) || !Rate(c.io_ms, o.io_ms, dt_s, &io_ms)) {
        continue;
      }
      Labels labels{{"device", dev}};
      out.push_back(Make("host_disk_reads_per_second", labels, now, reads));
      out.push_back(Make("host_disk_writes_per_second", labels, now, writes));
      out.push_back(Make("host_disk_read_bytes_per_second", labels, now, rbytes * 512));
      out.push_back(Make("host_disk_written_bytes_per_second", labels, now, wbytes * 512));
      // ms of I/O per second of wall time / 1000; capped because the two clocks differ.
      out.push_back(Make("host_disk_io_utilisation", std::move(labels), now, std::min(1.0, io_ms / 1000.0)));
    }
  }
  prev_disks_ = std::move(cur);
}

void HostMetricsCollector::CollectNetwork(std::vector<Sample>& out, int64_t now, double dt_s) {
  auto text = ReadWholeFile(config_.proc_root + "/net/dev");
  if (!text.ok()) return Fail(errors_.netdev, text.status().ToString());
  std::map<std::string, NetCounters> cur = ParseNetDev(*text);
  for (auto it = cur.begin(); it != cur.end();) {
    it = RE2::PartialMatch(it->first, *net_exclude_) ? cur.erase(it) : std::next(it);
  }
  if (dt_s > 0) {
    for (const auto& [dev, c] : cur) {
      auto p = prev_net_.find(dev);
      if (p == prev_net_.end()) continue;
      const NetCounters& o = p->second;
      struct Field {
        const char* name;
        uint64_t NetCounters::*m;
      };
      static constexpr Field kFields[] = {
          {"host_network_receive_bytes_per_second", &NetCounters::rx_bytes},
          {"host_network_receive_packets_per_second", &NetCounters::rx_packets},
          {"host_network_receive_errors_per_second", &NetCounters::rx_errors},
          {"host_network_receive_drops_per_second", &NetCounters::rx_drops},
          {"host_network_transmit_bytes_per_second", &NetCounters::tx_bytes},
          {"host_network_transmit_packets_per_second", &NetCounters::tx_packets},
          {"host_network_transmit_errors_per_second", &NetCounters::tx_errors},
          {"host_network_transmit_drops_per_second", &NetCounters::tx_drops},
      };
      double rates[std::size(kFields)];
      bool ok = true;
      for (size_t i = 0; i < std::size(kFields) && ok; ++i) ok = Rate(c.*kFields[i].m, o.*kFields[i].m, dt_s, &rates[i]);
      if (!ok) continue;  // counters reset (interface re-created): wait for the next delta
      for (size_t i = 0; i < std::size(kFields); ++i) {
        out.push_back(Make(kFields[i].name, {{"interface", dev}}, now, rates[i]));
      }
    }
  }
  prev_net_ = std::move(cur);
}

}  // namespace logship
