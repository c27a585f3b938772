#include "parser/sinks/common/event_encoding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

namespace logship::sinks {
namespace {

using namespace std::string_literals;

TEST(EventEncodingTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("Ärger € 😀"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3("));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

TEST(EventEncodingTest, JsonStringsUnderBothPolicies) {
  const std::string raw = "a\"b\\c\n\t\0\x1f\x7f Ä \xff"s;
  std::string keep, replace;
  AppendJsonString(&keep, raw, Utf8Policy::kKeepBytes);
  AppendJsonString(&replace, raw, Utf8Policy::kReplace);
  EXPECT_EQ(keep, "\"a\\\"b\\\\c\\n\\t\\u0000\\u001f\\u007f Ä \xff\"");
  EXPECT_EQ(replace, "\"a\\\"b\\\\c\\n\\t\\u0000\\u001f\\u007f Ä \xEF\xBF\xBD\"");
  EXPECT_EQ(nlohmann::json::parse(replace).get<std::string>(), "a\"b\\c\n\t\0\x1f\x7f Ä \xEF\xBF\xBD"s);
}

TEST(EventEncodingTest, StoredFieldsAddTheSyslogHeader) {
  ParsedEvent e;
  e.fields.push_back({"a", int64_t{1}});
  e.event.syslog = SyslogHeader{4, -1, "sshd", "", "", "-"};
  auto f = StoredFields(e);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[1].name, "syslog.facility");
  EXPECT_EQ(f[2].name, "syslog.app");
  EXPECT_EQ(FieldsJson(e), R"({"a":1,"syslog.app":"sshd","syslog.facility":4})");
}

// The direct writer against nlohmann::json (what the stores held before it): byte for
// byte, over names that repeat and sort, every escape, doubles, syslog headers and bytes
// that are not UTF-8.
TEST(EventEncodingTest, DirectFieldsJsonMatchesNlohmann) {
  std::mt19937 rng(7);
  const std::vector<std::string> names = {"a", "b", "verb", "http.status", "Z", "é", "a\"q", "x\x01", "a.b", ""};
  const std::vector<std::string> strings = {"", "GET", "tab\tnl\n\r\b\f", "quote\" back\\", "\x7f del",
                                            "nul \0 x"s, "Ärger € 😀", "bad \xff", "\xc3(", "\x1f\x05"};
  const std::vector<double> doubles = {0.5, 503, -0.0, 1e20, 1e-7, 123456789012345678.0, 0.1,
                                       std::nan(""), std::numeric_limits<double>::infinity()};
  for (int round = 0; round < 3000; ++round) {
    ParsedEvent e;
    const int n = static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      Field f;
      f.name = names[rng() % names.size()];
      switch (rng() % 3) {
        case 0: f.value = strings[rng() % strings.size()]; break;
        case 1: f.value = static_cast<int64_t>(rng()) - (int64_t{1} << 31); break;
        default: f.value = doubles[rng() % doubles.size()];
      }
      e.fields.push_back(std::move(f));
    }
    if (rng() % 4 == 0) {
      e.event.syslog = SyslogHeader{static_cast<int>(rng() % 3) - 1, 3, strings[rng() % strings.size()], "12", "",
                                    rng() % 2 ? "-" : "[x a=\"1\"]"};
    }
    for (int i = static_cast<int>(rng() % 3); i > 0; --i) e.tags.push_back(strings[rng() % strings.size()]);
    ASSERT_EQ(FieldsJson(e), FieldsJsonForTest(e)) << "round " << round;
    std::string tags;
    AppendTagsJson(&tags, e.tags);
    ASSERT_EQ(tags, nlohmann::json(e.tags).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  ParsedEvent dup;
  dup.fields = {{"b", int64_t{1}}, {"a", std::string("x")}, {"b", int64_t{2}}};
  EXPECT_EQ(FieldsJson(dup), R"({"a":"x","b":2})");
}

TEST(EventEncodingTest, NumbersDaysAndTimes) {
  EXPECT_EQ(FormatDouble(503), "503");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1e20), "1e+20");
  double d;
  EXPECT_TRUE(ParseNumber("1.1", &d));
  EXPECT_EQ(d, 1.1);
  EXPECT_TRUE(ParseNumber("-5", &d));
  EXPECT_FALSE(ParseNumber("-", &d));
  EXPECT_FALSE(ParseNumber("+5", &d));
  EXPECT_FALSE(ParseNumber("1.1.1", &d));
  EXPECT_FALSE(ParseNumber("nan", &d));
  EXPECT_FALSE(ParseNumber("1e999", &d));
  EXPECT_EQ(UtcDayIndex(-1), -1);
  EXPECT_EQ(FormatDay(0), "1970-01-01");
  EXPECT_EQ(FormatDay(19675), "2023-11-14");
  EXPECT_EQ(FormatRfc3339Nanos(1'700'000'000'000'000'007), "2023-11-14T22:13:20.000000007Z");
}

TEST(EventEncodingTest, Codecs) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("default:s3cret"), "ZGVmYXVsdDpzM2NyZXQ=");
  EXPECT_EQ(UrlEscape("INSERT INTO `a`.`b` FORMAT x&y=1"), "INSERT%20INTO%20%60a%60.%60b%60%20FORMAT%20x%26y%3D1");
  std::string input(100000, 'x');
  for (size_t i = 0; i < input.size(); i += 7) input[i] = static_cast<char>(i);
  auto gz = Gzip(input);
  ASSERT_TRUE(gz.ok());
  ASSERT_GE(gz->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*gz)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*gz)[1]), 0x8b);
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(input.size() + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(gz->data());
  zs.avail_in = static_cast<uInt>(gz->size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(out.size() - zs.avail_out);
  inflateEnd(&zs);
  EXPECT_EQ(out, input);
}

}  // namespace
}  // namespace logship::sinks
