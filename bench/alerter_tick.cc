// One Alerter evaluation tick over many series, and the memory each series costs.
//
//   alerter_tick [--rule rate|baseline] [--series N] [--ticks K]
//
// A plain timed program rather than a Google Benchmark: the state under test (N series
// with a full window of points) is built once, and each tick is a single Evaluate() that
// changes that state, so it cannot be repeated on the same input.
//
// Workload: `http_requests` delta counters, 10 s buckets, labels {host=hNNNNNN, status=200},
// one series per host (so one alert group per series: the worst case for per-group state).
// 1 host in 100 runs above the warning threshold (its alert fires during loading and stays
// firing), the rest at 1 request/s. Rules (one per run, group interval 10 s, window 1m, by host):
//   rate      static thresholds: warning above 50/s, critical above 200/s, for 30s
//   baseline  RequestRateOffBaseline from rules/alerts/default.yaml: warning and critical
//             are both seasonal baselines (week of 1 h buckets), i.e. two estimators/group
// Notifiers do nothing. Lateness 10 s, so each new 10 s interval moves the clock one step.
//
// Loading: 8 intervals of samples (the 1m window + lateness + the first step), Evaluate()
// after each, like the live worker. Memory: VmRSS after malloc_trim(0), before and after
// loading, divided by N. A tick: ingest the next interval (timed apart), then Evaluate()
// (timed). The floor: the same rate/threshold judgement over flat arrays (a ring of six
// buckets per series, series addressed by index): what a tick costs with no maps, no
// labels and no alert state.
//
// Output: details, then lines `key value` for bench/alerter to summarise.
#include <malloc.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "alerter/alerter.h"

namespace {

using namespace logship;
using namespace logship::alerter;
using Clock = std::chrono::steady_clock;

constexpr int64_t kT0 = 1'700'006'400'000;  // a multiple of 10 s and of 1 h
constexpr int64_t kBucket = 10'000;

const char* kRateRule = R"(groups:
  - name: http
    interval: 10s
    rules:
      - alert: RequestRate
        metric: http_requests
        function: rate
        window: 1m
        by: [host]
        warning: {above: 50}
        critical: {above: 200}
        for: 30s
        annotations:
          summary: 'request rate on {{ $labels.host }} is {{ $value }}/s'
)";

const char* kBaselineRule = R"(groups:
  - name: http
    interval: 10s
    rules:
      - alert: RequestRateOffBaseline
        metric: http_requests
        function: rate
        window: 1m
        by: [host]
        warning: {baseline: {method: seasonal, season: 7d, bucket: 1h, window: 1h, k: 4, direction: both, min_rate: 1}}
        critical: {baseline: {method: seasonal, season: 7d, bucket: 1h, window: 1h, k: 0, min_ratio: 0.1, max_ratio: 5, direction: both, min_rate: 1}}
        for: 30s
        annotations:
          summary: 'request rate on {{ $labels.host }} is {{ $value }}/s'
)";

class NullNotifier final : public Notifier {
 public:
  Status Notify(const Page&) override { return Status::Ok(); }
  const std::string& name() const override { return name_; }

 private:
  std::string name_ = "null";
};

long RssKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

long TrimmedRssKb() {
  malloc_trim(0);
  return RssKb();
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// This thread's CPU time (ms): on a shared, loaded machine the wall-clock tick includes
// time the thread waited for a core; the CPU time does not.
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// One interval's samples for every series (built once; time and values rewritten per interval).
std::vector<Sample> MakeBatch(int series) {
  std::vector<Sample> batch(series);
  char host[16];
  for (int i = 0; i < series; ++i) {
    snprintf(host, sizeof host, "h%06d", i + 1);
    batch[i].name = "http_requests";
    batch[i].labels = {{"host", host}, {"status", "200"}};
  }
  return batch;
}

// 1 request/s; 1 host in 100 at 100/s (above the static warning).
double DeltaFor(int i) { return i % 100 == 0 ? 1000.0 : 10.0; }

void Fill(std::vector<Sample>& batch, int64_t t) {
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].time_ms = t;
    batch[i].value = DeltaFor(static_cast<int>(i));
  }
}

struct FloorResult {
  double tick_ms = 0;
  size_t firing = 0;
};

// The flat-array floor: per series a ring of six 10 s buckets; a tick writes the new
// bucket and judges rate = sum / 60 against the thresholds.
FloorResult RunFloor(int series, int ticks) {
  std::vector<std::array<double, 6>> ring(series);
  std::vector<int8_t> level(series, 0);
  for (int i = 0; i < series; ++i) ring[i].fill(DeltaFor(i));
  std::vector<double> times;
  FloorResult r;
  for (int k = 0; k < ticks; ++k) {
    auto start = Clock::now();
    size_t firing = 0;
    for (int i = 0; i < series; ++i) {
      ring[i][k % 6] = DeltaFor(i);
      double sum = 0;
      for (double v : ring[i]) sum += v;
      double rate = sum / 60.0;
      level[i] = rate > 200 ? 2 : rate > 50 ? 1 : 0;
      firing += level[i] != 0;
    }
    times.push_back(Ms(Clock::now() - start));
    r.firing = firing;
  }
  std::sort(times.begin(), times.end());
  r.tick_ms = times[times.size() / 2];
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string rule = "rate";
  int series = 100000;
  int ticks = 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rule" && i + 1 < argc) rule = argv[++i];
    else if (a == "--series" && i + 1 < argc) series = std::atoi(argv[++i]);
    else if (a == "--ticks" && i + 1 < argc) ticks = std::atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--rule rate|baseline] [--series N] [--ticks K]\n", argv[0]);
      return 2;
    }
  }
  if ((rule != "rate" && rule != "baseline") || series <= 0 || ticks <= 0) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }

  auto parsed = ParseAlertRules(rule == "rate" ? kRateRule : kBaselineRule, "bench.yaml");
  if (!parsed.ok()) {
    fprintf(stderr, "%s\n", parsed.status().ToString().c_str());
    return 1;
  }
  auto rules = MakeRuleSet(std::move(*parsed));
  if (!rules.ok()) {
    fprintf(stderr, "%s\n", rules.status().ToString().c_str());
    return 1;
  }
  std::vector<Sample> batch = MakeBatch(series);

  const long rss_before = TrimmedRssKb();
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<NullNotifier>());
  auto alerter = Alerter::Create(*rules, std::move(notifiers));

  // Loading: 8 intervals (window 1m = 6 buckets, + lateness 10 s, + the first step).
  constexpr int kLoadIntervals = 8;
  int64_t t = kT0;
  auto load_start = Clock::now();
  double load_ingest_ms = 0;
  for (int k = 0; k < kLoadIntervals; ++k, t += kBucket) {
    Fill(batch, t);
    auto s = Clock::now();
    alerter->Ingest(batch);
    load_ingest_ms += Ms(Clock::now() - s);
    alerter->Evaluate();
  }
  const double load_ms = Ms(Clock::now() - load_start);
  const long rss_loaded = TrimmedRssKb();
  const uint64_t evals_loaded = alerter->stats().evaluations;
  if (evals_loaded == 0) {
    fprintf(stderr, "no evaluation during loading: the window is not full\n");
    return 1;
  }

  std::vector<double> ingest_ms, tick_ms, tick_cpu_ms;
  for (int k = 0; k < ticks; ++k, t += kBucket) {
    Fill(batch, t);
    auto s0 = Clock::now();
    alerter->Ingest(batch);
    auto s1 = Clock::now();
    const double c1 = ThreadCpuMs();
    alerter->Evaluate();
    const double c2 = ThreadCpuMs();
    auto s2 = Clock::now();
    ingest_ms.push_back(Ms(s1 - s0));
    tick_ms.push_back(Ms(s2 - s1));
    tick_cpu_ms.push_back(c2 - c1);
  }
  const long rss_after = TrimmedRssKb();
  const uint64_t steps = alerter->stats().evaluations - evals_loaded;
  auto sorted = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  auto ti = sorted(tick_ms), in = sorted(ingest_ms), tc = sorted(tick_cpu_ms);
  const double tick_median = ti[ti.size() / 2];
  const double ingest_median = in[in.size() / 2];
  const double bytes_loaded = (rss_loaded - rss_before) * 1024.0 / series;
  const double bytes_after = (rss_after - rss_before) * 1024.0 / series;

  const FloorResult floor = RunFloor(series, ticks);

  printf("rule %s, %d series (series_count %zu), %d ticks, %llu steps evaluated in them\n",
         rule.c_str(), series, alerter->series_count(), ticks,
         static_cast<unsigned long long>(steps));
  printf("loading: %d intervals = %d samples in %.0f ms (Ingest %.0f ms, Evaluate %.0f ms)\n",
         kLoadIntervals, kLoadIntervals * series, load_ms, load_ingest_ms, load_ms - load_ingest_ms);
  printf("tick Evaluate(): median %.1f ms, min %.1f, max %.1f (thread CPU time: median %.1f ms)\n", tick_median,
         ti.front(), ti.back(), tc[tc.size() / 2]);
  printf("tick Ingest() of one interval (%d samples): median %.1f ms, min %.1f, max %.1f\n",
         series, ingest_median, in.front(), in.back());
  printf("alerts active %zu, pages sent %zu\n", alerter->active_alerts().size(),
         alerter->pages_sent().size());
  printf("RSS: before %ld kB, loaded %ld kB (%.0f B/series), after %d ticks %ld kB (%.0f B/series)\n",
         rss_before, rss_loaded, bytes_loaded, ticks, rss_after, bytes_after);
  printf("floor (flat arrays, same judgement): median %.2f ms per tick, %zu firing\n",
         floor.tick_ms, floor.firing);
  if (steps != static_cast<uint64_t>(ticks)) {
    fprintf(stderr, "expected one step per tick, got %llu in %d ticks\n",
            static_cast<unsigned long long>(steps), ticks);
    return 1;
  }
  printf("result series %d\n", series);
  printf("result tick_ms %.2f\n", tick_median);
  printf("result tick_cpu_ms %.2f\n", tc[tc.size() / 2]);
  printf("result ingest_ms %.2f\n", ingest_median);
  printf("result bytes_per_series %.0f\n", std::max(bytes_loaded, bytes_after));
  printf("result floor_ms %.3f\n", floor.tick_ms);
  return 0;
}
