// `logship alerter` end to end, as an operator runs it: real processes on loopback ports.
//
// PagerDutyAndAlertmanagerAcrossAKill9: a real prometheus-node-exporter is scraped (its
// textfile collector serves a CPU-busy gauge the test sets); a rule pages WARNING then
// CRITICAL; a local HTTP receiver stands in for PagerDuty (its first answer is a 429) and
// checks the Events API v2 bodies field by field; a real prometheus-alertmanager receives
// the alerts (read back through its /api/v2/alerts). The alerter is killed with SIGKILL
// mid-incident and restarted: no second trigger, the acknowledgement is kept, and the
// resolve (the series recovered while it was down) is sent exactly once.
//
// AckSilenceEscalation: webhook receivers that do not escalate by themselves: repeats until
// `logship alerts ack`, escalation to the next receiver after escalate_after unacknowledged,
// `logship alerts silence` mutes a series (and `expire` unmutes it), one resolve.
//
// Absence ("no second trigger", "no more repeats") is never checked after a sleep: the
// test waits for a positive event that comes later through the same ordered path (another
// series' page or repeat to the same receiver) and then counts.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "core/http/http_client.h"
#include "tests/support/alertmanager.h"
#include "tests/support/http_receiver.h"
#include "tests/support/node_exporter.h"
#include "tests/support/ports.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

template <class Pred>
bool WaitFor(Pred pred, seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return pred();
}

// One request a receiver got, with when it arrived and what it was answered.
struct Received {
  Clock::time_point at;
  nlohmann::json body;  // discarded (is_discarded()) when not JSON
  std::string content_type;
  std::string authorization;
  int answered = 0;
};

// An HTTP receiver that records every request with its arrival time. `answer` decides
// the status of the n-th request (0-based).
class RecordingReceiver {
 public:
  explicit RecordingReceiver(std::function<int(size_t)> answer = [](size_t) { return 202; })
      : answer_(std::move(answer)) {
    auto r = testing::HttpReceiver::Start();
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return;
    receiver_ = std::move(*r);
    receiver_->SetHandler([this](const testing::ReceivedRequest& req) {
      std::lock_guard<std::mutex> lock(mu_);
      Received rec{Clock::now(), nlohmann::json::parse(req.body, nullptr, false), req.Header("Content-Type"),
                   req.Header("Authorization"), answer_(all_.size())};
      all_.push_back(rec);
      testing::CannedResponse resp;
      resp.status = rec.answered;
      resp.body = rec.answered == 202 ? R"({"status":"success","message":"Event processed"})" : "{}";
      if (rec.answered == 429) resp.headers.emplace_back("Retry-After", "1");
      return resp;
    });
  }
  std::string url(const std::string& path) const { return receiver_ ? receiver_->url(path) : ""; }
  std::vector<Received> all() const {
    std::lock_guard<std::mutex> lock(mu_);
    return all_;
  }

 private:
  std::function<int(size_t)> answer_;
  mutable std::mutex mu_;
  std::vector<Received> all_;
  std::unique_ptr<testing::HttpReceiver> receiver_;  // last: stopped before what its handler uses
};

// The `host` label of an Events API v2 body sent by the webhook receiver.
std::string HostOf(const nlohmann::json& body) {
  if (!body.contains("payload")) return "";
  return body["payload"]["custom_details"]["labels"].value("host", "");
}
std::string ActionOf(const nlohmann::json& body) { return body.value("event_action", ""); }

// The accepted (2xx) requests with this action whose dedup key or host label matches.
std::vector<Received> Events(const std::vector<Received>& all, const std::string& action,
                             const std::string& dedup_key = "", const std::string& host = "") {
  std::vector<Received> out;
  for (const auto& r : all) {
    if (r.body.is_discarded() || r.answered / 100 != 2 || ActionOf(r.body) != action) continue;
    if (!dedup_key.empty() && r.body.value("dedup_key", "") != dedup_key) continue;
    if (!host.empty() && HostOf(r.body) != host) continue;
    out.push_back(r);
  }
  return out;
}

// Triggers to a repeating receiver, repeats included ("repeat" in custom_details).
int Repeats(const std::vector<Received>& all, const std::string& host) {
  int n = 0;
  for (const auto& r : Events(all, "trigger", "", host)) n += r.body["payload"]["custom_details"].contains("repeat");
  return n;
}

struct CliResult {
  int exit_code;
  std::string output;
};

CliResult RunCli(const std::string& dir, const std::vector<std::string>& args) {
  static int n = 0;
  std::vector<std::string> argv = {testing::LogshipBinary(), "alerts"};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::Subprocess p(argv, dir + "/cli-" + std::to_string(++n) + ".log");
  EXPECT_TRUE(p.Start().ok());
  int code = p.Wait(30000);
  return {code, p.Log()};
}

// GET on the alerter API with the token; null when it does not answer.
nlohmann::json ApiGet(int port, const std::string& token, const std::string& path) {
  HttpClient http;
  auto r = http.Get("http://127.0.0.1:" + std::to_string(port) + path, {{"Authorization", "Bearer " + token}},
                    seconds(5));
  if (!r.ok()) return nullptr;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  return j.is_discarded() ? nullptr : j;
}

// The incident of `host` in the API's list (all=1: resolved too); null when absent.
nlohmann::json IncidentOf(int port, const std::string& token, const std::string& host) {
  nlohmann::json list = ApiGet(port, token, "/api/v1/alerts?all=1");
  if (!list.is_object()) return nullptr;
  for (const auto& a : list["alerts"]) {
    if (a["labels"].value("host", "") == host) return a;
  }
  return nullptr;
}

// The value of an unlabelled gauge on the daemon's /metrics, -1 when absent.
double GaugeValue(int metrics_port, const std::string& name) {
  HttpClient http;
  auto r = http.Get("http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics", {}, seconds(2));
  if (!r.ok()) return -1;
  std::smatch m;
  if (!std::regex_search(r->body, m, std::regex("\n" + name + " ([0-9.e+-]+)"))) return -1;
  return std::stod(m[1]);
}

// node_exporter's textfile collector: one gauge per host, replaced atomically.
void WriteCpuBusy(const std::string& textfile_dir, const std::map<std::string, double>& by_host) {
  std::string text = "# HELP test_cpu_busy_ratio CPU busy fraction set by the test\n"
                     "# TYPE test_cpu_busy_ratio gauge\n";
  for (const auto& [host, v] : by_host) text += "test_cpu_busy_ratio{host=\"" + host + "\"} " + std::to_string(v) + "\n";
  std::ofstream(textfile_dir + "/cpu.prom.tmp") << text;
  fs::rename(textfile_dir + "/cpu.prom.tmp", textfile_dir + "/cpu.prom");
}

const char* kRules = R"(groups:
  - name: node
    interval: 1s
    rules:
      - alert: NodeCpuBusy
        metric: test_cpu_busy_ratio
        function: last
        window: 3s
        by: [host]
        warning: {above: 0.8}
        critical: {above: 0.9}
        labels: {team: infra}
        annotations:
          summary: 'CPU busy on {{ $labels.host }} is {{ $value }}'
          runbook: 'https://runbooks.example/cpu'
)";

// The Alertmanager alert of `host` at `severity`, null when it holds none.
nlohmann::json AmAlert(const testing::Alertmanager& am, const std::string& host, const std::string& severity) {
  auto alerts = am.ActiveAlerts();
  if (!alerts.ok()) return nullptr;
  for (const auto& a : *alerts) {
    if (a["labels"].value("host", "") == host && a["labels"].value("severity", "") == severity) return a;
  }
  return nullptr;
}

TEST(AlerterE2ETest, PagerDutyAndAlertmanagerAcrossAKill9) {
  const std::string dir = testing::MakeTempDir("logship-alerter-e2e");
  fs::create_directories(dir + "/textfile");
  WriteCpuBusy(dir + "/textfile", {{"web-1", 0.85}, {"web-2", 0.5}});

  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  testing::NodeExporterOptions neo;
  neo.collectors = {"cpu", "loadavg"};
  neo.textfile_dir = dir + "/textfile";
  testing::NodeExporter exporter(neo);
  Status st = exporter.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  testing::Alertmanager am;
  st = am.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  // PagerDuty: the first request is throttled (429, Retry-After: 1), then 202 as PagerDuty.
  RecordingReceiver pd([](size_t n) { return n == 0 ? 429 : 202; });

  const std::string routing_key = "R0UT1NGKEY0123456789abcdef012345";
  const std::string api_token = "api-token-for-the-test";
  std::ofstream(dir + "/pd-key") << routing_key << "\n";
  std::ofstream(dir + "/api-token") << api_token << "\n";
  std::ofstream(dir + "/alerts.yaml") << kRules;
  const int api_port = testing::FreeLoopbackPort();
  const int metrics_port = testing::FreeLoopbackPort();
  std::ofstream(dir + "/logship.yaml")
      << "host: h\ndata_dir: " << dir << "/data\n"
      << "metrics: {listen: '127.0.0.1:" << metrics_port << "'}\n"
      << "queue: {redis: {port: " << redis.port() << "}}\n"
      << "alerter:\n  rules: [" << dir << "/alerts.yaml]\n"
      << "  api: {listen: '127.0.0.1:" << api_port << "', token: {file: " << dir << "/api-token}}\n"
      << "  notify:\n"
      << "    - {name: pagerduty, type: pagerduty, url: '" << pd.url("/v2/enqueue") << "', token: {file: " << dir
      << "/pd-key}}\n"
      << "    - {name: am, type: alertmanager, url: '" << am.url() << "', resend_interval: 1s}\n"
      << "  scrape:\n"
      << "    - {job: node, url: '" << exporter.metrics_url() << "', interval: 1s, timeout: 900ms}\n";

  auto alerter = std::make_unique<testing::Subprocess>(
      std::vector<std::string>{testing::LogshipBinary(), "alerter", "-c", dir + "/logship.yaml"}, dir + "/alerter.log");
  ASSERT_TRUE(alerter->Start().ok());

  // --- WARNING: the trigger, retried after the 429, body field by field.
  ASSERT_TRUE(WaitFor([&] { return !Events(pd.all(), "trigger").empty(); }, seconds(90))) << alerter->Log();
  const auto first = pd.all();
  ASSERT_GE(first.size(), 2u);
  EXPECT_EQ(first[0].answered, 429);
  EXPECT_EQ(first[0].body, first[1].body) << "the throttled trigger is sent again as it was";
  EXPECT_GE(first[1].at - first[0].at, milliseconds(900)) << "Retry-After: 1 is honoured";

  const nlohmann::json warn = Events(first, "trigger")[0].body;
  const std::string key = warn.value("dedup_key", "");
  EXPECT_TRUE(std::regex_match(key, std::regex("[0-9a-f]{16}"))) << warn.dump();
  EXPECT_EQ(first[1].content_type, "application/json");
  EXPECT_EQ(first[1].authorization, "") << "PagerDuty takes the routing key in the body only";
  std::set<std::string> keys;
  for (const auto& [k, v] : warn.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"routing_key", "event_action", "dedup_key", "client", "client_url", "payload"}));
  EXPECT_EQ(warn["routing_key"], routing_key) << "the routing key comes from the secret file, newline trimmed";
  EXPECT_EQ(warn["event_action"], "trigger");
  EXPECT_EQ(warn["client"], "logship");
  EXPECT_EQ(warn["client_url"], "http://127.0.0.1:" + std::to_string(api_port) + "/api/v1/alerts/" + key);
  const nlohmann::json& p = warn["payload"];
  EXPECT_EQ(p["summary"], "CPU busy on web-1 is 0.85");
  EXPECT_EQ(p["source"], "web-1");
  EXPECT_EQ(p["severity"], "warning");
  EXPECT_EQ(p["component"], "NodeCpuBusy");
  EXPECT_EQ(p["group"], "node");
  EXPECT_EQ(p["class"], "test_cpu_busy_ratio");
  EXPECT_TRUE(std::regex_match(p.value("timestamp", ""),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << p.dump();
  EXPECT_EQ(p["custom_details"]["labels"],
            (nlohmann::json{{"alertname", "NodeCpuBusy"}, {"host", "web-1"}, {"team", "infra"}}));
  EXPECT_DOUBLE_EQ(p["custom_details"]["value"].get<double>(), 0.85);
  EXPECT_EQ(p["custom_details"]["annotations"],
            (nlohmann::json{{"summary", "CPU busy on web-1 is 0.85"}, {"runbook", "https://runbooks.example/cpu"}}));

  // The API lists it under the same id, with both receivers told.
  nlohmann::json inc = IncidentOf(api_port, api_token, "web-1");
  ASSERT_TRUE(inc.is_object());
  EXPECT_EQ(inc["id"], key);
  EXPECT_EQ(inc["status"], "firing");
  EXPECT_EQ(inc["severity"], "warning");

  // Alertmanager holds it with labels and annotations intact.
  nlohmann::json am_warn;
  ASSERT_TRUE(WaitFor([&] { return (am_warn = AmAlert(am, "web-1", "warning")).is_object(); }, seconds(30)))
      << alerter->Log();
  EXPECT_EQ(am_warn["labels"], (nlohmann::json{{"alertname", "NodeCpuBusy"},
                                               {"host", "web-1"},
                                               {"team", "infra"},
                                               {"severity", "warning"}}));
  EXPECT_EQ(am_warn["annotations"],
            (nlohmann::json{{"summary", "CPU busy on web-1 is 0.85"}, {"runbook", "https://runbooks.example/cpu"}}));
  EXPECT_EQ(am_warn["generatorURL"], warn["client_url"]);
  EXPECT_EQ(am_warn["status"]["state"], "active");

  // --- CRITICAL: the same incident re-triggered at the higher severity.
  WriteCpuBusy(dir + "/textfile", {{"web-1", 0.97}, {"web-2", 0.5}});
  ASSERT_TRUE(WaitFor([&] { return Events(pd.all(), "trigger", key).size() >= 2; }, seconds(60))) << alerter->Log();
  const nlohmann::json crit = Events(pd.all(), "trigger", key)[1].body;
  EXPECT_EQ(crit["payload"]["severity"], "critical");
  EXPECT_EQ(crit["payload"]["summary"], "CPU busy on web-1 is 0.97");
  EXPECT_EQ(crit["routing_key"], routing_key);
  // Alertmanager: the critical alert is active and the warning one ended.
  EXPECT_TRUE(WaitFor(
      [&] { return AmAlert(am, "web-1", "critical").is_object() && AmAlert(am, "web-1", "warning").is_null(); },
      seconds(30)));

  // A second series fires.
  WriteCpuBusy(dir + "/textfile", {{"web-1", 0.97}, {"web-2", 0.95}});
  ASSERT_TRUE(WaitFor(
      [&] {
        return !Events(pd.all(), "trigger", "", "web-2").empty() && AmAlert(am, "web-2", "critical").is_object();
      },
      seconds(60)))
      << alerter->Log();
  const std::string key2 = IncidentOf(api_port, api_token, "web-2")["id"];
  ASSERT_TRUE(WaitFor([&] { return Events(pd.all(), "trigger", key2).size() == 1; }, seconds(30)));

  // Acknowledged through the API: PagerDuty gets the acknowledge event.
  {
    HttpClient http;
    auto r = http.Post("http://127.0.0.1:" + std::to_string(api_port) + "/api/v1/alerts/" + key2 + "/ack",
                       R"({"by": "alice", "comment": "looking"})",
                       {{"Authorization", "Bearer " + api_token}, {"Content-Type", "application/json"}}, seconds(5));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  ASSERT_TRUE(WaitFor([&] { return !Events(pd.all(), "acknowledge", key2).empty(); }, seconds(30)));
  EXPECT_EQ(Events(pd.all(), "acknowledge", key2)[0].body,
            (nlohmann::json{{"routing_key", routing_key}, {"event_action", "acknowledge"}, {"dedup_key", key2}}));

  // --- SIGKILL mid-incident (once nothing is waiting in the outbox), web-1 recovers while
  // the alerter is down, restart.
  ASSERT_TRUE(WaitFor([&] { return GaugeValue(metrics_port, "logship_alerter_outbox_entries") == 0; }, seconds(30)));
  alerter->Kill();
  WriteCpuBusy(dir + "/textfile", {{"web-1", 0.1}, {"web-2", 0.95}});
  alerter = std::make_unique<testing::Subprocess>(
      std::vector<std::string>{testing::LogshipBinary(), "alerter", "-c", dir + "/logship.yaml"},
      dir + "/alerter-2.log");
  ASSERT_TRUE(alerter->Start().ok());

  // The restored incident is resolved (the new process never saw it fire).
  ASSERT_TRUE(WaitFor([&] { return !Events(pd.all(), "resolve", key).empty(); }, seconds(90))) << alerter->Log();
  const nlohmann::json resolve = Events(pd.all(), "resolve", key)[0].body;
  EXPECT_EQ(resolve, (nlohmann::json{{"routing_key", routing_key}, {"event_action", "resolve"}, {"dedup_key", key}}));
  EXPECT_TRUE(WaitFor([&] { return AmAlert(am, "web-1", "critical").is_null(); }, seconds(30)));
  // Its endsAt was 4 x resend_interval (4 s) ahead: only the restarted alerter's re-sends
  // keep it active this long after the kill.
  EXPECT_TRUE(AmAlert(am, "web-2", "critical").is_object()) << "still firing after the restart";
  nlohmann::json inc2 = IncidentOf(api_port, api_token, "web-2");
  ASSERT_TRUE(inc2.is_object());
  EXPECT_EQ(inc2["status"], "firing");
  EXPECT_EQ(inc2["acknowledged"], true) << "the acknowledgement survives the restart";
  EXPECT_EQ(inc2["acknowledgedBy"], "alice");
  inc = IncidentOf(api_port, api_token, "web-1");
  ASSERT_TRUE(inc.is_object());
  EXPECT_EQ(inc["status"], "resolved");

  // web-2 resolves too: its resolve comes after anything the restart could have re-sent
  // for either series (one receiver's notifications go out in order).
  WriteCpuBusy(dir + "/textfile", {{"web-1", 0.1}, {"web-2", 0.1}});
  ASSERT_TRUE(WaitFor([&] { return !Events(pd.all(), "resolve", key2).empty(); }, seconds(60))) << alerter->Log();
  const auto all = pd.all();
  EXPECT_EQ(Events(all, "trigger", key).size(), 2u) << "warning, critical; no trigger after the restart";
  EXPECT_EQ(Events(all, "resolve", key).size(), 1u);
  EXPECT_EQ(Events(all, "trigger", key2).size(), 1u) << "no second trigger after the restart";
  EXPECT_EQ(Events(all, "resolve", key2).size(), 1u);
  EXPECT_EQ(Events(all, "acknowledge", key2).size(), 1u);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto alerts = am.ActiveAlerts();
        return alerts.ok() && alerts->empty();
      },
      seconds(30)));

  alerter->Signal(SIGTERM);
  EXPECT_EQ(alerter->Wait(30000), 0) << alerter->Log();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

// A Prometheus text page whose values the test sets, as a scrape target.
class GaugePage {
 public:
  GaugePage() {
    auto r = testing::HttpReceiver::Start();
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return;
    receiver_ = std::move(*r);
    receiver_->SetHandler([this](const testing::ReceivedRequest&) {
      std::lock_guard<std::mutex> lock(mu_);
      testing::CannedResponse resp;
      resp.headers.emplace_back("Content-Type", "text/plain; version=0.0.4");
      resp.body = "# TYPE host_cpu_busy gauge\n";
      for (const auto& [host, v] : values_) resp.body += "host_cpu_busy{host=\"" + host + "\"} " + std::to_string(v) + "\n";
      return resp;
    });
  }
  void Set(const std::string& host, double v) {
    std::lock_guard<std::mutex> lock(mu_);
    values_[host] = v;
  }
  std::string url() const { return receiver_ ? receiver_->url("/metrics") : ""; }

 private:
  std::mutex mu_;
  std::map<std::string, double> values_;
  std::unique_ptr<testing::HttpReceiver> receiver_;  // last: stopped before what its handler uses
};

TEST(AlerterE2ETest, AckStopsRepeatsSilenceMutesEscalationAfterUnacked) {
  const std::string dir = testing::MakeTempDir("logship-alerter-ack");
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  GaugePage page;
  page.Set("a", 0.99);
  page.Set("b", 0.99);
  RecordingReceiver chat([](size_t) { return 200; });
  RecordingReceiver oncall([](size_t) { return 200; });

  const std::string api_token = "another-api-token";
  std::ofstream(dir + "/api-token") << api_token;
  std::ofstream(dir + "/alerts.yaml") << R"(groups:
  - name: hosts
    interval: 1s
    rules:
      - alert: HostCpuHigh
        metric: host_cpu_busy
        function: last
        window: 2s
        by: [host]
        warning: {above: 0.9}
)";
  const int api_port = testing::FreeLoopbackPort();
  // chat first, oncall 8 s later if nobody acknowledged; chat repeats every second.
  std::ofstream(dir + "/logship.yaml")
      << "host: h\ndata_dir: " << dir << "/data\n"
      << "metrics: {listen: ''}\n"
      << "queue: {redis: {port: " << redis.port() << "}}\n"
      << "alerter:\n  rules: [" << dir << "/alerts.yaml]\n"
      << "  api: {listen: '127.0.0.1:" << api_port << "', token: {file: " << dir << "/api-token}}\n"
      << "  notify:\n"
      << "    - {name: chat, type: webhook, url: '" << chat.url("/hook") << "'}\n"
      << "    - {name: oncall, type: webhook, url: '" << oncall.url("/hook") << "'}\n"
      << "  route: {receivers: [chat, oncall], repeat_interval: 1s, escalate_after: 8s}\n"
      << "  scrape:\n"
      << "    - {job: hosts, url: '" << page.url() << "', interval: 1s, timeout: 900ms}\n";
  const std::string config = dir + "/logship.yaml";
  testing::Subprocess alerter({testing::LogshipBinary(), "alerter", "-c", config}, dir + "/alerter.log");
  ASSERT_TRUE(alerter.Start().ok());

  // Both fire at chat; a is acknowledged at once through the CLI.
  ASSERT_TRUE(WaitFor([&] { return !Events(chat.all(), "trigger", "", "a").empty(); }, seconds(90))) << alerter.Log();
  nlohmann::json a = IncidentOf(api_port, api_token, "a");
  ASSERT_TRUE(a.is_object());
  const std::string id_a = a["id"];
  CliResult ack = RunCli(dir, {"-c", config, "ack", id_a.substr(0, 8), "--comment", "on it", "--by", "alice"});
  ASSERT_EQ(ack.exit_code, 0) << ack.output;
  EXPECT_NE(ack.output.find("acknowledged " + id_a), std::string::npos) << ack.output;
  a = IncidentOf(api_port, api_token, "a");
  EXPECT_EQ(a["acknowledged"], true);
  EXPECT_EQ(a["acknowledgedBy"], "alice");

  // chat is told of the acknowledgement.
  ASSERT_TRUE(WaitFor([&] { return !Events(chat.all(), "acknowledge", id_a).empty(); }, seconds(30)));
  const nlohmann::json ack_body = Events(chat.all(), "acknowledge", id_a)[0].body;
  EXPECT_EQ(ack_body["payload"]["custom_details"]["acknowledged_by"], "alice");
  EXPECT_EQ(ack_body["payload"]["custom_details"]["comment"], "on it");
  const auto acked_at = Events(chat.all(), "acknowledge", id_a)[0].at;

  // b, unacknowledged, repeats at chat and escalates to oncall after 8 s.
  ASSERT_TRUE(WaitFor([&] { return !Events(oncall.all(), "trigger", "", "b").empty() && Repeats(chat.all(), "b") >= 4; },
                      seconds(60)))
      << alerter.Log();
  {
    const auto c = chat.all();
    const auto o = oncall.all();
    const auto chat_first = Events(c, "trigger", "", "b")[0].at;
    const auto oncall_first = Events(o, "trigger", "", "b")[0].at;
    std::string timeline;
    for (const auto* list : {&c, &o}) {
      for (const auto& r : *list) {
        timeline += (list == &c ? "chat " : "oncall ") + ActionOf(r.body) + " " + HostOf(r.body) + " " +
                    std::to_string(std::chrono::duration_cast<milliseconds>(r.at - chat_first).count()) + " ms\n";
      }
    }
    // Escalated only after escalate_after (8 s): chat repeated b meanwhile (every second).
    // The bound on time is loose: chat's first delivery may lag on a loaded machine.
    int repeats_before = 0;
    for (const auto& r : Events(c, "trigger", "", "b")) {
      repeats_before += r.at < oncall_first && r.body["payload"]["custom_details"].contains("repeat");
    }
    EXPECT_GE(repeats_before, 4) << timeline;
    EXPECT_GE(oncall_first - chat_first, milliseconds(5000)) << timeline;
    EXPECT_LE(oncall_first - chat_first, milliseconds(20000));
    // a: no trigger after its acknowledgement, and never escalated.
    for (const auto& r : Events(c, "trigger", id_a)) EXPECT_LT(r.at, acked_at) << r.body.dump();
    EXPECT_TRUE(Events(o, "trigger", id_a).empty()) << "an acknowledged alert does not escalate";
  }

  // A silence on host c, made before c fires, mutes it at every receiver.
  CliResult sil = RunCli(dir, {"-c", config, "silence", "--match", "host=c", "--for", "1h", "--comment",
                               "maintenance", "--by", "bob", "--format", "json"});
  ASSERT_EQ(sil.exit_code, 0) << sil.output;
  auto silence = nlohmann::json::parse(sil.output.substr(sil.output.find('{')), nullptr, false);
  ASSERT_TRUE(silence.is_object()) << sil.output;
  const std::string silence_id = silence["id"];
  page.Set("c", 0.99);
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json c = IncidentOf(api_port, api_token, "c");
        return c.is_object() && c["muted"] == true;
      },
      seconds(60)))
      << alerter.Log();
  EXPECT_EQ(IncidentOf(api_port, api_token, "c")["mutedBy"], "silence " + silence_id);
  // b keeps repeating meanwhile: time passed with repeats running, and c was never sent.
  const int b_repeats = Repeats(chat.all(), "b");
  ASSERT_TRUE(WaitFor([&] { return Repeats(chat.all(), "b") >= b_repeats + 3; }, seconds(30)));
  EXPECT_TRUE(Events(chat.all(), "trigger", "", "c").empty()) << "a silenced alert is not sent";
  EXPECT_TRUE(Events(oncall.all(), "trigger", "", "c").empty());

  // Expiring the silence lets c through.
  CliResult exp = RunCli(dir, {"-c", config, "expire", silence_id});
  ASSERT_EQ(exp.exit_code, 0) << exp.output;
  ASSERT_TRUE(WaitFor([&] { return !Events(chat.all(), "trigger", "", "c").empty(); }, seconds(30))) << alerter.Log();

  // a recovers: one resolve to chat (the only receiver it reached), none to oncall.
  page.Set("a", 0.1);
  ASSERT_TRUE(WaitFor([&] { return !Events(chat.all(), "resolve", id_a).empty(); }, seconds(60))) << alerter.Log();
  const int b_now = Repeats(chat.all(), "b");
  ASSERT_TRUE(WaitFor([&] { return Repeats(chat.all(), "b") >= b_now + 3; }, seconds(30)));
  EXPECT_EQ(Events(chat.all(), "resolve", id_a).size(), 1u);
  EXPECT_TRUE(Events(oncall.all(), "resolve", id_a).empty());
  for (const auto& r : Events(chat.all(), "trigger", id_a)) EXPECT_LT(r.at, acked_at);

  // The CLI lists what is firing.
  CliResult list = RunCli(dir, {"-c", config, "list"});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("HostCpuHigh"), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find(id_a), std::string::npos) << "resolved alerts are listed only with --all";

  alerter.Signal(SIGTERM);
  EXPECT_EQ(alerter.Wait(30000), 0) << alerter.Log();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace logship
