#include "core/wire/wire.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "tests/support/events.h"

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

TEST(WireTest, PlainTextLosesOneTrailingLineTerminator) {
  // omkafka's default template (RSYSLOG_FileFormat) ends in "\n".
  auto lf = DecodeEvent({{"msg", "2024-01-01T00:00:00+00:00 host app: hello\n"}}, "t", "0/1", 0);
  ASSERT_TRUE(lf.ok());
  EXPECT_EQ(lf->raw, "2024-01-01T00:00:00+00:00 host app: hello");
  auto crlf = DecodeEvent({{"msg", "line\r\n"}}, "t", "0/2", 0);
  ASSERT_TRUE(crlf.ok());
  EXPECT_EQ(crlf->raw, "line");
  auto two = DecodeEvent({{"msg", "line\n\n"}}, "t", "0/3", 0);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->raw, "line\n");
}

Event BatchEvent(int i) {
  Event e;
  e.id = "00000000000000ab:" + std::to_string(i * 100);
  e.time_ns = 1'700'000'000'000'000'000 + i - 5;  // zigzag: also around negative deltas
  e.host = "web-" + std::to_string(i % 3);
  e.source = "/var/log/app.log";
  e.type = i % 2 ? "nginx" : "";
  e.offset = static_cast<uint64_t>(i) * 100;
  e.raw = std::string("line \0\xff\r\n ", 11) + std::string(i * 37, 'x');
  if (i % 4 == 1) e.syslog = SyslogHeader{i % 24, -1, "app", "", "ID" + std::to_string(i), "-"};
  return e;
}

TEST(WireTest, BatchedEntryRoundTripsEveryEventAndField) {
  std::vector<Event> in;
  for (int i = 0; i < 300; ++i) in.push_back(BatchEvent(i));
  in[7].time_ns = -42;  // before the epoch: zigzag
  for (int level : {1, 9, 0}) {
    FieldList f = EncodeEventBatch(in, level);
    ASSERT_TRUE(IsEventBatch(f));
    EXPECT_EQ(f[0], (std::pair<std::string, std::string>("v", "2")));
    EXPECT_EQ(f[1].second, "300");
    EXPECT_EQ(f[2].second, level == 0 ? "none" : "zlib");
    auto out = DecodeEventBatch(f, "1-0");
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const Event& a = (*out)[i];
      const Event& b = in[i];
      EXPECT_EQ(a.id, b.id);
      EXPECT_EQ(a.time_ns, b.time_ns);
      EXPECT_EQ(a.host, b.host);
      EXPECT_EQ(a.source, b.source);
      EXPECT_EQ(a.type, b.type);
      EXPECT_EQ(a.offset, b.offset);
      EXPECT_EQ(a.raw, b.raw);
      ASSERT_EQ(a.syslog.has_value(), b.syslog.has_value()) << i;
      if (a.syslog) {
        EXPECT_EQ(a.syslog->facility, b.syslog->facility);
        EXPECT_EQ(a.syslog->severity, b.syslog->severity);
        EXPECT_EQ(a.syslog->app, b.syslog->app);
        EXPECT_EQ(a.syslog->procid, b.syslog->procid);
        EXPECT_EQ(a.syslog->msgid, b.syslog->msgid);
        EXPECT_EQ(a.syslog->structured_data, b.syslog->structured_data);
      }
      if (::testing::Test::HasFailure()) return;
    }
  }
  // Repetitive log lines compress: the zlib entry is much smaller than the records.
  EXPECT_LT(EncodeEventBatch(in, 1)[3].second.size() * 5, EncodeEventBatch(in, 0)[3].second.size());
  // DecodeEvent refuses a batched entry rather than misreading it.
  auto single = DecodeEvent(EncodeEventBatch(in), "s", "1-0", 0);
  ASSERT_FALSE(single.ok());
  EXPECT_NE(single.status().message().find("DecodeEventBatch"), std::string::npos);
}

TEST(WireTest, BrokenBatchedEntriesAreCorruptionNamingTheProblem) {
  std::vector<Event> in = {BatchEvent(1), BatchEvent(2)};
  FieldList good = EncodeEventBatch(in, 0);
  auto expect_corrupt = [](const FieldList& f, const std::string& what) {
    auto r = DecodeEventBatch(f, "9-9");
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("batched entry 9-9"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
  };
  FieldList f = good;
  f[1].second = "3";
  expect_corrupt(f, "2 records, but n=3");
  f = good;
  f[1].second = "1";
  expect_corrupt(f, "more records than n=1");
  f = good;
  f[1].second = "0";
  expect_corrupt(f, "field \"n\"");
  f = good;
  f[3].second.pop_back();
  expect_corrupt(f, "record 1 is truncated");
  f = good;
  f[2].second = "lz4";
  expect_corrupt(f, "unknown encoding \"lz4\"");
  f = good;
  f.pop_back();
  expect_corrupt(f, "missing field \"events\"");
  FieldList z = EncodeEventBatch(in, 6);
  z[3].second.resize(z[3].second.size() / 2);
  expect_corrupt(z, "zlib");
  z = EncodeEventBatch(in, 6);
  z[3].second[5] ^= 0x55;
  expect_corrupt(z, "zlib");
  z = EncodeEventBatch(in, 6);
  z[3].second += "junk";
  expect_corrupt(z, "after the end of the zlib stream");
  // A small entry that would inflate past the bound is refused, not allocated.
  std::string bomb(8 << 20, '\0');
  {
    std::string zeros(1 << 20, '\0');
    z_stream zs{};
    ASSERT_EQ(deflateInit(&zs, 1), Z_OK);
    zs.next_out = reinterpret_cast<Bytef*>(bomb.data());
    zs.avail_out = static_cast<uInt>(bomb.size());
    for (size_t fed = 0; fed <= kMaxBatchBytes; fed += zeros.size()) {
      zs.next_in = reinterpret_cast<Bytef*>(zeros.data());
      zs.avail_in = static_cast<uInt>(zeros.size());
      ASSERT_EQ(deflate(&zs, Z_NO_FLUSH), Z_OK);
    }
    ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    bomb.resize(bomb.size() - zs.avail_out);
    deflateEnd(&zs);
  }
  EXPECT_LT(bomb.size(), 4u << 20);
  expect_corrupt({{"v", "2"}, {"n", "1"}, {"enc", "zlib"}, {"events", bomb}}, "inflates to more than");
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

Event KafkaTestEvent(bool syslog) {
  Event e;
  e.id = "0123456789abcdef:42";
  e.time_ns = -5;  // zigzag: negative times survive too
  e.host = "web-1";
  e.source = "udp://10.0.0.1:514";  // a ':' in the source
  e.type = "nginx";
  e.offset = 1ull << 40;
  static constexpr char kRaw[] = "bad \xff\xfe utf8 and a \0 NUL";
  e.raw = std::string(kRaw, sizeof kRaw - 1);
  if (syslog) e.syslog = SyslogHeader{4, -1, "su", "123", "ID47", "[x@1 a=\"b\"]"};
  return e;
}

TEST(WireTest, KafkaEventHeaderRoundTripsEveryFieldAndTakesHostAndSourceFromTheKey) {
  for (bool syslog : {false, true}) {
    const Event e = KafkaTestEvent(syslog);
    const std::string key = e.host + ":" + e.source;
    std::string header;
    AppendKafkaEventHeader(e, key, header);
    // host and source are not repeated: only the host's length is.
    EXPECT_EQ(header.find(e.source), std::string::npos);
    EXPECT_EQ(header[0], syslog ? 3 : 2);
    auto d = DecodeKafkaEvent(key, header, e.raw, "t/0/1");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ::logship::testing::ExpectSameEvent(*d, e);

    // Another key (or none): host and source travel in the header.
    std::string full;
    AppendKafkaEventHeader(e, "other", full);
    EXPECT_NE(full.find(e.source), std::string::npos);
    for (std::string_view k : {std::string_view("other"), std::string_view()}) {
      auto f = DecodeKafkaEvent(k, full, e.raw, "t/0/1");
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      ::logship::testing::ExpectSameEvent(*f, e);
    }
  }
  // Far smaller than the v1 headers it replaces.
  const Event e = KafkaTestEvent(false);
  std::string header;
  AppendKafkaEventHeader(e, e.host + ":" + e.source, header);
  size_t v1 = 0;
  for (const auto& [k, v] : EncodeEvent(e)) v1 += k == "msg" ? 0 : k.size() + v.size();
  EXPECT_LT(header.size() * 2, v1) << header.size() << " vs " << v1;
}

TEST(WireTest, BrokenKafkaEventHeadersAreCorruptionNamingTheMessage) {
  const Event e = KafkaTestEvent(true);
  const std::string key = e.host + ":" + e.source;
  std::string header;
  AppendKafkaEventHeader(e, key, header);
  // Every truncation fails, none crashes.
  for (size_t n = 0; n < header.size(); ++n) {
    auto d = DecodeKafkaEvent(key, header.substr(0, n), e.raw, "t/3/7");
    ASSERT_FALSE(d.ok()) << n;
    EXPECT_EQ(d.status().code(), StatusCode::kCorruption);
    EXPECT_NE(d.status().message().find("t/3/7"), std::string::npos) << d.status().message();
  }
  EXPECT_FALSE(DecodeKafkaEvent(key, header + "x", e.raw, "m").ok());        // trailing bytes
  EXPECT_FALSE(DecodeKafkaEvent("web-1", header, e.raw, "m").ok());          // key too short
  EXPECT_FALSE(DecodeKafkaEvent("web-12:x", header, e.raw, "m").ok());       // no ':' after the host
  EXPECT_FALSE(DecodeKafkaEvent(key, "\x08" + header.substr(1), e.raw, "m").ok());  // unknown flag
}

TEST(WireTest, KafkaEventHeaderCarriesAFileEventIdAsItsHash) {
  for (bool syslog : {false, true}) {
    Event e = KafkaTestEvent(syslog);
    e.id = FileEventId(0x00f1e2d3c4b5a697, e.offset);  // a leading zero digit survives too
    const std::string key = e.host + ":" + e.source;
    std::string header;
    AppendKafkaEventHeader(e, key, header);
    EXPECT_EQ(header[0], (syslog ? 1 : 0) | 2 | 4);
    Event as_string = e;
    as_string.id = "x" + e.id.substr(1);  // not a file event id: sent as a string
    std::string longer;
    AppendKafkaEventHeader(as_string, key, longer);
    EXPECT_EQ(longer[0], (syslog ? 1 : 0) | 2);
    EXPECT_EQ(header.size() + (e.id.size() + 1 - 8), longer.size());
    auto d = DecodeKafkaEvent(key, header, e.raw, "t/0/1");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ::logship::testing::ExpectSameEvent(*d, e);
    for (size_t n = 0; n < header.size(); ++n) {
      EXPECT_FALSE(DecodeKafkaEvent(key, header.substr(0, n), e.raw, "m").ok()) << n;
    }
  }
  // Ids that only look alike travel as strings, so they come back byte for byte.
  Event e = KafkaTestEvent(false);
  for (std::string id : {FileEventId(42, e.offset + 1), std::string("0123456789ABCDEF:") + std::to_string(e.offset),
                         FileEventId(42, e.offset) + "0", std::string("0123456789abcdef-") + std::to_string(e.offset)}) {
    e.id = id;
    std::string header;
    AppendKafkaEventHeader(e, "k", header);
    EXPECT_EQ(header[0] & 4, 0) << id;
    auto d = DecodeKafkaEvent("k", header, e.raw, "m");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->id, id);
  }
}

TEST(WireTest, EventFieldCountIsWhatVisitEventFieldsEmits) {
  for (bool syslog : {false, true}) {
    const Event e = KafkaTestEvent(syslog);
    EventFieldScratch scratch;
    size_t n = 0;
    VisitEventFields(e, scratch, [&](std::string_view, std::string_view) { ++n; });
    EXPECT_EQ(EventFieldCount(e), n);
  }
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
