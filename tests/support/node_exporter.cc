#include "tests/support/node_exporter.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/http/http_client.h"
#include "tests/support/ports.h"
#include "tests/support/subprocess.h"

namespace logship::testing {

NodeExporter::NodeExporter(NodeExporterOptions options) : options_(std::move(options)) {}

NodeExporter::~NodeExporter() { Stop(); }

std::string NodeExporter::instance() const { return "127.0.0.1:" + std::to_string(port_); }
std::string NodeExporter::metrics_url() const { return "http://" + instance() + "/metrics"; }

Status NodeExporter::Start() {
  if (::access(options_.binary.c_str(), X_OK) != 0) {
    return Status::NotFound(options_.binary + " is not installed (scripts/setup --test installs prometheus-node-exporter)");
  }
  HttpClient http;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreeLoopbackPort();
    if (port_ <= 0) return Status::IOError("no free loopback port");
    std::vector<std::string> argv = {options_.binary, "--web.listen-address=" + instance(), "--log.level=warn"};
    if (!options_.collectors.empty()) {
      argv.push_back("--collector.disable-defaults");
      for (const auto& c : options_.collectors) argv.push_back("--collector." + c);
    }
    if (!options_.textfile_dir.empty()) {
      argv.push_back("--collector.textfile");
      argv.push_back("--collector.textfile.directory=" + options_.textfile_dir);
    }
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    auto pid = SpawnChild(argv, -1, devnull, devnull);
    if (devnull >= 0) ::close(devnull);
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: the port was taken, or a bad flag
        pid_ = -1;
        break;
      }
      auto resp = http.Get(metrics_url(), {}, std::chrono::milliseconds(2000));
      if (resp.ok() && resp->body.find("node_cpu_seconds_total") != std::string::npos) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Stop();
  }
  return Status::IOError("prometheus-node-exporter did not start on a loopback port");
}

void NodeExporter::Stop() {
  StopChild(&pid_);
}

}  // namespace logship::testing
