#include "logship/event.h"

#include <charconv>

#include "core/base/hash.h"

namespace logship {

std::string FileEventIdPrefix(std::string_view host, const FileIdentity& file) {
  uint64_t h = Hash64().Add(host).Add(std::string_view("\0", 1)).Add(file.device).Add(file.inode)
                   .Add(file.fingerprint).Digest();
  // "%016llx:" without printf's cost.
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[17];
  for (int i = 15; i >= 0; --i, h >>= 4) buf[i] = kHex[h & 0xf];
  buf[16] = ':';
  return std::string(buf, sizeof buf);
}

std::string MakeFileEventId(std::string_view host, const FileIdentity& file, uint64_t offset) {
  std::string id = FileEventIdPrefix(host, file);
  char buf[24];
  id.append(buf, std::to_chars(buf, buf + sizeof buf, offset).ptr);
  return id;
}

}  // namespace logship
