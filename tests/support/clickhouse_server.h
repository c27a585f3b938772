// A real clickhouse-server (Debian's, 18.16) for tests: HTTP interface only, on a free
// loopback port, data and logs in its own temporary directory.
#pragma once

#include <sys/types.h>

#include <string>

#include "logship/config.h"
#include "logship/status.h"

namespace logship::testing {

struct ClickHouseServerOptions {
  std::string binary = "/usr/sbin/clickhouse-server";
  // The `default` user's password; empty for none.
  std::string password;
  // Also serve HTTPS on a second free port, with a self-signed certificate for 127.0.0.1
  // made by the `openssl` command (ca_file() is that certificate).
  bool tls = false;
};

// Not thread-safe. The destructor stops the server and removes its directory.
class ClickHouseServer {
 public:
  explicit ClickHouseServer(ClickHouseServerOptions options = {});
  ~ClickHouseServer();
  ClickHouseServer(const ClickHouseServer&) = delete;
  ClickHouseServer& operator=(const ClickHouseServer&) = delete;

  // True when the binary is installed (tests skip themselves otherwise, with a message
  // naming scripts/setup --test).
  static bool Available(const std::string& binary = "/usr/sbin/clickhouse-server");

  // Writes the config and launches the server bound to 127.0.0.1, then waits (polling
  // GET /ping, 30 s deadline) until it answers. The first Start picks a free port,
  // retrying with another when it is taken; later Starts (Restart) reuse port and data.
  Status Start();
  // SIGTERM, then waits for the process to exit (SIGKILL after 30 s).
  void Stop();
  // SIGKILL, then waits for the process to exit: a crash.
  void Kill();
  // Stop() (or Kill() when `kill`), then Start() on the same port and directory.
  Status Restart(bool kill = false);

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // REQUIRES: options.tls.
  std::string https_url() const { return "https://127.0.0.1:" + std::to_string(https_port_); }
  std::string ca_file() const { return dir_ + "/cert.pem"; }
  // url, user `default` and the password; database "logship_test", table "events";
  // retention_days 0 (keep everything).
  ClickHouseSinkConfig sink_config() const;

 private:
  Status WriteConfig();
  Status MakeCertificate();
  Status Launch();
  Status WaitReady(bool* exited);
  void Signal(int sig, int grace_ms);

  ClickHouseServerOptions options_;
  std::string dir_;
  int port_ = -1;
  int https_port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace logship::testing
