#include "shipper/hostmetrics/check_command.h"

#include <fcntl.h>
#include <poll.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/wire/wire.h"
#include "logship/metrics.h"

extern char** environ;

namespace logship {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr size_t kMaxStderrBytes = 4096;
constexpr int kPollSliceMs = 50;

// The checks' metrics, registered once per process.
struct CheckProbe {
  prometheus::Family<prometheus::Counter>& runs = prometheus::BuildCounter()
                                                       .Name("logship_shipper_check_runs_total")
                                                       .Help("Check command runs, by check")
                                                       .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& errors = prometheus::BuildCounter()
                                                         .Name("logship_shipper_check_errors_total")
                                                         .Help("Failed check command runs, by check and kind")
                                                         .Register(MetricsRegistry());
  prometheus::Counter& dropped = prometheus::BuildCounter()
                                     .Name("logship_shipper_check_dropped_samples_total")
                                     .Help("Check samples dropped because the pending buffer was full")
                                     .Register(MetricsRegistry())
                                     .Add({});
  static CheckProbe& Get() {
    static CheckProbe probe;
    return probe;
  }
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line.empty() ? "(no stderr output)" : line;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

void KillGroup(pid_t pid) {
  if (kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);
}

}  // namespace

const char* CheckErrorKind(CheckError e) {
  switch (e) {
    case CheckError::kNone: return "none";
    case CheckError::kSpawn: return "spawn";
    case CheckError::kTimeout: return "timeout";
    case CheckError::kExit: return "exit";
    case CheckError::kOutputTooLarge: return "output_too_large";
    case CheckError::kParse: return "parse";
    case CheckError::kStopped: return "stopped";
  }
  return "unknown";
}

CheckResult RunCheck(const HostCheckConfig& check, const std::string& host, int64_t now_ms,
                     const std::atomic<bool>* stop) {
  CheckResult r;
  auto fail = [&r](CheckError e, std::string msg) {
    r.error = e;
    r.message = std::move(msg);
    r.samples.clear();
    return r;
  };
  if (check.command.empty()) return fail(CheckError::kSpawn, "empty command");
  const SteadyClock::time_point deadline = SteadyClock::now() + check.timeout;

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return fail(CheckError::kSpawn, std::string("pipe: ") + strerror(errno));
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return fail(CheckError::kSpawn, std::string("pipe: ") + strerror(errno));
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all_default;
  sigemptyset(&none);
  sigemptyset(&all_default);
  sigaddset(&all_default, SIGPIPE);
  sigaddset(&all_default, SIGINT);
  sigaddset(&all_default, SIGTERM);
  sigaddset(&all_default, SIGHUP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all_default);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const std::string& a : check.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail(CheckError::kSpawn, "cannot run " + check.command[0] + ": " + strerror(rc));
  out_w.Close();
  err_w.Close();
  fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_r.get(), F_SETFL, O_NONBLOCK);

  std::string out, err;
  bool out_open = true, err_open = true;
  CheckError abort = CheckError::kNone;
  char buf[8192];
  while ((out_open || err_open) && abort == CheckError::kNone) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      abort = CheckError::kTimeout;
      break;
    }
    if (stop != nullptr && stop->load()) {
      abort = CheckError::kStopped;
      break;
    }
    pollfd fds[2];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_open) fds[n++] = {err_r.get(), POLLIN, 0};
    int ready = poll(fds, n, static_cast<int>(std::min<int64_t>(left, kPollSliceMs)));
    if (ready < 0 && errno != EINTR) {
      abort = CheckError::kSpawn;
      break;
    }
    for (nfds_t i = 0; i < n && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      bool is_out = fds[i].fd == out_r.get();
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        if (is_out) {
          out.append(buf, static_cast<size_t>(got));
          if (out.size() > check.max_output_bytes) abort = CheckError::kOutputTooLarge;
        } else if (err.size() < kMaxStderrBytes) {
          err.append(buf, std::min(static_cast<size_t>(got), kMaxStderrBytes - err.size()));
        }
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        (is_out ? out_open : err_open) = false;
      }
    }
  }

  // Both pipes are closed (or we gave up): reap the command, killing it if it outlives the
  // deadline or we are aborting.
  int status = 0;
  for (;;) {
    if (abort != CheckError::kNone) {
      KillGroup(pid);
      waitpid(pid, &status, 0);
      break;
    }
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    if (SteadyClock::now() >= deadline) {
      abort = CheckError::kTimeout;
    } else if (stop != nullptr && stop->load()) {
      abort = CheckError::kStopped;
    } else {
      usleep(5000);
    }
  }

  switch (abort) {
    case CheckError::kNone: break;
    case CheckError::kTimeout:
      return fail(abort, "timed out after " + std::to_string(check.timeout.count()) + " ms; killed");
    case CheckError::kOutputTooLarge:
      return fail(abort, "output exceeds max_output_bytes (" + std::to_string(check.max_output_bytes) +
                             "); killed");
    case CheckError::kStopped: return fail(abort, "shipper stopping; killed");
    default: return fail(abort, std::string("poll: ") + strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(CheckError::kExit, DescribeStatus(status) + ": " + FirstLine(err));
  }
  auto samples = wire::ParsePrometheusText(out, now_ms);
  if (!samples.ok()) return fail(CheckError::kParse, "output is not Prometheus text: " + samples.status().message());
  for (Sample& s : *samples) {
    std::erase_if(s.labels, [](const auto& l) { return l.first == "host" || l.first == "check"; });
    s.labels.emplace_back("host", host);
    s.labels.emplace_back("check", check.name);
    wire::SortLabels(s.labels);
  }
  r.samples = std::move(*samples);
  return r;
}

CheckScheduler::CheckScheduler(std::vector<HostCheckConfig> checks, std::string host, const Clock& clock,
                               size_t max_pending_samples)
    : checks_(std::move(checks)), host_(std::move(host)), clock_(clock), max_pending_(max_pending_samples) {}

CheckScheduler::~CheckScheduler() { Stop(); }

void CheckScheduler::Start() {
  for (const HostCheckConfig& c : checks_) threads_.emplace_back([this, &c] { Loop(c); });
}

void CheckScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::vector<Sample> CheckScheduler::TakeSamples() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(pending_, {});
}

CheckScheduler::Stats CheckScheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CheckScheduler::Loop(const HostCheckConfig& check) {
  CheckProbe& probe = CheckProbe::Get();
  prometheus::Counter& runs = probe.runs.Add({{"check", check.name}});
  SteadyClock::time_point next = SteadyClock::now();
  while (!stopping_.load()) {
    CheckResult r = RunCheck(check, host_, clock_.NowMs(), &stopping_);
    if (r.error == CheckError::kStopped) return;
    runs.Increment();
    size_t dropped = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.runs;
      if (r.error != CheckError::kNone) {
        ++stats_.errors;
        ++stats_.errors_by_kind[CheckErrorKind(r.error)];
      }
      size_t room = max_pending_ - std::min(max_pending_, pending_.size());
      size_t take = std::min(room, r.samples.size());
      dropped = r.samples.size() - take;
      std::move(r.samples.begin(), r.samples.begin() + static_cast<ptrdiff_t>(take), std::back_inserter(pending_));
      stats_.dropped_samples += dropped;
    }
    if (r.error != CheckError::kNone) {
      probe.errors.Add({{"check", check.name}, {"kind", CheckErrorKind(r.error)}}).Increment();
      spdlog::warn("host metrics: check {} ({}): {}", check.name, check.command[0], r.message);
    }
    if (dropped > 0) {
      probe.dropped.Increment(static_cast<double>(dropped));
      spdlog::warn("host metrics: check {}: dropped {} samples, the pending buffer is full", check.name, dropped);
    }
    // Fixed-rate schedule; after a run longer than the interval the next starts at once,
    // without a burst of catch-up runs.
    next = std::max(next + check.interval, SteadyClock::now());
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, next, [this] { return stopping_.load(); });
  }
}

}  // namespace logship
