#include "parser/rules/rule_cases.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace logship::rules {
namespace {

std::string At(const std::string& file, const YAML::Node& n) {
  const auto m = n.Mark();
  return m.line < 0 ? file : file + ":" + std::to_string(m.line + 1);
}

Status Error(const std::string& file, const YAML::Node& n, const std::string& what) {
  return Status::InvalidArgument(At(file, n) + ": " + what);
}

// A YAML scalar as a typed value: plain scalars that read as an integer or a number are
// int / float, everything else (and every quoted scalar, or !!str) is a string.
FieldValue TypedScalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  const std::string& tag = n.Tag();
  if (tag == "tag:yaml.org,2002:str" || tag == "!") return s;
  bool want_int = tag == "tag:yaml.org,2002:int", want_float = tag == "tag:yaml.org,2002:float";
  if (tag == "?" || want_int || want_float) {
    std::string_view v = s;
    if (!v.empty() && v.front() == '+') v.remove_prefix(1);
    int64_t i = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
    if (!want_float && ec == std::errc() && p == v.data() + v.size() && !v.empty()) return i;
    double d = 0;
    auto [q, ec2] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec2 == std::errc() && q == v.data() + v.size() && !v.empty() && std::isfinite(d)) return d;
  }
  return s;
}

Status ReadFields(const std::string& file, const YAML::Node& n, std::vector<Field>* out) {
  if (!n.IsMap()) return Error(file, n, "fields must be a mapping of field: value");
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) return Error(file, kv.second, "a field value must be a scalar");
    std::string name = grok::NormalizeFieldName(kv.first.Scalar());
    for (const auto& f : *out)
      if (f.name == name) return Error(file, kv.first, "field '" + name + "' listed twice");
    out->push_back(Field{std::move(name), TypedScalar(kv.second)});
  }
  return Status::Ok();
}

Status ReadStringList(const std::string& file, const YAML::Node& n, const char* key, std::vector<std::string>* out) {
  out->clear();
  if (n.IsScalar()) {
    out->push_back(n.Scalar());
    return Status::Ok();
  }
  if (!n.IsSequence()) return Error(file, n, std::string("'") + key + "' must be a list of strings");
  for (const auto& item : n) {
    if (!item.IsScalar()) return Error(file, item, std::string("'") + key + "' items must be strings");
    out->push_back(grok::NormalizeFieldName(item.Scalar()));
  }
  return Status::Ok();
}

Status ReadBool(const std::string& file, const YAML::Node& n, const char* key, bool* out) {
  if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) {
    *out = n.Scalar() == "true";
    return Status::Ok();
  }
  return Error(file, n, std::string("'") + key + "' must be true or false");
}

Status ReadTime(const std::string& file, const YAML::Node& n, const char* key, int64_t* out) {
  if (n.IsScalar()) {
    if (auto t = ParseTimestamp(n.Scalar(), TimestampFormat::kIso8601, 0)) {
      *out = *t;
      return Status::Ok();
    }
  }
  return Error(file, n, std::string("'") + key + "' must be an RFC 3339 time, e.g. 2024-01-31T12:00:00Z");
}

// `legacy:` / `ecs:` in pattern mode: a field map, or `nomatch`.
Status ReadNamingExpectation(const std::string& file, const YAML::Node& n, CaseExpectation* e) {
  e->given = true;
  if (n.IsScalar() && n.Scalar() == "nomatch") {
    e->nomatch = true;
    return Status::Ok();
  }
  return ReadFields(file, n, &e->fields);
}

}  // namespace

Result<std::vector<RuleCase>> ParseRuleCases(const std::string& text, const std::string& file) {
  std::vector<RuleCase> out;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  try {
    if (root.IsNull()) return out;
    if (!root.IsMap() || !root["cases"] || !root["cases"].IsSequence()) {
      return Error(file, root, "a case file is a mapping with a 'cases' list");
    }
    for (const auto& kv : root) {
      if (kv.first.Scalar() != "cases") {
        return Error(file, kv.first, "unknown key '" + kv.first.Scalar() + "' (expected cases)");
      }
    }
    static const char* kKeys[] = {"name", "line", "type", "source", "host", "received", "pattern", "expression",
                                  "rule", "fields", "partial", "absent", "legacy", "ecs", "timestamp", "tags",
                                  "dropped", "nomatch"};
    int index = 0;
    for (const auto& n : root["cases"]) {
      ++index;
      if (!n.IsMap()) return Error(file, n, "a case must be a mapping");
      for (const auto& kv : n) {
        const std::string key = kv.first.Scalar();
        if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
          std::string list;
          for (const char* k : kKeys) list += std::string(list.empty() ? "" : ", ") + k;
          return Error(file, kv.first, "unknown key '" + key + "' in a case (expected one of: " + list + ")");
        }
        if (key != "fields" && key != "legacy" && key != "ecs" && key != "absent" && key != "tags" &&
            !kv.second.IsScalar()) {
          return Error(file, kv.second, "'" + key + "' must be a scalar");
        }
      }
      RuleCase c;
      c.origin = At(file, n);
      c.name = n["name"] ? n["name"].Scalar() : "case " + std::to_string(index);
      if (!n["line"]) return Error(file, n, "a case needs a 'line'");
      c.line = n["line"].Scalar();
      if (n["type"]) c.type = n["type"].Scalar();
      if (n["source"]) c.source = n["source"].Scalar();
      if (n["host"]) c.host = n["host"].Scalar();
      if (n["received"]) {
        int64_t t = 0;
        LOGSHIP_RETURN_IF_ERROR(ReadTime(file, n["received"], "received", &t));
        c.received_ns = t;
      }
      if (n["pattern"] && n["expression"]) return Error(file, n, "give 'pattern' or 'expression', not both");
      if (n["pattern"]) c.expression = "%{" + n["pattern"].Scalar() + "}";
      if (n["expression"]) c.expression = n["expression"].Scalar();
      if (n["rule"]) {
        if (!c.expression.empty()) return Error(file, n["rule"], "'rule' is for rule cases, not pattern cases");
        c.rule = n["rule"].Scalar();
      }
      if (n["legacy"] || n["ecs"]) {
        if (c.expression.empty()) return Error(file, n, "'legacy'/'ecs' are for pattern cases (pattern: NAME)");
        if (n["fields"] || n["nomatch"]) return Error(file, n, "give 'fields' or 'legacy'/'ecs', not both");
        if (n["legacy"]) LOGSHIP_RETURN_IF_ERROR(ReadNamingExpectation(file, n["legacy"], &c.legacy));
        if (n["ecs"]) LOGSHIP_RETURN_IF_ERROR(ReadNamingExpectation(file, n["ecs"], &c.ecs));
      }
      if (n["fields"]) {
        c.expect.given = true;
        LOGSHIP_RETURN_IF_ERROR(ReadFields(file, n["fields"], &c.expect.fields));
      }
      if (n["nomatch"]) {
        LOGSHIP_RETURN_IF_ERROR(ReadBool(file, n["nomatch"], "nomatch", &c.expect.nomatch));
        c.expect.given = true;
      }
      bool partial = false;
      if (n["partial"]) LOGSHIP_RETURN_IF_ERROR(ReadBool(file, n["partial"], "partial", &partial));
      std::vector<std::string> absent;
      if (n["absent"]) LOGSHIP_RETURN_IF_ERROR(ReadStringList(file, n["absent"], "absent", &absent));
      for (CaseExpectation* e : {&c.expect, &c.legacy, &c.ecs}) {
        e->partial = partial;
        e->absent = absent;
      }
      if (n["timestamp"]) {
        if (!c.expression.empty()) return Error(file, n["timestamp"], "'timestamp' is for rule cases");
        int64_t t = 0;
        LOGSHIP_RETURN_IF_ERROR(ReadTime(file, n["timestamp"], "timestamp", &t));
        c.timestamp_ns = t;
      }
      if (n["tags"]) {
        std::vector<std::string> tags;
        LOGSHIP_RETURN_IF_ERROR(ReadStringList(file, n["tags"], "tags", &tags));
        c.tags = tags;
      }
      if (n["dropped"]) {
        bool d = false;
        LOGSHIP_RETURN_IF_ERROR(ReadBool(file, n["dropped"], "dropped", &d));
        c.dropped = d;
      }
      if (!c.expect.given && !c.legacy.given && !c.ecs.given && !c.timestamp_ns && !c.tags && !c.dropped &&
          c.rule.empty()) {
        return Error(file, n, "case '" + c.name + "' expects nothing (give fields, nomatch, rule, timestamp, "
                              "tags or dropped)");
      }
      out.push_back(std::move(c));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return out;
}

Result<std::vector<RuleCase>> LoadRuleCases(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("case file " + path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseRuleCases(ss.str(), path);
}

std::string FormatTime(int64_t ns) {
  int64_t secs = ns / 1'000'000'000, frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp + (mp < 10 ? 3 : -9), y = yoe + era * 400 + (m <= 2);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", static_cast<long long>(y),
                        static_cast<long long>(m), static_cast<long long>(d), static_cast<long long>(rem / 3600),
                        static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  std::string out(buf, n);
  if (frac != 0) {
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(frac));
    std::string f(buf);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::string DescribeValue(const FieldValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return "int " + std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    std::string s;
    AppendFieldValue(*d, &s);
    return "float " + s;
  }
  std::string out = "string \"";
  for (unsigned char c : std::get<std::string>(v)) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

ParsedEvent ParseForTest(const RuleSet& rules, Event event, bool by_attributes, ParseTrace* trace) {
  if (by_attributes) return rules.Parse(std::move(event), trace);
  for (const auto& r : rules.rules()) {
    for (const auto& g : r->patterns) {
      if (g->Matches(event.raw)) return rules.ParseWith(*r, std::move(event), trace);
    }
  }
  // Nothing matches: the first rule reports the failure (no rule: unchanged event).
  if (!rules.rules().empty()) return rules.ParseWith(*rules.rules().front(), std::move(event), trace);
  ParsedEvent out;
  out.event = std::move(event);
  return out;
}

CaseRunner::CaseRunner(std::shared_ptr<const RuleSet> rules, LibraryProvider libraries,
                       grok::PatternNaming default_naming)
    : rules_(std::move(rules)), libraries_(std::move(libraries)), default_naming_(default_naming) {}

namespace {

void CompareFields(const CaseExpectation& e, const std::vector<Field>& got, std::vector<std::string>* diffs) {
  for (const auto& want : e.fields) {
    const Field* have = nullptr;
    for (const auto& f : got)
      if (f.name == want.name) have = &f;
    if (have == nullptr) {
      diffs->push_back("field " + want.name + ": missing (expected " + DescribeValue(want.value) + ")");
    } else if (!(have->value == want.value)) {
      diffs->push_back("field " + want.name + ": expected " + DescribeValue(want.value) + ", got " +
                       DescribeValue(have->value));
    }
  }
  for (const auto& f : got) {
    bool listed = std::any_of(e.fields.begin(), e.fields.end(), [&](const Field& w) { return w.name == f.name; });
    bool forbidden = std::find(e.absent.begin(), e.absent.end(), f.name) != e.absent.end();
    if (forbidden) {
      diffs->push_back("field " + f.name + ": should be absent, got " + DescribeValue(f.value));
    } else if (!listed && !e.partial) {
      diffs->push_back("field " + f.name + ": unexpected " + DescribeValue(f.value));
    }
  }
}

std::string JoinTags(std::vector<std::string> tags) {
  std::sort(tags.begin(), tags.end());
  std::string s = "[";
  for (size_t i = 0; i < tags.size(); ++i) s += (i ? ", " : "") + tags[i];
  return s + "]";
}

}  // namespace

std::vector<CaseResult> CaseRunner::Run(const RuleCase& c) {
  std::vector<CaseResult> results;
  const std::string title = c.name + " (" + c.origin + ")";
  if (!c.expression.empty()) {
    struct Mode {
      grok::PatternNaming naming;
      const CaseExpectation* e;
      const char* label;
    };
    std::vector<Mode> modes;
    if (c.legacy.given) modes.push_back({grok::PatternNaming::kLegacy, &c.legacy, " [legacy]"});
    if (c.ecs.given) modes.push_back({grok::PatternNaming::kEcsV1, &c.ecs, " [ecs]"});
    if (c.expect.given) modes.push_back({default_naming_, &c.expect, ""});
    for (const Mode& m : modes) {
      CaseResult r;
      r.title = title + m.label;
      auto lib = libraries_ ? libraries_(m.naming) : Result<const grok::PatternLibrary*>(
                                                          Status::InvalidArgument("no pattern library"));
      if (!lib.ok()) {
        r.diffs.push_back("pattern library: " + lib.status().message());
        results.push_back(std::move(r));
        continue;
      }
      auto g = grok::Grok::Compile(c.expression, *lib.value());
      if (!g.ok()) {
        r.diffs.push_back("expression does not compile: " + g.status().message());
        results.push_back(std::move(r));
        continue;
      }
      std::vector<Field> fields;
      bool matched = g.value()->Match(c.line, &fields);
      fields.erase(std::remove_if(fields.begin(), fields.end(),
                                  [](const Field& f) { return f.name.starts_with("@metadata."); }),
                   fields.end());
      if (m.e->nomatch) {
        if (matched) r.diffs.push_back("expected no match, but " + c.expression + " matched");
      } else if (!matched) {
        r.diffs.push_back(c.expression + " does not match the line");
      } else {
        CompareFields(*m.e, fields, &r.diffs);
      }
      r.passed = r.diffs.empty();
      results.push_back(std::move(r));
    }
    return results;
  }

  CaseResult r;
  r.title = title;
  if (!rules_) {
    r.diffs.push_back("no rules loaded");
    results.push_back(std::move(r));
    return results;
  }
  Event e;
  e.id = "case";
  e.raw = c.line;
  e.type = c.type;
  e.source = c.source;
  e.host = c.host;
  e.time_ns = c.received_ns ? *c.received_ns
                            : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch()).count();
  const bool by_attributes = !c.type.empty() || !c.source.empty() || !c.host.empty();
  ParseTrace trace;
  ParsedEvent p = ParseForTest(*rules_, std::move(e), by_attributes, &trace);
  const std::string got_rule = trace.rule ? trace.rule->name : "";
  if (!c.rule.empty() && c.rule != got_rule) {
    r.diffs.push_back("rule: expected " + c.rule + ", got " + (got_rule.empty() ? "none" : got_rule));
  }
  const bool unparsed = std::find(p.tags.begin(), p.tags.end(), kGrokParseFailureTag) != p.tags.end();
  if (c.expect.given) {
    if (trace.rule == nullptr) {
      r.diffs.push_back("no rule applies to the event (type=\"" + c.type + "\" source=\"" + c.source +
                        "\" host=\"" + c.host + "\")");
    } else if (c.expect.nomatch) {
      if (!unparsed) r.diffs.push_back("expected no pattern to match, but pattern " +
                                       std::to_string(trace.pattern + 1) + " of rule " + got_rule + " matched");
    } else if (unparsed) {
      r.diffs.push_back("no pattern of rule " + got_rule + " matched the line");
    } else {
      CompareFields(c.expect, p.fields, &r.diffs);
    }
  }
  if (c.timestamp_ns && p.event.time_ns != *c.timestamp_ns) {
    r.diffs.push_back("timestamp: expected " + FormatTime(*c.timestamp_ns) + ", got " + FormatTime(p.event.time_ns));
  }
  if (c.tags) {
    if (JoinTags(*c.tags) != JoinTags(p.tags)) {
      r.diffs.push_back("tags: expected " + JoinTags(*c.tags) + ", got " + JoinTags(p.tags));
    }
  } else if (!c.expect.nomatch) {
    // Without `tags:`, a case still fails on a date or grok failure it did not ask for.
    for (const auto& t : p.tags) {
      if (t == kDateParseFailureTag || (t == kGrokParseFailureTag && !c.expect.given)) {
        r.diffs.push_back("tags: unexpected " + t);
      }
    }
  }
  if (c.dropped && *c.dropped != p.dropped) {
    r.diffs.push_back(std::string("dropped: expected ") + (*c.dropped ? "true" : "false") + ", got " +
                      (p.dropped ? "true" : "false"));
  }
  r.passed = r.diffs.empty();
  results.push_back(std::move(r));
  return results;
}

}  // namespace logship::rules
