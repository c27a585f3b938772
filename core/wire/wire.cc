#include "core/wire/wire.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdio>

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

// Parses one exposition line into `s`. Returns an error message or "".
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

}  // namespace

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

Result<Event> DecodeEvent(const FieldList& fields, std::string_view queue_name,
                          std::string_view entry_id, int64_t entry_time_ms) {
  Event e;
  const std::string* v = FindField(fields, "v");
  if (v == nullptr) {
    // A plain-text message, as rsyslog's omhiredis/omkafka send.
    if (fields.empty()) return Status::Corruption("entry " + std::string(entry_id) + " has no fields");
    const std::string* msg = FindField(fields, "msg");
    e.raw = msg ? *msg : fields.front().second;
    e.id = std::string(queue_name) + "/" + std::string(entry_id);
    e.time_ns = entry_time_ms * 1'000'000;
    e.source = std::string(queue_name);
    e.type = "plain";
    return e;
  }
  if (*v != kVersion) {
    return Status::Corruption("entry " + std::string(entry_id) + ": unsupported wire version \"" + *v + "\"");
  }
  auto require = [&](std::string_view name) -> const std::string* { return FindField(fields, name); };
  const char* required[] = {"id", "time", "host", "source", "type", "offset", "msg"};
  for (const char* name : required) {
    if (require(name) == nullptr) {
      return Status::Corruption("entry " + std::string(entry_id) + ": missing field \"" + name + "\"");
    }
  }
  e.id = *require("id");
  e.host = *require("host");
  e.source = *require("source");
  e.type = *require("type");
  e.raw = *require("msg");
  if (!ParseInt(*require("time"), &e.time_ns)) {
    return Status::Corruption("entry " + std::string(entry_id) + ": field \"time\" is not an integer");
  }
  if (!ParseInt(*require("offset"), &e.offset)) {
    return Status::Corruption("entry " + std::string(entry_id) + ": field \"offset\" is not an integer");
  }
  if (const std::string* fac = FindField(fields, "facility")) {
    SyslogHeader h;
    if (!ParseInt(*fac, &h.facility)) h.facility = -1;
    if (const std::string* sev = FindField(fields, "severity"); !sev || !ParseInt(*sev, &h.severity)) h.severity = -1;
    if (const std::string* x = FindField(fields, "app")) h.app = *x;
    if (const std::string* x = FindField(fields, "procid")) h.procid = *x;
    if (const std::string* x = FindField(fields, "msgid")) h.msgid = *x;
    if (const std::string* x = FindField(fields, "sd")) h.structured_data = *x;
    e.syslog = std::move(h);
  }
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
