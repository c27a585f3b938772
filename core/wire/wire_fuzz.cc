// libFuzzer target for the wire decoders: queue entries (field lists: v1 events, v2 batched
// events, samples), Kafka event headers and Prometheus text.
// Input: entries' fields separated by NUL bytes (name, value, name, value...); the same
// bytes are also parsed as Prometheus text, as a samples entry, and as a Kafka message
// (key = first name, "e" header = first value, value = second name).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/wire/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  logship::wire::FieldList fields;
  size_t pos = 0;
  while (pos <= in.size() && fields.size() < 64) {
    size_t a = in.find('\0', pos);
    std::string name(in.substr(pos, a == std::string_view::npos ? std::string_view::npos : a - pos));
    if (a == std::string_view::npos) {
      fields.emplace_back(std::move(name), "");
      break;
    }
    size_t b = in.find('\0', a + 1);
    fields.emplace_back(std::move(name), std::string(in.substr(a + 1, b == std::string_view::npos ? std::string_view::npos : b - a - 1)));
    if (b == std::string_view::npos) break;
    pos = b + 1;
  }
  auto event = logship::wire::DecodeEvent(fields, "fuzz:stream", "1-0", 1);
  if (event.ok()) {
    // What decodes must encode and decode to the same event.
    auto again = logship::wire::DecodeEvent(logship::wire::EncodeEvent(*event), "fuzz:stream", "1-0", 1);
    if (!again.ok() || again->raw != event->raw || again->id != event->id) __builtin_trap();
  }
  auto batch = logship::wire::DecodeEventBatch(fields, "1-0");
  if (batch.ok()) {
    // A batched entry that decodes must encode and decode to the same events.
    auto again = logship::wire::DecodeEventBatch(logship::wire::EncodeEventBatch(*batch), "1-0");
    if (!again.ok() || again->size() != batch->size()) __builtin_trap();
    for (size_t i = 0; i < batch->size(); ++i) {
      if ((*again)[i].raw != (*batch)[i].raw || (*again)[i].id != (*batch)[i].id) __builtin_trap();
    }
  }
  if (!fields.empty()) {
    // A Kafka message: key = the first name, "e" header = its value, value = the next name.
    const std::string& key = fields[0].first;
    const std::string& header = fields[0].second;
    const std::string value = fields.size() > 1 ? fields[1].first : std::string();
    auto kafka = logship::wire::DecodeKafkaEvent(key, header, value, "t/0/0");
    if (kafka.ok()) {
      // What decodes must encode (under the same key) and decode to the same event.
      std::string again;
      logship::wire::AppendKafkaEventHeader(*kafka, key, again);
      auto round = logship::wire::DecodeKafkaEvent(key, again, value, "t/0/0");
      if (!round.ok() || round->id != kafka->id || round->host != kafka->host || round->source != kafka->source ||
          round->time_ns != kafka->time_ns || round->offset != kafka->offset || round->raw != kafka->raw) {
        __builtin_trap();
      }
    }
  }
  auto samples = logship::wire::ParsePrometheusText(in, 0);
  if (samples.ok()) {
    for (const auto& s : *samples) {
      auto round = logship::wire::ParsePrometheusText(logship::wire::FormatSample(s), 0);
      if (!round.ok() || round->size() != 1 || (*round)[0].name != s.name || (*round)[0].labels != s.labels) {
        __builtin_trap();
      }
    }
  }
  (void)logship::wire::DecodeSamples(fields);
  return 0;
}
