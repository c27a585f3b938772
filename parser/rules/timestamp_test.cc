#include "parser/rules/timestamp.h"

#include <gtest/gtest.h>

namespace logship::rules {
namespace {

constexpr int64_t kS = 1'000'000'000;

std::shared_ptr<const TimeZone> Zone(const char* name) {
  auto z = TimeZone::Load(name);
  EXPECT_TRUE(z.ok()) << z.status().ToString();
  return z.ok() ? z.value() : TimeZone::Utc();
}

std::optional<int64_t> Parse(const char* format, const char* text, const TimeZone* zone = nullptr,
                             int64_t reference = 1700006400LL * kS) {
  auto p = TimestampParser::Make(format);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  if (!p.ok()) return std::nullopt;
  return p.value().Parse(text, zone, reference);
}

TEST(TimestampTest, NamedFormats) {
  EXPECT_EQ(ParseTimestamp("10/Oct/2000:13:55:36 -0700", TimestampFormat::kHttpDate, 0), 971211336LL * kS);
  EXPECT_EQ(ParseTimestamp("2000-10-10T20:55:36Z", TimestampFormat::kIso8601, 0), 971211336LL * kS);
  EXPECT_EQ(ParseTimestamp("2000-10-10 22:55:36.25+02:00", TimestampFormat::kIso8601, 0),
            971211336LL * kS + 250'000'000);
  EXPECT_EQ(ParseTimestamp("971211336.5", TimestampFormat::kUnix, 0), 971211336LL * kS + 500'000'000);
  EXPECT_EQ(ParseTimestamp("971211336123", TimestampFormat::kUnixMs, 0), 971211336123LL * 1'000'000);
  EXPECT_FALSE(ParseTimestamp("2000-13-01T00:00:00Z", TimestampFormat::kIso8601, 0));
  // Days a month does not have are rejected, not rolled over into the next month.
  EXPECT_FALSE(ParseTimestamp("2023-02-29T00:00:00Z", TimestampFormat::kIso8601, 0));
  EXPECT_FALSE(ParseTimestamp("2024-04-31T00:00:00Z", TimestampFormat::kIso8601, 0));
  EXPECT_FALSE(ParseTimestamp("30/Feb/2024:00:00:00 +0000", TimestampFormat::kHttpDate, 0));
  EXPECT_EQ(ParseTimestamp("2024-02-29T00:00:00Z", TimestampFormat::kIso8601, 0), 1709164800LL * kS);
  EXPECT_FALSE(Parse("yyyy-MM-dd", "2100-02-29"));
  EXPECT_TRUE(Parse("yyyy-MM-dd", "2000-02-29"));
}

TEST(TimestampTest, ZoneAppliesOnlyToTextWithoutOffset) {
  auto berlin = Zone("Europe/Berlin");
  EXPECT_EQ(Parse("ISO8601", "2023-07-01T12:00:00", berlin.get()), 1688205600LL * kS);  // CEST
  EXPECT_EQ(Parse("ISO8601", "2023-01-01 12:00:00", berlin.get()), 1672570800LL * kS);  // CET
  EXPECT_EQ(Parse("ISO8601", "2023-07-01T12:00:00Z", berlin.get()), 1688212800LL * kS);  // offset wins
  EXPECT_EQ(Parse("HTTPDATE", "01/Jul/2023:12:00:00 +0000", berlin.get()), 1688212800LL * kS);
  // Syslog: no year (from the reference, 2023-11-15) and no zone.
  EXPECT_EQ(Parse("SYSLOG", "Nov 14 22:13:10", berlin.get()), 1699996390LL * kS);
  EXPECT_EQ(Parse("SYSLOG", "Nov 14 22:13:10"), 1699999990LL * kS);
  // A time more than a day after the reference belongs to the previous year.
  EXPECT_EQ(Parse("SYSLOG", "Dec 31 23:59:59", nullptr, 1704067200LL * kS + 3600 * kS),  // 2024-01-01T01:00Z
            1704067199LL * kS);
}

TEST(TimestampTest, TimeZoneTransitionsAndRules) {
  auto berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin->OffsetAt(1688205600), 7200);
  EXPECT_EQ(berlin->OffsetAt(1672570800), 3600);
  // 02:30 on 2023-03-26 does not exist (02:00 -> 03:00): read with +01:00 (03:30 CEST).
  EXPECT_EQ(berlin->ToUtc(DaysFromCivil(2023, 3, 26) * 86400 + 2 * 3600 + 1800), 1679794200);
  // 02:30 on 2023-10-29 happens twice: the earlier (CEST) instant.
  EXPECT_EQ(berlin->ToUtc(DaysFromCivil(2023, 10, 29) * 86400 + 2 * 3600 + 1800), 1698539400);
  // Past the last transition in the file: the POSIX rule at its end (or the 2037 table).
  EXPECT_EQ(berlin->ToUtc(DaysFromCivil(2045, 7, 1) * 86400 + 12 * 3600), 2382516000);
  auto sydney = Zone("Australia/Sydney");  // southern hemisphere: DST over new year
  EXPECT_EQ(sydney->ToUtc(DaysFromCivil(2045, 1, 15) * 86400 + 12 * 3600), 2368054800);
  EXPECT_EQ(sydney->ToUtc(DaysFromCivil(2045, 7, 15) * 86400 + 12 * 3600), 2383696800);
  auto fixed = Zone("+05:30");
  EXPECT_EQ(fixed->OffsetAt(0), 19800);
  EXPECT_EQ(Zone("UTC")->OffsetAt(1688205600), 0);
  auto bad = TimeZone::Load("Mars/Olympus_Mons");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Mars/Olympus_Mons"), std::string::npos);
  EXPECT_FALSE(TimeZone::Load("../../etc/passwd").ok());
}

TEST(TimestampTest, JodaPatterns) {
  EXPECT_EQ(Parse("dd/MMM/yyyy:HH:mm:ss Z", "10/Oct/2000:13:55:36 -0700"), 971211336LL * kS);
  EXPECT_EQ(Parse("yyyy-MM-dd HH:mm:ss,SSS ZZ", "2014-01-09 17:32:25,527 -08:00"), 1389317545527LL * 1'000'000);
  EXPECT_EQ(Parse("MMM dd, yyyy h:mm:ss a", "Dec 30, 2020 11:30:40 AM"), 1609327840LL * kS);
  EXPECT_EQ(Parse("MMM d, yyyy h:mm:ss a", "Jul 30, 2020 3:00:21 PM"), 1596121221LL * kS);
  EXPECT_EQ(Parse("MMM d, yyyy h:mm:ss a", "Jul 30, 2020 12:00:21 AM"), 1596067221LL * kS);
  EXPECT_EQ(Parse("dd-MMM-yyyy HH:mm:ss.SSS", "17-Feb-2018 23:06:56.326"), 1518908816326LL * 1'000'000);
  EXPECT_EQ(Parse("EEE MMM dd HH:mm:ss.SSSSSS yyyy", "Mon Aug 31 09:30:48.958285 2015"),
            1441013448958285LL * 1000);
  EXPECT_EQ(Parse("yyyyMMddHHmmss", "20231114221310"), 1699999990LL * kS);
  EXPECT_EQ(Parse("yyyy-MM-dd'T'HH:mm:ss", "2023-11-14T22:13:10"), 1699999990LL * kS);
  EXPECT_EQ(Parse("MMM dd HH:mm:ss", "Nov 14 22:13:10"), 1699999990LL * kS);  // year from the reference
  EXPECT_EQ(Parse("dd/MM/yy HH:mm", "14/11/23 22:13"), 1699999980LL * kS);
  auto ny = Zone("America/New_York");
  EXPECT_EQ(Parse("yyyy-MM-dd HH:mm:ss", "2024-11-14 22:13:10", ny.get()), 1731640390LL * kS);
  // Must consume the whole text; fields must be valid.
  EXPECT_FALSE(Parse("yyyy-MM-dd", "2023-11-14 extra"));
  EXPECT_FALSE(Parse("yyyy-MM-dd", "2023-13-14"));
  EXPECT_FALSE(Parse("h:mm a MMM d", "13:00 PM Nov 1"));
}

TEST(TimestampTest, BadPatternsAreErrorsWithTheOffset) {
  auto p = TimestampParser::Make("yyyy-MM-dd HH:mm:ss q");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("unsupported pattern letter 'q' at offset 20"), std::string::npos)
      << p.status().message();
  EXPECT_FALSE(TimestampParser::Make("MMM d h:mm").ok());         // h without a
  EXPECT_FALSE(TimestampParser::Make("HH:mm:ss").ok());           // no month/day
  EXPECT_FALSE(TimestampParser::Make("yyyy-MM-dd 'T").ok());      // unterminated quote
}

}  // namespace
}  // namespace logship::rules
