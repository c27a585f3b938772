// A real redis-server for tests, on a free loopback port, in its own temporary directory.
#pragma once

#include <sys/types.h>

#include <string>

#include "logship/config.h"
#include "logship/status.h"

namespace logship::testing {

struct RedisServerOptions {
  std::string binary = "/usr/bin/redis-server";
  // When set, the default user requires this password (--requirepass).
  std::string requirepass;
  // When both are set, an ACL user with this name and password and every permission.
  std::string acl_user;
  std::string acl_password;
  // Append-only file with fsync on every write: acknowledged writes survive Kill() and
  // Restart(). Off by default (no persistence: a restart empties the server).
  bool persistent = false;
};

// Not thread-safe. The destructor stops the server and removes its directory.
class RedisServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Launches redis-server bound to 127.0.0.1 and waits (polling PING, 10 s deadline) until
  // it answers. The first Start picks a free port, retrying with another when it is taken;
  // later Starts (Restart) reuse the same port.
  Status Start();
  // SIGTERM, then waits for the process to exit.
  void Stop();
  // SIGKILL, then waits for the process to exit: a crash.
  void Kill();
  // Stop() (or Kill() when `kill`), then Start() on the same port and directory.
  Status Restart(bool kill = false);

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // host/port and, when configured, the ACL user or the default user's password.
  RedisConfig client_config() const;

 private:
  Status Launch();
  Status WaitReady(bool* exited);
  void Signal(int sig);

  RedisServerOptions options_;
  std::string dir_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace logship::testing
