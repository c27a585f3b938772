#include "alerter/notify/log/log_notifier.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace logship::alerter {
namespace {

TEST(LogNotifierTest, AppendsOneJsonLinePerPage) {
  auto dir = std::filesystem::temp_directory_path() / ("logship_log_notifier_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto n = LogNotifier::Create("log", (dir / "sub/pages.jsonl").string());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  Page p;
  p.dedup_key = "0123456789abcdef";
  p.severity = Severity::kCritical;
  p.alert = "RequestRate";
  p.group = "http";
  p.labels = {{"alertname", "RequestRate"}, {"host", "web-1"}};
  p.value = 233.5;
  p.time_ms = 1'700'000'000'123;
  ASSERT_TRUE((*n)->Notify(p).ok());
  p.action = PageAction::kAcknowledge;
  p.acked_by = "ana";
  ASSERT_TRUE((*n)->Notify(p).ok());
  p.action = PageAction::kResolve;
  p.acked_by.clear();
  ASSERT_TRUE((*n)->Notify(p).ok());
  std::ifstream in(dir / "sub/pages.jsonl");
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["action"], "trigger");
  EXPECT_EQ(lines[1]["action"], "acknowledge");
  EXPECT_EQ(lines[1]["acknowledged_by"], "ana");
  EXPECT_EQ(lines[2]["action"], "resolve");
  EXPECT_EQ(lines[0]["dedup_key"], "0123456789abcdef");
  EXPECT_EQ(lines[0]["severity"], "critical");
  EXPECT_EQ(lines[0]["alert"], "RequestRate");
  EXPECT_EQ(lines[0]["value"], 233.5);
  EXPECT_EQ(lines[0]["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(lines[0]["labels"]["host"], "web-1");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace logship::alerter
