// The daemons as the CLI runs them: each loads its config, starts its parts, waits for
// SIGTERM/SIGINT (drain and exit 0) or SIGHUP (reload what can be reloaded), and stops.
#pragma once

#include <string>

#include "logship/config.h"

namespace logship::cli {

struct RunOptions {
  // logship run: stop by itself once everything was read, parsed and evaluated and has
  // stayed so for this long (0: run until a signal). Used by the demo and tests.
  Millis exit_when_idle{0};
  bool print_summary = true;
};

// logship config check: the config, and the parse and alert rule files it names.
int CheckConfig(const std::string& config_path);
int RunShipper(const std::string& config_path);
int RunParser(const std::string& config_path);
int RunAlerter(const std::string& config_path);
int RunAll(const std::string& config_path, const RunOptions& options);

}  // namespace logship::cli
