#include "logship/metrics.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <exception>

namespace logship {

prometheus::Registry& MetricsRegistry() {
  static auto* registry = new prometheus::Registry();  // never destroyed: probes outlive main
  return *registry;
}

namespace {
std::shared_ptr<prometheus::Registry> SharedRegistry() {
  static std::shared_ptr<prometheus::Registry> shared(&MetricsRegistry(), [](prometheus::Registry*) {});
  return shared;
}
}  // namespace

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& listen) {
  std::unique_ptr<MetricsEndpoint> ep(new MetricsEndpoint());
  try {
    ep->exposer_ = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
    ep->exposer_->RegisterCollectable(SharedRegistry());
    auto ports = ep->exposer_->GetListeningPorts();
    ep->port_ = ports.empty() ? 0 : ports.front();
  } catch (const std::exception& e) {
    return Status::IOError("metrics endpoint on " + listen + ": " + e.what());
  }
  return ep;
}

MetricsEndpoint::~MetricsEndpoint() = default;

}  // namespace logship
