// libFuzzer target for the grok compiler and matcher. Built only by a clang fuzz build:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include -I .
//     parser/grok/grok_fuzz.cc parser/grok/grok.cc parser/grok/segmented.cc
//     core/base/status.cc -lre2 -o grok_fuzz
// (or cmake -DLOGSHIP_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++, target grok_fuzz)
//   ./grok_fuzz parser/grok/fuzz_corpus
// Input: the first line is a grok expression, the rest is the log line to match. Every
// input also runs through the shipped NGINX_ACCESS and COMBINEDAPACHELOG patterns.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parser/grok/grok.h"

namespace {

const logship::grok::PatternLibrary& Library() {
  static const logship::grok::PatternLibrary* lib = [] {
    auto* l = new logship::grok::PatternLibrary();
    std::string f = __FILE__;  // <src>/parser/grok/grok_fuzz.cc
    (void)l->LoadDirectory(f.substr(0, f.rfind("/parser/grok/")) + "/rules/patterns");
    l->Add("FUZZ_SELF", "a%{FUZZ_SELF}");  // a cycle, reachable from fuzzed expressions
    return l;
  }();
  return *lib;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using logship::grok::Grok;
  static const auto nginx = Grok::Compile("%{NGINX_ACCESS}", Library());
  static const auto apache = Grok::Compile("%{COMBINEDAPACHELOG}", Library());
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<logship::Field> fields;
  if (nginx.ok()) {
    // Segmented extraction must agree exactly with the full-capture match.
    std::vector<logship::Field> full;
    bool a = nginx.value()->Match(in, &fields);
    bool b = nginx.value()->MatchFullCapture(in, &full);
    if (a != b || fields.size() != full.size()) __builtin_trap();
    for (size_t i = 0; i < full.size(); ++i)
      if (fields[i].name != full[i].name || !(fields[i].value == full[i].value)) __builtin_trap();
    fields.clear();
  }
  if (apache.ok()) (void)apache.value()->Match(in, &fields);

  size_t nl = in.find('\n');
  std::string_view expr = in.substr(0, nl);
  std::string_view line = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  logship::grok::CompileOptions opt;
  opt.max_expanded_bytes = 64 << 10;
  opt.max_mem = 8 << 20;
  auto g = Grok::Compile(expr, Library(), opt);
  if (g.ok()) {
    fields.clear();
    bool matched = g.value()->Match(line, &fields);
    if (matched != g.value()->Matches(line)) __builtin_trap();  // both must agree
    // The segmented and trailing-greedy paths must agree with the full-capture match.
    std::vector<logship::Field> full;
    if (g.value()->MatchFullCapture(line, &full) != matched || full.size() != fields.size()) __builtin_trap();
    for (size_t i = 0; i < full.size(); ++i)
      if (fields[i].name != full[i].name || !(fields[i].value == full[i].value)) __builtin_trap();
    // The prefilter (RuleSet's RE2::Set) must match whatever the expression matches.
    if (matched) {
      re2::RE2 approx(g.value()->Prefilter(), logship::grok::GrokRe2Options(8 << 20));
      if (approx.ok() && !re2::RE2::PartialMatch(line, approx)) __builtin_trap();
    }
  }
  return 0;
}
