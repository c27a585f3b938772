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
  const std::string bin = LogshipBinary();
  if (::access(bin.c_str(), X_OK) != 0) {
    return Status::InvalidArgument("the logship binary " + bin + " cannot be run (" + std::strerror(errno) +
                                   "): run the test from the build directory or set LOGSHIP_BIN");
  }
  std::vector<std::string> argv;
  if (run_as_) {
    argv = {"/usr/bin/setpriv", "--reuid=" + std::to_string(run_as_->first),
            "--regid=" + std::to_string(run_as_->second), "--clear-groups", "--pdeathsig=KILL", "--"};
  }
  argv.push_back(bin);
  argv.insert(argv.end(), {"shipper", "--config", config_path()});
  process_ = std::make_unique<Subprocess>(std::move(argv), dir_ + "/shipper.log");
  return process_->Start();
}

bool CanRunLogshipAs(uid_t uid, gid_t gid) {
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  auto pid = SpawnChild({"/usr/bin/setpriv", "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(gid),
                         "--clear-groups", "--", LogshipBinary(), "--help"},
                        null, null, null);
  if (null >= 0) ::close(null);
  if (!pid.ok()) return false;
  int status = 0;
  if (::waitpid(*pid, &status, 0) != *pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool ShipperProcess::Alive() const {
  if (!running()) return false;
  std::ifstream in("/proc/" + std::to_string(pid()) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
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

namespace {

// "%h" of one message, "n=v,n=v" (values may be binary): the event id, from the header
// "e" (wire::kKafkaEventHeader: varint flags, then the id as varint length + bytes;
// docs/wire-format.md) or, for earlier shippers, from the header "id".
std::string KafkaEventId(std::string_view headers) {
  if (headers.starts_with("e=")) {
    std::string_view h = headers.substr(2);
    size_t i = 0;
    auto varint = [&](uint64_t* v) {
      *v = 0;
      for (int shift = 0; i < h.size() && shift < 64; shift += 7) {
        const auto b = static_cast<uint8_t>(h[i++]);
        *v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) return true;
      }
      return false;
    };
    uint64_t flags = 0, len = 0;
    if (varint(&flags) && varint(&len) && len <= h.size() - i) return std::string(h.substr(i, len));
    return "";
  }
  for (size_t p = 0; p < headers.size();) {
    size_t comma = headers.find(',', p);
    std::string_view kv = headers.substr(p, comma == std::string_view::npos ? std::string_view::npos : comma - p);
    if (kv.starts_with("id=")) return std::string(kv.substr(3));
    if (comma == std::string_view::npos) break;
    p = comma + 1;
  }
  return "";
}

}  // namespace

Status KcatCollector::Collect(const std::function<void(const std::string&, const std::string&)>& sink) {
  const std::string out_path = scratch_ + "/kcat.out", err_path = scratch_ + "/kcat.err";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // Binary-safe records: "<offset> <value length> <key length>\t", the key, the value,
  // then the headers (whose length kcat does not print) up to kEnd.
  static const std::string kEnd = "\n\x01kcat-end\x02\n";
  // auto.offset.reset=error: an offset the broker no longer has is an error, not a silent
  // jump to the end.
  auto pid = SpawnChild({"/usr/bin/kcat", "-C", "-b", bootstrap_, "-t", topic_, "-p", "0", "-o",
                         std::to_string(next_offset_), "-e", "-q", "-X", "topic.auto.offset.reset=error", "-f",
                         "%o %S %K\t%k%s%h" + kEnd},
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
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t p = 0; p < text.size();) {
    const size_t tab = text.find('\t', p);
    if (tab == std::string::npos) break;  // a record cut by a kcat failure
    long long offset = -1, value_len = -1, key_len = -1;
    if (std::sscanf(text.substr(p, tab - p).c_str(), "%lld %lld %lld", &offset, &value_len, &key_len) != 3) {
      return Status::Permanent("kcat: cannot parse a record header at byte " + std::to_string(p));
    }
    const size_t key_at = tab + 1;
    const size_t value_at = key_at + static_cast<size_t>(std::max(key_len, 0LL));
    const size_t headers_at = value_at + static_cast<size_t>(std::max(value_len, 0LL));
    const size_t end = headers_at <= text.size() ? text.find(kEnd, headers_at) : std::string::npos;
    if (end == std::string::npos) break;  // cut
    if (offset != next_offset_) {
      return Status::Permanent("kcat: expected offset " + std::to_string(next_offset_) + ", got " +
                               std::to_string(offset) + " (messages trimmed by the mock broker before they were read?)");
    }
    sink(text.substr(value_at, headers_at - value_at),
         KafkaEventId(std::string_view(text).substr(headers_at, end - headers_at)));
    next_offset_ = offset + 1;
    p = end + kEnd.size();
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
