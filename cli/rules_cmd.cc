#include "cli/rules_cmd.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "logship/config.h"
#include "parser/grok/grok.h"
#include "parser/rules/rule_cases.h"
#include "parser/rules/rule_set.h"

namespace logship::cli {
namespace {

struct RulesTestArgs {
  std::string config;
  std::vector<std::string> rules;
  std::vector<std::string> patterns;
  std::string ecs_compatibility;
  std::string timezone;
  std::string type, source, host, received;
  std::string expression;
  std::vector<std::string> lines;
  std::string format = "text";
  bool strict = false;
  std::vector<std::string> case_files;
};

[[noreturn]] void Fail(const std::string& msg, int code) {
  std::cerr << "logship rules test: " << msg << "\n";
  throw CLI::RuntimeError(code);
}

// rules/parse or rules/parse/x.yaml -> rules/patterns, when it exists.
std::string SiblingPatterns(const std::string& rules_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(rules_path);
  fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
  if (dir.filename().empty()) dir = dir.parent_path();  // trailing slash
  fs::path candidate = dir.parent_path() / "patterns";
  return fs::is_directory(candidate, ec) ? candidate.string() : "";
}

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

nlohmann::ordered_json JsonValue(const FieldValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  // Invalid UTF-8 would make dump() throw: replace it.
  return nlohmann::ordered_json(std::get<std::string>(v));
}

std::string TypeName(const FieldValue& v) {
  if (std::holds_alternative<int64_t>(v)) return "int";
  if (std::holds_alternative<double>(v)) return "float";
  return "string";
}

std::string ValueText(const FieldValue& v) {
  if (std::holds_alternative<std::string>(v)) return "\"" + Printable(std::get<std::string>(v)) + "\"";
  std::string s;
  rules::AppendFieldValue(v, &s);
  return s;
}

void PrintText(size_t n, const std::string& line, const ParsedEvent& p, const rules::ParseTrace& trace,
               const std::string& expression, bool matched) {
  std::cout << "line " << n << ": " << Printable(line.substr(0, 120)) << (line.size() > 120 ? "..." : "") << "\n";
  if (!expression.empty()) {
    std::cout << "  expression  " << expression << (matched ? "" : "  (no match)") << "\n";
  } else if (trace.rule == nullptr) {
    std::cout << "  rule        none applies (no rule's `when` holds; the event is stored raw, untagged)\n";
  } else {
    std::cout << "  rule        " << trace.rule->name << " (" << trace.rule->origin << ")\n";
    if (trace.pattern >= 0) {
      std::cout << "  pattern     " << trace.pattern + 1 << " of " << trace.rule->patterns.size() << ": "
                << trace.rule->patterns[trace.pattern]->expression() << "\n";
    } else {
      std::cout << "  pattern     none of " << trace.rule->patterns.size() << " matched\n";
    }
    if (trace.rule->timestamp) {
      std::cout << "  time        " << rules::FormatTime(p.event.time_ns);
      if (trace.timestamp_format >= 0) {
        std::cout << " (from " << trace.rule->timestamp->field << ", "
                  << trace.rule->timestamp->formats[trace.timestamp_format].format();
        if (trace.rule->timestamp->zone->name() != "UTC") {
          std::cout << "; without an offset: " << trace.rule->timestamp->zone->name();
        }
        std::cout << ")";
      } else {
        std::cout << " (ingest time: " << trace.rule->timestamp->field << " not parsed)";
      }
      std::cout << "\n";
    }
    std::string tags;
    for (const auto& t : p.tags) tags += (tags.empty() ? "" : ", ") + t;
    std::cout << "  tags        " << (tags.empty() ? "-" : tags) << "\n";
    if (p.dropped) std::cout << "  dropped     yes (a drop condition holds: not stored)\n";
  }
  if (p.fields.empty()) {
    std::cout << "  fields      -\n";
    return;
  }
  std::cout << "  fields\n";
  size_t width = 0;
  for (const auto& f : p.fields) width = std::max(width, f.name.size());
  for (const auto& f : p.fields) {
    std::cout << "    " << f.name << std::string(width - f.name.size() + 2, ' ') << TypeName(f.value)
              << std::string(8 - TypeName(f.value).size(), ' ') << ValueText(f.value) << "\n";
  }
}

void PrintJson(const std::string& line, const ParsedEvent& p, const rules::ParseTrace& trace,
               const std::string& expression, bool matched) {
  nlohmann::ordered_json j;
  j["line"] = line;
  if (!expression.empty()) {
    j["expression"] = expression;
    j["matched"] = matched;
  } else {
    j["rule"] = trace.rule ? nlohmann::ordered_json(trace.rule->name) : nlohmann::ordered_json(nullptr);
    j["pattern"] = trace.pattern >= 0 ? nlohmann::ordered_json(trace.pattern + 1) : nlohmann::ordered_json(nullptr);
    j["time"] = rules::FormatTime(p.event.time_ns);
    j["tags"] = p.tags;
    j["dropped"] = p.dropped;
  }
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  for (const auto& f : p.fields) fields[f.name] = JsonValue(f.value);
  j["fields"] = fields;
  std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

void RunRulesTest(RulesTestArgs a) {
  grok::PatternNaming naming = grok::PatternNaming::kLegacy;
  std::string timezone = "UTC";
  if (!a.config.empty()) {
    auto c = LoadConfig(a.config);
    if (!c.ok()) Fail(c.status().message(), 2);
    const ParserConfig& p = c.value().parser;
    if (a.rules.empty()) a.rules = p.rule_files;
    if (a.patterns.empty()) a.patterns = p.pattern_dirs;
    naming = grok::PatternNamingFromName(p.ecs_compatibility).value_or(naming);
    timezone = p.timezone;
  }
  if (!a.ecs_compatibility.empty()) {
    auto n = grok::PatternNamingFromName(a.ecs_compatibility);
    if (!n) Fail("--ecs-compatibility " + a.ecs_compatibility + ": expected disabled, v1 or v8", 2);
    naming = *n;
  }
  if (!a.timezone.empty()) timezone = a.timezone;
  if (a.patterns.empty() && !a.rules.empty()) {
    std::string sibling = SiblingPatterns(a.rules.front());
    if (!sibling.empty()) a.patterns.push_back(sibling);
  }
  if (a.patterns.empty()) Fail("no pattern directory: pass -p DIR (e.g. -p rules/patterns)", 2);
  if (a.rules.empty() && a.expression.empty()) {
    bool only_patterns = !a.case_files.empty();
    if (!only_patterns) Fail("nothing to test: pass -r RULES (a file or directory) or -e EXPRESSION", 2);
  }

  std::map<grok::PatternNaming, std::unique_ptr<grok::PatternLibrary>> libs;
  rules::LibraryProvider provider = [&](grok::PatternNaming n) -> Result<const grok::PatternLibrary*> {
    auto& lib = libs[n];
    if (!lib) {
      auto l = std::make_unique<grok::PatternLibrary>();
      for (const auto& dir : a.patterns) LOGSHIP_RETURN_IF_ERROR(l->LoadDirectory(dir, n));
      lib = std::move(l);
    }
    return lib.get();
  };
  if (auto l = provider(naming); !l.ok()) Fail(l.status().message(), 2);

  std::shared_ptr<const rules::RuleSet> rule_set;
  if (!a.rules.empty()) {
    rules::RuleOptions options;
    options.naming = naming;
    options.timezone = timezone;
    auto files = rules::ExpandRuleFiles(a.rules);
    if (!files.ok()) Fail(files.status().message(), 2);
    auto rs = rules::LoadRuleSet(files.value(), a.patterns, options);
    if (!rs.ok()) Fail(rs.status().message(), 2);
    rule_set = rs.value();
  }

  // ---- case files ----
  if (!a.case_files.empty()) {
    rules::CaseRunner runner(rule_set, provider, naming);
    size_t total = 0, failed = 0;
    for (const auto& file : a.case_files) {
      auto cases = rules::LoadRuleCases(file);
      if (!cases.ok()) Fail(cases.status().message(), 2);
      for (const auto& c : cases.value()) {
        for (const auto& r : runner.Run(c)) {
          ++total;
          if (r.passed) {
            if (a.format == "text") std::cout << "PASS " << r.title << "\n";
            continue;
          }
          ++failed;
          std::cout << "FAIL " << r.title << "\n";
          for (const auto& d : r.diffs) std::cout << "  " << d << "\n";
        }
      }
    }
    std::cout << total << " cases, " << (total - failed) << " passed, " << failed << " failed\n";
    if (failed > 0) throw CLI::RuntimeError(1);
    return;
  }

  // ---- lines ----
  std::unique_ptr<const grok::Grok> grok;
  if (!a.expression.empty()) {
    auto lib = provider(naming);
    auto g = grok::Grok::Compile(a.expression, *lib.value());
    if (!g.ok()) Fail(g.status().message(), 2);
    grok = std::move(g).value();
  }
  int64_t received = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  if (!a.received.empty()) {
    auto t = rules::ParseTimestamp(a.received, rules::TimestampFormat::kIso8601, 0);
    if (!t) Fail("--received " + a.received + ": expected an RFC 3339 time", 2);
    received = *t;
  }
  const bool by_attributes = !a.type.empty() || !a.source.empty() || !a.host.empty();
  if (!by_attributes && grok == nullptr && a.format == "text") {
    std::cout << "(no --type/--source/--host: each line goes to the first rule one of whose patterns matches)\n";
  }
  bool all_parsed = true;
  size_t n = 0;
  auto handle = [&](const std::string& line) {
    ++n;
    Event e;
    e.id = "line-" + std::to_string(n);
    e.raw = line;
    e.type = a.type;
    e.source = a.source;
    e.host = a.host;
    e.time_ns = received;
    rules::ParseTrace trace;
    ParsedEvent p;
    bool matched = true;
    if (grok) {
      p.event = e;
      matched = grok->Match(line, &p.fields);
    } else {
      p = rules::ParseForTest(*rule_set, std::move(e), by_attributes, &trace);
      matched = trace.rule != nullptr && trace.pattern >= 0;
    }
    if (!matched) all_parsed = false;
    if (a.format == "json") PrintJson(line, p, trace, a.expression, matched);
    else PrintText(n, line, p, trace, a.expression, matched);
  };
  if (!a.lines.empty()) {
    for (const auto& l : a.lines) handle(l);
  } else {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      handle(line);
    }
  }
  if (a.strict && !all_parsed) throw CLI::RuntimeError(1);
}

}  // namespace

void AddRulesCommand(CLI::App& app) {
  CLI::App* rules = app.add_subcommand("rules", "Work with parse rules and grok patterns");
  rules->require_subcommand(1);
  auto args = std::make_shared<RulesTestArgs>();
  CLI::App* test = rules->add_subcommand(
      "test", "Show the fields lines produce, or run a YAML file of sample -> expected cases (exit 1 on a failure)");
  test->add_option("-c,--config", args->config, "Take rules, patterns, ecs_compatibility and timezone from this config");
  // Repeatable options take one value each, so `-p DIR cases.yaml` leaves cases.yaml
  // to the positional argument.
  test->add_option("-r,--rules", args->rules, "Rule file or directory (repeatable)")->allow_extra_args(false);
  test->add_option("-p,--patterns", args->patterns,
                   "Pattern directory (repeatable; default: the patterns directory beside the rules directory)")
      ->allow_extra_args(false);
  test->add_option("--ecs-compatibility", args->ecs_compatibility, "Pattern field names: disabled, v1 or v8");
  test->add_option("--timezone", args->timezone, "Zone of timestamps written without an offset");
  test->add_option("--type", args->type, "The event's type (selects rules by `when`)");
  test->add_option("--source", args->source, "The event's source (file path)");
  test->add_option("--host", args->host, "The event's host");
  test->add_option("--received", args->received, "The event's ingest time (RFC 3339; default now)");
  test->add_option("-e,--expression", args->expression, "Test this grok expression instead of rules");
  test->add_option("-l,--line", args->lines, "A line to parse (repeatable; default: lines from stdin)")
      ->allow_extra_args(false);
  test->add_option("--format", args->format, "Output: text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  test->add_flag("--strict", args->strict, "Exit 1 when a line does not parse");
  test->add_option("cases", args->case_files, "Case files (YAML) to run");
  test->callback([args]() { RunRulesTest(*args); });
}

}  // namespace logship::cli
