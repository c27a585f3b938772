// Reads a metric's current value from the process-wide registry (logship/metrics.h), for
// tests that check a probe counted something.
#pragma once

#include <map>
#include <string>

namespace logship::testing {

// The value of the counter or gauge `name` whose labels include all of `labels`, summed
// over every matching series; 0 when there is none.
double MetricValue(const std::string& name, const std::map<std::string, std::string>& labels = {});

}  // namespace logship::testing
