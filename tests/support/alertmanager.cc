#include "tests/support/alertmanager.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/http/http_client.h"
#include "tests/support/ports.h"
#include "tests/support/subprocess.h"

namespace logship::testing {

Alertmanager::Alertmanager(AlertmanagerOptions options) : options_(std::move(options)) {}

Alertmanager::~Alertmanager() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string Alertmanager::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

Status Alertmanager::Start() {
  if (::access(options_.binary.c_str(), X_OK) != 0) {
    return Status::NotFound(options_.binary + " is not installed (scripts/setup --test installs prometheus-alertmanager)");
  }
  if (dir_.empty()) dir_ = MakeTempDir("logship-alertmanager");
  // Every alert goes to a receiver without integrations: the test reads what arrived
  // through the API, nothing is sent onwards.
  std::ofstream(dir_ + "/alertmanager.yml") << "route:\n"
                                               "  receiver: 'null'\n"
                                               "  group_wait: 0s\n"
                                               "  group_interval: 1s\n"
                                               "  repeat_interval: 1h\n"
                                               "receivers:\n"
                                               "  - name: 'null'\n";
  HttpClient http;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreeLoopbackPort();
    if (port_ <= 0) return Status::IOError("no free loopback port");
    std::vector<std::string> argv = {options_.binary,
                                     "--config.file=" + dir_ + "/alertmanager.yml",
                                     "--storage.path=" + dir_ + "/data",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--cluster.listen-address=",
                                     "--log.level=warn"};
    int log = ::open((dir_ + "/alertmanager.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    auto pid = SpawnChild(argv, -1, log, log);
    if (log >= 0) ::close(log);
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: the port was taken, or a bad flag
        pid_ = -1;
        break;
      }
      auto resp = http.Get(url() + "/-/ready", {}, std::chrono::milliseconds(2000));
      if (resp.ok() && resp->status == 200) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Stop();
  }
  return Status::IOError("prometheus-alertmanager did not start on a loopback port (see " + dir_ +
                         "/alertmanager.log)");
}

Result<nlohmann::json> Alertmanager::ActiveAlerts() const {
  HttpClient http;
  auto resp = http.Get(url() + "/api/v2/alerts", {{"Accept", "application/json"}}, std::chrono::milliseconds(5000));
  if (!resp.ok()) return resp.status();
  auto j = nlohmann::json::parse(resp->body, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return Status::Corruption("alertmanager: not a JSON array: " + resp->body);
  return j;
}

void Alertmanager::Stop() {
  StopChild(&pid_);
}

}  // namespace logship::testing
