// Wire format v1 (docs/wire-format.md): how events and samples are laid out in a queue
// entry. A Redis stream entry is a list of field/value pairs; the same pairs are what the
// in-process queue and (later) Kafka message headers/values carry.
#pragma once

#include <charconv>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "logship/event.h"
#include "logship/status.h"

namespace logship::wire {

inline constexpr std::string_view kVersion = "1";

using FieldList = std::vector<std::pair<std::string, std::string>>;

// Number fields of an event formatted for VisitEventFields; the views it passes point
// into it, so it must outlive their use.
struct EventFieldScratch {
  char time[24];
  char offset[24];
  char facility[12];
  char severity[12];
};

// Calls emit(name, value) for each field of `event`, in this order: v, id, time, host,
// source, type, offset, msg, and for syslog events facility, severity, app, procid, msgid,
// sd. Allocates nothing: the producers' hot path encodes straight from it, and
// EncodeEvent is defined by it, so the two cannot disagree.
template <class Emit>
void VisitEventFields(const Event& event, EventFieldScratch& scratch, Emit&& emit) {
  auto number = [](char (&buf)[sizeof(EventFieldScratch::time)], auto value) {
    return std::string_view(buf, std::to_chars(buf, buf + sizeof buf, value).ptr - buf);
  };
  auto small = [](char (&buf)[sizeof(EventFieldScratch::facility)], int value) {
    return std::string_view(buf, std::to_chars(buf, buf + sizeof buf, value).ptr - buf);
  };
  emit(std::string_view("v"), kVersion);
  emit(std::string_view("id"), std::string_view(event.id));
  emit(std::string_view("time"), number(scratch.time, event.time_ns));
  emit(std::string_view("host"), std::string_view(event.host));
  emit(std::string_view("source"), std::string_view(event.source));
  emit(std::string_view("type"), std::string_view(event.type));
  emit(std::string_view("offset"), number(scratch.offset, event.offset));
  emit(std::string_view("msg"), std::string_view(event.raw));
  if (event.syslog) {
    emit(std::string_view("facility"), small(scratch.facility, event.syslog->facility));
    emit(std::string_view("severity"), small(scratch.severity, event.syslog->severity));
    emit(std::string_view("app"), std::string_view(event.syslog->app));
    emit(std::string_view("procid"), std::string_view(event.syslog->procid));
    emit(std::string_view("msgid"), std::string_view(event.syslog->msgid));
    emit(std::string_view("sd"), std::string_view(event.syslog->structured_data));
  }
}

// How many fields VisitEventFields emits for `event`.
inline size_t EventFieldCount(const Event& event) { return event.syslog ? 14 : 8; }

// The fields of VisitEventFields as a list.
FieldList EncodeEvent(const Event& event);

// Decodes an entry. An entry without "v" is a plain-text message (rsyslog's omhiredis
// sends one field, "msg" by default): its raw line is the "msg" field or else the first
// field's value, its id "<queue_name>/<entry_id>", its time taken from `entry_time_ms`,
// its type "plain". An entry with an unknown version or a missing required field is
// Corruption with a message naming the field.
Result<Event> DecodeEvent(const FieldList& fields, std::string_view queue_name,
                          std::string_view entry_id, int64_t entry_time_ms);
// The same, moving the strings out of `fields` (the consumers' hot path). When it fails,
// `fields` is left as it was (so it can be dumped); when it succeeds, it is moved-from.
Result<Event> DecodeEvent(FieldList&& fields, std::string_view queue_name,
                          std::string_view entry_id, int64_t entry_time_ms);

// Wire format v2, the batched entry (docs/wire-format.md, "Batched entries"): several
// events in one entry, fields v=2, n=<events>, enc=zlib|none, events=<records>. Each
// event keeps its own id, so a replay dedupes exactly as with v1.
inline constexpr std::string_view kBatchVersion = "2";
// Most events and most inflated bytes one batched entry may hold; a larger one is Corruption.
inline constexpr size_t kMaxBatchEvents = 1'000'000;
inline constexpr size_t kMaxBatchBytes = 256u << 20;

// Packs `events` (REQUIRES: 1 to kMaxBatchEvents of them) into one v2 entry, compressed
// with zlib at `zlib_level` (1 fastest .. 9 smallest; 0 stores the records uncompressed
// with enc=none).
FieldList EncodeEventBatch(std::span<const Event> events, int zlib_level = 1);
// True when the entry's "v" field is "2".
bool IsEventBatch(const FieldList& fields);
// Decodes a v2 entry into its events, in order. Corruption (naming `entry_id` and what is
// wrong) when a field is missing, the data does not inflate, a record is truncated, the
// count differs from "n", or a bound above is exceeded.
Result<std::vector<Event>> DecodeEventBatch(const FieldList& fields, std::string_view entry_id);

// Kafka messages (docs/wire-format.md, "Kafka"): the value is the raw line, the key
// "<host>:<source>", and the other fields travel in one header, kKafkaEventHeader, whose
// value is a record of the batched-entry layout without the raw line (KafkaEventHeader).
// Messages of earlier shippers carry the v1 fields as separate headers instead ("v", "id",
// ...); consumers read both (the DecodeEvent of headers + value for those).
inline constexpr std::string_view kKafkaEventHeader = "e";

// Appends to `out` the kKafkaEventHeader value of `event` as published with `key`. When
// `key` is event.host + ":" + event.source, host and source are not repeated in the
// header (flag bit 1: only the host's length is).
void AppendKafkaEventHeader(const Event& event, std::string_view key, std::string& out);
// Decodes a message whose kKafkaEventHeader is `header`: raw = `value`. Corruption
// (naming `message_id` and what is wrong) when the header is truncated or malformed, has
// bytes past its end, or refers to a key it does not match.
Result<Event> DecodeKafkaEvent(std::string_view key, std::string_view header, std::string_view value,
                               std::string_view message_id);

// Samples travel as Prometheus text exposition lines with timestamps, one entry per batch:
// fields v=1, samples="<name>{<labels>} <value> <timestamp_ms>\n...".
FieldList EncodeSamples(const std::vector<Sample>& samples);
Result<std::vector<Sample>> DecodeSamples(const FieldList& fields);

// Prometheus text format (0.0.4): one sample per line, "# HELP"/"# TYPE" and blank lines
// skipped. A sample without a timestamp gets `default_time_ms`. Errors name the line.
Result<std::vector<Sample>> ParsePrometheusText(std::string_view text, int64_t default_time_ms);

// The TYPE a family is declared with in the Prometheus text format.
enum class MetricType : uint8_t { kUntyped, kCounter, kGauge, kHistogram, kSummary };
const char* MetricTypeName(MetricType type);  // "untyped", "counter", ...

// A scrape body (a /metrics page) with what its TYPE lines say about each sample.
struct Exposition {
  std::vector<Sample> samples;
  // Parallel to `samples`: 1 when the sample is a cumulative counter (it only grows, and a
  // decrease means the process restarted): the samples of a `counter` family, a
  // histogram's `_bucket`, `_count` and `_sum`, a summary's `_count` and `_sum`. 0 for
  // gauges, untyped samples and summary quantiles.
  std::vector<uint8_t> cumulative;
};

// Parses a Prometheus text-format (0.0.4) scrape body: sample lines as ParsePrometheusText
// (labels sorted; no timestamp: `default_time_ms`), "# TYPE <name> <type>" lines (counter,
// gauge, histogram, summary, untyped; one per name) and "# HELP <name> <text>" lines,
// which must name a metric. Other "#" lines are comments. Like Prometheus, one bad line
// fails the whole body; the error names the line and what was expected. Samples whose
// name is not a declared family or a histogram/summary/counter suffix of one are untyped.
Result<Exposition> ParsePrometheusExposition(std::string_view text, int64_t default_time_ms);

// One line: name{a="b",c="d"} value timestamp_ms (labels sorted, values escaped).
std::string FormatSample(const Sample& sample);

// Sorts labels by name (the canonical order of Labels).
void SortLabels(Labels& labels);

}  // namespace logship::wire
