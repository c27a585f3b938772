// Process logging through spdlog: one default logger, to stderr, text or JSON lines.
#pragma once

#include <string>

#include "logship/config.h"
#include "logship/status.h"

namespace logship {

// Configures the default spdlog logger. REQUIRES: called before worker threads start.
Status InitLogging(const LogConfig& config);

}  // namespace logship
