// Internal to core/wire: the one grammar of a Prometheus text-format sample line, shared by
// ParsePrometheusText() (wire.cc) and ParsePrometheusExposition() (exposition.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "logship/event.h"

namespace logship::wire {

// Parses `name{a="b",...} value [timestamp_ms]` (no leading blanks, no newline) into `s`,
// labels sorted; without a timestamp, `s->time_ms` is `default_time_ms`. Returns "" or
// what was wrong ("expected '=' after label x").
std::string ParseSampleLine(std::string_view line, int64_t default_time_ms, Sample* s);

}  // namespace logship::wire
