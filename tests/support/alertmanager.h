// A real prometheus-alertmanager (Debian package) for tests, as a receiver of the alerter's
// pages: on a free loopback port, with its own storage directory and a config that routes
// every alert to a receiver that does nothing, clustering off (its default gossip port
// binds every interface). Never the system service, never port 9093.
#pragma once

#include <sys/types.h>

#include <string>

#include <nlohmann/json.hpp>

#include "logship/status.h"

namespace logship::testing {

struct AlertmanagerOptions {
  std::string binary = "/usr/bin/prometheus-alertmanager";
};

// Not thread-safe. The destructor stops the server and removes its directory.
class Alertmanager {
 public:
  explicit Alertmanager(AlertmanagerOptions options = {});
  ~Alertmanager();
  Alertmanager(const Alertmanager&) = delete;
  Alertmanager& operator=(const Alertmanager&) = delete;

  // Launches it on 127.0.0.1:<free port> (another port when that one was taken) and waits
  // (15 s deadline) until GET /-/ready answers 200. NotFound when the binary is missing
  // (scripts/setup --test installs prometheus-alertmanager).
  Status Start();
  void Stop();  // SIGTERM, then waits for the process to exit

  int port() const { return port_; }
  std::string url() const;  // http://127.0.0.1:<port> (what alerter.notify[].url takes)
  // GET /api/v2/alerts: the alerts Alertmanager holds as active (resolved ones are left
  // out by Alertmanager itself); an error when it does not answer with a JSON array.
  Result<nlohmann::json> ActiveAlerts() const;

 private:
  AlertmanagerOptions options_;
  std::string dir_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace logship::testing
