#include "alerter/alerter_service.h"

#include <spdlog/spdlog.h>

#include "alerter/api/api_token.h"
#include "core/util/fs.h"

namespace logship::alerter {

Result<std::unique_ptr<AlerterService>> AlerterService::Start(const Config& config, AlerterServiceOptions options) {
  const AlerterConfig& ac = config.alerter;
  auto rules = LoadAlertRules(ac.rule_files);
  if (!rules.ok()) return rules.status();
  auto notifiers = BuildNotifiers(ac.notify, config.data_dir);
  if (!notifiers.ok()) return notifiers.status();

  DispatcherOptions dopts;
  dopts.clock = options.clock;
  dopts.external_url = ac.external_url;
  if (dopts.external_url.empty() && !ac.api.listen.empty()) dopts.external_url = "http://" + ac.api.listen;
  while (!dopts.external_url.empty() && dopts.external_url.back() == '/') dopts.external_url.pop_back();

  std::unique_ptr<AlerterService> s(new AlerterService());
  auto dispatcher = PageDispatcher::Open(ac.state_path, ac.route, ac.inhibit_rules, std::move(*notifiers), dopts);
  if (!dispatcher.ok()) return dispatcher.status();
  s->dispatcher_ = std::move(*dispatcher);

  AlerterOptions aopts = options.alerter;
  aopts.flap = FlapPolicy{ac.flap.window, ac.flap.start, ac.flap.stop};
  aopts.lateness = ac.lateness;
  s->alerter_ = Alerter::Create(std::move(*rules), s->dispatcher_.get(), aopts);
  auto snapshot = s->dispatcher_->LoadEvaluatorState();
  if (!snapshot.ok()) return snapshot.status();
  LOGSHIP_RETURN_IF_ERROR(s->alerter_->Restore(*snapshot));
  s->dispatcher_->Start();

  if (!ac.api.listen.empty()) {
    auto token = ApiToken(config, /*create=*/true);
    if (!token.ok()) return token.status();
    ApiServerOptions api;
    api.listen = ac.api.listen;
    api.token = *token;
    api.open_reads = ac.api.open_reads;
    auto server = ApiServer::Start(api, s->dispatcher_.get());
    if (server.ok()) {
      s->api_ = std::move(*server);
      // The address actually bound (port 0 picks one), for `logship alerts` on this host.
      const std::string host = ac.api.listen.substr(0, ac.api.listen.rfind(':'));
      const std::string bound = host + ":" + std::to_string(s->api_->port());
      if (Status st = WriteFileAtomically(ApiAddressPath(config.data_dir), bound + "\n"); !st.ok()) {
        spdlog::warn("alerter: cannot record the API address: {}", st.ToString());
      }
      spdlog::info("alerter: API on http://{} (port {}); token from {}", ac.api.listen, s->api_->port(),
                   ac.api.token.value.empty() ? ApiTokenPath(config.data_dir) : ac.api.token.origin);
    } else if (options.api_required) {
      return server.status();
    } else {
      spdlog::error("alerter: {}; running without the API (alerts are still evaluated and sent)",
                    server.status().ToString());
    }
  }
  return s;
}

AlerterService::~AlerterService() { Stop(); }

void AlerterService::Stop() {
  api_.reset();
  if (dispatcher_) dispatcher_->Stop();
}

}  // namespace logship::alerter
