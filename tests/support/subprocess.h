// Subprocess: runs a program (usually the logship binary) as a child for integration
// tests, with its stdout and stderr going to a log file the test can print on failure.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "logship/status.h"

namespace logship::testing {

class Subprocess {
 public:
  Subprocess(std::vector<std::string> argv, std::string log_path);
  ~Subprocess();  // SIGKILLs a child still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  Status Start();
  void Signal(int sig);
  // Waits for the child to exit; returns its exit status (128+signal when killed), or -1
  // on timeout (the child keeps running).
  int Wait(int timeout_ms);
  void Kill() { Signal(9); Wait(10000); }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string Log() const;  // what the child printed so far

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// Forks and execs argv[0] (a path) with stdin, stdout and stderr taken from the given
// descriptors (-1: inherit), an empty signal mask, and SIGKILL when the test process
// dies, so a crashed test leaves no server behind. Returns the child's pid.
Result<pid_t> SpawnChild(const std::vector<std::string>& argv, int stdin_fd = -1, int stdout_fd = -1,
                         int stderr_fd = -1);

// Runs the logship binary with `args` to its end (or `timeout_ms`: then exit_code -1 and
// the child is killed); output is stdout and stderr, logged to a fresh file in `log_dir`.
struct RunResult {
  int exit_code;
  std::string output;
};
RunResult RunLogship(const std::vector<std::string>& args, const std::string& log_dir, int timeout_ms = 120000);

// SIGTERM, up to `grace_ms` for the child to exit, then SIGKILL; reaps it and sets *pid to
// -1. Does nothing when *pid <= 0.
void StopChild(pid_t* pid, int grace_ms = 5000);

// The logship binary under test and the source tree: LOGSHIP_BIN and LOGSHIP_SRC (set by
// CTest), else the build's own, so a test runs from any directory.
std::string LogshipBinary();
std::string SourceDir();
// A fresh empty directory under $TMPDIR, removed by the caller (or left for debugging).
std::string MakeTempDir(const std::string& prefix);

}  // namespace logship::testing
