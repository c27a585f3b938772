#include "cli/signals.h"

#include <signal.h>
#include <time.h>

namespace logship::cli {
namespace {
sigset_t DaemonSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void BlockDaemonSignals() {
  sigset_t set = DaemonSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a peer closing a socket is an error return, not a death
}

SignalEvent WaitForSignal(Millis timeout) {
  sigset_t set = DaemonSignals();
  timespec ts{static_cast<time_t>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1'000'000};
  int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig == SIGHUP) return SignalEvent::kReload;
  if (sig == SIGTERM || sig == SIGINT) return SignalEvent::kStop;
  return SignalEvent::kNone;
}

}  // namespace logship::cli
