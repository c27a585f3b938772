// A declarative config map: each key is declared once with its type, default and
// description. Applying a map to a YAML node validates it (unknown keys, wrong types, out
// of range values are errors naming file:line:column, the key path and what was expected)
// and fills a struct; Document() prints the same table as Markdown.
//
// Used for the main config (core/config/config.cc) and for rule files (parser, alerter).
#pragma once

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logship/config.h"
#include "logship/status.h"

namespace logship::config {

// Where a node sits: the file it came from and its key path ("shipper.files[0].paths").
struct Context {
  std::string file;
  std::string path;
  Context Child(const std::string& key) const {
    return {file, path.empty() ? key : path + "." + key};
  }
  Context Index(size_t i) const { return {file, path + "[" + std::to_string(i) + "]"}; }
};

// "file:line:col: path: what"
Status ErrorAt(const YAML::Node& node, const Context& ctx, const std::string& what);

// Parses YAML text; a syntax error names file:line:column.
Result<YAML::Node> ParseYaml(const std::string& text, const std::string& file);
Result<YAML::Node> LoadYamlFile(const std::string& path);

// "250ms", "10s", "5m", "2h", "1d" (a bare number is seconds).
Result<Millis> ParseDuration(std::string_view text);
// "1048576", "512KiB", "1MiB", "2GiB" (also KB/MB/GB as powers of 1000).
Result<uint64_t> ParseSize(std::string_view text);
std::string FormatDuration(Millis d);

// Scalar conversions that report what was expected.
Status ReadString(const YAML::Node& node, const Context& ctx, std::string* out);
Status ReadStringList(const YAML::Node& node, const Context& ctx, std::vector<std::string>* out);
Status ReadDuration(const YAML::Node& node, const Context& ctx, Millis* out);

template <class T>
class Schema {
 public:
  using ApplyFn = std::function<Status(const YAML::Node&, const Context&, T&)>;
  using ShowFn = std::function<std::string(const T&)>;
  struct Key {
    std::string name;
    std::string type;
    std::string description;
    bool required = false;
    ApplyFn apply;
    ShowFn show_default;
    std::function<void(std::string&, const std::string&)> document_nested;
  };

  explicit Schema(std::string description = "") : description_(std::move(description)) {}

  Schema& String(const std::string& name, std::string T::*m, const std::string& desc,
                 std::vector<std::string> one_of = {}) {
    std::string type = "string";
    if (!one_of.empty()) {
      type = "one of";
      for (auto& o : one_of) type += " `" + o + "`";
    }
    return Add({name, type, desc, false,
                [m, one_of](const YAML::Node& n, const Context& c, T& t) -> Status {
                  std::string v;
                  LOGSHIP_RETURN_IF_ERROR(ReadString(n, c, &v));
                  if (!one_of.empty() && std::find(one_of.begin(), one_of.end(), v) == one_of.end()) {
                    std::string exp;
                    for (auto& o : one_of) exp += (exp.empty() ? "" : ", ") + o;
                    return ErrorAt(n, c, "expected one of " + exp + ", got \"" + v + "\"");
                  }
                  t.*m = std::move(v);
                  return Status::Ok();
                },
                [m](const T& t) { return t.*m; }, nullptr});
  }

  template <class Int>
  Schema& Integer(const std::string& name, Int T::*m, const std::string& desc, int64_t min, int64_t max) {
    return Add({name, "integer " + std::to_string(min) + ".." + std::to_string(max), desc, false,
                [m, min, max](const YAML::Node& n, const Context& c, T& t) -> Status {
                  std::string s;
                  LOGSHIP_RETURN_IF_ERROR(ReadString(n, c, &s));
                  int64_t v = 0;
                  size_t used = 0;
                  try {
                    v = std::stoll(s, &used);
                  } catch (...) {
                    used = 0;
                  }
                  if (used == 0 || used != s.size()) return ErrorAt(n, c, "expected an integer, got \"" + s + "\"");
                  if (v < min || v > max) {
                    return ErrorAt(n, c, "expected an integer from " + std::to_string(min) + " to " +
                                             std::to_string(max) + ", got " + s);
                  }
                  t.*m = static_cast<Int>(v);
                  return Status::Ok();
                },
                [m](const T& t) { return std::to_string(t.*m); }, nullptr});
  }

  template <class Int>
  Schema& Size(const std::string& name, Int T::*m, const std::string& desc, uint64_t min, uint64_t max) {
    return Add({name, "size (bytes, KiB, MiB, GiB)", desc, false,
                [m, min, max](const YAML::Node& n, const Context& c, T& t) -> Status {
                  std::string s;
                  LOGSHIP_RETURN_IF_ERROR(ReadString(n, c, &s));
                  auto v = ParseSize(s);
                  if (!v.ok()) return ErrorAt(n, c, v.status().message());
                  if (*v < min || *v > max) {
                    return ErrorAt(n, c, "expected a size from " + std::to_string(min) + " to " +
                                             std::to_string(max) + " bytes, got " + s);
                  }
                  t.*m = static_cast<Int>(*v);
                  return Status::Ok();
                },
                [m](const T& t) { return std::to_string(t.*m); }, nullptr});
  }

  Schema& Bool(const std::string& name, bool T::*m, const std::string& desc) {
    return Add({name, "boolean", desc, false,
                [m](const YAML::Node& n, const Context& c, T& t) -> Status {
                  std::string s;
                  LOGSHIP_RETURN_IF_ERROR(ReadString(n, c, &s));
                  if (s == "true" || s == "yes" || s == "on") {
                    t.*m = true;
                  } else if (s == "false" || s == "no" || s == "off") {
                    t.*m = false;
                  } else {
                    return ErrorAt(n, c, "expected true or false, got \"" + s + "\"");
                  }
                  return Status::Ok();
                },
                [m](const T& t) { return std::string(t.*m ? "true" : "false"); }, nullptr});
  }

  Schema& Duration(const std::string& name, Millis T::*m, const std::string& desc, Millis min) {
    return Add({name, "duration (ms, s, m, h, d)", desc, false,
                [m, min](const YAML::Node& n, const Context& c, T& t) -> Status {
                  Millis v;
                  LOGSHIP_RETURN_IF_ERROR(ReadDuration(n, c, &v));
                  if (v < min) return ErrorAt(n, c, "expected a duration of at least " + FormatDuration(min));
                  t.*m = v;
                  return Status::Ok();
                },
                [m](const T& t) { return FormatDuration(t.*m); }, nullptr});
  }

  Schema& StringList(const std::string& name, std::vector<std::string> T::*m, const std::string& desc) {
    return Add({name, "list of strings", desc, false,
                [m](const YAML::Node& n, const Context& c, T& t) -> Status {
                  return ReadStringList(n, c, &(t.*m));
                },
                [m](const T& t) {
                  std::string s = "[";
                  for (auto& v : t.*m) s += (s.size() > 1 ? ", " : "") + v;
                  return s + "]";
                },
                nullptr});
  }

  // A secret: {env: NAME} or {file: /path}. The value is resolved by the build step.
  Schema& SecretRef(const std::string& name, Secret T::*m, const std::string& desc) {
    return Add({name, "secret: {env: NAME} or {file: PATH}", desc, false,
                [m](const YAML::Node& n, const Context& c, T& t) -> Status {
                  if (n.IsMap() && n.size() == 1) {
                    auto kv = *n.begin();
                    std::string key = kv.first.Scalar(), v;
                    LOGSHIP_RETURN_IF_ERROR(ReadString(kv.second, c.Child(key), &v));
                    if ((key == "env" || key == "file") && !v.empty()) {
                      (t.*m).origin = key + ":" + v;
                      return Status::Ok();
                    }
                  }
                  return ErrorAt(n, c, "expected {env: VARIABLE} or {file: PATH} (secrets are not written inline)");
                },
                [](const T&) { return std::string("unset"); }, nullptr});
  }

  template <class U>
  Schema& Section(const std::string& name, U T::*m, const Schema<U>& sub, const std::string& desc) {
    auto shared = std::make_shared<Schema<U>>(sub);
    return Add({name, "section", desc, false,
                [m, shared](const YAML::Node& n, const Context& c, T& t) -> Status {
                  return shared->Apply(n, c, t.*m);
                },
                nullptr,
                [shared](std::string& out, const std::string& prefix) { shared->Document(out, prefix); }});
  }

  template <class U>
  Schema& List(const std::string& name, std::vector<U> T::*m, const Schema<U>& sub, const std::string& desc) {
    auto shared = std::make_shared<Schema<U>>(sub);
    return Add({name, "list of sections", desc, false,
                [m, shared](const YAML::Node& n, const Context& c, T& t) -> Status {
                  if (!n.IsSequence()) return ErrorAt(n, c, "expected a list");
                  (t.*m).clear();
                  for (size_t i = 0; i < n.size(); ++i) {
                    U item;
                    LOGSHIP_RETURN_IF_ERROR(shared->Apply(n[i], c.Index(i), item));
                    (t.*m).push_back(std::move(item));
                  }
                  return Status::Ok();
                },
                nullptr,
                [shared](std::string& out, const std::string& prefix) { shared->Document(out, prefix + "[]"); }});
  }

  // A regular expression that must compile with RE2 (linear time on untrusted input).
  // Empty is allowed only when `allow_empty` (it then means "none").
  Schema& Regex(const std::string& name, std::string T::*m, const std::string& desc, bool allow_empty = false) {
    return Add({name, "RE2 regular expression", desc, false,
                [m, allow_empty](const YAML::Node& n, const Context& c, T& t) -> Status {
                  std::string v;
                  LOGSHIP_RETURN_IF_ERROR(ReadString(n, c, &v));
                  if (v.empty() && !allow_empty) return ErrorAt(n, c, "expected a non-empty RE2 regular expression");
                  RE2 re(v, RE2::Quiet);
                  if (!v.empty() && !re.ok()) {
                    return ErrorAt(n, c, "invalid RE2 regular expression \"" + v + "\": " + re.error());
                  }
                  t.*m = std::move(v);
                  return Status::Ok();
                },
                [m](const T& t) { return t.*m; }, nullptr});
  }

  // A rule over several keys of the section, checked after all of them were applied
  // (e.g. "give either start or continuation"). The error names the section's node.
  Schema& Check(std::function<std::string(const T&)> check) {
    checks_.push_back(std::move(check));
    return *this;
  }

  // Any other shape: the caller converts and validates the node itself.
  Schema& Custom(const std::string& name, const std::string& type, const std::string& desc, ApplyFn apply) {
    return Add({name, type, desc, false, std::move(apply), nullptr, nullptr});
  }

  // Marks the key declared last as required.
  Schema& Required() {
    keys_.back().required = true;
    return *this;
  }

  // Validates `node` (a map, or null for an empty section) and fills `out`; keys absent
  // keep the values `out` already has (its defaults).
  Status Apply(const YAML::Node& node, const Context& ctx, T& out) const {
    if (!node || node.IsNull()) {
      for (const Key& k : keys_) {
        if (k.required) return ErrorAt(node, ctx, "missing required key \"" + k.name + "\"");
      }
      return Status::Ok();
    }
    if (!node.IsMap()) return ErrorAt(node, ctx, "expected a map of keys");
    std::vector<bool> seen(keys_.size(), false);
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.Scalar();
      size_t i = 0;
      while (i < keys_.size() && keys_[i].name != key) ++i;
      if (i == keys_.size()) {
        std::string expected;
        for (const Key& k : keys_) expected += (expected.empty() ? "" : ", ") + k.name;
        return ErrorAt(it->first, ctx, "unknown key \"" + key + "\"; expected one of: " + expected);
      }
      if (seen[i]) return ErrorAt(it->first, ctx, "key \"" + key + "\" given twice");
      seen[i] = true;
      LOGSHIP_RETURN_IF_ERROR(keys_[i].apply(it->second, ctx.Child(key), out));
    }
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i].required && !seen[i]) {
        return ErrorAt(node, ctx, "missing required key \"" + keys_[i].name + "\"");
      }
    }
    for (const auto& check : checks_) {
      if (std::string err = check(out); !err.empty()) return ErrorAt(node, ctx, err);
    }
    return Status::Ok();
  }

  // Markdown rows: | key | type | default | description |
  void Document(std::string& out, const std::string& prefix) const {
    T defaults{};
    for (const Key& k : keys_) {
      std::string full = prefix.empty() ? k.name : prefix + "." + k.name;
      std::string def = k.required ? "required" : (k.show_default ? k.show_default(defaults) : "");
      if (def.empty()) {
        def = " ";
      } else {
        std::string escaped;  // a | would end the Markdown table cell
        for (char ch : def) escaped += ch == '|' ? std::string("\\|") : std::string(1, ch);
        def = "`" + escaped + "`";
      }
      out += "| `" + full + "` | " + k.type + " | " + def + " | " + k.description + " |\n";
      if (k.document_nested) k.document_nested(out, full);
    }
  }

 private:
  Schema& Add(Key key) {
    keys_.push_back(std::move(key));
    return *this;
  }
  std::string description_;
  std::vector<Key> keys_;
  std::vector<std::function<std::string(const T&)>> checks_;
};

}  // namespace logship::config
