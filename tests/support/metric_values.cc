#include "tests/support/metric_values.h"

#include <prometheus/registry.h>

#include "logship/metrics.h"

namespace logship::testing {

double MetricValue(const std::string& name, const std::map<std::string, std::string>& labels) {
  double total = 0;
  for (const auto& family : MetricsRegistry().Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      size_t matched = 0;
      for (const auto& l : m.label) {
        auto it = labels.find(l.name);
        if (it != labels.end() && it->second == l.value) ++matched;
      }
      if (matched != labels.size()) continue;
      total += family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return total;
}

}  // namespace logship::testing
