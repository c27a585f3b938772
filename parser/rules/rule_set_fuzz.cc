// libFuzzer target for the parse-rule loader: any YAML gives a rule set or an error
// naming the file, never a crash; a rule set that loads parses a line. Built by a clang
// fuzz build (cmake -DLOGSHIP_FUZZ=ON, target rule_set_fuzz) or directly:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include -I .
//     parser/rules/rule_set_fuzz.cc parser/rules/rule_set.cc parser/rules/timestamp.cc
//     parser/grok/grok.cc parser/grok/segmented.cc core/base/status.cc -lre2 -lyaml-cpp
//   ./rule_set_fuzz parser/rules/fuzz_corpus
#include <cstddef>
#include <cstdint>
#include <string>

#include "parser/grok/grok.h"
#include "parser/rules/rule_set.h"

namespace {
const logship::grok::PatternLibrary& Library() {
  static const logship::grok::PatternLibrary* lib = [] {
    auto* l = new logship::grok::PatternLibrary();
    std::string f = __FILE__;  // <src>/parser/rules/rule_set_fuzz.cc
    (void)l->LoadDirectory(f.substr(0, f.rfind("/parser/rules/")) + "/rules/patterns");
    return l;
  }();
  return *lib;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto rules = logship::rules::ParseRuleSet(text, "fuzz.yaml", Library());
  if (!rules.ok()) {
    if (rules.status().message().find("fuzz.yaml") == std::string::npos) __builtin_trap();
    return 0;
  }
  logship::Event e;
  e.type = "nginx";
  e.raw = "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /a HTTP/1.0\" 200 2326 \"-\" \"x\"";
  (void)(*rules)->Parse(e);
  return 0;
}
