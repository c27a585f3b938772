// AlerterService: the alerter daemon's parts, composed (what `logship alerter` and
// `logship run` run): the rules, the receivers, the PageDispatcher on the SQLite state
// (alerter.state_path), the Alerter evaluating into it (resumed from the persisted state),
// the dispatcher's delivery thread and the API.
//
// Lifecycle: Start (loads, restores, starts delivering and serving) -> Stop (idempotent).
// The caller feeds samples to alerter() from ONE thread (AlerterWorker does).
#pragma once

#include <memory>
#include <string>

#include "alerter/alerter.h"
#include "alerter/api/api_server.h"
#include "alerter/dispatch/page_dispatcher.h"
#include "logship/clock.h"
#include "logship/config.h"
#include "logship/status.h"

namespace logship::alerter {

struct AlerterServiceOptions {
  AlerterOptions alerter;  // flap is taken from the config
  const Clock* clock = &SystemClock();
  // When the API cannot listen (port taken): false logs it and goes on without the API
  // (paging must not stop because a port is busy); true fails Start().
  bool api_required = false;
};

class AlerterService {
 public:
  static Result<std::unique_ptr<AlerterService>> Start(const Config& config, AlerterServiceOptions options = {});
  ~AlerterService();

  void Stop();  // stops the API and the delivery thread; the outbox stays on disk

  Alerter* alerter() { return alerter_.get(); }
  PageDispatcher* dispatcher() { return dispatcher_.get(); }
  int api_port() const { return api_ ? api_->port() : 0; }

 private:
  AlerterService() = default;
  std::unique_ptr<PageDispatcher> dispatcher_;
  std::unique_ptr<Alerter> alerter_;
  std::unique_ptr<ApiServer> api_;
};

}  // namespace logship::alerter
