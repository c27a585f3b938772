// A real prometheus-node-exporter (Debian package) for tests, as a scrape target on a free
// loopback port: never the system service, never port 9100.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "logship/status.h"

namespace logship::testing {

struct NodeExporterOptions {
  std::string binary = "/usr/bin/prometheus-node-exporter";
  // Only these collectors (a fast, predictable page): CPU seconds per mode, load
  // averages, memory. Empty: the binary's defaults.
  std::vector<std::string> collectors = {"cpu", "loadavg", "meminfo"};
  // When set, also the textfile collector on this directory: node_exporter serves the
  // samples of its *.prom files (re-read at every scrape), values a test controls.
  std::string textfile_dir;
};

// Not thread-safe. The destructor stops the exporter.
class NodeExporter {
 public:
  explicit NodeExporter(NodeExporterOptions options = {});
  ~NodeExporter();
  NodeExporter(const NodeExporter&) = delete;
  NodeExporter& operator=(const NodeExporter&) = delete;

  // Launches the exporter on 127.0.0.1:<free port> (another port when that one was taken)
  // and waits (10 s deadline) until GET /metrics answers with node_cpu_seconds_total.
  // NotFound when the binary is missing (scripts/setup --test installs it).
  Status Start();
  void Stop();  // SIGTERM, then waits for the process to exit

  int port() const { return port_; }
  std::string metrics_url() const;  // http://127.0.0.1:<port>/metrics
  std::string instance() const;     // 127.0.0.1:<port>

 private:
  NodeExporterOptions options_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace logship::testing
