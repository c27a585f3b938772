// libFuzzer target for the config loader: any bytes give a config or an error, never a
// crash, and every error names the file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "logship/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto config = logship::ParseConfig(text, "fuzz.yaml", "/fuzz");
  if (!config.ok() && config.status().message().find("fuzz.yaml") == std::string::npos) __builtin_trap();
  return 0;
}
