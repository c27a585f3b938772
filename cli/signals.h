// Signal handling for the daemons: SIGTERM, SIGINT and SIGHUP are blocked in every thread
// and taken synchronously by the main thread, so handlers never run on a worker.
#pragma once

#include "logship/config.h"

namespace logship::cli {

enum class SignalEvent { kNone, kStop, kReload };

// REQUIRES: called in main() before any thread starts.
void BlockDaemonSignals();
// Waits up to `timeout` for one of the daemon signals.
SignalEvent WaitForSignal(Millis timeout);

}  // namespace logship::cli
