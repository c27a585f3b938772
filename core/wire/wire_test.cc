#include "core/wire/wire.h"

#include <gtest/gtest.h>

namespace logship::wire {
namespace {

TEST(WireTest, EventRoundTripsEveryFieldAndAnyBytes) {
  Event e;
  e.id = "0123456789abcdef:42";
  e.time_ns = 1'700'000'000'123'456'789;
  e.host = "web-1";
  e.source = "/var/log/nginx/access.log";
  e.type = "nginx";
  e.offset = 42;
  static constexpr char kRaw[] = "bad \xff\xfe utf8 and a \0 NUL";
  e.raw = std::string(kRaw, sizeof kRaw - 1);  // 23 bytes, NUL included
  ASSERT_EQ(e.raw.size(), 23u);
  e.syslog = SyslogHeader{4, 2, "su", "123", "ID47", "[x@1 a=\"b\"]"};
  auto d = DecodeEvent(EncodeEvent(e), "s", "1-0", 0);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->id, e.id);
  EXPECT_EQ(d->time_ns, e.time_ns);
  EXPECT_EQ(d->raw, e.raw);
  EXPECT_EQ(d->offset, 42u);
  ASSERT_TRUE(d->syslog.has_value());
  EXPECT_EQ(d->syslog->structured_data, e.syslog->structured_data);
  EXPECT_EQ(d->syslog->severity, 2);
}

TEST(WireTest, PlainTextEntriesAreEvents) {
  auto d = DecodeEvent({{"msg", "<34>Oct 11 22:14:15 host su: failed"}}, "logs", "1700000000000-3", 1700000000000);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, "plain");
  EXPECT_EQ(d->id, "logs/1700000000000-3");
  EXPECT_EQ(d->raw, "<34>Oct 11 22:14:15 host su: failed");
  EXPECT_EQ(d->time_ns, 1700000000000LL * 1'000'000);
}

TEST(WireTest, BrokenEntriesNameTheProblem) {
  auto unknown = DecodeEvent({{"v", "9"}, {"id", "x"}}, "s", "1-0", 0);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unsupported wire version \"9\""), std::string::npos);
  auto missing = DecodeEvent({{"v", "1"}, {"id", "x"}}, "s", "1-0", 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing field \"time\""), std::string::npos);
  auto bad_offset = EncodeEvent(Event{});
  bad_offset[6].second = "12x";
  EXPECT_FALSE(DecodeEvent(bad_offset, "s", "1-0", 0).ok());
}

TEST(WireTest, SamplesRoundTripThroughPrometheusText) {
  std::vector<Sample> in = {{"http_requests", {{"host", "web-1"}, {"status", "502"}}, 1700000010000, 37},
                            {"host_cpu_utilisation", {{"host", "a\"b\\c\nd"}}, 1700000000000, 0.25}};
  auto out = DecodeSamples(EncodeSamples(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].labels, in[0].labels);
  EXPECT_EQ((*out)[0].value, 37);
  EXPECT_EQ((*out)[0].time_ms, 1700000010000);
  EXPECT_EQ((*out)[1].labels[0].second, "a\"b\\c\nd");
}

TEST(WireTest, PrometheusTextErrorsNameTheLine) {
  auto ok = ParsePrometheusText("# HELP up x\n# TYPE up gauge\nup 1\nnode_load1{instance=\"a\"} 0.5 1700000000000\n", 7);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[0].time_ms, 7);
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"up 1\nup{a=\"b\" 1\n", "line 2: expected ',' or '}'"},
      {"up{a=\"b\",a=\"c\"} 1\n", "line 1: label a given twice"},
      {"up one\n", "line 1: value \"one\" is not a number"},
      {"up 1 soon\n", "line 1: timestamp is not an integer"},
      {"up{a=\"b} 1\n", "unterminated value of label a"},
  };
  for (const Case& c : cases) {
    auto r = ParsePrometheusText(c.text, 0);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace logship::wire
