#include "logship/event.h"

#include <charconv>
#include <cstring>

#include "core/base/hash.h"

namespace logship {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// "%016llx:" without printf's cost.
void PutIdPrefix(uint64_t h, char (&buf)[17]) {
  for (int i = 15; i >= 0; --i, h >>= 4) buf[i] = kHex[h & 0xf];
  buf[16] = ':';
}

}  // namespace

uint64_t FileEventIdHash(std::string_view host, const FileIdentity& file) {
  return Hash64().Add(host).Add(std::string_view("\0", 1)).Add(file.device).Add(file.inode)
      .Add(file.fingerprint).Digest();
}

std::string FileEventIdPrefix(std::string_view host, const FileIdentity& file) {
  char buf[17];
  PutIdPrefix(FileEventIdHash(host, file), buf);
  return std::string(buf, sizeof buf);
}

std::string FileEventId(uint64_t hash, uint64_t offset) {
  char buf[17 + 20];
  char prefix[17];
  PutIdPrefix(hash, prefix);
  std::memcpy(buf, prefix, sizeof prefix);
  char* end = std::to_chars(buf + sizeof prefix, buf + sizeof buf, offset).ptr;
  return std::string(buf, end);
}

std::string MakeFileEventId(std::string_view host, const FileIdentity& file, uint64_t offset) {
  return FileEventId(FileEventIdHash(host, file), offset);
}

std::optional<uint64_t> ParseFileEventId(std::string_view id, uint64_t offset) {
  char digits[20];
  const auto tail = std::to_chars(digits, digits + sizeof digits, offset).ptr;
  const size_t ndigits = static_cast<size_t>(tail - digits);
  if (id.size() != 17 + ndigits || id[16] != ':' || std::memcmp(id.data() + 17, digits, ndigits) != 0) {
    return std::nullopt;
  }
  uint64_t h = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = id[i];
    uint64_t v;
    if (c >= '0' && c <= '9') v = static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v = static_cast<uint64_t>(c - 'a' + 10);
    else return std::nullopt;  // upper case would not print back the same
    h = (h << 4) | v;
  }
  return h;
}

}  // namespace logship
