// Wire format v1 (docs/wire-format.md): how events and samples are laid out in a queue
// entry. A Redis stream entry is a list of field/value pairs; the same pairs are what the
// in-process queue and (later) Kafka message headers/values carry.
#pragma once

#include <charconv>
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

// The fields of VisitEventFields as a list.
FieldList EncodeEvent(const Event& event);

// Decodes an entry. An entry without "v" is a plain-text message (rsyslog's omhiredis
// sends one field, "msg" by default): its raw line is the "msg" field or else the first
// field's value, its id "<queue_name>/<entry_id>", its time taken from `entry_time_ms`,
// its type "plain". An entry with an unknown version or a missing required field is
// Corruption with a message naming the field.
Result<Event> DecodeEvent(const FieldList& fields, std::string_view queue_name,
                          std::string_view entry_id, int64_t entry_time_ms);

// Samples travel as Prometheus text exposition lines with timestamps, one entry per batch:
// fields v=1, samples="<name>{<labels>} <value> <timestamp_ms>\n...".
FieldList EncodeSamples(const std::vector<Sample>& samples);
Result<std::vector<Sample>> DecodeSamples(const FieldList& fields);

// Prometheus text format (0.0.4): one sample per line, "# HELP"/"# TYPE" and blank lines
// skipped. A sample without a timestamp gets `default_time_ms`. Errors name the line.
Result<std::vector<Sample>> ParsePrometheusText(std::string_view text, int64_t default_time_ms);
// One line: name{a="b",c="d"} value timestamp_ms (labels sorted, values escaped).
std::string FormatSample(const Sample& sample);

// Sorts labels by name (the canonical order of Labels).
void SortLabels(Labels& labels);

}  // namespace logship::wire
