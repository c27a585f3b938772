// ParsePrometheusExposition(): scrape bodies with TYPE lines (core/wire/wire.h).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/wire/wire.h"

namespace logship::wire {
namespace {

// name{labels} -> cumulative flag, for checking which samples are counters.
std::map<std::string, int> Flags(const Exposition& e) {
  std::map<std::string, int> out;
  for (size_t i = 0; i < e.samples.size(); ++i) {
    std::string line = FormatSample(e.samples[i]);  // no spaces in these label values
    out[line.substr(0, line.find(' '))] = e.cumulative[i];
  }
  return out;
}

TEST(ExpositionTest, TypeLinesMarkCountersHistogramsAndSummariesCumulative) {
  const char* body =
      "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
      "# TYPE node_cpu_seconds_total counter\n"
      "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1234.5\n"
      "node_cpu_seconds_total{mode=\"user\",cpu=\"0\"} 99\n"
      "# HELP node_load1 1m load average.\n"
      "# TYPE node_load1 gauge\n"
      "node_load1 0.42\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.1\"} 10\n"
      "http_request_duration_seconds_bucket{le=\"+Inf\"} 12\n"
      "http_request_duration_seconds_sum 3.5\n"
      "http_request_duration_seconds_count 12\n"
      "# TYPE rpc_seconds summary\n"
      "rpc_seconds{quantile=\"0.99\"} 0.25\n"
      "rpc_seconds_sum 17\n"
      "rpc_seconds_count 40\n"
      "# TYPE jobs counter\n"
      "jobs_total 7\n"
      "jobs_created 1.7e9\n"
      "something_untyped 1\n";
  auto e = ParsePrometheusExposition(body, 1'700'000'000'000);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->samples.size(), e->cumulative.size());
  EXPECT_EQ(e->samples.size(), 13u);
  auto flags = Flags(*e);
  EXPECT_EQ(flags["node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}"], 1);
  EXPECT_EQ(flags["node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}"], 1) << "labels are sorted";
  EXPECT_EQ(flags["node_load1"], 0);
  EXPECT_EQ(flags["http_request_duration_seconds_bucket{le=\"+Inf\"}"], 1);
  EXPECT_EQ(flags["http_request_duration_seconds_sum"], 1);
  EXPECT_EQ(flags["http_request_duration_seconds_count"], 1);
  EXPECT_EQ(flags["rpc_seconds{quantile=\"0.99\"}"], 0);
  EXPECT_EQ(flags["rpc_seconds_sum"], 1);
  EXPECT_EQ(flags["rpc_seconds_count"], 1);
  EXPECT_EQ(flags["jobs_total"], 1) << "a counter family declared without _total";
  EXPECT_EQ(flags["jobs_created"], 0);
  EXPECT_EQ(flags["something_untyped"], 0);
  for (const auto& s : e->samples) EXPECT_EQ(s.time_ms, 1'700'000'000'000) << s.name;
  EXPECT_EQ(e->samples[0].value, 1234.5);
}

TEST(ExpositionTest, TimestampsCommentsBlankLinesAndCrlf) {
  const char* body =
      "# a free comment\r\n"
      "#TYPE not a type line\r\n"
      "\r\n"
      "   \t\r\n"
      "  # TYPE up gauge\r\n"
      "up{job=\"node\"} 1 1700000001234\r\n"
      "temp +21.5\r\n"
      "neg -Inf\r\n"
      "nan NaN";
  auto e = ParsePrometheusExposition(body, 5);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->samples.size(), 4u);
  EXPECT_EQ(e->samples[0].time_ms, 1'700'000'001'234);
  EXPECT_EQ(e->samples[1].time_ms, 5);
  EXPECT_EQ(e->samples[1].value, 21.5);
  EXPECT_TRUE(std::isinf(e->samples[2].value) && e->samples[2].value < 0);
  EXPECT_TRUE(std::isnan(e->samples[3].value));
}

TEST(ExpositionTest, OneBadLineFailsTheBodyAndNamesTheLine) {
  struct Case {
    const char* body;
    const char* message;
  };
  const Case cases[] = {
      {"ok 1\n# TYPE x flux\n", "line 2: # TYPE x: type must be counter, gauge, histogram, summary or untyped, got \"flux\""},
      {"# TYPE x counter\n# TYPE x gauge\n", "line 2: second TYPE line for x"},
      {"# HELP\n", "line 1: # HELP must be followed by a metric name"},
      {"# TYPE 9x counter\n", "line 1: # TYPE must be followed by a metric name"},
      {"# TYPE x counter extra\n", "line 1: unexpected text after # TYPE x"},
      {"a 1\nb{c=\"d\" 2\n", "line 2: expected ',' or '}' after a label"},
      {"a 1\n\nb one\n", "line 3: value \"one\" is not a number"},
      {"<html><body>Not Found</body></html>\n", "line 1: expected a metric name"},
      {"a 1 12.5\n", "line 1: timestamp is not an integer"},
  };
  for (const auto& c : cases) {
    auto e = ParsePrometheusExposition(c.body, 0);
    ASSERT_FALSE(e.ok()) << c.body;
    EXPECT_EQ(e.status().message(), c.message) << c.body;
  }
}

TEST(ExpositionTest, EmptyBodyHasNoSamples) {
  auto e = ParsePrometheusExposition("", 0);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->samples.empty());
}

}  // namespace
}  // namespace logship::wire
