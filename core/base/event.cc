#include "logship/event.h"

#include <cstdio>

#include "core/base/hash.h"

namespace logship {

std::string MakeFileEventId(std::string_view host, const FileIdentity& file, uint64_t offset) {
  uint64_t h = Hash64().Add(host).Add(std::string_view("\0", 1)).Add(file.device).Add(file.inode)
                   .Add(file.fingerprint).Digest();
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%016llx:%llu", static_cast<unsigned long long>(h),
                        static_cast<unsigned long long>(offset));
  return std::string(buf, n);
}

}  // namespace logship
