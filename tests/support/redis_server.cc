#include "tests/support/redis_server.h"

#include "tests/support/subprocess.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <thread>
#include <vector>

#include "tests/support/ports.h"

namespace logship::testing {
namespace {

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                     "/logship-redis-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return "";
  return std::string(buf.data());
}

// True when something answers PING on the port (an error reply such as NOAUTH counts).
bool Pings(int port) {
  timeval tv{0, 200 * 1000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr) return false;
  bool ok = false;
  if (c->err == 0) {
    redisSetTimeout(c, tv);
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    if (r != nullptr) {
      // LOADING means not ready yet.
      ok = !(r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("LOADING"));
      freeReplyObject(r);
    }
  }
  redisFree(c);
  return ok;
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {}

RedisServer::~RedisServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

RedisConfig RedisServer::client_config() const {
  RedisConfig config;
  config.host = "127.0.0.1";
  config.port = port_;
  config.timeout = std::chrono::milliseconds(5000);
  if (!options_.acl_user.empty()) {
    config.user = options_.acl_user;
    config.password.value = options_.acl_password;
    config.password.origin = "inline";
  } else if (!options_.requirepass.empty()) {
    config.password.value = options_.requirepass;
    config.password.origin = "inline";
  }
  return config;
}

Status RedisServer::Start() {
  if (running()) return Status::Ok();
  if (dir_.empty()) {
    dir_ = MakeTempDir();
    if (dir_.empty()) return Status::IOError("mkdtemp failed");
  }
  if (port_ > 0) {
    // Restart: same port. The old listener is gone (we waited for the process), and
    // redis-server sets SO_REUSEADDR, so the port is normally free again at once.
    bool exited = false;
    Status st = Launch();
    if (!st.ok()) return st;
    return WaitReady(&exited);
  }
  Status last = Status::IOError("no attempt");
  for (int attempt = 0; attempt < 10; ++attempt) {
    port_ = FreeLoopbackPort();
    if (port_ <= 0) return Status::IOError("no free loopback port");
    LOGSHIP_RETURN_IF_ERROR(Launch());
    bool exited = false;
    last = WaitReady(&exited);
    if (last.ok()) return last;
    if (!exited) return last;  // it runs but does not answer: do not retry
    // Exited at once: most likely the port was taken in between. Try another one.
  }
  port_ = -1;
  return last;
}

Status RedisServer::Launch() {
  std::vector<std::string> args = {
      options_.binary,   "--port",    std::to_string(port_), "--bind", "127.0.0.1",
      "--save",          "",          "--dir",               dir_,     "--logfile",
      dir_ + "/redis.log", "--daemonize", "no"};
  if (options_.persistent) {
    args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
  } else {
    args.insert(args.end(), {"--appendonly", "no"});
  }
  if (!options_.requirepass.empty()) {
    args.insert(args.end(), {"--requirepass", options_.requirepass});
  }
  if (!options_.acl_user.empty()) {
    args.insert(args.end(), {"--user", options_.acl_user, "on", ">" + options_.acl_password,
                             "~*", "&*", "+@all"});
  }
  auto pid = SpawnChild(args);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return Status::Ok();
}

Status RedisServer::WaitReady(bool* exited) {
  *exited = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      *exited = true;
      return Status::IOError("redis-server exited during startup on port " +
                             std::to_string(port_) + "; see " + dir_ + "/redis.log");
    }
    if (Pings(port_)) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return Status::IOError("redis-server did not answer PING within 10 s on port " +
                         std::to_string(port_));
}

void RedisServer::Signal(int sig) {
  if (pid_ <= 0) return;
  ::kill(pid_, sig);
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void RedisServer::Stop() { Signal(SIGTERM); }

void RedisServer::Kill() { Signal(SIGKILL); }

Status RedisServer::Restart(bool kill) {
  if (kill) {
    Kill();
  } else {
    Stop();
  }
  return Start();
}

}  // namespace logship::testing
