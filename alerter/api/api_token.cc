#include "alerter/api/api_token.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/util/fs.h"

namespace logship::alerter {

std::string ApiTokenPath(const std::string& data_dir) { return data_dir + "/alerter/api-token"; }
std::string ApiAddressPath(const std::string& data_dir) { return data_dir + "/alerter/api-address"; }

Result<std::string> LoadOrCreateApiToken(const std::string& path) {
  auto existing = ReadWholeFile(path);
  if (existing.ok()) {
    std::string t = *existing;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    if (!t.empty()) return t;
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::IOError("alerter API token: no random bytes");
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : raw) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("alerter API token: create " + tmp + ": " + strerror(errno));
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError("alerter API token: write " + path + ": " + strerror(errno));
  }
  return token;
}

Result<std::string> ApiToken(const Config& config, bool create) {
  if (!config.alerter.api.token.value.empty()) return config.alerter.api.token.value;
  const std::string path = ApiTokenPath(config.data_dir);
  if (create) return LoadOrCreateApiToken(path);
  auto t = ReadWholeFile(path);
  if (!t.ok()) {
    return Status::NotFound("no alerter API token: set alerter.api.token, or run the alerter once to create " + path +
                            " (and make it readable)");
  }
  std::string token = *t;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

}  // namespace logship::alerter
