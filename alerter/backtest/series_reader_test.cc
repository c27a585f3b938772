#include "alerter/backtest/series_reader.h"

#include <gtest/gtest.h>

namespace logship::alerter::backtest {
namespace {

TEST(SeriesReader, Timestamps) {
  EXPECT_EQ(*ParseTimestamp("1970-01-01 00:00:00"), 0);
  EXPECT_EQ(*ParseTimestamp("2014-02-14 14:27:00"), 1392388020000);
  EXPECT_EQ(*ParseTimestamp("2014-02-14T14:27:00.5Z"), 1392388020500);
  EXPECT_EQ(*ParseTimestamp("2014-02-14T15:27:00+01:00"), 1392388020000);
  EXPECT_EQ(*ParseTimestamp("2014-02-26 13:45:00.000000"), *ParseTimestamp("2014-02-26 13:45:00"));
  EXPECT_EQ(*ParseTimestamp("1392388020"), 1392388020000);
  EXPECT_EQ(*ParseTimestamp("1392388020000"), 1392388020000);
  EXPECT_FALSE(ParseTimestamp("yesterday").ok());
  EXPECT_FALSE(ParseTimestamp("2014-13-01 00:00:00").ok());
}

TEST(SeriesReader, CsvWithHeaderAndJsonLines) {
  auto csv = ParseSeries("timestamp,value\n2014-02-14 14:30:00,0.5\n2014-02-14 14:25:00,1\n", "a.csv");
  ASSERT_TRUE(csv.ok()) << csv.status().ToString();
  ASSERT_EQ(csv->size(), 2u);
  EXPECT_EQ((*csv)[0].value, 1);  // sorted by time
  auto noheader = ParseSeries("1392388020,3\n", "b.csv");
  ASSERT_TRUE(noheader.ok());
  EXPECT_EQ((*noheader)[0].time_ms, 1392388020000);
  auto jl = ParseSeries("{\"timestamp\": \"2014-02-14 14:27:00\", \"value\": 2}\n{\"ts\": 1392388080, \"value\": 3}\n",
                        "c.jsonl");
  ASSERT_TRUE(jl.ok()) << jl.status().ToString();
  EXPECT_EQ((*jl)[1].time_ms, 1392388080000);
  auto bad = ParseSeries("timestamp,value\n2014-02-14 14:30:00,abc\n", "d.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("d.csv:2:", 0), 0u) << bad.status().message();
}

}  // namespace
}  // namespace logship::alerter::backtest
