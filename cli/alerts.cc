#include "cli/alerts.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "alerter/api/api_token.h"
#include "alerter/route/mute.h"
#include "alerter/rules/alert_rules.h"
#include "core/http/http_client.h"
#include "core/util/fs.h"
#include "logship/config.h"

namespace logship::cli {
namespace {

struct AlertsArgs {
  std::string config;
  std::string url;
  std::string token_file;
  std::string format = "table";
  bool all = false;
  std::string id;
  std::string comment;
  std::string by;
  std::vector<std::string> matchers;
  std::string duration;
};

[[noreturn]] void Fail(const std::string& msg, int code) {
  std::cerr << "logship alerts: " << msg << "\n";
  throw CLI::RuntimeError(code);
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

struct Endpoint {
  std::string url;  // base, no trailing slash
  std::string token;
};

Endpoint Resolve(const AlertsArgs& a) {
  Endpoint e;
  std::optional<Config> config;
  std::string path = a.config;
  if (path.empty() && std::filesystem::exists("/etc/logship/logship.yaml")) path = "/etc/logship/logship.yaml";
  if (!path.empty()) {
    auto c = LoadConfig(path);
    if (!c.ok()) Fail(c.status().message(), 1);
    config = std::move(*c);
  }
  e.url = a.url;
  if (e.url.empty() && config && !config->alerter.api.listen.empty()) {
    const std::string& listen = config->alerter.api.listen;
    if (listen.size() > 2 && listen.compare(listen.size() - 2, 2, ":0") == 0) {
      // Port 0: the alerter picked one and recorded it.
      const std::string file = alerter::ApiAddressPath(config->data_dir);
      auto bound = ReadWholeFile(file);
      if (!bound.ok()) Fail("alerter.api.listen has port 0 and " + file + " is unreadable: is the alerter running?", 2);
      e.url = "http://" + Trimmed(*bound);
    } else {
      e.url = "http://" + listen;
    }
  }
  if (e.url.empty()) e.url = "http://127.0.0.1:9465";
  while (!e.url.empty() && e.url.back() == '/') e.url.pop_back();

  if (const char* env = std::getenv("LOGSHIP_ALERTER_TOKEN"); env != nullptr && *env != '\0') {
    e.token = env;
  } else if (!a.token_file.empty()) {
    auto t = ReadWholeFile(a.token_file);
    if (!t.ok()) Fail("--token-file: " + t.status().message(), 1);
    e.token = Trimmed(*t);
  } else if (config) {
    auto t = alerter::ApiToken(*config, /*create=*/false);
    if (!t.ok()) Fail(t.status().message(), 1);
    e.token = *t;
  } else {
    Fail("no token: set LOGSHIP_ALERTER_TOKEN, or give --token-file or -c CONFIG", 1);
  }
  return e;
}

// What a rejected call means, in words (the HTTP client keeps the status, not the body).
std::string Explain(const Status& st) {
  const std::string& m = st.message();
  if (m.find("HTTP 401") != std::string::npos) return "the API rejected the token (" + m + ")";
  if (m.find("HTTP 404") != std::string::npos) return "not found: no alert or silence with that id (" + m + ")";
  if (m.find("HTTP 409") != std::string::npos) return "the alert is already resolved (" + m + ")";
  if (m.find("HTTP 400") != std::string::npos) return "the API rejected the request: check matchers and durations (" + m + ")";
  return m;
}

nlohmann::json Call(const Endpoint& e, const std::string& method, const std::string& path,
                    const nlohmann::json* body = nullptr) {
  HttpClient client;
  HttpHeaders headers = {{"Authorization", "Bearer " + e.token}, {"Accept", "application/json"}};
  if (method != "GET") headers.emplace_back("Content-Type", "application/json");
  Result<HttpResponse> r = method == "GET" ? client.Get(e.url + path, headers, Millis(10000))
                                           : client.Post(e.url + path, body ? body->dump() : "{}", headers, Millis(10000));
  if (!r.ok()) Fail(Explain(r.status()), r.status().retryable() ? 2 : 1);
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded()) Fail("the API answered something that is not JSON", 2);
  return j;
}

std::string Str(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string FormatMs(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void PrintAlerts(const nlohmann::json& alerts, const std::string& format) {
  if (format == "json") {
    std::cout << alerts.dump(2) << "\n";
    return;
  }
  if (alerts.empty()) {
    std::cout << "no alerts\n";
    return;
  }
  std::printf("%-16s  %-8s  %-8s  %-24s  %-24s  %-14s  %s\n", "ID", "STATUS", "SEVERITY", "ALERT", "SINCE", "STATE",
              "SUMMARY");
  for (const auto& a : alerts) {
    std::string state = a.value("acknowledged", false) ? "acked:" + Str(a, "acknowledgedBy") : "";
    if (a.value("muted", false)) state += std::string(state.empty() ? "" : ",") + "muted";
    if (a.value("flapping", false)) state += std::string(state.empty() ? "" : ",") + "flapping";
    if (state.empty()) state = "-";
    std::printf("%-16s  %-8s  %-8s  %-24s  %-24s  %-14s  %s\n", Str(a, "id").c_str(), Str(a, "status").c_str(),
                Str(a, "severity").c_str(), Str(a, "alert").c_str(), Str(a, "startsAt").c_str(), state.c_str(),
                Str(a, "summary").c_str());
  }
}

void PrintSilences(const nlohmann::json& silences, const std::string& format) {
  if (format == "json") {
    std::cout << silences.dump(2) << "\n";
    return;
  }
  if (silences.empty()) {
    std::cout << "no silences\n";
    return;
  }
  std::printf("%-16s  %-8s  %-20s  %-12s  %-30s  %s\n", "ID", "STATE", "ENDS", "CREATED BY", "MATCHERS", "COMMENT");
  for (const auto& s : silences) {
    std::string matchers;
    for (const auto& m : s["matchers"]) matchers += (matchers.empty() ? "" : ",") + m.get<std::string>();
    std::printf("%-16s  %-8s  %-20s  %-12s  %-30s  %s\n", Str(s, "id").c_str(), Str(s, "state").c_str(),
                FormatMs(s.value("endsAt", int64_t{0})).c_str(), Str(s, "createdBy").c_str(), matchers.c_str(),
                Str(s, "comment").c_str());
  }
}

std::string DefaultUser() {
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') return u;
  if (const char* u = getlogin(); u != nullptr) return u;
  return "cli";
}

}  // namespace

void AddAlertsCommand(CLI::App& app) {
  auto a = std::make_shared<AlertsArgs>();
  CLI::App* sub = app.add_subcommand("alerts", "List, acknowledge and silence alerts (the alerter API)");
  sub->require_subcommand(1);
  sub->add_option("-c,--config", a->config, "Config file (API address and token; default /etc/logship/logship.yaml)");
  sub->add_option("--url", a->url, "The alerter API, e.g. http://127.0.0.1:9465");
  sub->add_option("--token-file", a->token_file, "File holding the API token (or set LOGSHIP_ALERTER_TOKEN)");
  sub->add_option("--format", a->format, "Output format")->capture_default_str()->check(CLI::IsMember({"table", "json"}));
  sub->fallthrough();

  CLI::App* list = sub->add_subcommand("list", "Firing alerts, newest first");
  list->add_flag("--all", a->all, "Also recently resolved ones");
  list->callback([a] {
    Endpoint e = Resolve(*a);
    auto j = Call(e, "GET", std::string("/api/v1/alerts") + (a->all ? "?all=1" : ""));
    PrintAlerts(j["alerts"], a->format);
  });

  CLI::App* ack = sub->add_subcommand("ack", "Acknowledge an alert: stops repeats and escalation");
  ack->add_option("id", a->id, "Alert id (or a unique prefix of at least 4 characters)")->required();
  ack->add_option("--comment", a->comment, "Why / what is being done");
  ack->add_option("--by", a->by, "Who (default $USER)");
  ack->callback([a] {
    Endpoint e = Resolve(*a);
    nlohmann::json body = {{"by", a->by.empty() ? DefaultUser() : a->by}, {"comment", a->comment}};
    auto j = Call(e, "POST", "/api/v1/alerts/" + a->id + "/ack", &body);
    if (a->format == "json") {
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "acknowledged " << Str(j, "id") << " (" << Str(j, "alert") << ") by " << Str(j, "acknowledgedBy")
                << "\n";
    }
  });

  CLI::App* silence = sub->add_subcommand("silence", "Silence alerts matching labels for a while");
  silence->add_option("--match", a->matchers, "Matcher: name=value, name!=value, name=~regex, name!~regex")
      ->required();
  silence->add_option("--for", a->duration, "How long, e.g. 30m, 2h, 1d")->required();
  silence->add_option("--comment", a->comment, "Why")->required();
  silence->add_option("--by", a->by, "Who (default $USER)");
  silence->callback([a] {
    nlohmann::json matchers = nlohmann::json::array();
    for (const auto& m : a->matchers) {
      auto parsed = alerter::ParseMatcherExpression(m);
      if (!parsed.ok()) Fail("--match: " + parsed.status().message(), 1);
      matchers.push_back(m);
    }
    auto d = alerter::ParseDuration(a->duration);
    if (!d.ok() || d->count() <= 0) Fail("--for: expected a duration like 2h", 1);
    Endpoint e = Resolve(*a);
    nlohmann::json body = {{"matchers", matchers},
                           {"duration", a->duration},
                           {"comment", a->comment},
                           {"createdBy", a->by.empty() ? DefaultUser() : a->by}};
    auto j = Call(e, "POST", "/api/v1/silences", &body);
    if (a->format == "json") {
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "silence " << Str(j, "id") << " until " << FormatMs(j.value("endsAt", int64_t{0})) << "\n";
    }
  });

  CLI::App* silences = sub->add_subcommand("silences", "List silences");
  silences->add_flag("--all", a->all, "Also expired ones");
  silences->callback([a] {
    Endpoint e = Resolve(*a);
    auto j = Call(e, "GET", std::string("/api/v1/silences") + (a->all ? "?all=1" : ""));
    PrintSilences(j["silences"], a->format);
  });

  CLI::App* expire = sub->add_subcommand("expire", "End a silence now");
  expire->add_option("id", a->id, "Silence id")->required();
  expire->callback([a] {
    Endpoint e = Resolve(*a);
    auto j = Call(e, "POST", "/api/v1/silences/" + a->id + "/expire");
    if (a->format == "json") {
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "silence " << Str(j, "id") << " expired\n";
    }
  });
}

}  // namespace logship::cli
