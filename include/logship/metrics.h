// Metrics: one prometheus-cpp registry per process, exposed on /metrics (loopback by
// default). Each unit owns a probe that registers its families once (STYLE.md habit 10:
// *_received_events_total, *_sent_events_total, *_bytes_total, *_errors_total{kind},
// *_dropped_events_total).
#pragma once

#include <memory>
#include <string>

#include "logship/status.h"

namespace prometheus {
class Registry;
class Exposer;
}  // namespace prometheus

namespace logship {

// The process-wide registry. Thread-safe.
prometheus::Registry& MetricsRegistry();

// Serves MetricsRegistry() on http://<listen>/metrics until destroyed.
class MetricsEndpoint {
 public:
  static Result<std::unique_ptr<MetricsEndpoint>> Start(const std::string& listen);
  ~MetricsEndpoint();
  int port() const { return port_; }  // the bound port (useful with "127.0.0.1:0")

 private:
  MetricsEndpoint() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace logship
