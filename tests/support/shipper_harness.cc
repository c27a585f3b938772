#include "tests/support/shipper_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/http/http_client.h"
#include "core/queue/redis_stream.h"

namespace logship::testing {

ShipperProcess::ShipperProcess(std::string dir) : dir_(std::move(dir)) {}

ShipperProcess::~ShipperProcess() {
  if (running()) Kill();
}

void ShipperProcess::WriteConfig(const std::string& yaml) const {
  std::ofstream(config_path(), std::ios::trunc) << yaml;
}

Status ShipperProcess::Start() {
  if (running()) return Status::Ok();
  process_ = std::make_unique<Subprocess>(
      std::vector<std::string>{LogshipBinary(), "shipper", "--config", config_path()}, dir_ + "/shipper.log");
  return process_->Start();
}

int ShipperProcess::Kill() {
  if (!running()) return -1;
  process_->Signal(SIGKILL);
  return process_->Wait(10000);
}

int ShipperProcess::Stop(int timeout_ms) {
  if (!running()) return -1;
  process_->Signal(SIGTERM);
  return process_->Wait(timeout_ms);
}

std::string ShipperProcess::Log() const {
  std::ifstream in(dir_ + "/shipper.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ShipperProcess::LogTail(size_t lines) const {
  std::ifstream in(dir_ + "/shipper.log");
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += l + "\n";
  return out;
}

int64_t ShipperProcess::RssKiB() const {
  if (!running()) return -1;
  std::ifstream in("/proc/" + std::to_string(pid()) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::set<std::pair<uint64_t, uint64_t>> ShipperProcess::OpenFiles() const {
  std::set<std::pair<uint64_t, uint64_t>> out;
  if (!running()) return out;
  std::string fd_dir = "/proc/" + std::to_string(pid()) + "/fd";
  DIR* d = ::opendir(fd_dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st;
    // stat() follows the magic link, to the file itself even when it was deleted.
    if (::stat((fd_dir + "/" + e->d_name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      out.emplace(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
    }
  }
  ::closedir(d);
  return out;
}

Result<std::string> ScrapeMetrics(int port) {
  HttpClient http;
  auto r = http.Get("http://127.0.0.1:" + std::to_string(port) + "/metrics", {}, std::chrono::seconds(5));
  if (!r.ok()) return r.status();
  return r->body;
}

namespace {

// Parses `name{a="x",b="y"} value` (labels optional); false for comments and blanks.
bool ParseSample(const std::string& line, std::string* name, std::vector<std::pair<std::string, std::string>>* labels,
                 double* value) {
  if (line.empty() || line[0] == '#') return false;
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  *name = line.substr(0, i);
  labels->clear();
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t eq = line.find('=', i);
      if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
      std::string key = line.substr(i, eq - i);
      std::string val;
      size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          val += line[j] == 'n' ? '\n' : line[j];
        } else {
          val += line[j];
        }
      }
      labels->emplace_back(std::move(key), std::move(val));
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    ++i;  // '}'
  }
  while (i < line.size() && line[i] == ' ') ++i;
  char* end = nullptr;
  *value = std::strtod(line.c_str() + i, &end);
  return end != line.c_str() + i;
}

}  // namespace

std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, double>> MetricSeries(
    const std::string& text, const std::string& name) {
  std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, double>> out;
  std::istringstream in(text);
  std::string n;
  std::vector<std::pair<std::string, std::string>> labels;
  double v = 0;
  for (std::string line; std::getline(in, line);) {
    if (ParseSample(line, &n, &labels, &v) && n == name) {
      std::sort(labels.begin(), labels.end());
      out.emplace_back(labels, v);
    }
  }
  return out;
}

std::optional<double> MetricValue(const std::string& text, const std::string& name,
                                  const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const auto& [have, value] : MetricSeries(text, name)) {
    bool all = true;
    for (const auto& want : labels) {
      if (std::find(have.begin(), have.end(), want) == have.end()) all = false;
    }
    if (all) return value;
  }
  return std::nullopt;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

class RedisCollector final : public EventCollector {
 public:
  explicit RedisCollector(std::unique_ptr<EventConsumer> consumer) : consumer_(std::move(consumer)) {}
  Status Collect(const std::function<void(const std::string&, const std::string&)>& sink) override {
    for (int round = 0; round < 4; ++round) {  // bounded, so that the caller gets its turn
      auto got = consumer_->Poll(5000, std::chrono::milliseconds(1));
      if (!got.ok()) return got.status();
      if (got->empty()) return Status::Ok();
      for (const auto& d : *got) sink(d.value.raw, d.value.id);
      LOGSHIP_RETURN_IF_ERROR(consumer_->Ack(*got));
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<EventConsumer> consumer_;
};

}  // namespace

std::unique_ptr<EventCollector> MakeRedisCollector(const QueueConfig& queue) {
  auto consumer = MakeRedisEventConsumer(queue, "test-verifier", "verifier-1");
  if (!consumer.ok()) return nullptr;
  return std::make_unique<RedisCollector>(std::move(*consumer));
}

KcatCollector::KcatCollector(std::string bootstrap, std::string topic, std::string scratch_dir)
    : bootstrap_(std::move(bootstrap)), topic_(std::move(topic)), scratch_(std::move(scratch_dir)) {}

void KcatCollector::Reset(std::string bootstrap) {
  bootstrap_ = std::move(bootstrap);
  next_offset_ = 0;
}

Status KcatCollector::Collect(const std::function<void(const std::string&, const std::string&)>& sink) {
  const std::string out_path = scratch_ + "/kcat.out", err_path = scratch_ + "/kcat.err";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // auto.offset.reset=error: an offset the broker no longer has is an error, not a silent
  // jump to the end.
  auto pid = SpawnChild({"/usr/bin/kcat", "-C", "-b", bootstrap_, "-t", topic_, "-p", "0", "-o",
                         std::to_string(next_offset_), "-e", "-q", "-X", "topic.auto.offset.reset=error", "-f",
                         "%o\t%h\t%s\n"},
                        null, out, err);
  ::close(out);
  ::close(err);
  ::close(null);
  if (!pid.ok()) return pid.status();
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    pid_t r = ::waitpid(*pid, &status, WNOHANG);
    if (r == *pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(*pid, SIGKILL);
      ::waitpid(*pid, &status, 0);
      return Status::Retryable("kcat did not finish within 30 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::ifstream in(out_path, std::ios::binary);
  for (std::string line; std::getline(in, line);) {
    size_t t1 = line.find('\t');
    size_t t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos) continue;  // a line cut by a kcat failure
    int64_t offset = std::strtoll(line.c_str(), nullptr, 10);
    if (offset != next_offset_) {
      return Status::Permanent("kcat: expected offset " + std::to_string(next_offset_) + ", got " +
                               std::to_string(offset) + " (messages trimmed by the mock broker before they were read?)");
    }
    std::string headers = line.substr(t1 + 1, t2 - t1 - 1);
    std::string id;
    for (size_t p = 0; p < headers.size();) {
      size_t comma = headers.find(',', p);
      std::string kv = headers.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
      if (kv.rfind("id=", 0) == 0) id = kv.substr(3);
      if (comma == std::string::npos) break;
      p = comma + 1;
    }
    sink(line.substr(t2 + 1), id);
    next_offset_ = offset + 1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream e(err_path);
    std::stringstream ss;
    ss << e.rdbuf();
    return Status::Retryable("kcat exited with status " + std::to_string(status) + ": " + ss.str());
  }
  return Status::Ok();
}

}  // namespace logship::testing
