#include "tests/support/clickhouse_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/http/http_client.h"
#include "tests/support/ports.h"
#include "tests/support/subprocess.h"

namespace logship::testing {
namespace {

bool AnswersPing(int port) {
  HttpClient::Options o;
  o.connect_timeout = std::chrono::milliseconds(200);
  HttpClient http(o);
  auto r = http.Get("http://127.0.0.1:" + std::to_string(port) + "/ping", {}, std::chrono::milliseconds(500));
  return r.ok() && r->body.starts_with("Ok.");
}

}  // namespace

ClickHouseServer::ClickHouseServer(ClickHouseServerOptions options) : options_(std::move(options)) {}

ClickHouseServer::~ClickHouseServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool ClickHouseServer::Available(const std::string& binary) { return ::access(binary.c_str(), X_OK) == 0; }

ClickHouseSinkConfig ClickHouseServer::sink_config() const {
  ClickHouseSinkConfig c;
  c.url = url();
  c.database = "logship_test";
  c.table = "events";
  c.user = "default";
  c.password.value = options_.password;
  c.password.origin = options_.password.empty() ? "" : "inline";
  c.timeout = std::chrono::milliseconds(10000);
  c.retention_days = 0;  // tests use fixed dates in 2023; a test of retention sets its own
  return c;
}

Status ClickHouseServer::WriteConfig() {
  // Only the HTTP interface: no native TCP, interserver or MySQL ports. The users are in
  // the same file (no users.xml). The server's own log goes to server.log in dir_.
  std::ofstream f(dir_ + "/config.xml", std::ios::trunc);
  f << "<?xml version=\"1.0\"?>\n<yandex>\n"
    << "  <logger><level>warning</level><log>" << dir_ << "/server.log</log><errorlog>" << dir_
    << "/server.err.log</errorlog><console>0</console></logger>\n"
    << "  <http_port>" << port_ << "</http_port>\n"
    << "  <listen_host>127.0.0.1</listen_host>\n";
  if (options_.tls) {
    f << "  <https_port>" << https_port_ << "</https_port>\n"
      << "  <openSSL><server><certificateFile>" << dir_ << "/cert.pem</certificateFile><privateKeyFile>" << dir_
      << "/key.pem</privateKeyFile><verificationMode>none</verificationMode><loadDefaultCAFile>false"
      << "</loadDefaultCAFile><disableProtocols>sslv2,sslv3</disableProtocols></server></openSSL>\n";
  }
  f << ""
    << "  <path>" << dir_ << "/data/</path>\n"
    << "  <tmp_path>" << dir_ << "/tmp/</tmp_path>\n"
    << "  <user_files_path>" << dir_ << "/user_files/</user_files_path>\n"
    << "  <format_schema_path>" << dir_ << "/format_schemas/</format_schema_path>\n"
    << "  <mark_cache_size>67108864</mark_cache_size>\n"
    << "  <uncompressed_cache_size>67108864</uncompressed_cache_size>\n"
    << "  <timezone>UTC</timezone>\n"
    << "  <max_concurrent_queries>50</max_concurrent_queries>\n"
    << "  <users><default><password>" << options_.password << "</password>"
    << "<networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>\n"
    << "  <profiles><default></default></profiles>\n"
    << "  <quotas><default></default></quotas>\n"
    << "  <default_profile>default</default_profile>\n"
    << "  <default_database>default</default_database>\n"
    << "</yandex>\n";
  f.close();
  if (!f) return Status::IOError("cannot write " + dir_ + "/config.xml");
  return Status::Ok();
}

Status ClickHouseServer::MakeCertificate() {
  int quiet = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  auto pid = SpawnChild({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                         dir_ + "/key.pem", "-out", dir_ + "/cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
                         "-addext", "subjectAltName=IP:127.0.0.1"},
                        -1, quiet, quiet);
  if (quiet >= 0) ::close(quiet);
  if (!pid.ok()) return pid.status();
  int wstatus = 0;
  while (::waitpid(*pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) return Status::IOError("openssl req failed");
  return Status::Ok();
}

Status ClickHouseServer::Start() {
  if (running()) return Status::Ok();
  if (!Available(options_.binary)) {
    return Status::NotFound(options_.binary + " is not installed (scripts/setup --test installs clickhouse-server)");
  }
  if (dir_.empty()) {
    dir_ = MakeTempDir("logship-clickhouse");
    if (dir_.empty()) return Status::IOError("mkdtemp failed");
    if (options_.tls) LOGSHIP_RETURN_IF_ERROR(MakeCertificate());
  }
  bool exited = false;
  if (port_ > 0) {  // Restart: same port and data.
    LOGSHIP_RETURN_IF_ERROR(Launch());
    return WaitReady(&exited);
  }
  Status last = Status::IOError("no attempt");
  for (int attempt = 0; attempt < 10; ++attempt) {
    port_ = FreeLoopbackPort();
    if (port_ <= 0) return Status::IOError("no free loopback port");
    if (options_.tls) {
      https_port_ = FreeLoopbackPort();
      if (https_port_ <= 0 || https_port_ == port_) return Status::IOError("no second free loopback port");
    }
    LOGSHIP_RETURN_IF_ERROR(WriteConfig());
    LOGSHIP_RETURN_IF_ERROR(Launch());
    last = WaitReady(&exited);
    if (last.ok() || !exited) return last;
    // Exited at once: most likely the port was taken in between. Try another one.
  }
  port_ = -1;
  return last;
}

Status ClickHouseServer::Launch() {
  // Its stdout and stderr ("Logging warning to ...") go to a file, not the test's output.
  int out = ::open((dir_ + "/stdout.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto pid = SpawnChild({options_.binary, "--config-file=" + dir_ + "/config.xml"}, -1, out, out);
  if (out >= 0) ::close(out);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return Status::Ok();
}

Status ClickHouseServer::WaitReady(bool* exited) {
  *exited = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      *exited = true;
      return Status::IOError("clickhouse-server exited during startup on port " + std::to_string(port_) + "; see " +
                             dir_ + "/server.err.log");
    }
    if (AnswersPing(port_)) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return Status::IOError("clickhouse-server did not answer /ping within 30 s on port " + std::to_string(port_));
}

void ClickHouseServer::Signal(int sig, int grace_ms) {
  if (pid_ <= 0) return;
  ::kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  for (;;) {
    int wstatus = 0;
    pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

void ClickHouseServer::Stop() { Signal(SIGTERM, 30000); }

void ClickHouseServer::Kill() { Signal(SIGKILL, 30000); }

Status ClickHouseServer::Restart(bool kill) {
  if (kill) {
    Kill();
  } else {
    Stop();
  }
  return Start();
}

}  // namespace logship::testing
