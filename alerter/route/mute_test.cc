#include "alerter/route/mute.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace logship::alerter {
namespace {

TEST(MuteTest, MatcherExpressions) {
  auto eq = ParseMatcherExpression("host=web-1");
  ASSERT_TRUE(eq.ok());
  EXPECT_EQ(*eq, std::make_pair(std::string("host"), std::string("=web-1")));
  EXPECT_EQ(ParseMatcherExpression("host!=web-1")->second, "!=web-1");
  EXPECT_EQ(ParseMatcherExpression("alertname=~Cpu.*")->second, "=~Cpu.*");
  EXPECT_EQ(ParseMatcherExpression("alertname!~Cpu.*")->second, "!~Cpu.*");
  EXPECT_EQ(ParseMatcherExpression("path=a=b")->second, "=a=b");
  for (const char* bad : {"host", "=x", "host~x", "ho-st=x", "host=~(("}) {
    EXPECT_FALSE(ParseMatcherExpression(bad).ok()) << bad;
  }
  EXPECT_EQ(MatcherExpression("host", "=~web.*"), "host=~web.*");
  EXPECT_EQ(MatcherExpression("host", "web"), "host=web");
}

TEST(MuteTest, SilenceMatchesWhileActiveAndRoundTrips) {
  Silence s;
  s.id = "00000000000000ab";
  s.matchers = {*ParseMatcherExpression("host=~web-.*"), *ParseMatcherExpression("severity=warning")};
  s.created_by = "ana";
  s.comment = "deploy";
  s.created_ms = 900;
  s.starts_ms = 1000;
  s.ends_ms = 2000;
  auto m = SilenceMatcher::Compile(s);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->Matches({{"host", "web-1"}, {"severity", "warning"}}));
  EXPECT_FALSE(m->Matches({{"host", "web-1"}, {"severity", "critical"}}));
  EXPECT_FALSE(m->Matches({{"host", "db-1"}, {"severity", "warning"}}));
  EXPECT_FALSE(s.ActiveAt(999));
  EXPECT_TRUE(s.ActiveAt(1000));
  EXPECT_FALSE(s.ActiveAt(2000));
  auto j = SilenceToJson(s, 1500);
  EXPECT_EQ(j["state"], "active");
  EXPECT_EQ(j["matchers"], (nlohmann::json{"host=~web-.*", "severity=warning"}));
  EXPECT_EQ(SilenceToJson(s, 2500)["state"], "expired");
  EXPECT_EQ(SilenceToJson(s, 500)["state"], "pending");
  auto back = SilenceFromJson(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->matchers, s.matchers);
  EXPECT_EQ(back->ends_ms, 2000);
  EXPECT_EQ(back->created_by, "ana");
}

TEST(MuteTest, InhibitRuleEqualLabelsAndSameSeries) {
  InhibitRuleConfig c{{{"severity", "critical"}}, {{"severity", "warning"}}, {"host"}, false};
  auto r = InhibitRule::Compile(c, "rule");
  ASSERT_TRUE(r.ok());
  Labels crit_a = {{"alertname", "Disk"}, {"host", "a"}, {"severity", "critical"}};
  Labels warn_a = {{"alertname", "Cpu"}, {"host", "a"}, {"severity", "warning"}};
  Labels warn_b = {{"alertname", "Cpu"}, {"host", "b"}, {"severity", "warning"}};
  EXPECT_TRUE(r->Inhibits(crit_a, warn_a));
  EXPECT_FALSE(r->Inhibits(crit_a, warn_b)) << "host differs";
  EXPECT_FALSE(r->Inhibits(warn_a, crit_a)) << "wrong direction";

  // The default rule: same series = every label but alertname and severity.
  auto d = InhibitRule::Compile(AlerterConfig{}.inhibit_rules.at(0), "default");
  ASSERT_TRUE(d.ok());
  Labels crit_a_web = {{"alertname", "RateCollapse"}, {"host", "a"}, {"severity", "critical"}, {"team", "web"}};
  Labels warn_a_web = {{"alertname", "RateOffBaseline"}, {"host", "a"}, {"severity", "warning"}, {"team", "web"}};
  Labels warn_a_db = {{"alertname", "RateOffBaseline"}, {"host", "a"}, {"severity", "warning"}, {"team", "db"}};
  EXPECT_TRUE(d->Inhibits(crit_a_web, warn_a_web));
  EXPECT_FALSE(d->Inhibits(crit_a_web, warn_a_db));
  EXPECT_TRUE(d->Inhibits(crit_a, warn_a)) << "Disk{host=a} and Cpu{host=a}: the same series labels";
  EXPECT_FALSE(d->Inhibits(crit_a, warn_b));
}

}  // namespace
}  // namespace logship::alerter
