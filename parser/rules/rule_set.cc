#include "parser/rules/rule_set.h"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_set>

namespace logship::rules {
namespace {

// ---- YAML validation helpers ----------------------------------------------------------

class Ctx {
 public:
  explicit Ctx(std::string file) : file_(std::move(file)) {}
  std::string At(const YAML::Node& n) const {
    const auto m = n.Mark();
    if (m.line < 0) return file_;
    return file_ + ":" + std::to_string(m.line + 1);
  }
  Status Error(const YAML::Node& n, const std::string& what) const {
    return Status::InvalidArgument(At(n) + ": " + what);
  }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

Status CheckKeys(const Ctx& ctx, const YAML::Node& map, const char* what,
                 std::initializer_list<const char*> allowed) {
  if (!map.IsMap()) return ctx.Error(map, std::string(what) + " must be a mapping");
  for (const auto& kv : map) {
    std::string key = kv.first.Scalar();
    bool ok = std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; });
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      return ctx.Error(kv.first, "unknown key '" + key + "' in " + what + " (expected one of: " + list + ")");
    }
  }
  return Status::Ok();
}

Status GetString(const Ctx& ctx, const YAML::Node& n, const std::string& key, std::string* out) {
  if (!n.IsScalar()) return ctx.Error(n, "'" + key + "' must be a string");
  *out = n.Scalar();
  return Status::Ok();
}

bool IsMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsLabelName(std::string_view s) {
  return IsMetricName(s) && s.find(':') == std::string_view::npos;
}

Result<LabelTemplate> ParseTemplate(std::string_view text) {
  LabelTemplate t;
  while (!text.empty()) {
    size_t open = text.find("%{");
    if (open == std::string_view::npos) {
      t.parts.push_back({false, std::string(text)});
      break;
    }
    if (open > 0) t.parts.push_back({false, std::string(text.substr(0, open))});
    size_t close = text.find('}', open + 2);
    if (close == std::string_view::npos) return Status::InvalidArgument("unterminated %{");
    std::string field = grok::NormalizeFieldName(text.substr(open + 2, close - open - 2));
    if (field.empty()) return Status::InvalidArgument("empty %{}");
    t.parts.push_back({true, std::move(field)});
    text.remove_prefix(close + 1);
  }
  return t;
}

Status ParseMetric(const Ctx& ctx, const YAML::Node& n, MetricDecl* m) {
  LOGSHIP_RETURN_IF_ERROR(CheckKeys(ctx, n, "metric", {"name", "labels"}));
  if (!n["name"]) return ctx.Error(n, "metric needs a 'name'");
  LOGSHIP_RETURN_IF_ERROR(GetString(ctx, n["name"], "name", &m->name));
  if (!IsMetricName(m->name)) {
    return ctx.Error(n["name"], "metric name '" + m->name + "' must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  const YAML::Node labels = n["labels"];
  std::set<std::string> seen;
  auto add = [&](const YAML::Node& at, std::string label, std::string_view tmpl) -> Status {
    if (!IsLabelName(label)) {
      return ctx.Error(at, "label name '" + label + "' must match [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if (!seen.insert(label).second) return ctx.Error(at, "duplicate label '" + label + "'");
    auto t = ParseTemplate(tmpl);
    if (!t.ok()) return ctx.Error(at, "label '" + label + "': " + t.status().message());
    m->labels.emplace_back(std::move(label), std::move(t.value()));
    return Status::Ok();
  };
  if (!labels || labels.IsNull()) {
    // no labels
  } else if (labels.IsMap()) {
    for (const auto& kv : labels) {
      if (!kv.second.IsScalar()) return ctx.Error(kv.second, "label value must be a string");
      LOGSHIP_RETURN_IF_ERROR(add(kv.first, kv.first.Scalar(), kv.second.Scalar()));
    }
  } else if (labels.IsSequence()) {
    // [response, "@host", "[http][method]"]: label named after the field.
    for (const auto& item : labels) {
      if (!item.IsScalar()) return ctx.Error(item, "labels list items must be field names");
      std::string field = grok::NormalizeFieldName(item.Scalar());
      std::string label = field;
      if (!label.empty() && label.front() == '@') label.erase(0, 1);
      std::replace(label.begin(), label.end(), '.', '_');
      LOGSHIP_RETURN_IF_ERROR(add(item, label, "%{" + field + "}"));
    }
  } else {
    return ctx.Error(labels, "'labels' must be a mapping (label: template) or a list of fields");
  }
  std::sort(m->labels.begin(), m->labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return Status::Ok();
}

Status ParseRule(const Ctx& ctx, const YAML::Node& n, const grok::PatternLibrary& lib, Rule* r) {
  LOGSHIP_RETURN_IF_ERROR(CheckKeys(ctx, n, "rule", {"name", "when", "patterns", "timestamp", "metrics"}));
  r->origin = ctx.At(n);
  if (!n["name"]) return ctx.Error(n, "rule needs a 'name'");
  LOGSHIP_RETURN_IF_ERROR(GetString(ctx, n["name"], "name", &r->name));
  if (r->name.empty()) return ctx.Error(n["name"], "rule name is empty");
  const std::string in_rule = "rule '" + r->name + "': ";

  if (const YAML::Node when = n["when"]) {
    LOGSHIP_RETURN_IF_ERROR(CheckKeys(ctx, when, "when", {"type", "source", "host"}));
    if (when["type"]) LOGSHIP_RETURN_IF_ERROR(GetString(ctx, when["type"], "type", &r->type));
    if (when["source"]) LOGSHIP_RETURN_IF_ERROR(GetString(ctx, when["source"], "source", &r->source_glob));
    if (when["host"]) LOGSHIP_RETURN_IF_ERROR(GetString(ctx, when["host"], "host", &r->host_glob));
  }

  const YAML::Node patterns = n["patterns"];
  if (!patterns) return ctx.Error(n, in_rule + "needs 'patterns'");
  if (!patterns.IsSequence() || patterns.size() == 0) {
    return ctx.Error(patterns, in_rule + "'patterns' must be a non-empty list of grok expressions");
  }
  for (const auto& p : patterns) {
    if (!p.IsScalar()) return ctx.Error(p, in_rule + "a pattern must be a string");
    auto g = grok::Grok::Compile(p.Scalar(), lib);
    if (!g.ok()) return ctx.Error(p, in_rule + g.status().message());
    r->max_fields = std::max(r->max_fields, g.value()->captures().size());
    r->patterns.push_back(std::move(g).value());
  }
  if (r->patterns.size() > 1) {
    auto set = std::make_unique<re2::RE2::Set>(grok::GrokRe2Options(64 << 20), re2::RE2::UNANCHORED);
    bool ok = true;
    for (const auto& g : r->patterns) ok = ok && set->Add(g->expanded(), nullptr) >= 0;
    if (ok && set->Compile()) r->set = std::move(set);  // else: sequential matching
  }

  if (const YAML::Node ts = n["timestamp"]) {
    LOGSHIP_RETURN_IF_ERROR(CheckKeys(ctx, ts, "timestamp", {"field", "format"}));
    TimestampDecl decl;
    if (!ts["field"]) return ctx.Error(ts, in_rule + "timestamp needs 'field'");
    LOGSHIP_RETURN_IF_ERROR(GetString(ctx, ts["field"], "field", &decl.field));
    decl.field = grok::NormalizeFieldName(decl.field);
    std::string fmt = "ISO8601";
    if (ts["format"]) LOGSHIP_RETURN_IF_ERROR(GetString(ctx, ts["format"], "format", &fmt));
    auto f = TimestampFormatFromName(fmt);
    if (!f) {
      return ctx.Error(ts["format"], in_rule + "unknown timestamp format '" + fmt +
                                         "' (expected HTTPDATE, ISO8601, SYSLOG, UNIX or UNIX_MS)");
    }
    decl.format = *f;
    r->timestamp = decl;
  }

  if (const YAML::Node metrics = n["metrics"]) {
    if (!metrics.IsSequence()) return ctx.Error(metrics, in_rule + "'metrics' must be a list");
    for (const auto& m : metrics) {
      MetricDecl decl;
      LOGSHIP_RETURN_IF_ERROR(ParseMetric(ctx, m, &decl));
      r->metrics.push_back(std::move(decl));
    }
  }
  return Status::Ok();
}

Status ParseRulesText(const std::string& text, const std::string& name,
                      const grok::PatternLibrary& lib, std::vector<std::unique_ptr<Rule>>* out) {
  Ctx ctx(name);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  try {
    if (root.IsNull()) return Status::Ok();  // empty file: no rules
    LOGSHIP_RETURN_IF_ERROR(CheckKeys(ctx, root, "rule file", {"rules"}));
    const YAML::Node rules = root["rules"];
    if (!rules || rules.IsNull()) return Status::Ok();
    if (!rules.IsSequence()) return ctx.Error(rules, "'rules' must be a list");
    for (const auto& n : rules) {
      auto r = std::make_unique<Rule>();
      LOGSHIP_RETURN_IF_ERROR(ParseRule(ctx, n, lib, r.get()));
      out->push_back(std::move(r));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return Status::Ok();
}

}  // namespace

// Indexes loaded rules into a RuleSet (a friend of RuleSet).
class RuleSetBuilder {
 public:
  static Result<std::shared_ptr<const RuleSet>> Build(std::vector<std::unique_ptr<Rule>> rules);
};

Result<std::shared_ptr<const RuleSet>> ParseRuleSet(const std::string& yaml_text,
                                                    const std::string& name,
                                                    const grok::PatternLibrary& library) {
  std::vector<std::unique_ptr<Rule>> rules;
  LOGSHIP_RETURN_IF_ERROR(ParseRulesText(yaml_text, name, library, &rules));
  return RuleSetBuilder::Build(std::move(rules));
}

Result<std::shared_ptr<const RuleSet>> LoadRuleSet(const std::vector<std::string>& rule_files,
                                                   const std::vector<std::string>& pattern_dirs) {
  grok::PatternLibrary lib;
  for (const auto& dir : pattern_dirs) LOGSHIP_RETURN_IF_ERROR(lib.LoadDirectory(dir));
  std::vector<std::unique_ptr<Rule>> rules;
  for (const auto& file : rule_files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::IOError("parse rules " + file + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    LOGSHIP_RETURN_IF_ERROR(ParseRulesText(ss.str(), file, lib, &rules));
  }
  return RuleSetBuilder::Build(std::move(rules));
}

Result<std::shared_ptr<const RuleSet>> RuleSetBuilder::Build(std::vector<std::unique_ptr<Rule>> rules) {
  auto rs = std::make_shared<RuleSet>();
  std::unordered_map<std::string, const Rule*> names;
  for (const auto& r : rules) {
    auto [it, inserted] = names.emplace(r->name, r.get());
    if (!inserted) {
      return Status::InvalidArgument(r->origin + ": duplicate rule name '" + r->name +
                                     "' (first defined at " + it->second->origin + ")");
    }
  }
  rs->rules_ = std::move(rules);
  std::set<std::string> types;
  for (const auto& r : rs->rules_) {
    if (r->type.empty()) rs->untyped_.push_back(r.get());
    else types.insert(r->type);
  }
  for (const auto& t : types) {
    auto& list = rs->by_type_[t];
    for (const auto& r : rs->rules_)
      if (r->type.empty() || r->type == t) list.push_back(r.get());
  }
  return std::shared_ptr<const RuleSet>(std::move(rs));
}

// ---- RuleSet ---------------------------------------------------------------------------

const Rule* RuleSet::Select(const Event& event) const {
  auto it = by_type_.find(event.type);
  const auto& candidates = it == by_type_.end() ? untyped_ : it->second;
  for (const Rule* r : candidates) {
    if (!r->source_glob.empty() && fnmatch(r->source_glob.c_str(), event.source.c_str(), 0) != 0) continue;
    if (!r->host_glob.empty() && fnmatch(r->host_glob.c_str(), event.host.c_str(), 0) != 0) continue;
    return r;
  }
  return nullptr;
}

int RuleSet::MatchPattern(const Rule& rule, std::string_view raw) const {
  if (rule.patterns.size() == 1) return 0;  // Match() itself rejects fast (DFA) on no match
  if (rule.set) {
    thread_local std::vector<int> hits;
    hits.clear();
    re2::RE2::Set::ErrorInfo info{};
    if (rule.set->Match(raw, &hits, &info)) return *std::min_element(hits.begin(), hits.end());
    if (info.kind == re2::RE2::Set::kNoError) return -1;
    // DFA out of memory: fall through to one pattern at a time.
  }
  for (size_t i = 0; i < rule.patterns.size(); ++i)
    if (rule.patterns[i]->Matches(raw)) return static_cast<int>(i);
  return -1;
}

ParsedEvent RuleSet::Parse(Event event) const {
  ParsedEvent out;
  out.event = std::move(event);
  const Rule* rule = Select(out.event);
  if (rule == nullptr) return out;
  const std::string& raw = out.event.raw;
  out.fields.reserve(rule->max_fields);
  int idx = MatchPattern(*rule, raw);
  if (idx < 0 || !rule->patterns[idx]->Match(raw, &out.fields)) {
    out.fields.clear();
    out.tags.emplace_back(kGrokParseFailureTag);
    return out;
  }
  if (rule->timestamp) {
    const Field* f = nullptr;
    for (const auto& field : out.fields)
      if (field.name == rule->timestamp->field) f = &field;
    if (f != nullptr) {
      std::optional<int64_t> ns;
      int64_t reference = out.event.time_ns;
      if (reference == 0) {
        reference = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
      }
      if (const auto* s = std::get_if<std::string>(&f->value)) {
        ns = ParseTimestamp(*s, rule->timestamp->format, reference);
      } else if (const auto* i = std::get_if<int64_t>(&f->value)) {
        ns = ParseTimestamp(std::to_string(*i), rule->timestamp->format, reference);
      } else if (const auto* d = std::get_if<double>(&f->value)) {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, *d, std::chars_format::fixed);
        ns = ParseTimestamp(std::string_view(buf, r.ptr - buf), rule->timestamp->format, reference);
      }
      if (ns) out.event.time_ns = *ns;
      else out.tags.emplace_back(kDateParseFailureTag);
    }
  }
  return out;
}

// ---- DerivedCounters -------------------------------------------------------------------

DerivedCounters::DerivedCounters(std::shared_ptr<const RuleSet> rules, int64_t bucket_ms)
    : rules_(std::move(rules)), bucket_ms_(bucket_ms > 0 ? bucket_ms : 10'000) {}

namespace {

void AppendValue(const FieldValue& v, std::string* out) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    out->append(*s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, *i);
    out->append(buf, r.ptr);
  } else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, std::get<double>(v));
    out->append(buf, r.ptr);
  }
}

void Render(const LabelTemplate& t, const ParsedEvent& e, std::string* out) {
  for (const auto& part : t.parts) {
    if (!part.is_field) {
      out->append(part.text);
      continue;
    }
    const std::string& f = part.text;
    if (f.front() == '@') {
      if (f == "@host") out->append(e.event.host);
      else if (f == "@source") out->append(e.event.source);
      else if (f == "@type") out->append(e.event.type);
      else if (f == "@id") out->append(e.event.id);
      continue;
    }
    for (const auto& field : e.fields) {
      if (field.name == f) {
        AppendValue(field.value, out);
        break;
      }
    }
  }
}

void AppendLen(std::string* key, size_t n) {
  uint32_t v = static_cast<uint32_t>(n);
  key->append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

void DerivedCounters::Observe(const ParsedEvent& e) {
  if (!rules_) return;
  for (const auto& t : e.tags)
    if (t == kGrokParseFailureTag) return;
  const Rule* rule = rules_->Select(e.event);
  if (rule == nullptr || rule->metrics.empty()) return;
  int64_t time_ms = e.event.time_ns / 1'000'000;
  if (e.event.time_ns < 0 && e.event.time_ns % 1'000'000 != 0) --time_ms;
  int64_t bucket = time_ms / bucket_ms_ * bucket_ms_;
  if (time_ms < 0 && time_ms % bucket_ms_ != 0) bucket -= bucket_ms_;

  for (const auto& m : rule->metrics) {
    // key = len|name, (len|value)*, bucket. Length prefixes keep it unambiguous.
    key_.clear();
    AppendLen(&key_, m.name.size());
    key_.append(m.name);
    values_.resize(m.labels.size());
    for (size_t i = 0; i < m.labels.size(); ++i) {
      values_[i].clear();
      Render(m.labels[i].second, e, &values_[i]);
      AppendLen(&key_, values_[i].size());
      key_.append(values_[i]);
    }
    key_.append(reinterpret_cast<const char*>(&bucket), sizeof bucket);
    auto it = counts_.find(key_);
    if (it != counts_.end()) {
      ++it->second.count;
      continue;
    }
    Entry entry{m.name, {}, bucket, 1};
    entry.labels.reserve(m.labels.size());
    for (size_t i = 0; i < m.labels.size(); ++i) entry.labels.emplace_back(m.labels[i].first, values_[i]);
    counts_.emplace(key_, std::move(entry));
  }
}

std::vector<Sample> DerivedCounters::TakeDeltas() {
  std::vector<Sample> out;
  out.reserve(counts_.size());
  for (auto& [key, e] : counts_) {
    out.push_back(Sample{std::move(e.name), std::move(e.labels), e.bucket_ms, static_cast<double>(e.count)});
  }
  counts_.clear();
  std::sort(out.begin(), out.end(), [](const Sample& a, const Sample& b) {
    if (a.name != b.name) return a.name < b.name;
    if (a.labels != b.labels) return a.labels < b.labels;
    return a.time_ms < b.time_ms;
  });
  return out;
}

}  // namespace logship::rules
