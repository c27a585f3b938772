#include "tests/support/kafka_broker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "tests/support/subprocess.h"

namespace logship::testing {

KafkaBroker::KafkaBroker(KafkaBrokerOptions options) : options_(std::move(options)) {
  if (options_.binary.empty()) {
    options_.binary =
        (std::filesystem::path(LogshipBinary()).parent_path() / "logship-kafka-mock").string();
  }
}

KafkaBroker::~KafkaBroker() { Stop(); }

Status KafkaBroker::Start() {
  if (running()) return Status::Ok();
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Status::IOError("pipe failed");
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return Status::IOError("pipe failed");
  }
  std::vector<std::string> args = {options_.binary, "--brokers", std::to_string(options_.brokers)};
  for (const std::string& t : options_.topics) args.insert(args.end(), {"--topic", t});
  auto pid = SpawnChild(args, in[0], out[1]);
  if (!pid.ok()) {
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return pid.status();
  }
  ::close(in[0]);
  ::close(out[1]);
  pid_ = *pid;
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  buffered_.clear();

  std::string line;
  Status st = ReadLine(&line, 10000);
  if (st.ok() && line.rfind("bootstrap=", 0) != 0) {
    st = Status::IOError("logship-kafka-mock: unexpected first line \"" + line + "\"");
  }
  if (st.ok()) {
    bootstrap_ = line.substr(10);
    st = ReadLine(&line, 10000);
    if (st.ok() && line != "ready") st = Status::IOError("logship-kafka-mock: " + line);
  }
  if (!st.ok()) {
    Stop();
    return st.Annotate(options_.binary);
  }
  return Status::Ok();
}

Status KafkaBroker::ReadLine(std::string* line, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      *line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return Status::Ok();
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::IOError("no reply within " + std::to_string(timeout_ms) + " ms");
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[512];
    ssize_t r = ::read(stdout_fd_, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status::IOError("the process exited");
    buffered_.append(buf, static_cast<size_t>(r));
  }
}

Status KafkaBroker::Command(const std::string& line) {
  if (!running()) return Status::IOError("kafka mock is not running");
  std::string l = line + "\n";
  if (::write(stdin_fd_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) {
    return Status::IOError("kafka mock: cannot write control line");
  }
  std::string reply;
  LOGSHIP_RETURN_IF_ERROR(ReadLine(&reply, 10000));
  if (reply != "ok") return Status::IOError("kafka mock: " + line + ": " + reply);
  return Status::Ok();
}

Status KafkaBroker::BrokerDown(int broker_id) { return Command("down " + std::to_string(broker_id)); }

Status KafkaBroker::BrokerUp(int broker_id) { return Command("up " + std::to_string(broker_id)); }

void KafkaBroker::Stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int wstatus = 0;
    while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  stdin_fd_ = stdout_fd_ = -1;
}

}  // namespace logship::testing
