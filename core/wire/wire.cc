#include "core/wire/wire.h"

#include "core/wire/sample_line.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <zlib.h>

namespace logship::wire {
namespace {

const std::string* FindField(const FieldList& fields, std::string_view name) {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

template <class Int>
bool ParseInt(std::string_view s, Int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double* out) {
  if (s == "+Inf" || s == "Inf") { *out = INFINITY; return true; }
  if (s == "-Inf") { *out = -INFINITY; return true; }
  if (s == "NaN") { *out = NAN; return true; }
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);  // Go accepts "+1.5"
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

void AppendEscapedLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool IsNameChar(char c) { return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

}  // namespace

// Parses one exposition line into `s`. Returns an error message or "". Shared with
// ParsePrometheusExposition() (core/wire/exposition.cc) through core/wire/sample_line.h.
std::string ParseSampleLine(std::string_view line, int64_t default_time_ms, Sample* s) {
  size_t i = 0;
  auto skip_ws = [&] { while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i; };
  if (i >= line.size() || !IsNameStart(line[i])) return "expected a metric name";
  size_t start = i;
  while (i < line.size() && IsNameChar(line[i])) ++i;
  s->name.assign(line.substr(start, i - start));
  s->labels.clear();
  skip_ws();
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      skip_ws();
      if (i < line.size() && line[i] == '}') { ++i; break; }
      if (i >= line.size() || !IsNameStart(line[i])) return "expected a label name or '}'";
      size_t ls = i;
      while (i < line.size() && IsNameChar(line[i])) ++i;
      std::string lname(line.substr(ls, i - ls));
      skip_ws();
      if (i >= line.size() || line[i] != '=') return "expected '=' after label " + lname;
      ++i;
      skip_ws();
      if (i >= line.size() || line[i] != '"') return "expected '\"' to open the value of label " + lname;
      ++i;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') { closed = true; break; }
        if (c == '\\' && i < line.size()) {
          char e = line[i++];
          value += (e == 'n') ? '\n' : e;
        } else {
          value += c;
        }
      }
      if (!closed) return "unterminated value of label " + lname;
      s->labels.emplace_back(std::move(lname), std::move(value));
      skip_ws();
      if (i < line.size() && line[i] == ',') { ++i; continue; }
      if (i < line.size() && line[i] == '}') { ++i; break; }
      return "expected ',' or '}' after a label";
    }
    SortLabels(s->labels);
    for (size_t k = 1; k < s->labels.size(); ++k) {
      if (s->labels[k].first == s->labels[k - 1].first) return "label " + s->labels[k].first + " given twice";
    }
  }
  skip_ws();
  size_t vs = i;
  while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
  if (vs == i) return "expected a value";
  if (!ParseDouble(line.substr(vs, i - vs), &s->value)) {
    return "value \"" + std::string(line.substr(vs, i - vs)) + "\" is not a number";
  }
  skip_ws();
  s->time_ms = default_time_ms;
  if (i < line.size()) {
    size_t ts = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (!ParseInt(line.substr(ts, i - ts), &s->time_ms)) return "timestamp is not an integer";
    skip_ws();
    if (i < line.size()) return "unexpected text after the timestamp";
  }
  return "";
}

void SortLabels(Labels& labels) {
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

FieldList EncodeEvent(const Event& e) {
  FieldList f;
  f.reserve(e.syslog ? 14 : 8);
  EventFieldScratch scratch;
  VisitEventFields(e, scratch, [&](std::string_view name, std::string_view value) {
    f.emplace_back(std::string(name), std::string(value));
  });
  return f;
}

namespace {

// Copies from a const field list, moves from one given up by the caller.
void Take(std::string& dst, const std::string* src) { dst = *src; }
void Take(std::string& dst, std::string* src) { dst = std::move(*src); }

template <class List>
auto FindIn(List& fields, std::string_view name) -> decltype(&fields.front().second) {
  for (auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

// REQUIRES for a mutable `fields`: on an error nothing was moved out of it yet.
template <class List>
Result<Event> DecodeEventFrom(List& fields, std::string_view queue_name, std::string_view entry_id,
                              int64_t entry_time_ms) {
  Event e;
  const std::string* v = FindIn(fields, "v");
  if (v == nullptr) {
    // A plain-text message, as rsyslog's omhiredis/omkafka send.
    if (fields.empty()) return Status::Corruption("entry " + std::string(entry_id) + " has no fields");
    auto* msg = FindIn(fields, "msg");
    Take(e.raw, msg ? msg : &fields.front().second);
    // rsyslog templates such as RSYSLOG_FileFormat (omkafka's default) end in a newline:
    // the raw line is stored without its terminator, as for file events.
    if (!e.raw.empty() && e.raw.back() == '\n') {
      e.raw.pop_back();
      if (!e.raw.empty() && e.raw.back() == '\r') e.raw.pop_back();
    }
    e.id.reserve(queue_name.size() + 1 + entry_id.size());
    e.id.append(queue_name).append("/").append(entry_id);
    e.time_ns = entry_time_ms * 1'000'000;
    e.source = std::string(queue_name);
    e.type = "plain";
    return e;
  }
  if (*v == kBatchVersion) {
    return Status::Corruption("entry " + std::string(entry_id) +
                              " is a batched (v2) entry: decode it with DecodeEventBatch");
  }
  if (*v != kVersion) {
    return Status::Corruption("entry " + std::string(entry_id) + ": unsupported wire version \"" + *v + "\"");
  }
  const char* required[] = {"id", "time", "host", "source", "type", "offset", "msg"};
  decltype(FindIn(fields, "")) found[7];
  for (int i = 0; i < 7; ++i) {
    found[i] = FindIn(fields, required[i]);
    if (found[i] == nullptr) {
      return Status::Corruption("entry " + std::string(entry_id) + ": missing field \"" + required[i] + "\"");
    }
  }
  if (!ParseInt(*found[1], &e.time_ns)) {
    return Status::Corruption("entry " + std::string(entry_id) + ": field \"time\" is not an integer");
  }
  if (!ParseInt(*found[5], &e.offset)) {
    return Status::Corruption("entry " + std::string(entry_id) + ": field \"offset\" is not an integer");
  }
  Take(e.id, found[0]);
  Take(e.host, found[2]);
  Take(e.source, found[3]);
  Take(e.type, found[4]);
  Take(e.raw, found[6]);
  if (const std::string* fac = FindIn(fields, "facility")) {
    SyslogHeader h;
    if (!ParseInt(*fac, &h.facility)) h.facility = -1;
    if (const std::string* sev = FindIn(fields, "severity"); !sev || !ParseInt(*sev, &h.severity)) h.severity = -1;
    if (auto* x = FindIn(fields, "app")) Take(h.app, x);
    if (auto* x = FindIn(fields, "procid")) Take(h.procid, x);
    if (auto* x = FindIn(fields, "msgid")) Take(h.msgid, x);
    if (auto* x = FindIn(fields, "sd")) Take(h.structured_data, x);
    e.syslog = std::move(h);
  }
  return e;
}

}  // namespace

Result<Event> DecodeEvent(const FieldList& fields, std::string_view queue_name,
                          std::string_view entry_id, int64_t entry_time_ms) {
  return DecodeEventFrom(fields, queue_name, entry_id, entry_time_ms);
}

Result<Event> DecodeEvent(FieldList&& fields, std::string_view queue_name, std::string_view entry_id,
                          int64_t entry_time_ms) {
  return DecodeEventFrom(fields, queue_name, entry_id, entry_time_ms);
}

// ---- v2: batched entries ----
//
// Record layout (docs/wire-format.md): varint flags (bit 0: syslog header follows), then
// the strings id, host, source, type, msg (each varint length + bytes), varint
// zigzag(time_ns), varint offset, and with the syslog bit varint zigzag(facility),
// varint zigzag(severity), strings app, procid, msgid, sd. Varints are LEB128.

namespace {

void PutVarint(std::string& out, uint64_t v) {
  char buf[10];  // one append per varint: byte-wise += was a hot spot of the Kafka producer
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

// The syslog header of a record (v2 entries and the Kafka `e` header share the layout).
void PutSyslog(std::string& out, const SyslogHeader& h) {
  PutVarint(out, ZigZag(h.facility));
  PutVarint(out, ZigZag(h.severity));
  PutString(out, h.app);
  PutString(out, h.procid);
  PutString(out, h.msgid);
  PutString(out, h.structured_data);
}

void PutRecord(std::string& out, const Event& e) {
  PutVarint(out, e.syslog ? 1 : 0);
  PutString(out, e.id);
  PutString(out, e.host);
  PutString(out, e.source);
  PutString(out, e.type);
  PutString(out, e.raw);
  PutVarint(out, ZigZag(e.time_ns));
  PutVarint(out, e.offset);
  if (e.syslog) PutSyslog(out, *e.syslog);
}

// Reads records from the inflated bytes; every Get* returns false past the end.
class RecordReader {
 public:
  explicit RecordReader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }
  bool GetVarint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool GetFixed64(uint64_t* v) {  // big-endian
    if (in_.size() - pos_ < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>(in_[pos_++]);
    *v = r;
    return true;
  }
  bool GetString(std::string* s) {
    uint64_t n = 0;
    if (!GetVarint(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool GetRecord(Event* e) {
    uint64_t flags = 0, time = 0, offset = 0;
    if (!GetVarint(&flags) || flags > 1) return false;
    if (!GetString(&e->id) || !GetString(&e->host) || !GetString(&e->source) || !GetString(&e->type) ||
        !GetString(&e->raw) || !GetVarint(&time) || !GetVarint(&offset)) {
      return false;
    }
    e->time_ns = UnZigZag(time);
    e->offset = offset;
    return (flags & 1) == 0 || GetSyslog(&e->syslog);
  }
  // The syslog header as PutSyslog wrote it.
  bool GetSyslog(std::optional<SyslogHeader>* out) {
    SyslogHeader h;
    uint64_t fac = 0, sev = 0;
    if (!GetVarint(&fac) || !GetVarint(&sev) || !GetString(&h.app) || !GetString(&h.procid) ||
        !GetString(&h.msgid) || !GetString(&h.structured_data)) {
      return false;
    }
    h.facility = static_cast<int>(UnZigZag(fac));
    h.severity = static_cast<int>(UnZigZag(sev));
    *out = std::move(h);
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// Inflates a zlib stream of at most kMaxBatchBytes; false when it is corrupt, truncated
// or larger.
bool Inflate(std::string_view in, std::string* out, std::string* error) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (inflateInit(&zs) != Z_OK) {
    *error = "zlib inflateInit failed";
    return false;
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->resize(std::min<size_t>(std::max<size_t>(in.size() * 4, 4096), kMaxBatchBytes));
  size_t have = 0;
  int rc = Z_OK;
  for (;;) {
    if (have == out->size()) {
      if (out->size() >= kMaxBatchBytes) {
        rc = Z_BUF_ERROR;
        *error = "inflates to more than " + std::to_string(kMaxBatchBytes) + " bytes";
        break;
      }
      out->resize(std::min<size_t>(out->size() * 2, kMaxBatchBytes));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + have);
    zs.avail_out = static_cast<uInt>(out->size() - have);
    rc = inflate(&zs, Z_NO_FLUSH);
    have = out->size() - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs.avail_out == 0)) {
      *error = std::string("zlib: ") + (zs.msg ? zs.msg : (rc == Z_BUF_ERROR ? "truncated data" : "corrupt data"));
      break;
    }
  }
  const bool trailing = rc == Z_STREAM_END && zs.avail_in != 0;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return false;
  if (trailing) {
    *error = "bytes after the end of the zlib stream";
    return false;
  }
  out->resize(have);
  return true;
}

}  // namespace

FieldList EncodeEventBatch(std::span<const Event> events, int zlib_level) {
  std::string records;
  size_t estimate = 0;
  for (const Event& e : events) estimate += e.id.size() + e.host.size() + e.source.size() + e.type.size() + e.raw.size() + 32;
  records.reserve(estimate);
  for (const Event& e : events) PutRecord(records, e);
  FieldList f;
  f.reserve(4);
  f.emplace_back("v", std::string(kBatchVersion));
  f.emplace_back("n", std::to_string(events.size()));
  if (zlib_level <= 0) {
    f.emplace_back("enc", "none");
    f.emplace_back("events", std::move(records));
    return f;
  }
  uLongf bound = compressBound(static_cast<uLong>(records.size()));
  std::string packed(bound, '\0');
  int rc = compress2(reinterpret_cast<Bytef*>(packed.data()), &bound,
                     reinterpret_cast<const Bytef*>(records.data()), static_cast<uLong>(records.size()),
                     std::min(zlib_level, 9));
  if (rc != Z_OK) {  // only Z_MEM_ERROR is possible here: send the records as they are
    f.emplace_back("enc", "none");
    f.emplace_back("events", std::move(records));
    return f;
  }
  packed.resize(bound);
  f.emplace_back("enc", "zlib");
  f.emplace_back("events", std::move(packed));
  return f;
}

bool IsEventBatch(const FieldList& fields) {
  const std::string* v = FindField(fields, "v");
  return v != nullptr && *v == kBatchVersion;
}

Result<std::vector<Event>> DecodeEventBatch(const FieldList& fields, std::string_view entry_id) {
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("batched entry " + std::string(entry_id) + ": " + what);
  };
  if (!IsEventBatch(fields)) return corrupt("field \"v\" is not \"2\"");
  const std::string* n_field = FindField(fields, "n");
  const std::string* enc = FindField(fields, "enc");
  const std::string* data = FindField(fields, "events");
  if (n_field == nullptr) return corrupt("missing field \"n\"");
  if (enc == nullptr) return corrupt("missing field \"enc\"");
  if (data == nullptr) return corrupt("missing field \"events\"");
  size_t n = 0;
  if (!ParseInt(*n_field, &n) || n == 0 || n > kMaxBatchEvents) {
    return corrupt("field \"n\" is not a count from 1 to " + std::to_string(kMaxBatchEvents));
  }
  std::string inflated;
  std::string_view records;
  if (*enc == "zlib") {
    std::string error;
    if (!Inflate(*data, &inflated, &error)) return corrupt(error);
    records = inflated;
  } else if (*enc == "none") {
    if (data->size() > kMaxBatchBytes) return corrupt("more than " + std::to_string(kMaxBatchBytes) + " bytes");
    records = *data;
  } else {
    return corrupt("unknown encoding \"" + *enc + "\"");
  }
  std::vector<Event> out;
  out.reserve(std::min<size_t>(n, records.size() / 8 + 1));
  RecordReader reader(records);
  while (!reader.done()) {
    if (out.size() == n) return corrupt("more records than n=" + std::to_string(n));
    Event e;
    if (!reader.GetRecord(&e)) return corrupt("record " + std::to_string(out.size()) + " is truncated or malformed");
    out.push_back(std::move(e));
  }
  if (out.size() != n) {
    return corrupt(std::to_string(out.size()) + " records, but n=" + std::to_string(n));
  }
  return out;
}

// ---- Kafka: the event header ----
//
// Layout (docs/wire-format.md, "Kafka"): varint flags (bit 0: syslog header follows; bit
// 1: host and source are the key's, split after the host's length; bit 2: the id is a
// file event id, FileEventId(hash, offset), carried as its hash), then the id: with bit 2
// the hash as 8 bytes big-endian, else a string; with bit 1 varint host length, else
// strings host and source; string type, varint zigzag(time_ns), varint offset, and with
// bit 0 the syslog fields as in a v2 record.

void AppendKafkaEventHeader(const Event& e, std::string_view key, std::string& out) {
  const bool from_key = key.size() == e.host.size() + 1 + e.source.size() &&
                        key.substr(0, e.host.size()) == e.host && key[e.host.size()] == ':' &&
                        key.substr(e.host.size() + 1) == e.source;
  const std::optional<uint64_t> file_id = ParseFileEventId(e.id, e.offset);
  PutVarint(out, (e.syslog ? 1 : 0) | (from_key ? 2 : 0) | (file_id ? 4 : 0));
  if (file_id) {
    char be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<char>(*file_id >> (56 - 8 * i));
    out.append(be, sizeof be);
  } else {
    PutString(out, e.id);
  }
  if (from_key) {
    PutVarint(out, e.host.size());
  } else {
    PutString(out, e.host);
    PutString(out, e.source);
  }
  PutString(out, e.type);
  PutVarint(out, ZigZag(e.time_ns));
  PutVarint(out, e.offset);
  if (e.syslog) PutSyslog(out, *e.syslog);
}

Result<Event> DecodeKafkaEvent(std::string_view key, std::string_view header, std::string_view value,
                               std::string_view message_id) {
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("message " + std::string(message_id) + ": header \"" +
                              std::string(kKafkaEventHeader) + "\" " + what);
  };
  RecordReader in(header);
  Event e;
  uint64_t flags = 0, time = 0, offset = 0;
  uint64_t file_id = 0;
  if (!in.GetVarint(&flags) || flags > 7) return corrupt("has unknown flags");
  if (flags & 4 ? !in.GetFixed64(&file_id) : !in.GetString(&e.id)) return corrupt("is truncated (id)");
  if (flags & 2) {
    uint64_t host_len = 0;
    if (!in.GetVarint(&host_len)) return corrupt("is truncated (host)");
    if (host_len >= key.size() || key[host_len] != ':') return corrupt("does not match the message key");
    e.host.assign(key.substr(0, host_len));
    e.source.assign(key.substr(host_len + 1));
  } else if (!in.GetString(&e.host) || !in.GetString(&e.source)) {
    return corrupt("is truncated (host, source)");
  }
  if (!in.GetString(&e.type) || !in.GetVarint(&time) || !in.GetVarint(&offset)) {
    return corrupt("is truncated (type, time, offset)");
  }
  e.time_ns = UnZigZag(time);
  e.offset = offset;
  if (flags & 4) e.id = FileEventId(file_id, offset);
  if ((flags & 1) && !in.GetSyslog(&e.syslog)) return corrupt("is truncated (syslog header)");
  if (!in.done()) return corrupt("has bytes past its end");
  e.raw.assign(value);
  return e;
}

std::string FormatSample(const Sample& s) {
  std::string out = s.name;
  if (!s.labels.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : s.labels) {
      if (!first) out += ',';
      first = false;
      out += k;
      out += "=\"";
      AppendEscapedLabelValue(out, v);
      out += '"';
    }
    out += '}';
  }
  char buf[64];
  if (std::isnan(s.value)) {
    out += " NaN";
  } else if (std::isinf(s.value)) {
    out += s.value > 0 ? " +Inf" : " -Inf";
  } else {
    std::snprintf(buf, sizeof buf, " %.17g", s.value);
    out += buf;
  }
  out += ' ';
  out += std::to_string(s.time_ms);
  return out;
}

FieldList EncodeSamples(const std::vector<Sample>& samples) {
  std::string text;
  for (const Sample& s : samples) {
    text += FormatSample(s);
    text += '\n';
  }
  return {{"v", std::string(kVersion)}, {"samples", std::move(text)}};
}

Result<std::vector<Sample>> DecodeSamples(const FieldList& fields) {
  const std::string* v = FindField(fields, "v");
  if (v == nullptr || *v != kVersion) return Status::Corruption("samples entry without wire version 1");
  const std::string* text = FindField(fields, "samples");
  if (text == nullptr) return Status::Corruption("samples entry without a \"samples\" field");
  return ParsePrometheusText(*text, 0);
}

Result<std::vector<Sample>> ParsePrometheusText(std::string_view text, int64_t default_time_ms) {
  std::vector<Sample> out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    Sample s;
    std::string err = ParseSampleLine(line.substr(first), default_time_ms, &s);
    if (!err.empty()) {
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": " + err);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace logship::wire
