#include "parser/rules/rule_set.h"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
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

// A string or a list of strings.
Status GetStrings(const Ctx& ctx, const YAML::Node& n, const std::string& key, std::vector<std::string>* out) {
  out->clear();
  if (n.IsScalar()) {
    out->push_back(n.Scalar());
    return Status::Ok();
  }
  if (!n.IsSequence()) return ctx.Error(n, "'" + key + "' must be a string or a list of strings");
  for (const auto& item : n) {
    if (!item.IsScalar()) return ctx.Error(item, "'" + key + "' items must be strings");
    out->push_back(item.Scalar());
  }
  return Status::Ok();
}

Status GetNumber(const Ctx& ctx, const YAML::Node& n, const std::string& key, double* out) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    if (ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out)) return Status::Ok();
  }
  return ctx.Error(n, "'" + key + "' must be a number");
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

const std::vector<double>& DefaultBuckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}

Status ParseMetric(const Ctx& ctx, const YAML::Node& n, MetricDecl* m) {
  LOGSHIP_RETURN_IF_ERROR(CheckKeys(ctx, n, "metric", {"name", "type", "field", "buckets", "labels"}));
  if (!n["name"]) return ctx.Error(n, "metric needs a 'name'");
  LOGSHIP_RETURN_IF_ERROR(GetString(ctx, n["name"], "name", &m->name));
  if (!IsMetricName(m->name)) {
    return ctx.Error(n["name"], "metric name '" + m->name + "' must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  if (const YAML::Node type = n["type"]) {
    std::string t;
    LOGSHIP_RETURN_IF_ERROR(GetString(ctx, type, "type", &t));
    if (t == "counter") m->type = MetricDecl::Type::kCounter;
    else if (t == "histogram") m->type = MetricDecl::Type::kHistogram;
    else return ctx.Error(type, "metric type '" + t + "' (expected counter or histogram)");
  }
  if (const YAML::Node field = n["field"]) {
    LOGSHIP_RETURN_IF_ERROR(GetString(ctx, field, "field", &m->field));
    m->field = grok::NormalizeFieldName(m->field);
  }
  if (m->type == MetricDecl::Type::kHistogram) {
    if (m->field.empty()) return ctx.Error(n, "histogram '" + m->name + "' needs a 'field' (the value observed)");
    m->buckets = DefaultBuckets();
    if (const YAML::Node b = n["buckets"]) {
      if (!b.IsSequence() || b.size() == 0 || b.size() > 64) {
        return ctx.Error(b, "'buckets' must be a list of 1 to 64 ascending upper bounds");
      }
      m->buckets.clear();
      for (const auto& item : b) {
        double v = 0;
        LOGSHIP_RETURN_IF_ERROR(GetNumber(ctx, item, "buckets", &v));
        if (!m->buckets.empty() && v <= m->buckets.back()) {
          return ctx.Error(item, "'buckets' must be ascending (" + item.Scalar() + " after a bound >= it)");
        }
        m->buckets.push_back(v);
      }
    }
  } else if (n["buckets"]) {
    return ctx.Error(n["buckets"], "'buckets' is for histograms (type: histogram)");
  }
  const YAML::Node labels = n["labels"];
  std::set<std::string> seen;
  auto add = [&](const YAML::Node& at, std::string label, std::string_view tmpl) -> Status {
    if (!IsLabelName(label)) {
      return ctx.Error(at, "label name '" + label + "' must match [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if (m->type == MetricDecl::Type::kHistogram && label == "le") {
      return ctx.Error(at, "label 'le' is reserved for histogram buckets");
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

Status ParseCondition(const Ctx& ctx, const YAML::Node& n, Condition* c) {
  LOGSHIP_RETURN_IF_ERROR(
      CheckKeys(ctx, n, "drop condition", {"field", "exists", "equals", "in", "matches", "gt", "gte", "lt", "lte"}));
  if (!n["field"]) return ctx.Error(n, "a drop condition needs a 'field'");
  LOGSHIP_RETURN_IF_ERROR(GetString(ctx, n["field"], "field", &c->field));
  c->field = grok::NormalizeFieldName(c->field);
  if (n.size() < 2) {
    return ctx.Error(n, "a drop condition needs a test (exists, equals, in, matches, gt, gte, lt, lte)");
  }
  if (const YAML::Node e = n["exists"]) {
    if (!e.IsScalar() || (e.Scalar() != "true" && e.Scalar() != "false")) {
      return ctx.Error(e, "'exists' must be true or false");
    }
    c->exists = e.Scalar() == "true";
  }
  if (const YAML::Node e = n["equals"]) {
    std::string v;
    LOGSHIP_RETURN_IF_ERROR(GetString(ctx, e, "equals", &v));
    c->equals = v;
  }
  if (const YAML::Node e = n["in"]) {
    if (!e.IsSequence()) return ctx.Error(e, "'in' must be a list of values");
    LOGSHIP_RETURN_IF_ERROR(GetStrings(ctx, e, "in", &c->in));
  }
  if (const YAML::Node e = n["matches"]) {
    std::string re;
    LOGSHIP_RETURN_IF_ERROR(GetString(ctx, e, "matches", &re));
    c->matches = std::make_unique<re2::RE2>(re, grok::GrokRe2Options(8 << 20));
    if (!c->matches->ok()) return ctx.Error(e, "'matches' does not compile: " + c->matches->error());
  }
  struct Num {
    const char* key;
    std::optional<double>* out;
  };
  for (Num num : {Num{"gt", &c->gt}, Num{"gte", &c->gte}, Num{"lt", &c->lt}, Num{"lte", &c->lte}}) {
    if (const YAML::Node e = n[num.key]) {
      double v = 0;
      LOGSHIP_RETURN_IF_ERROR(GetNumber(ctx, e, num.key, &v));
      *num.out = v;
    }
  }
  return Status::Ok();
}

// [@metadata] and [@metadata][...]: fields a rule may use but never stores.
bool IsMetadataField(std::string_view name) {
  return name.starts_with("@metadata.") || name == "@metadata";
}

// Caches time zones for one load.
class ZoneCache {
 public:
  Result<std::shared_ptr<const TimeZone>> Get(const std::string& name) {
    auto it = zones_.find(name);
    if (it != zones_.end()) return it->second;
    auto z = TimeZone::Load(name);
    if (!z.ok()) return z.status();
    zones_.emplace(name, z.value());
    return z.value();
  }

 private:
  std::map<std::string, std::shared_ptr<const TimeZone>> zones_;
};

Status ParseRule(const Ctx& ctx, const YAML::Node& n, const LibraryProvider& libraries,
                 const RuleOptions& options, ZoneCache* zones, Rule* r) {
  LOGSHIP_RETURN_IF_ERROR(CheckKeys(ctx, n, "rule",
                                    {"name", "when", "ecs_compatibility", "patterns", "rename", "convert",
                                     "timestamp", "add_fields", "remove_fields", "add_tags", "drop",
                                     "metrics"}));
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

  r->naming = options.naming;
  if (const YAML::Node ecs = n["ecs_compatibility"]) {
    std::string v;
    LOGSHIP_RETURN_IF_ERROR(GetString(ctx, ecs, "ecs_compatibility", &v));
    auto naming = grok::PatternNamingFromName(v);
    if (!naming) return ctx.Error(ecs, in_rule + "ecs_compatibility '" + v + "' (expected disabled, v1 or v8)");
    r->naming = *naming;
  }
  auto lib = libraries(r->naming);
  if (!lib.ok()) return lib.status();

  const YAML::Node patterns = n["patterns"];
  if (!patterns) return ctx.Error(n, in_rule + "needs 'patterns'");
  if (!patterns.IsSequence() || patterns.size() == 0) {
    return ctx.Error(patterns, in_rule + "'patterns' must be a non-empty list of grok expressions");
  }
  for (const auto& p : patterns) {
    if (!p.IsScalar()) return ctx.Error(p, in_rule + "a pattern must be a string");
    auto g = grok::Grok::Compile(p.Scalar(), *lib.value());
    if (!g.ok()) return ctx.Error(p, in_rule + g.status().message());
    r->max_fields = std::max(r->max_fields, g.value()->captures().size());
    r->patterns.push_back(std::move(g).value());
  }
  if (r->patterns.size() > 1) {
    auto set = std::make_unique<re2::RE2::Set>(grok::GrokRe2Options(64 << 20), re2::RE2::UNANCHORED);
    bool ok = true;
    for (const auto& g : r->patterns) ok = ok && set->Add(g->Prefilter(), nullptr) >= 0;
    if (ok && set->Compile()) r->set = std::move(set);  // else: sequential matching
  }

  if (const YAML::Node rename = n["rename"]) {
    if (!rename.IsMap()) return ctx.Error(rename, in_rule + "'rename' must be a mapping (from: to)");
    for (const auto& kv : rename) {
      std::string to;
      LOGSHIP_RETURN_IF_ERROR(GetString(ctx, kv.second, "rename", &to));
      if (to.empty()) return ctx.Error(kv.second, in_rule + "rename target is empty");
      r->rename.emplace_back(grok::NormalizeFieldName(kv.first.Scalar()), grok::NormalizeFieldName(to));
    }
  }
  if (const YAML::Node convert = n["convert"]) {
    if (!convert.IsMap()) return ctx.Error(convert, in_rule + "'convert' must be a mapping (field: type)");
    for (const auto& kv : convert) {
      std::string t;
      LOGSHIP_RETURN_IF_ERROR(GetString(ctx, kv.second, "convert", &t));
      grok::FieldType type;
      if (t == "int" || t == "integer" || t == "long") type = grok::FieldType::kInt;
      else if (t == "float" || t == "double") type = grok::FieldType::kFloat;
      else if (t == "string") type = grok::FieldType::kString;
      else return ctx.Error(kv.second, in_rule + "convert type '" + t + "' (expected int, float or string)");
      r->convert.emplace_back(grok::NormalizeFieldName(kv.first.Scalar()), type);
    }
  }

  if (const YAML::Node ts = n["timestamp"]) {
    LOGSHIP_RETURN_IF_ERROR(CheckKeys(ctx, ts, "timestamp", {"field", "format", "timezone"}));
    TimestampDecl decl;
    if (!ts["field"]) return ctx.Error(ts, in_rule + "timestamp needs 'field'");
    LOGSHIP_RETURN_IF_ERROR(GetString(ctx, ts["field"], "field", &decl.field));
    decl.field = grok::NormalizeFieldName(decl.field);
    std::vector<std::string> formats = {"ISO8601"};
    if (ts["format"]) LOGSHIP_RETURN_IF_ERROR(GetStrings(ctx, ts["format"], "format", &formats));
    if (formats.empty()) return ctx.Error(ts["format"], in_rule + "timestamp 'format' is an empty list");
    for (const auto& f : formats) {
      auto parser = TimestampParser::Make(f);
      if (!parser.ok()) return ctx.Error(ts["format"], in_rule + parser.status().message());
      decl.formats.push_back(std::move(parser).value());
    }
    std::string zone = options.timezone;
    if (ts["timezone"]) LOGSHIP_RETURN_IF_ERROR(GetString(ctx, ts["timezone"], "timezone", &zone));
    auto z = zones->Get(zone);
    if (!z.ok()) return ctx.Error(ts["timezone"] ? ts["timezone"] : ts, in_rule + z.status().message());
    decl.zone = z.value();
    r->timestamp = std::move(decl);
  }

  if (const YAML::Node add = n["add_fields"]) {
    if (!add.IsMap()) return ctx.Error(add, in_rule + "'add_fields' must be a mapping (field: template)");
    for (const auto& kv : add) {
      std::string v;
      LOGSHIP_RETURN_IF_ERROR(GetString(ctx, kv.second, "add_fields", &v));
      auto t = ParseTemplate(v);
      if (!t.ok()) return ctx.Error(kv.second, in_rule + "add_fields." + kv.first.Scalar() + ": " + t.status().message());
      r->add_fields.emplace_back(grok::NormalizeFieldName(kv.first.Scalar()), std::move(t).value());
    }
  }
  if (const YAML::Node rm = n["remove_fields"]) {
    LOGSHIP_RETURN_IF_ERROR(GetStrings(ctx, rm, "remove_fields", &r->remove_fields));
    for (auto& f : r->remove_fields) f = grok::NormalizeFieldName(f);
  }
  if (const YAML::Node tags = n["add_tags"]) {
    LOGSHIP_RETURN_IF_ERROR(GetStrings(ctx, tags, "add_tags", &r->add_tags));
  }
  if (const YAML::Node drop = n["drop"]) {
    if (!drop.IsSequence()) return ctx.Error(drop, in_rule + "'drop' must be a list of conditions");
    for (const auto& c : drop) {
      Condition cond;
      LOGSHIP_RETURN_IF_ERROR(ParseCondition(ctx, c, &cond));
      r->drop.push_back(std::move(cond));
    }
  }

  if (const YAML::Node metrics = n["metrics"]) {
    if (!metrics.IsSequence()) return ctx.Error(metrics, in_rule + "'metrics' must be a list");
    for (const auto& m : metrics) {
      MetricDecl decl;
      LOGSHIP_RETURN_IF_ERROR(ParseMetric(ctx, m, &decl));
      r->metrics.push_back(std::move(decl));
    }
  }
  // Fields come only from the patterns, rename and add_fields.
  r->may_add_metadata = false;
  for (const auto& g : r->patterns)
    for (const auto& c : g->captures()) r->may_add_metadata |= IsMetadataField(c.field);
  for (const auto& [from, to] : r->rename) r->may_add_metadata |= IsMetadataField(to);
  for (const auto& [name, tmpl] : r->add_fields) r->may_add_metadata |= IsMetadataField(name);
  return Status::Ok();
}

Status ParseRulesText(const std::string& text, const std::string& name, const LibraryProvider& libraries,
                      const RuleOptions& options, ZoneCache* zones, std::vector<std::unique_ptr<Rule>>* out) {
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
      LOGSHIP_RETURN_IF_ERROR(ParseRule(ctx, n, libraries, options, zones, r.get()));
      out->push_back(std::move(r));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return Status::Ok();
}

// ---- field helpers ----------------------------------------------------------------------

Field* FindField(std::vector<Field>& fields, std::string_view name) {
  for (auto& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

const Field* FindField(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

void EraseField(std::vector<Field>& fields, std::string_view name) {
  fields.erase(std::remove_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == name; }),
               fields.end());
}

std::optional<double> NumericValue(const FieldValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  const std::string& s = std::get<std::string>(v);
  std::string_view num = s;
  if (!num.empty() && num.front() == '+') num.remove_prefix(1);
  double d = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), d);
  if (ec == std::errc() && p == num.data() + num.size() && !num.empty() && std::isfinite(d)) return d;
  return std::nullopt;
}

// Converts as grok's :int/:float do (a value that does not convert is left as it is).
void ConvertValue(FieldValue* v, grok::FieldType type) {
  switch (type) {
    case grok::FieldType::kString: {
      if (std::holds_alternative<std::string>(*v)) return;
      std::string s;
      AppendFieldValue(*v, &s);
      *v = std::move(s);
      return;
    }
    case grok::FieldType::kInt: {
      if (std::holds_alternative<int64_t>(*v)) return;
      if (const auto* s = std::get_if<std::string>(v)) {
        std::string_view num = *s;
        if (!num.empty() && num.front() == '+') num.remove_prefix(1);
        int64_t i = 0;
        auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), i);
        if (ec == std::errc() && p == num.data() + num.size() && !num.empty()) {
          *v = i;
          return;
        }
      }
      auto d = NumericValue(*v);
      if (d && *d >= -9.2e18 && *d <= 9.2e18) *v = static_cast<int64_t>(*d);  // "12.7" -> 12
      return;
    }
    case grok::FieldType::kFloat: {
      if (std::holds_alternative<double>(*v)) return;
      if (auto d = NumericValue(*v)) *v = *d;
      return;
    }
  }
}

bool ConditionHolds(const Condition& c, const ParsedEvent& e) {
  std::string text;
  std::optional<FieldValue> value;
  if (!c.field.empty() && c.field.front() == '@') {
    if (c.field == "@host") value = e.event.host;
    else if (c.field == "@source") value = e.event.source;
    else if (c.field == "@type") value = e.event.type;
    else if (c.field == "@id") value = e.event.id;
  }
  if (!value) {
    if (const Field* f = FindField(e.fields, c.field)) value = f->value;
  }
  if (c.exists && *c.exists != value.has_value()) return false;
  if (!value) return !c.equals && c.in.empty() && !c.matches && !c.gt && !c.gte && !c.lt && !c.lte;
  AppendFieldValue(*value, &text);
  if (c.equals && text != *c.equals) return false;
  if (!c.in.empty() && std::find(c.in.begin(), c.in.end(), text) == c.in.end()) return false;
  if (c.matches && !re2::RE2::PartialMatch(text, *c.matches)) return false;
  if (c.gt || c.gte || c.lt || c.lte) {
    auto d = NumericValue(*value);
    if (!d) return false;
    if (c.gt && !(*d > *c.gt)) return false;
    if (c.gte && !(*d >= *c.gte)) return false;
    if (c.lt && !(*d < *c.lt)) return false;
    if (c.lte && !(*d <= *c.lte)) return false;
  }
  return true;
}

}  // namespace

void AppendFieldValue(const FieldValue& v, std::string* out) {
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

void RenderTemplate(const LabelTemplate& t, const ParsedEvent& e, std::string* out) {
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
      else if (const Field* field = FindField(e.fields, f)) AppendFieldValue(field->value, out);
      continue;
    }
    if (const Field* field = FindField(e.fields, f)) AppendFieldValue(field->value, out);
  }
}

// Indexes loaded rules into a RuleSet (a friend of RuleSet).
class RuleSetBuilder {
 public:
  static Result<std::shared_ptr<const RuleSet>> Build(std::vector<std::unique_ptr<Rule>> rules);
};

Result<std::shared_ptr<const RuleSet>> ParseRuleSet(const std::string& yaml_text, const std::string& name,
                                                    const LibraryProvider& libraries,
                                                    const RuleOptions& options) {
  std::vector<std::unique_ptr<Rule>> rules;
  ZoneCache zones;
  LOGSHIP_RETURN_IF_ERROR(ParseRulesText(yaml_text, name, libraries, options, &zones, &rules));
  return RuleSetBuilder::Build(std::move(rules));
}

Result<std::shared_ptr<const RuleSet>> ParseRuleSet(const std::string& yaml_text, const std::string& name,
                                                    const grok::PatternLibrary& library,
                                                    const RuleOptions& options) {
  LibraryProvider one = [&library](grok::PatternNaming) -> Result<const grok::PatternLibrary*> {
    return &library;
  };
  return ParseRuleSet(yaml_text, name, one, options);
}

Result<std::vector<std::string>> ExpandRuleFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      out.push_back(path);
      continue;
    }
    std::vector<std::string> files;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      const auto& p = it->path();
      std::string ext = p.extension().string();
      if (p.filename().string().starts_with(".") || (ext != ".yaml" && ext != ".yml")) continue;
      if (it->is_regular_file(ec)) files.push_back(p.string());
    }
    if (ec) return Status::IOError("parse rules " + path + ": " + ec.message());
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

Result<std::shared_ptr<const RuleSet>> LoadRuleSet(const std::vector<std::string>& rule_paths,
                                                   const std::vector<std::string>& pattern_dirs,
                                                   const RuleOptions& options) {
  std::map<grok::PatternNaming, std::unique_ptr<grok::PatternLibrary>> libs;
  LibraryProvider provider = [&](grok::PatternNaming naming) -> Result<const grok::PatternLibrary*> {
    auto& lib = libs[naming];
    if (!lib) {
      auto l = std::make_unique<grok::PatternLibrary>();
      for (const auto& dir : pattern_dirs) LOGSHIP_RETURN_IF_ERROR(l->LoadDirectory(dir, naming));
      lib = std::move(l);
    }
    return lib.get();
  };
  auto files = ExpandRuleFiles(rule_paths);
  if (!files.ok()) return files.status();
  std::vector<std::unique_ptr<Rule>> rules;
  ZoneCache zones;
  for (const auto& file : files.value()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::IOError("parse rules " + file + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    LOGSHIP_RETURN_IF_ERROR(ParseRulesText(ss.str(), file, provider, options, &zones, &rules));
  }
  // A pattern directory that does not exist is an error even when no rule needed it.
  LOGSHIP_RETURN_IF_ERROR(provider(options.naming).status());
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
  static std::atomic<uint64_t> next_id{0};
  rs->id_ = ++next_id;
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
  // The last answer of this thread: the rule depends only on (type, source, host).
  struct LastSelect {
    uint64_t rule_set = 0;
    std::string type, source, host;
    const Rule* rule = nullptr;
  };
  thread_local LastSelect last;
  if (id_ != 0 && last.rule_set == id_ && last.source == event.source && last.type == event.type &&
      last.host == event.host) {
    return last.rule;
  }
  const Rule* rule = SelectUncached(event);
  last.rule_set = id_;
  last.type = event.type;
  last.source = event.source;
  last.host = event.host;
  last.rule = rule;
  return rule;
}

const Rule* RuleSet::SelectUncached(const Event& event) const {
  auto it = by_type_.find(event.type);
  const auto& candidates = it == by_type_.end() ? untyped_ : it->second;
  for (const Rule* r : candidates) {
    if (!r->source_glob.empty() && fnmatch(r->source_glob.c_str(), event.source.c_str(), 0) != 0) continue;
    if (!r->host_glob.empty() && fnmatch(r->host_glob.c_str(), event.host.c_str(), 0) != 0) continue;
    return r;
  }
  return nullptr;
}

const Rule* RuleSet::Find(std::string_view name) const {
  for (const auto& r : rules_)
    if (r->name == name) return r.get();
  return nullptr;
}

int RuleSet::MatchPattern(const Rule& rule, std::string_view raw, std::vector<Field>* fields) const {
  if (rule.patterns.size() == 1) return rule.patterns[0]->Match(raw, fields) ? 0 : -1;
  if (rule.set) {
    // The set over-approximates: the patterns it reports are candidates, tried in order
    // (Match rejects a non-match with its DFA); the others cannot match.
    thread_local std::vector<int> hits;
    hits.clear();
    re2::RE2::Set::ErrorInfo info{};
    if (rule.set->Match(raw, &hits, &info)) {
      std::sort(hits.begin(), hits.end());
      for (int i : hits)
        if (rule.patterns[i]->Match(raw, fields)) return i;
      return -1;
    }
    if (info.kind == re2::RE2::Set::kNoError) return -1;
    // DFA out of memory: fall through to one pattern at a time.
  }
  for (size_t i = 0; i < rule.patterns.size(); ++i)
    if (rule.patterns[i]->Match(raw, fields)) return static_cast<int>(i);
  return -1;
}

ParsedEvent RuleSet::Parse(Event event, ParseTrace* trace) const {
  const Rule* rule = Select(event);
  if (rule == nullptr) {
    ParsedEvent out;
    out.event = std::move(event);
    return out;
  }
  return ParseWith(*rule, std::move(event), trace);
}

ParsedEvent RuleSet::ParseWith(const Rule& rule, Event event, ParseTrace* trace) const {
  ParsedEvent out;
  out.event = std::move(event);
  if (trace) trace->rule = &rule;
  const std::string& raw = out.event.raw;
  out.fields.reserve(rule.max_fields);
  int idx = MatchPattern(rule, raw, &out.fields);
  if (idx < 0) {
    out.fields.clear();
    out.tags.emplace_back(kGrokParseFailureTag);
    return out;
  }
  if (trace) trace->pattern = idx;

  for (const auto& [from, to] : rule.rename) {
    Field* f = FindField(out.fields, from);
    if (f == nullptr || from == to) continue;
    FieldValue v = std::move(f->value);
    EraseField(out.fields, from);
    EraseField(out.fields, to);
    out.fields.push_back(Field{to, std::move(v)});
  }
  for (const auto& [name, type] : rule.convert) {
    if (Field* f = FindField(out.fields, name)) ConvertValue(&f->value, type);
  }
  if (rule.timestamp) {
    const TimestampDecl& ts = *rule.timestamp;
    if (const Field* f = FindField(out.fields, ts.field)) {
      int64_t reference = out.event.time_ns;
      if (reference == 0) {
        reference = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
      }
      // The text of the field, without copying a string value.
      char buf[400];
      std::string_view text;
      if (const auto* s = std::get_if<std::string>(&f->value)) {
        text = *s;
      } else if (const auto* d = std::get_if<double>(&f->value)) {
        auto r = std::to_chars(buf, buf + sizeof buf, *d, std::chars_format::fixed);
        text = std::string_view(buf, r.ec == std::errc() ? r.ptr - buf : 0);
      } else {
        auto r = std::to_chars(buf, buf + sizeof buf, std::get<int64_t>(f->value));
        text = std::string_view(buf, r.ptr - buf);
      }
      std::optional<int64_t> ns;
      for (size_t i = 0; i < ts.formats.size() && !ns; ++i) {
        ns = ts.formats[i].Parse(text, ts.zone.get(), reference);
        if (ns && trace) trace->timestamp_format = static_cast<int>(i);
      }
      if (ns) out.event.time_ns = *ns;
      else out.tags.emplace_back(kDateParseFailureTag);
    }
  }
  for (const auto& [name, tmpl] : rule.add_fields) {
    FieldValue v;
    if (tmpl.single_field() && tmpl.parts[0].text.front() != '@') {
      const Field* src = FindField(out.fields, tmpl.parts[0].text);
      if (src == nullptr) continue;  // nothing to copy
      v = src->value;
    } else {
      std::string s;
      RenderTemplate(tmpl, out, &s);
      v = std::move(s);
    }
    if (Field* f = FindField(out.fields, name)) f->value = std::move(v);
    else out.fields.push_back(Field{name, std::move(v)});
  }
  for (const auto& c : rule.drop) {
    if (ConditionHolds(c, out)) {
      out.dropped = true;
      break;
    }
  }
  for (const auto& name : rule.remove_fields) EraseField(out.fields, name);
  if (rule.may_add_metadata) {
    out.fields.erase(std::remove_if(out.fields.begin(), out.fields.end(),
                                    [](const Field& f) { return IsMetadataField(f.name); }),
                     out.fields.end());
  }
  for (const auto& t : rule.add_tags) {
    if (std::find(out.tags.begin(), out.tags.end(), t) == out.tags.end()) out.tags.push_back(t);
  }
  return out;
}

// ---- DerivedCounters -------------------------------------------------------------------

DerivedCounters::DerivedCounters(std::shared_ptr<const RuleSet> rules, int64_t bucket_ms)
    : rules_(std::move(rules)), bucket_ms_(bucket_ms > 0 ? bucket_ms : 10'000) {}

namespace {

void AppendLen(std::string* key, size_t n) {
  uint32_t v = static_cast<uint32_t>(n);
  key->append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string FormatBound(double b) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, b);
  return std::string(buf, r.ptr);
}

}  // namespace

void DerivedCounters::Observe(const ParsedEvent& e) {
  if (!rules_ || e.dropped) return;
  for (const auto& t : e.tags)
    if (t == kGrokParseFailureTag) return;
  const Rule* rule = rules_->Select(e.event);
  if (rule == nullptr || rule->metrics.empty()) return;
  int64_t time_ms = e.event.time_ns / 1'000'000;
  if (e.event.time_ns < 0 && e.event.time_ns % 1'000'000 != 0) --time_ms;
  int64_t bucket = time_ms / bucket_ms_ * bucket_ms_;
  if (time_ms < 0 && time_ms % bucket_ms_ != 0) bucket -= bucket_ms_;

  for (const auto& m : rule->metrics) {
    double value = 1;
    if (!m.field.empty()) {
      const Field* f = FindField(e.fields, m.field);
      if (f == nullptr) continue;
      auto v = NumericValue(f->value);
      if (!v) continue;
      value = *v;
    }
    // key = len|name, (len|value)*, bucket. Length prefixes keep it unambiguous.
    key_.clear();
    AppendLen(&key_, m.name.size());
    key_.append(m.name);
    values_.resize(m.labels.size());
    for (size_t i = 0; i < m.labels.size(); ++i) {
      values_[i].clear();
      RenderTemplate(m.labels[i].second, e, &values_[i]);
      AppendLen(&key_, values_[i].size());
      key_.append(values_[i]);
    }
    key_.append(reinterpret_cast<const char*>(&bucket), sizeof bucket);
    auto it = counts_.find(key_);
    if (it == counts_.end()) {
      Entry entry;
      entry.histogram = m.type == MetricDecl::Type::kHistogram;
      entry.name = m.name;
      entry.bucket_ms = bucket;
      entry.labels.reserve(m.labels.size());
      for (size_t i = 0; i < m.labels.size(); ++i) entry.labels.emplace_back(m.labels[i].first, values_[i]);
      if (entry.histogram) {
        entry.bounds = m.buckets;
        entry.buckets.assign(m.buckets.size() + 1, 0);
      }
      it = counts_.emplace(key_, std::move(entry)).first;
    }
    Entry& entry = it->second;
    if (!entry.histogram) {
      entry.value += value;
      continue;
    }
    size_t b = static_cast<size_t>(std::lower_bound(entry.bounds.begin(), entry.bounds.end(), value) -
                                   entry.bounds.begin());
    ++entry.buckets[b];
    entry.sum += value;
    ++entry.count;
  }
}

std::vector<Sample> DerivedCounters::TakeDeltas() {
  std::vector<Sample> out;
  out.reserve(counts_.size());
  for (auto& kv : counts_) {
    Entry& e = kv.second;  // not a structured binding: clang 14 cannot capture one in a lambda
    if (!e.histogram) {
      out.push_back(Sample{std::move(e.name), std::move(e.labels), e.bucket_ms, e.value});
      continue;
    }
    auto with_le = [&](const std::string& le) {
      Labels l = e.labels;
      l.emplace_back("le", le);
      std::sort(l.begin(), l.end());
      return l;
    };
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= e.bounds.size(); ++i) {
      cumulative += e.buckets[i];
      std::string le = i < e.bounds.size() ? FormatBound(e.bounds[i]) : "+Inf";
      out.push_back(Sample{e.name + "_bucket", with_le(le), e.bucket_ms, static_cast<double>(cumulative)});
    }
    out.push_back(Sample{e.name + "_sum", e.labels, e.bucket_ms, e.sum});
    out.push_back(Sample{e.name + "_count", e.labels, e.bucket_ms, static_cast<double>(e.count)});
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
