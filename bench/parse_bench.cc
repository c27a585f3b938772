// RuleSet::Parse throughput (bytes of raw line per second, one thread).
//
//   Nginx1Rule        rules/parse/nginx.yaml alone (%{NGINX_ACCESS}) on combined lines
//   Nginx50RulesOnePattern  the same lines with the 50-rule set below loaded, the rule
//                     that parses them being that one (NGINX_ACCESS alone)
//   Nginx1RuleThreePatterns  the 50-rule set's nginx catch-all rule alone: two richer
//                     formats before NGINX_ACCESS, so the winner is its third pattern
//   Nginx50Rules      the same lines with the 50-rule set loaded (that rule selected)
//   NginxFullCapture  Grok::MatchFullCapture: the one-RE2-match path (the "before")
//   NginxGrokMatch    Grok::Match alone (no Event, no timestamp)
//   HandWrittenRe2    one hand-written RE2 of the combined format with 12 captures: the
//                     floor to beat (captures only, no Field is built)
//   Syslog1Rule       RFC 3164 lines with %{SYSLOGLINE}
//   Syslog50Rules     the same lines with the 50-rule set loaded (a %{SYSLOGLINE} rule selected)
//   Nginx50RulesSetPassOnly  the first-matching-pattern pass of Nginx50Rules alone
//
// The 50-rule set (what a mid-size site loads): 10 event types (nginx, apache, syslog,
// haproxy, app, postgres, redis, mysql, k8s, audit), 5 rules each, each rule narrowed by a
// source glob; rules have 1 to 3 patterns. The nginx events under test carry
// source=/var/log/nginx/access.log, selected by the *last* nginx rule after four globs
// that do not match, whose patterns try two richer nginx formats before NGINX_ACCESS —
// a worst case for selection and for the multi-pattern prefilter.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include <re2/re2.h>

#include "parser/grok/grok.h"
#include "parser/rules/rule_set.h"

namespace {

using logship::Event;
using logship::Field;

const logship::grok::PatternLibrary& Library() {
  static const auto* lib = [] {
    auto* l = new logship::grok::PatternLibrary();
    if (!l->LoadDirectory(std::string(LOGSHIP_SOURCE_DIR) + "/rules/patterns").ok()) std::abort();
    return l;
  }();
  return *lib;
}

std::shared_ptr<const logship::rules::RuleSet> Rules(const std::string& yaml) {
  auto rs = logship::rules::ParseRuleSet(yaml, "bench.yaml", Library());
  if (!rs.ok()) {
    fprintf(stderr, "%s\n", rs.status().ToString().c_str());
    std::abort();
  }
  return rs.value();
}

const char* kOneRule = R"(
rules:
  - name: nginx-access
    when: {type: nginx}
    patterns: ['%{NGINX_ACCESS}']
    timestamp: {field: timestamp, format: HTTPDATE}
)";

// The catch-all nginx rule of the 50-rule set; with `multi_pattern` it tries two richer
// formats before NGINX_ACCESS (the winner is its third pattern).
std::string NginxCatchAllRule(bool multi_pattern) {
  std::string y = R"(  - name: nginx-access
    when: {type: nginx, source: '/var/log/nginx/*.log'}
    patterns:
)";
  if (multi_pattern) {
    y += "      - '%{NGINX_ACCESS} %{NUMBER:request_time:float} %{NUMBER:upstream_time:float}'\n";
    y += "      - '%{NGINX_ACCESS} \"%{DATA:forwarded_for}\"'\n";
  }
  y += R"(      - '%{NGINX_ACCESS}'
    timestamp: {field: timestamp, format: HTTPDATE}
)";
  return y;
}

// `multi_pattern`: the selected nginx rule tries two richer formats first (the worst case);
// otherwise it has NGINX_ACCESS alone.
std::string FiftyRules(bool multi_pattern = true) {
  // Per type: {pattern list for rules 1..4, pattern list for rule 5}.
  struct Type {
    const char* name;
    std::vector<std::string> patterns;  // rule k uses patterns[k % size] (one per rule)
  };
  const std::vector<Type> types = {
      {"apache", {"'%{HTTPD_COMBINEDLOG}'", "'%{HTTPD_COMMONLOG}'"}},
      {"syslog", {"'%{SYSLOGLINE}'", "'%{SYSLOGBASE} %{GREEDYDATA:message}'"}},
      {"haproxy", {"'%{IPORHOST:client}:%{POSINT:port} \\[%{HTTPDATE:accept_date}\\] %{NOTSPACE:frontend} %{NOTSPACE:backend}/%{NOTSPACE:server} %{INT:tq:int}/%{INT:tw:int}/%{INT:tc:int}/%{INT:tr:int}/%{INT:tt:int} %{INT:status:int} %{INT:bytes:int}'"}},
      {"app", {"'%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} \\[%{NOTSPACE:thread}\\] %{NOTSPACE:logger} - %{GREEDYDATA:message}'",
               "'%{TIMESTAMP_ISO8601:ts} \\[%{LOGLEVEL:level}\\] %{GREEDYDATA:message}'"}},
      {"postgres", {"'%{TIMESTAMP_ISO8601:ts} %{WORD:tz} \\[%{POSINT:pid}\\] %{WORD:level}:  %{GREEDYDATA:message}'"}},
      {"redis", {"'%{POSINT:pid}:%{WORD:role} %{MONTHDAY:day} %{MONTH:month} %{YEAR:year} %{TIME:time} %{DATA:level} %{GREEDYDATA:message}'"}},
      {"mysql", {"'%{TIMESTAMP_ISO8601:ts} %{INT:thread:int} \\[%{WORD:level}\\] %{GREEDYDATA:message}'"}},
      {"k8s", {"'%{TIMESTAMP_ISO8601:ts} %{WORD:stream} %{WORD:tag} %{GREEDYDATA:message}'"}},
      {"audit", {"'type=%{WORD:audit_type} msg=audit\\(%{NUMBER:audit_epoch}:%{INT:audit_counter}\\): %{GREEDYDATA:message}'"}},
  };
  std::string y = "rules:\n";
  for (const auto& t : types) {
    for (int k = 0; k < 5; ++k) {
      y += "  - name: " + std::string(t.name) + "-" + std::to_string(k) + "\n";
      y += "    when: {type: " + std::string(t.name) + ", source: '/var/log/" + t.name + "/svc" +
           std::to_string(k) + "-*.log'}\n";
      y += "    patterns: [" + t.patterns[k % t.patterns.size()] + "]\n";
    }
  }
  // nginx: four site-specific rules, then the catch-all with three formats.
  for (int k = 0; k < 4; ++k) {
    y += "  - name: nginx-site" + std::to_string(k) + "\n";
    y += "    when: {type: nginx, source: '/var/log/nginx/site" + std::to_string(k) + "-*.log'}\n";
    y += "    patterns: ['%{NGINX_ACCESS} %{NUMBER:request_time:float}', '%{NGINX_ACCESS}']\n";
  }
  return y + NginxCatchAllRule(multi_pattern);
}

// Combined-format lines like tools/loggen.cc writes (~230 bytes), 1 in 10 from IPv6.
std::vector<std::string> NginxLines() {
  static const char* paths[] = {"/", "/index.html", "/api/v1/orders", "/api/v1/users/42",
                                "/static/app.js", "/api/v1/cart?item=1337&qty=2", "/search?q=logs"};
  static const char* agents[] = {
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Safari/605.1.15",
      "curl/7.88.1", "Go-http-client/1.1"};
  std::mt19937 rng(7);
  std::vector<std::string> out;
  for (int i = 0; i < 1000; ++i) {
    std::string ip = i % 10 == 0 ? "2001:db8:85a3::8a2e:370:" + std::to_string(7000 + i % 999)
                                 : "203.0." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256);
    std::string bytes = i % 20 == 0 ? "-" : std::to_string(rng() % 50000);
    out.push_back(ip + " - " + (i % 7 == 0 ? "alice" : "-") + " [14/Nov/2023:22:13:" +
                  std::to_string(10 + i % 50) + " +0000] \"GET " + paths[rng() % 7] +
                  " HTTP/1.1\" " + (i % 13 == 0 ? "404" : "200") + " " + bytes +
                  " \"https://shop.example.com/catalog?page=" + std::to_string(i % 40) + "\" \"" +
                  agents[rng() % 4] + "\"");
  }
  return out;
}

std::vector<std::string> SyslogLines() {
  static const char* progs[] = {"sshd[1234]", "CRON[877]", "systemd[1]", "kernel", "postfix/smtpd[4471]"};
  static const char* msgs[] = {
      "Accepted publickey for deploy from 198.51.100.4 port 52144 ssh2: ED25519 SHA256:abcdef",
      "(root) CMD (/usr/lib/php/sessionclean)", "Started Daily apt download activities.",
      "[12345.678901] eth0: link up, 1000 Mbps, full duplex",
      "connect from mail.example.org[192.0.2.55]"};
  std::vector<std::string> out;
  for (int i = 0; i < 1000; ++i)
    out.push_back(std::string("Nov 14 22:13:") + std::to_string(10 + i % 50) + " web-" +
                  std::to_string(i % 9) + " " + progs[i % 5] + ": " + msgs[(i / 5) % 5]);
  return out;
}

std::vector<Event> Events(const std::vector<std::string>& lines, const char* type, const char* source) {
  std::vector<Event> ev;
  for (const auto& l : lines) {
    Event e;
    e.id = "bench";
    e.host = "web-1";
    e.type = type;
    e.source = source;
    e.time_ns = 1'700'000'000'000'000'000;
    e.raw = l;
    ev.push_back(std::move(e));
  }
  return ev;
}

void RunParse(benchmark::State& state, const logship::rules::RuleSet& rs, const std::vector<Event>& events,
              size_t want_fields) {
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const Event& e = events[i];
    auto parsed = rs.Parse(e);  // copies the Event, as a worker hands one over
    if (parsed.fields.size() < want_fields) state.SkipWithError("line did not parse");
    benchmark::DoNotOptimize(parsed);
    bytes += e.raw.size();
    if (++i == events.size()) i = 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_Nginx1Rule(benchmark::State& state) {
  static auto rs = Rules(kOneRule);
  static auto events = Events(NginxLines(), "nginx", "/var/log/nginx/access.log");
  RunParse(state, *rs, events, 10);
}
BENCHMARK(BM_Nginx1Rule);

void BM_Nginx50Rules(benchmark::State& state) {
  static auto rs = Rules(FiftyRules());
  static auto events = Events(NginxLines(), "nginx", "/var/log/nginx/access.log");
  if (rs->rules().size() != 50) state.SkipWithError("expected 50 rules");
  RunParse(state, *rs, events, 10);
}
BENCHMARK(BM_Nginx50Rules);

void BM_Nginx1RuleThreePatterns(benchmark::State& state) {
  static auto rs = Rules("rules:\n" + NginxCatchAllRule(true));
  static auto events = Events(NginxLines(), "nginx", "/var/log/nginx/access.log");
  RunParse(state, *rs, events, 10);
}
BENCHMARK(BM_Nginx1RuleThreePatterns);

void BM_Nginx50RulesOnePattern(benchmark::State& state) {
  static auto rs = Rules(FiftyRules(false));
  static auto events = Events(NginxLines(), "nginx", "/var/log/nginx/access.log");
  if (rs->rules().size() != 50) state.SkipWithError("expected 50 rules");
  RunParse(state, *rs, events, 10);
}
BENCHMARK(BM_Nginx50RulesOnePattern);

void GrokBench(benchmark::State& state, bool full) {
  static auto g = logship::grok::Grok::Compile("%{NGINX_ACCESS}", Library());
  static auto lines = NginxLines();
  size_t i = 0, bytes = 0;
  std::vector<Field> fields;
  for (auto _ : state) {
    fields.clear();
    bool ok = full ? g.value()->MatchFullCapture(lines[i], &fields) : g.value()->Match(lines[i], &fields);
    if (!ok) state.SkipWithError("no match");
    benchmark::DoNotOptimize(fields);
    bytes += lines[i].size();
    if (++i == lines.size()) i = 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
void BM_NginxGrokMatch(benchmark::State& state) { GrokBench(state, false); }
void BM_NginxFullCapture(benchmark::State& state) { GrokBench(state, true); }
BENCHMARK(BM_NginxGrokMatch);
BENCHMARK(BM_NginxFullCapture);

// The pass that picks the first matching pattern of the selected rule in the 50-rule set:
// RE2::Set over the three nginx patterns' prefilters, as RuleSet builds it, alone. It is
// a DFA pass over the whole line that the 1-rule case does not make, so 1-rule time /
// (1-rule time + this) bounds the 50-rule ratio for that rule (bench/parse prints it).
void BM_Nginx50RulesSetPassOnly(benchmark::State& state) {
  static const auto set = [] {
    auto s = std::make_unique<re2::RE2::Set>(logship::grok::GrokRe2Options(64 << 20), re2::RE2::UNANCHORED);
    for (const char* p : {"%{NGINX_ACCESS} %{NUMBER:request_time:float} %{NUMBER:upstream_time:float}",
                          "%{NGINX_ACCESS} \"%{DATA:forwarded_for}\"", "%{NGINX_ACCESS}"}) {
      auto g = logship::grok::Grok::Compile(p, Library());
      if (!g.ok() || s->Add(g.value()->Prefilter(), nullptr) < 0) std::abort();
    }
    if (!s->Compile()) std::abort();
    return s;
  }();
  static auto lines = NginxLines();
  std::vector<int> hits;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    hits.clear();
    if (!set->Match(lines[i], &hits) || hits.size() != 1) state.SkipWithError("expected one hit");
    bytes += lines[i].size();
    if (++i == lines.size()) i = 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Nginx50RulesSetPassOnly);

void BM_HandWrittenRe2(benchmark::State& state) {
  static const re2::RE2 re(
      R"re((\S+) (\S+) (\S+) \[([^\]]+)\] "(?:(\w+) (\S+)(?: HTTP/([0-9.]+))?|([^"]*))" (\d+) (?:(\d+)|-) "((?:\\.|[^\\"])*)" "((?:\\.|[^\\"])*)")re",
      logship::grok::GrokRe2Options(64 << 20));
  static auto lines = NginxLines();
  re2::StringPiece sub[13];
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    if (!re.Match(lines[i], 0, lines[i].size(), re2::RE2::UNANCHORED, sub, 13)) state.SkipWithError("no match");
    benchmark::DoNotOptimize(sub);
    bytes += lines[i].size();
    if (++i == lines.size()) i = 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_HandWrittenRe2);

void BM_Syslog1Rule(benchmark::State& state) {
  static auto rs = Rules(R"(
rules:
  - name: syslog
    when: {type: syslog}
    patterns: ['%{SYSLOGLINE}']
)");
  static auto events = Events(SyslogLines(), "syslog", "udp:514");
  RunParse(state, *rs, events, 4);
}
BENCHMARK(BM_Syslog1Rule);

// The same lines with the 50-rule set loaded, selected by its last syslog rule (four source
// globs miss first), whose pattern is the same %{SYSLOGLINE}.
void BM_Syslog50Rules(benchmark::State& state) {
  static auto rs = Rules(FiftyRules());
  static auto events = Events(SyslogLines(), "syslog", "/var/log/syslog/svc4-auth.log");
  if (rs->rules().size() != 50) state.SkipWithError("expected 50 rules");
  RunParse(state, *rs, events, 4);
}
BENCHMARK(BM_Syslog50Rules);

}  // namespace

BENCHMARK_MAIN();
