// libFuzzer target for what a scrape does with a page it did not write: the exposition
// parser (core/wire ParsePrometheusExposition, TYPE/HELP lines included) and the target
// labels applied to every sample (ApplyTargetLabels). Seed corpus: fuzz_corpus/ beside it
// (node_exporter output, histograms and summaries, broken pages). With LOGSHIP_FUZZ:
//   ./scrape_fuzz alerter/scrape/fuzz_corpus
// Invariants: one cumulative flag per sample; labels sorted with unique names after the
// target labels are applied, the target's values winning; a parsed sample formats and
// parses back to the same name and labels.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "alerter/scrape/scraper.h"
#include "core/wire/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto page = logship::wire::ParsePrometheusExposition(in, 1'700'000'000'000);
  if (!page.ok()) return 0;
  if (page->cumulative.size() != page->samples.size()) __builtin_trap();
  const logship::Labels target = {{"exported_job", "t0"}, {"instance", "host:9100"}, {"job", "node"}};
  for (auto& s : page->samples) {
    auto round = logship::wire::ParsePrometheusExposition(logship::wire::FormatSample(s), 0);
    if (!round.ok() || round->samples.size() != 1 || round->samples[0].name != s.name ||
        round->samples[0].labels != s.labels) {
      __builtin_trap();
    }
    const size_t before = s.labels.size();
    logship::alerter::ApplyTargetLabels(target, s.labels);
    for (const auto& t : target) {
      bool found = false;
      for (const auto& l : s.labels) found = found || l == t;
      if (!found) __builtin_trap();
    }
    if (s.labels.size() != before + target.size()) __builtin_trap();  // nothing lost, nothing merged
    for (size_t i = 1; i < s.labels.size(); ++i) {
      if (!(s.labels[i - 1].first < s.labels[i].first)) __builtin_trap();
    }
  }
  return 0;
}
