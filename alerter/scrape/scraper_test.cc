#include "alerter/scrape/scraper.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <thread>

#include "logship/metrics.h"
#include "tests/support/http_receiver.h"
#include "tests/support/ports.h"

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
using testing::CannedResponse;
using testing::HttpReceiver;

constexpr const char* kPage =
    "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
    "# TYPE node_cpu_seconds_total counter\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1234.5\n"
    "# TYPE node_load1 gauge\n"
    "node_load1 0.42\n"
    "# TYPE pushed gauge\n"
    "pushed{job=\"batch\",instance=\"elsewhere\"} 3 1700000000123\n";

// The value of a counter or gauge of the process registry with exactly these labels; -1
// when absent.
double MetricValue(const std::string& family, const std::map<std::string, std::string>& labels) {
  for (const auto& f : MetricsRegistry().Collect()) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return -1;
}

ScrapeTargetConfig Config(const std::string& job, const std::string& url) {
  ScrapeTargetConfig c;
  c.job = job;
  c.url = url;
  c.interval = milliseconds(200);
  c.timeout = milliseconds(2000);
  return c;
}

ScrapeTarget Target(const ScrapeTargetConfig& c) {
  auto t = MakeScrapeTarget(c);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return *t;
}

const Sample* Find(const ScrapedSamples& s, const std::string& name, const std::string& job) {
  for (const auto& x : s.samples) {
    if (x.name != name) continue;
    for (const auto& [k, v] : x.labels) {
      if (k == "job" && v == job) return &x;
    }
  }
  return nullptr;
}

TEST(ScrapeTargetTest, InstanceIsTheUrlsHostAndPortAndLabelsAreSorted) {
  ScrapeTargetConfig c = Config("node", "http://127.0.0.1:9100/metrics?x=1");
  c.labels = {{"env", "prod"}, {"zone", "a"}};
  ScrapeTarget t = Target(c);
  EXPECT_EQ(t.instance, "127.0.0.1:9100");
  EXPECT_EQ(t.labels, (Labels{{"env", "prod"}, {"instance", "127.0.0.1:9100"}, {"job", "node"}, {"zone", "a"}}));
  c.labels = {{"instance", "db-1"}};
  EXPECT_EQ(Target(c).instance, "db-1");
  EXPECT_FALSE(MakeScrapeTarget(Config("node", "http://[::1/metrics")).ok());
}

TEST(ScrapeTargetTest, TargetLabelsWinAndScrapedOnesAreKeptAsExported) {
  Labels scraped = {{"a", "1"}, {"instance", "elsewhere"}, {"job", "batch"}, {"zz", "2"}};
  ApplyTargetLabels({{"instance", "h:1"}, {"job", "node"}}, scraped);
  EXPECT_EQ(scraped, (Labels{{"a", "1"},
                             {"exported_instance", "elsewhere"},
                             {"exported_job", "batch"},
                             {"instance", "h:1"},
                             {"job", "node"},
                             {"zz", "2"}}));
  // exported_job is already taken by a scraped label: the clash goes one prefix further.
  Labels taken = {{"exported_job", "x"}, {"job", "y"}};
  ApplyTargetLabels({{"job", "t"}}, taken);
  EXPECT_EQ(taken, (Labels{{"exported_exported_job", "y"}, {"exported_job", "x"}, {"job", "t"}}));
}

TEST(ScrapeOnceTest, APageBecomesLabelledSamplesWithCountersFlagged) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  CannedResponse page = Answer(200, kPage);
  page.headers = {{"Content-Type", "text/plain; version=0.0.4"}};
  (*receiver)->SetDefaultResponse(page);
  ScrapeTargetConfig c = Config("node", (*receiver)->url("/metrics"));
  c.bearer_token.value = "s3cret";
  c.labels = {{"env", "test"}};
  ScrapeTarget t = Target(c);
  HttpClient http;
  ScrapeResult r = ScrapeOnce(http, t, 1'700'000'000'000);
  ASSERT_TRUE(r.up) << r.error_kind << ": " << r.error;
  ASSERT_EQ(r.scraped.samples.size(), 3u);
  ASSERT_EQ(r.scraped.cumulative, (std::vector<uint8_t>{1, 0, 0}));
  const std::string instance = "127.0.0.1:" + std::to_string((*receiver)->port());
  EXPECT_EQ(r.scraped.samples[0].labels, (Labels{{"cpu", "0"},
                                                 {"env", "test"},
                                                 {"instance", instance},
                                                 {"job", "node"},
                                                 {"mode", "idle"}}));
  EXPECT_EQ(r.scraped.samples[0].time_ms, 1'700'000'000'000) << "no timestamp: the scrape's start";
  EXPECT_EQ(r.scraped.samples[2].time_ms, 1'700'000'000'123) << "an explicit timestamp is kept";
  EXPECT_EQ(r.scraped.samples[2].labels, (Labels{{"env", "test"},
                                                 {"exported_instance", "elsewhere"},
                                                 {"exported_job", "batch"},
                                                 {"instance", instance},
                                                 {"job", "node"}}));
  auto reqs = (*receiver)->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].path, "/metrics");
  EXPECT_EQ(reqs[0].Header("Authorization"), "Bearer s3cret");
  EXPECT_NE(reqs[0].Header("Accept").find("text/plain;version=0.0.4"), std::string::npos);

  ScrapedSamples health;
  AppendHealthSamples(t, r, 1'700'000'000'000, &health);
  ASSERT_EQ(health.samples.size(), 3u);
  EXPECT_EQ(health.samples[0].name, "up");
  EXPECT_EQ(health.samples[0].value, 1);
  EXPECT_EQ(health.samples[0].labels, t.labels);
  EXPECT_EQ(health.samples[1].name, "scrape_duration_seconds");
  EXPECT_EQ(health.samples[2].name, "scrape_samples_scraped");
  EXPECT_EQ(health.samples[2].value, 3);
  EXPECT_EQ(health.cumulative, (std::vector<uint8_t>{0, 0, 0}));
}

TEST(ScrapeOnceTest, EveryFailureHasAKindAndNoSamples) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  HttpClient http;
  auto scrape = [&](CannedResponse response, ScrapeTargetConfig c) {
    (*receiver)->EnqueueResponse(std::move(response));
    return ScrapeOnce(http, Target(c), 1);
  };
  const ScrapeTargetConfig base = Config("j", (*receiver)->url("/metrics"));

  ScrapeResult r = scrape(Answer(500, "oops"), base);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error_kind, "http");
  EXPECT_NE(r.error.find("HTTP 500"), std::string::npos) << r.error;

  r = scrape(Answer(200, "<html><body>hello</body></html>"), base);
  EXPECT_EQ(r.error_kind, "parse");
  EXPECT_NE(r.error.find("line 1"), std::string::npos) << r.error;
  EXPECT_TRUE(r.scraped.samples.empty());

  r = scrape(Answer(200, "good 1\nbad{ 2\n"), base);
  EXPECT_EQ(r.error_kind, "parse") << "one bad line fails the page, like Prometheus";
  EXPECT_TRUE(r.scraped.samples.empty());

  ScrapeTargetConfig small = base;
  small.max_body_bytes = 1024;
  r = scrape(Answer(200, std::string(4096, '#') + "\nx 1\n"), small);
  EXPECT_EQ(r.error_kind, "body_too_large") << "checked even when the client allows more";
  HttpClient small_client(ScrapeClientOptions(small));
  (*receiver)->EnqueueResponse(Answer(200, std::string(4096, '#') + "\nx 1\n"));
  r = ScrapeOnce(small_client, Target(small), 1);
  EXPECT_EQ(r.error_kind, "body_too_large") << "the client stops keeping bytes at the limit";
  EXPECT_LE(r.body_bytes, 1024u);

  ScrapeTargetConfig limited = base;
  limited.sample_limit = 2;
  r = scrape(Answer(200, "a 1\nb 2\nc 3\n"), limited);
  EXPECT_EQ(r.error_kind, "sample_limit");

  ScrapeTargetConfig quick = base;
  quick.timeout = milliseconds(200);
  CannedResponse slow = Answer(200, "a 1\n");
  slow.delay = milliseconds(2000);
  r = scrape(slow, quick);
  EXPECT_EQ(r.error_kind, "timeout");

  const int closed = testing::FreeLoopbackPort();
  ASSERT_GT(closed, 0);
  r = ScrapeOnce(http, Target(Config("j", "http://127.0.0.1:" + std::to_string(closed) + "/metrics")), 1);
  EXPECT_EQ(r.error_kind, "connect");
  EXPECT_FALSE(r.up);
}

TEST(ScraperTest, ScrapesOnItsOwnAndADownTargetOnlyCountsErrors) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  (*receiver)->SetDefaultResponse(Answer(200, kPage));
  auto garbage = HttpReceiver::Start();
  ASSERT_TRUE(garbage.ok());
  (*garbage)->SetDefaultResponse(Answer(200, "\x01\x02 not metrics {{{"));
  const int closed = testing::FreeLoopbackPort();
  const std::string down_url = "http://127.0.0.1:" + std::to_string(closed) + "/metrics";
  const std::string down_instance = "127.0.0.1:" + std::to_string(closed);
  const std::string garbage_instance = "127.0.0.1:" + std::to_string((*garbage)->port());

  auto scraper = Scraper::Create({Config("good", (*receiver)->url("/metrics")), Config("down", down_url),
                                  Config("garbage", (*garbage)->url("/metrics"))});
  ASSERT_TRUE(scraper.ok()) << scraper.status().ToString();
  (*scraper)->Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*scraper)->scrapes_completed() < 9 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  (*scraper)->Stop();
  ASSERT_GE((*scraper)->scrapes_completed(), 9u);
  EXPECT_GE((*receiver)->request_count(), 3u) << "scraped again every interval";

  ScrapedSamples got;
  (*scraper)->TakeSamples(&got);
  ASSERT_EQ(got.samples.size(), got.cumulative.size());
  ASSERT_NE(Find(got, "up", "good"), nullptr);
  EXPECT_EQ(Find(got, "up", "good")->value, 1);
  ASSERT_NE(Find(got, "up", "down"), nullptr);
  EXPECT_EQ(Find(got, "up", "down")->value, 0);
  ASSERT_NE(Find(got, "up", "garbage"), nullptr);
  EXPECT_EQ(Find(got, "up", "garbage")->value, 0);
  EXPECT_NE(Find(got, "node_load1", "good"), nullptr);
  EXPECT_EQ(Find(got, "scrape_samples_scraped", "down")->value, 0);
  ScrapedSamples again;
  (*scraper)->TakeSamples(&again);
  EXPECT_TRUE(again.samples.empty()) << "taken once";

  EXPECT_GE(MetricValue("logship_scrape_errors_total", {{"job", "down"}, {"instance", down_instance}, {"kind", "connect"}}), 3);
  EXPECT_GE(MetricValue("logship_scrape_errors_total",
                        {{"job", "garbage"}, {"instance", garbage_instance}, {"kind", "parse"}}),
            3);
  EXPECT_EQ(MetricValue("logship_scrape_up", {{"job", "down"}, {"instance", down_instance}}), 0);
  EXPECT_EQ(MetricValue("logship_scrape_up",
                        {{"job", "good"}, {"instance", "127.0.0.1:" + std::to_string((*receiver)->port())}}),
            1);
}

TEST(ScraperTest, AFullBufferDropsWholeScrapesAndCountsThem) {
  auto receiver = HttpReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  (*receiver)->SetDefaultResponse(Answer(200, kPage));
  ScraperOptions o;
  o.max_buffered_samples = 8;  // one scrape is 6 (3 + 3 health)
  auto scraper = Scraper::Create({Config("full", (*receiver)->url("/metrics"))}, o);
  ASSERT_TRUE(scraper.ok());
  (*scraper)->Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*scraper)->scrapes_completed() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  (*scraper)->Stop();
  ScrapedSamples got;
  (*scraper)->TakeSamples(&got);
  EXPECT_EQ(got.samples.size(), 6u) << "the first scrape; later ones did not fit";
  EXPECT_GE(MetricValue("logship_scrape_dropped_samples_total",
                        {{"job", "full"},
                         {"instance", "127.0.0.1:" + std::to_string((*receiver)->port())},
                         {"reason", "buffer_full"}}),
            12);
}

}  // namespace
}  // namespace logship::alerter
