// `logship alerter` with alerter.scrape: the daemon scrapes a real prometheus-node-exporter
// (and a target that is down, and one that answers garbage), a rule on a node_exporter
// counter fires and is delivered to a webhook receiver, and the broken targets show up as
// errors by kind on the daemon's /metrics while it keeps running.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/http/http_client.h"
#include "tests/support/http_receiver.h"
#include "tests/support/node_exporter.h"
#include "tests/support/ports.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

// A canned answer with no extra headers.
testing::CannedResponse Answer(int status, std::string body) {
  testing::CannedResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// The daemon's /metrics page, "" when it does not answer.
std::string MetricsPage(int port) {
  HttpClient http;
  auto resp = http.Get("http://127.0.0.1:" + std::to_string(port) + "/metrics", {}, std::chrono::seconds(2));
  return resp.ok() ? resp->body : "";
}

// Polls until `pred` holds or the deadline passes.
template <class Pred>
bool WaitFor(Pred pred, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return pred();
}

TEST(ScrapeDaemonTest, AlerterScrapesNodeExporterPagesAndCountsBrokenTargets) {
  const std::string dir = testing::MakeTempDir("logship-scrape");
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  testing::NodeExporter exporter;
  Status started = exporter.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  auto hook = testing::HttpReceiver::Start();
  ASSERT_TRUE(hook.ok());
  auto garbage = testing::HttpReceiver::Start();
  ASSERT_TRUE(garbage.ok());
  (*garbage)->SetDefaultResponse(Answer(200, "{\"this\": \"is json, not metrics\"}"));
  const int closed = testing::FreeLoopbackPort();
  const int metrics_port = testing::FreeLoopbackPort();

  std::ofstream(dir + "/alerts.yaml") << R"(groups:
  - name: node
    interval: 1s
    rules:
      - alert: NodeCpuSecondsFlowing
        metric: node_cpu_seconds_total
        function: rate
        window: 5s
        by: [instance]
        warning: {above: 0.5}
        annotations: {summary: 'CPU seconds on {{ $labels.instance }}: {{ $value }}/s'}
)";
  auto target = [](const std::string& job, const std::string& url) {
    return "    - {job: " + job + ", url: '" + url + "', interval: 1s, timeout: 900ms, labels: {env: test}}\n";
  };
  std::ofstream(dir + "/logship.yaml")
      << "host: h\ndata_dir: data\nmetrics: {listen: '127.0.0.1:" << metrics_port << "'}\n"
      << "queue: {redis: {port: " << redis.port() << "}}\n"
      << "alerter:\n  rules: [alerts.yaml]\n  api: {listen: '127.0.0.1:0'}\n"
      << "  notify: [{name: hook, type: webhook, url: '" << (*hook)->url("/hook") << "'}]\n"
      << "  scrape:\n"
      << target("node", exporter.metrics_url())
      << target("down", "http://127.0.0.1:" + std::to_string(closed) + "/metrics")
      << target("garbage", (*garbage)->url("/metrics"));

  testing::Subprocess alerter({testing::LogshipBinary(), "alerter", "-c", dir + "/logship.yaml"}, dir + "/alerter.log");
  ASSERT_TRUE(alerter.Start().ok());

  // The rule fires on the scraped counter (the evaluation clock trails the data by 10 s).
  nlohmann::json trigger;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& r : (*hook)->requests()) {
          auto body = nlohmann::json::parse(r.body, nullptr, false);
          if (!body.is_discarded() && body.value("event_action", "") == "trigger") {
            trigger = body;
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(90)))
      << alerter.Log();
  const auto& details = trigger["payload"]["custom_details"];
  EXPECT_EQ(details["labels"]["alertname"], "NodeCpuSecondsFlowing");
  EXPECT_EQ(details["labels"]["instance"], exporter.instance());
  EXPECT_GT(details["value"].get<double>(), 0.5);
  EXPECT_LT(details["value"].get<double>(), 4096) << "a rate, not a running total";

  // The API was given port 0: `logship alerts` finds the port the alerter recorded.
  {
    testing::Subprocess cli({testing::LogshipBinary(), "alerts", "list", "-c", dir + "/logship.yaml"},
                            dir + "/cli.log");
    ASSERT_TRUE(cli.Start().ok());
    EXPECT_EQ(cli.Wait(30000), 0) << cli.Log();
    EXPECT_NE(cli.Log().find("NodeCpuSecondsFlowing"), std::string::npos) << cli.Log();
  }

  // The broken targets: errors by kind, up 0, and the daemon goes on.
  const std::string down = "instance=\"127.0.0.1:" + std::to_string(closed) + "\",job=\"down\"";
  const std::string bad = "instance=\"127.0.0.1:" + std::to_string((*garbage)->port()) + "\",job=\"garbage\"";
  std::string page;
  EXPECT_TRUE(WaitFor(
      [&] {
        page = MetricsPage(metrics_port);
        return page.find("logship_scrape_errors_total{" + down + ",kind=\"connect\"}") != std::string::npos &&
               page.find("logship_scrape_errors_total{" + bad + ",kind=\"parse\"}") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << page;
  EXPECT_NE(page.find("logship_scrape_up{" + down + "} 0"), std::string::npos) << page;
  EXPECT_NE(page.find("logship_scrape_up{instance=\"" + exporter.instance() + "\",job=\"node\"} 1"),
            std::string::npos)
      << page;

  alerter.Signal(SIGTERM);
  EXPECT_EQ(alerter.Wait(30000), 0) << alerter.Log();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace logship
