// End to end in one process: the Scraper pulls a real prometheus-node-exporter, a target
// that is down and one that answers garbage; the AlerterWorker feeds the samples to the
// Alerter; pages arrive at a webhook receiver. (tests/scrape_daemon_test.cc does the same
// through the `logship alerter` daemon.)
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <thread>

#include "alerter/alerter.h"
#include "alerter/notify/notifier.h"
#include "alerter/scrape/scraper.h"
#include "alerter/worker/alerter_worker.h"
#include "core/queue/in_process.h"
#include "tests/support/http_receiver.h"
#include "tests/support/node_exporter.h"
#include "tests/support/ports.h"
#include "tests/support/subprocess.h"

namespace logship::alerter {
namespace {

// A canned answer with no extra headers.
testing::CannedResponse Answer(int status, std::string body) {
  testing::CannedResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

using std::chrono::milliseconds;

constexpr const char* kRules = R"(groups:
  - name: node
    interval: 1s
    rules:
      # All modes of all CPUs: about one CPU-second per second per CPU. A counter: read as
      # cumulative because node_exporter types it so.
      - alert: CpuSecondsFlowing
        metric: node_cpu_seconds_total
        function: rate
        window: 5s
        by: [instance]
        warning: {above: 0.5}
      # The busy fraction the way node_exporter dashboards compute it; always below 1.01.
      - alert: CpuBusyFraction
        metric: node_cpu_seconds_total
        match: {mode: '!~idle|iowait|steal'}
        divide_by: {match: {}}
        function: rate
        window: 5s
        by: [instance]
        warning: {below: 1.01}
      - alert: MemoryReported
        metric: node_memory_MemAvailable_bytes
        function: last
        window: 5s
        by: [instance]
        warning: {above: 0}
      - alert: TargetDown
        metric: up
        function: max
        window: 3s
        by: [job]
        warning: {below: 1}
)";

TEST(NodeExporterTest, ScrapedNodeMetricsFireRulesAndBrokenTargetsReportDown) {
  testing::NodeExporter exporter;
  Status started = exporter.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  auto hook = testing::HttpReceiver::Start();
  ASSERT_TRUE(hook.ok());
  auto garbage = testing::HttpReceiver::Start();
  ASSERT_TRUE(garbage.ok());
  (*garbage)->SetDefaultResponse(Answer(200, "<html>this is not a metrics page</html>"));
  const int closed = testing::FreeLoopbackPort();

  auto parsed = ParseAlertRules(kRules, "node.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto rules = MakeRuleSet(std::move(*parsed));
  ASSERT_TRUE(rules.ok());
  NotifierConfig webhook;
  webhook.name = "hook";
  webhook.type = "webhook";
  webhook.url = (*hook)->url("/hook");
  auto notifiers = BuildNotifiers({webhook}, testing::MakeTempDir("node-exporter-test"));
  ASSERT_TRUE(notifiers.ok()) << notifiers.status().ToString();
  AlerterOptions options;
  options.lateness = milliseconds(1000);
  auto engine = Alerter::Create(*rules, std::move(*notifiers), options);

  auto target = [](const std::string& job, const std::string& url) {
    ScrapeTargetConfig c;
    c.job = job;
    c.url = url;
    c.interval = milliseconds(1000);
    c.timeout = milliseconds(900);
    return c;
  };
  auto scraper = Scraper::Create({target("node", exporter.metrics_url()),
                                  target("down", "http://127.0.0.1:" + std::to_string(closed) + "/metrics"),
                                  target("garbage", (*garbage)->url("/metrics"))});
  ASSERT_TRUE(scraper.ok()) << scraper.status().ToString();
  InProcessQueue<Sample> queue(InProcessQueueOptions{1000, false});  // nothing comes this way
  AlerterWorker worker(engine.get(), &queue.consumer(), scraper->get());
  worker.Start();
  (*scraper)->Start();

  // Wait for every expected trigger (a deadline, not a sleep).
  const std::set<std::string> expected = {"CpuSecondsFlowing", "CpuBusyFraction", "MemoryReported",
                                          "TargetDown/down", "TargetDown/garbage"};
  std::map<std::string, nlohmann::json> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got.size() < expected.size() && std::chrono::steady_clock::now() < deadline) {
    for (const auto& r : (*hook)->requests()) {
      auto body = nlohmann::json::parse(r.body, nullptr, false);
      if (body.is_discarded() || body.value("event_action", "") != "trigger") continue;
      const auto& labels = body["payload"]["custom_details"]["labels"];
      std::string key = labels.value("alertname", "");
      if (key == "TargetDown") key += "/" + labels.value("job", "");
      got[key] = body;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  (*scraper)->Stop();
  worker.Stop();

  for (const auto& name : expected) EXPECT_TRUE(got.count(name)) << "no trigger for " << name;
  EXPECT_FALSE(got.count("TargetDown/node")) << "the exporter is up";
  if (got.count("CpuSecondsFlowing")) {
    const auto& details = got["CpuSecondsFlowing"]["payload"]["custom_details"];
    EXPECT_EQ(details["labels"]["instance"], exporter.instance());
    EXPECT_GT(details["value"].get<double>(), 0.5);
    EXPECT_LT(details["value"].get<double>(), 4096) << "a rate, not a running total";
  }
  if (got.count("CpuBusyFraction")) {
    const double busy = got["CpuBusyFraction"]["payload"]["custom_details"]["value"].get<double>();
    EXPECT_GE(busy, 0);
    EXPECT_LE(busy, 1);
  }
  if (got.count("MemoryReported")) {
    EXPECT_GT(got["MemoryReported"]["payload"]["custom_details"]["value"].get<double>(), 1e6);
  }
  EXPECT_EQ(worker.stats().notify_failures, 0u);
}

}  // namespace
}  // namespace logship::alerter
