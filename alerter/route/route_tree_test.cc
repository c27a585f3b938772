#include "alerter/route/route_tree.h"

#include <gtest/gtest.h>

namespace logship::alerter {
namespace {

using std::chrono::milliseconds;

RouteConfig Route(std::vector<std::pair<std::string, std::string>> match, std::vector<std::string> receivers,
                  bool cont = false) {
  RouteConfig r;
  r.match = std::move(match);
  r.receivers = std::move(receivers);
  r.continue_matching = cont;
  return r;
}

std::vector<std::string> Names(const std::vector<RouteTarget>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) out.push_back(t.receiver);
  return out;
}

const std::vector<std::string> kReceivers = {"log", "slack-web", "pd", "slack-db", "am"};

TEST(RouteTreeTest, DefaultRootTakesEveryReceiver) {
  auto t = RouteTree::Compile(RouteConfig{}, kReceivers);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto targets = t->Targets({{"alertname", "X"}, {"severity", "warning"}});
  EXPECT_EQ(Names(targets), kReceivers);
  EXPECT_EQ(targets[0].repeat_interval, milliseconds(4 * 3600 * 1000));
  EXPECT_EQ(targets[4].due_after, milliseconds(0));
}

TEST(RouteTreeTest, FirstMatchingChildWinsUnlessContinue) {
  RouteConfig root = Route({}, {"log"});
  root.repeat_interval = milliseconds(3600'000);
  RouteConfig web = Route({{"team", "web"}}, {"slack-web", "pd"});
  web.escalate_after = milliseconds(600'000);
  RouteConfig web_critical = Route({{"severity", "critical"}}, {"pd"});
  web_critical.repeat_interval = milliseconds(0);
  web.routes = {web_critical};
  RouteConfig all_critical = Route({{"severity", "=~crit.*"}}, {"am"}, /*cont=*/true);
  RouteConfig db = Route({{"team", "db"}}, {"slack-db"});
  root.routes = {all_critical, web, db};
  auto t = RouteTree::Compile(root, kReceivers);
  ASSERT_TRUE(t.ok()) << t.status().ToString();

  // web warning: the web route (its own receivers, escalation inherited by nobody else).
  auto w = t->Targets({{"severity", "warning"}, {"team", "web"}});
  EXPECT_EQ(Names(w), (std::vector<std::string>{"slack-web", "pd"}));
  EXPECT_EQ(w[0].due_after, milliseconds(0));
  EXPECT_EQ(w[1].due_after, milliseconds(600'000)) << "pd is second: escalated to after 10 min";
  EXPECT_EQ(w[0].repeat_interval, milliseconds(3600'000)) << "inherited from the root";

  // web critical: the continue route (am), then web -> its critical child (pd, no repeat,
  // escalate_after inherited but pd is first there).
  auto c = t->Targets({{"severity", "critical"}, {"team", "web"}});
  EXPECT_EQ(Names(c), (std::vector<std::string>{"am", "pd"}));
  EXPECT_EQ(c[1].due_after, milliseconds(0));
  EXPECT_EQ(c[1].repeat_interval, milliseconds(0));

  // Nothing matches: the root itself.
  EXPECT_EQ(Names(t->Targets({{"severity", "warning"}, {"team", "ops"}})), (std::vector<std::string>{"log"}));
  // A child without receivers inherits its parent's.
  RouteConfig inherit = Route({}, {"slack-db"});
  inherit.routes = {Route({{"host", "db-1"}}, {})};
  auto t2 = RouteTree::Compile(inherit, kReceivers);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(t2->Match({{"host", "db-1"}}).front()->path, "alerter.route.routes[0]");
  EXPECT_EQ(Names(t2->Targets({{"host", "db-1"}})), (std::vector<std::string>{"slack-db"}));
}

TEST(RouteTreeTest, ReceiverOnSeveralRoutesTakesEarliestAndShortest) {
  RouteConfig root = Route({}, {"log"});
  RouteConfig a = Route({{"team", "web"}}, {"slack-web", "pd"}, true);
  a.escalate_after = milliseconds(60'000);
  a.repeat_interval = milliseconds(600'000);
  RouteConfig b = Route({{"team", "web"}}, {"pd"});
  b.repeat_interval = milliseconds(300'000);
  root.routes = {a, b};
  auto t = RouteTree::Compile(root, kReceivers);
  ASSERT_TRUE(t.ok());
  auto ts = t->Targets({{"team", "web"}});
  ASSERT_EQ(Names(ts), (std::vector<std::string>{"slack-web", "pd"}));
  EXPECT_EQ(ts[1].due_after, milliseconds(0));
  EXPECT_EQ(ts[1].repeat_interval, milliseconds(300'000));
}

TEST(RouteTreeTest, RejectsUnknownReceiversAndBadMatchers) {
  EXPECT_FALSE(RouteTree::Compile(Route({}, {"nope"}), kReceivers).ok());
  RouteConfig bad = Route({}, {"log"});
  bad.routes = {Route({{"host", "=~(("}}, {"log"})};
  auto r = RouteTree::Compile(bad, kReceivers);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("alerter.route.routes[0]"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace logship::alerter
