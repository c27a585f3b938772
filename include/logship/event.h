// The event and the metric sample: what travels between the tiers. The wire encoding of
// both is specified in docs/wire-format.md and implemented in core/wire/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace logship {

// The RFC 5424 / 3164 header of an event received over syslog.
struct SyslogHeader {
  int facility = -1;  // 0..23, -1 when unknown
  int severity = -1;  // 0..7, -1 when unknown
  std::string app;
  std::string procid;
  std::string msgid;
  std::string structured_data;  // the raw SD-ELEMENTs, "-" when absent
};

// One log line. Immutable once the shipper produced it, except `time_ns`, which the parser
// may replace with the timestamp it extracted from the line.
struct Event {
  // Deterministic id: the same line read again after a crash gets the same id, so the
  // sink can keep one copy. For file events see MakeFileEventId().
  std::string id;
  int64_t time_ns = 0;  // nanoseconds since the Unix epoch
  std::string host;     // the host the line was produced on
  std::string source;   // file path, or syslog peer address
  std::string type;     // the input's type tag, e.g. "nginx"
  uint64_t offset = 0;  // byte offset of the line's first byte in its file
  std::string raw;      // the line without its terminator; may hold any bytes
  std::optional<SyslogHeader> syslog;
};

// A file as the shipper knows it: identity survives rename and detects inode reuse.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t fingerprint = 0;  // hash of the file's first bytes (see shipper/tail)

  bool operator==(const FileIdentity&) const = default;
};

// "<16 hex digits of hash(host, identity)>:<offset>". Unique per host, file and offset.
std::string MakeFileEventId(std::string_view host, const FileIdentity& file, uint64_t offset);
// The part before the offset, "<16 hex digits>:", the same for every line of one file
// identity: MakeFileEventId is this followed by the decimal offset.
std::string FileEventIdPrefix(std::string_view host, const FileIdentity& file);
// The hash the 16 hex digits spell, and the id those and `offset` make.
uint64_t FileEventIdHash(std::string_view host, const FileIdentity& file);
std::string FileEventId(uint64_t hash, uint64_t offset);
// The inverse of FileEventId: the hash when `id` is exactly FileEventId(hash, offset)
// (lower-case hex, decimal offset), else nullopt. Lets the Kafka header carry 8 bytes
// instead of the id (docs/wire-format.md).
std::optional<uint64_t> ParseFileEventId(std::string_view id, uint64_t offset);

// Labels are kept sorted by name; equal label sets compare equal.
using Labels = std::vector<std::pair<std::string, std::string>>;

// One metric sample. Counters derived by the parser travel as deltas (see
// docs/wire-format.md, "Samples"); gauges (host metrics) as their value.
struct Sample {
  std::string name;
  Labels labels;
  int64_t time_ms = 0;  // milliseconds since the Unix epoch
  double value = 0;
};

// A typed field extracted from a line by the parser. Nested names use dots:
// Logstash's [http][response][status_code] is "http.response.status_code".
using FieldValue = std::variant<std::string, int64_t, double>;
struct Field {
  std::string name;
  FieldValue value;
};

// An event after parsing: the fields found and the tags set (e.g. "_grokparsefailure" when
// no pattern matched; the event is still stored, raw).
struct ParsedEvent {
  Event event;
  std::vector<Field> fields;
  std::vector<std::string> tags;
  // A parse rule's drop condition held: the event is not stored, but acknowledged and
  // counted (parser_dropped_events_total). Never set for unparsed events.
  bool dropped = false;
};

}  // namespace logship
