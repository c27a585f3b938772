#include "alerter/notify/log/log_notifier.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "alerter/notify/notify_probe.h"

namespace logship::alerter {

Result<std::unique_ptr<LogNotifier>> LogNotifier::Create(const std::string& name,
                                                         const std::string& path) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("notifier " + name + ": create " + dir.string() + ": " + ec.message());
  return std::unique_ptr<LogNotifier>(new LogNotifier(name, path));
}

Status LogNotifier::Notify(const Page& page) {
  std::string line = PageToJson(page).dump() + "\n";
  spdlog::warn("page: {} {} {} dedup_key={} value={} {}", PageActionName(page.action),
               SeverityName(page.severity), page.alert, page.dedup_key, FormatValue(page.value),
               PageSummary(page));
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    CountNotifyError(name_, "log", "io");
    return Status::IOError("notifier " + name_ + ": open " + path_ + ": " + strerror(errno));
  }
  size_t off = 0;
  Status st;
  while (off < line.size()) {
    ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = Status::IOError("notifier " + name_ + ": write " + path_ + ": " + strerror(errno));
      break;
    }
    off += static_cast<size_t>(n);
  }
  if (st.ok() && ::fsync(fd) != 0) {
    st = Status::IOError("notifier " + name_ + ": fsync " + path_ + ": " + strerror(errno));
  }
  ::close(fd);
  if (!st.ok()) {
    CountNotifyError(name_, "log", "io");
    spdlog::error("{}", st.ToString());
    return st;
  }
  CountNotifySent(name_, "log");
  return st;
}

}  // namespace logship::alerter
