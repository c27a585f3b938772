#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <sstream>


namespace logship::testing {

Subprocess::Subprocess(std::vector<std::string> argv, std::string log_path)
    : argv_(std::move(argv)), log_path_(std::move(log_path)) {}

Subprocess::~Subprocess() {
  if (pid_ > 0) Kill();
}

Result<pid_t> SpawnChild(const std::vector<std::string>& args, int stdin_fd, int stdout_fd, int stderr_fd) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Status::IOError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (stdin_fd >= 0) ::dup2(stdin_fd, 0);
    if (stdout_fd >= 0) ::dup2(stdout_fd, 1);
    if (stderr_fd >= 0) ::dup2(stderr_fd, 2);
    sigset_t empty;  // the test runner may block signals; the child starts clean
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

Status Subprocess::Start() {
  int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return Status::IOError("open " + log_path_ + ": " + std::strerror(errno));
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto pid = SpawnChild(argv_, null, log, log);
  ::close(log);
  if (null >= 0) ::close(null);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return Status::Ok();
}

void Subprocess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int Subprocess::Wait(int timeout_ms) {
  if (pid_ <= 0) return -1;
  for (int waited = 0;; waited += 10) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (waited >= timeout_ms) return -1;
    struct timespec ts{0, 10'000'000};
    nanosleep(&ts, nullptr);
  }
}

std::string Subprocess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string LogshipBinary() {
  const char* bin = std::getenv("LOGSHIP_BIN");
  return bin ? bin : LOGSHIP_BINARY_DEFAULT;
}

std::string SourceDir() {
  const char* src = std::getenv("LOGSHIP_SRC");
  return src ? src : LOGSHIP_SOURCE_DIR_DEFAULT;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string templ = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  char* made = ::mkdtemp(templ.data());
  return made ? std::string(made) : std::string();
}

void StopChild(pid_t* pid, int grace_ms) {
  if (*pid <= 0) return;
  ::kill(*pid, SIGTERM);
  int status = 0;
  for (int waited = 0; waited < grace_ms; waited += 50) {
    if (::waitpid(*pid, &status, WNOHANG) == *pid) {
      *pid = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(*pid, SIGKILL);
  ::waitpid(*pid, &status, 0);
  *pid = -1;
}

RunResult RunLogship(const std::vector<std::string>& args, const std::string& log_dir, int timeout_ms) {
  static std::atomic<int> runs{0};
  std::vector<std::string> argv = {LogshipBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess p(argv, log_dir + "/run-" + std::to_string(::getpid()) + "-" + std::to_string(++runs) + ".log");
  if (Status st = p.Start(); !st.ok()) return {-1, "cannot start " + argv[0] + ": " + st.ToString()};
  const int code = p.Wait(timeout_ms);
  if (code == -1) p.Kill();
  return {code, p.Log()};
}

}  // namespace logship::testing
