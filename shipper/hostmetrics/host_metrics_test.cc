#include "shipper/hostmetrics/host_metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

namespace logship {
namespace {

namespace fs = std::filesystem;

// A fake /proc in a temp dir; each test writes two snapshots and checks the deltas.
class FakeProc {
 public:
  FakeProc() {
    root_ = fs::temp_directory_path() /
            ("logship_hm_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "self");
    fs::create_directories(root_ / "net");
  }
  ~FakeProc() { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ / rel, std::ios::binary | std::ios::trunc) << text;
  }
  std::string root() const { return root_.string(); }

 private:
  fs::path root_;
};

// The value of the sample with this name whose labels include all of `want`.
std::optional<double> Find(const std::vector<Sample>& samples, const std::string& name, const Labels& want = {}) {
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& w : want) ok = ok && std::find(s.labels.begin(), s.labels.end(), w) != s.labels.end();
    if (ok) return s.value;
  }
  return std::nullopt;
}

size_t Count(const std::vector<Sample>& samples, const std::string& name) {
  return std::count_if(samples.begin(), samples.end(), [&](const Sample& s) { return s.name == name; });
}

HostMetricsConfig OnlyProc(const FakeProc& proc) {
  HostMetricsConfig c;
  c.proc_root = proc.root();
  c.filesystems = c.disks = c.network = false;
  return c;
}

TEST(ParseProcStat, Aggregate) {
  auto t = ParseProcStat("cpu  10 2 3 100 5 1 1 4 0 0\ncpu0 1 2 3 4\n");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->busy, 10u + 2 + 3 + 1 + 1);
  EXPECT_EQ(t->total, 17u + 100 + 5 + 4);
  EXPECT_FALSE(ParseProcStat("intr 1 2 3").ok());
  EXPECT_FALSE(ParseProcStat("cpu 1 2").ok());
}

TEST(HostMetrics, CpuLoadMemoryAndPerCpu) {
  FakeProc proc;
  ManualClock clock(1'000'000'000'000);
  HostMetricsConfig c = OnlyProc(proc);
  c.per_cpu = true;
  HostMetricsCollector collector("h1", clock, c);
  proc.Write("stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0\nintr 5\n");
  proc.Write("loadavg", "0.50 0.25 0.10 1/100 42\n");
  proc.Write("meminfo", "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n");
  auto first = collector.Collect();
  EXPECT_FALSE(Find(first, "host_cpu_utilisation"));
  EXPECT_EQ(Find(first, "host_load1"), 0.5);
  EXPECT_EQ(Find(first, "host_load15"), 0.1);
  EXPECT_EQ(Find(first, "host_memory_total_bytes"), 1024000.0);
  EXPECT_EQ(Find(first, "host_memory_available_bytes"), 256000.0);
  EXPECT_EQ(Find(first, "host_memory_used_ratio"), 0.75);
  // +100 busy of +200 total overall; cpu0 all busy (+50/+50), cpu1 idle (0/+150).
  proc.Write("stat", "cpu  150 0 150 900 0 0 0 0 0 0\ncpu0 75 0 75 400 0 0 0 0\ncpu1 50 0 50 550 0 0 0 0\n");
  clock.AdvanceNs(10'000'000'000);
  auto second = collector.Collect();
  EXPECT_EQ(Find(second, "host_cpu_utilisation"), 0.5);
  EXPECT_EQ(Find(second, "host_cpu_core_utilisation", {{"cpu", "0"}}), 1.0);
  EXPECT_EQ(Find(second, "host_cpu_core_utilisation", {{"cpu", "1"}}), 0.0);
  for (const Sample& s : second) {
    EXPECT_EQ(s.time_ms, 1'010'000);  // 1e12 ns + 10 s
    EXPECT_TRUE(std::is_sorted(s.labels.begin(), s.labels.end())) << s.name;
    EXPECT_NE(std::find(s.labels.begin(), s.labels.end(), std::pair<std::string, std::string>{"host", "h1"}),
              s.labels.end());
  }
}

TEST(HostMetrics, DiskStatsDeltas) {
  FakeProc proc;
  ManualClock clock(0);
  HostMetricsConfig c = OnlyProc(proc);
  c.disks = true;
  HostMetricsCollector collector("h", clock, c);
  // major minor name reads rmerged sectors_read ms_read writes wmerged sectors_written ms_write inflight io_ms
  // weighted_ms
  proc.Write("diskstats",
             "   8       0 sda 100 0 1000 0 200 0 4000 0 0 1000 0\n"
             "   8       1 sda1 100 0 1000 0 200 0 4000 0 0 1000 0\n"
             "   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0\n"
             " 259       0 nvme0n1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
             " 259       1 nvme0n1p1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
  EXPECT_EQ(Count(collector.Collect(), "host_disk_reads_per_second"), 0u);
  clock.AdvanceNs(2'000'000'000);  // 2 s
  proc.Write("diskstats",
             "   8       0 sda 300 0 3000 0 600 0 8096 0 0 1500 0\n"
             "   8       1 sda1 300 0 3000 0 600 0 8096 0 0 1500 0\n"
             "   7       0 loop0 50 0 100 0 0 0 0 0 0 0 0\n"
             " 259       0 nvme0n1 0 0 0 0 10 0 0 0 0 4000 0 0 0 0 0 0 0\n"
             " 259       1 nvme0n1p1 0 0 0 0 10 0 0 0 0 4000 0 0 0 0 0 0 0\n");
  auto s = collector.Collect();
  Labels sda{{"device", "sda"}};
  EXPECT_EQ(Find(s, "host_disk_reads_per_second", sda), 100.0);
  EXPECT_EQ(Find(s, "host_disk_writes_per_second", sda), 200.0);
  EXPECT_EQ(Find(s, "host_disk_read_bytes_per_second", sda), 1000.0 * 512);
  EXPECT_EQ(Find(s, "host_disk_written_bytes_per_second", sda), 2048.0 * 512);
  EXPECT_EQ(Find(s, "host_disk_io_utilisation", sda), 0.25);
  // 4000 ms of I/O in 2 s is capped at 1.
  EXPECT_EQ(Find(s, "host_disk_io_utilisation", {{"device", "nvme0n1"}}), 1.0);
  EXPECT_EQ(Find(s, "host_disk_writes_per_second", {{"device", "nvme0n1"}}), 5.0);
  // Partitions and loop devices are excluded by default.
  EXPECT_EQ(Count(s, "host_disk_reads_per_second"), 2u);
  // A counter going backwards (device re-created) gives no rate for that round.
  clock.AdvanceNs(1'000'000'000);
  proc.Write("diskstats", "   8       0 sda 1 0 1 0 1 0 1 0 0 1 0\n");
  EXPECT_EQ(Count(collector.Collect(), "host_disk_reads_per_second"), 0u);
}

TEST(HostMetrics, NetDevDeltas) {
  FakeProc proc;
  ManualClock clock(0);
  HostMetricsConfig c = OnlyProc(proc);
  c.network = true;
  HostMetricsCollector collector("h", clock, c);
  const std::string header =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
      "carrier compressed\n";
  proc.Write("net/dev", header +
                            "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
                            "  eth0: 10000 100 1 2 0 0 0 0 20000 200 3 4 0 0 0 0\n");
  EXPECT_EQ(Count(collector.Collect(), "host_network_receive_bytes_per_second"), 0u);
  // A second collection at the same clock time has no rates either.
  EXPECT_EQ(Count(collector.Collect(), "host_network_receive_bytes_per_second"), 0u);
  clock.AdvanceNs(4'000'000'000);
  proc.Write("net/dev", header +
                            "    lo: 9000 90 0 0 0 0 0 0 9000 90 0 0 0 0 0 0\n"
                            "  eth0:14000 140 5 6 0 0 0 0 28000 280 7 12 0 0 0 0\n");
  auto s = collector.Collect();
  Labels eth0{{"interface", "eth0"}};
  EXPECT_EQ(Find(s, "host_network_receive_bytes_per_second", eth0), 1000.0);
  EXPECT_EQ(Find(s, "host_network_receive_packets_per_second", eth0), 10.0);
  EXPECT_EQ(Find(s, "host_network_receive_errors_per_second", eth0), 1.0);
  EXPECT_EQ(Find(s, "host_network_receive_drops_per_second", eth0), 1.0);
  EXPECT_EQ(Find(s, "host_network_transmit_bytes_per_second", eth0), 2000.0);
  EXPECT_EQ(Find(s, "host_network_transmit_packets_per_second", eth0), 20.0);
  EXPECT_EQ(Find(s, "host_network_transmit_errors_per_second", eth0), 1.0);
  EXPECT_EQ(Find(s, "host_network_transmit_drops_per_second", eth0), 2.0);
  EXPECT_EQ(Count(s, "host_network_receive_bytes_per_second"), 1u);  // lo excluded
}

TEST(HostMetrics, Filesystems) {
  FakeProc proc;
  ManualClock clock(0);
  HostMetricsConfig c = OnlyProc(proc);
  c.filesystems = true;
  std::map<std::string, FsUsage> usage = {
      {"/", {1000, 400, 300}},
      {"/data dir", {2000, 2000, 2000}},
      {"/run", {100, 50, 50}},
  };
  std::vector<std::string> asked;
  auto statfs = [&](const std::string& mp) -> Result<FsUsage> {
    asked.push_back(mp);
    auto it = usage.find(mp);
    if (it == usage.end()) return Status::IOError("statvfs " + mp + ": no such mount");
    return it->second;
  };
  proc.Write("self/mounts",
             "/dev/sda1 / ext4 rw,relatime 0 0\n"
             "proc /proc proc rw 0 0\n"
             "sysfs /sys sysfs rw 0 0\n"
             "tmpfs /run tmpfs rw 0 0\n"
             "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
             "/dev/sdb1 /data\\040dir xfs rw 0 0\n"
             "udev /dev devtmpfs rw 0 0\n"
             "/dev/sdc1 /gone ext4 rw 0 0\n");
  HostMetricsCollector collector("h", clock, c, statfs);
  auto s = collector.Collect();
  Labels root{{"device", "/dev/sda1"}, {"fstype", "ext4"}, {"mountpoint", "/"}};
  EXPECT_EQ(Find(s, "host_filesystem_size_bytes", root), 1000.0);
  EXPECT_EQ(Find(s, "host_filesystem_avail_bytes", root), 300.0);
  // used 600 of (600 used + 300 available).
  EXPECT_DOUBLE_EQ(*Find(s, "host_filesystem_used_ratio", root), 600.0 / 900.0);
  EXPECT_EQ(Find(s, "host_filesystem_used_ratio", {{"mountpoint", "/data dir"}}), 0.0);
  EXPECT_EQ(Count(s, "host_filesystem_size_bytes"), 2u);  // tmpfs off by default; /gone fails
  EXPECT_EQ(collector.errors().statfs, 1u);
  std::sort(asked.begin(), asked.end());
  EXPECT_EQ(asked, (std::vector<std::string>{"/", "/data dir", "/gone"}));

  c.filesystem_tmpfs = true;
  HostMetricsCollector with_tmpfs("h", clock, c, statfs);
  EXPECT_EQ(Find(with_tmpfs.Collect(), "host_filesystem_used_ratio", {{"fstype", "tmpfs"}}), 0.5);
}

TEST(HostMetrics, RealStatFs) {
  auto u = StatFs("/");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_GT(u->size_bytes, 0u);
  EXPECT_LE(u->avail_bytes, u->size_bytes);
  EXPECT_FALSE(StatFs("/nonexistent/logship").ok());
}

TEST(HostMetrics, MissingFilesAreCountedNotFatal) {
  FakeProc proc;
  ManualClock clock(0);
  HostMetricsConfig c;
  c.proc_root = proc.root();
  HostMetricsCollector collector("h", clock, c);
  EXPECT_TRUE(collector.Collect().empty());
  EXPECT_TRUE(collector.Collect().empty());
  EXPECT_EQ(collector.errors().stat, 2u);
  EXPECT_EQ(collector.errors().diskstats, 2u);
  EXPECT_EQ(collector.errors().netdev, 2u);
  EXPECT_EQ(collector.errors().mounts, 2u);
}

TEST(HostMetrics, RealProcCollects) {
  ManualClock clock(0);
  HostMetricsCollector collector("h", clock, HostMetricsConfig{});
  collector.Collect();
  clock.AdvanceNs(1'000'000'000);
  auto s = collector.Collect();
  EXPECT_TRUE(Find(s, "host_memory_total_bytes"));
  EXPECT_TRUE(Find(s, "host_load1"));
}

}  // namespace
}  // namespace logship
