#include "alerter/state/state_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace logship::alerter {
namespace {

std::string TempPath() {
  auto dir = std::filesystem::temp_directory_path() / ("logship_state_store_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return (dir / "sub" / "state.db").string();
}

TEST(StateStoreTest, PersistsAcrossReopenAndRollsBack) {
  const std::string path = TempPath();
  {
    auto st = StateStore::Open(path);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    AlertState a;
    a.dedup_key = "00000000000000aa";
    a.labels = {{"host", "web-1"}};
    a.phase = AlertPhase::kFiring;
    a.open = true;
    a.paged_severity = Severity::kCritical;
    ASSERT_TRUE((*st)->Begin().ok());
    ASSERT_TRUE((*st)->PutAlertState("http/Rate", a).ok());
    ASSERT_TRUE((*st)->PutRuleProgress("http/Rate", 123000).ok());
    ASSERT_TRUE((*st)->PutIncident("00000000000000aa", {{"id", "00000000000000aa"}, {"x", 1}}).ok());
    auto s1 = (*st)->AddOutbox("pd", "00000000000000aa", {{"n", 1}}, 10);
    auto s2 = (*st)->AddOutbox("pd", "00000000000000aa", {{"n", 2}}, 20);
    ASSERT_TRUE(s1.ok() && s2.ok());
    EXPECT_LT(*s1, *s2);
    ASSERT_TRUE((*st)->UpdateOutbox(*s1, 3, 99).ok());
    ASSERT_TRUE((*st)->PutSilence("s1", {{"id", "s1"}}).ok());
    ASSERT_TRUE((*st)->Commit().ok());

    // A rolled back transaction leaves nothing behind.
    ASSERT_TRUE((*st)->Begin().ok());
    ASSERT_TRUE((*st)->DeleteAlertState("00000000000000aa").ok());
    ASSERT_TRUE((*st)->AddOutbox("pd", "x", {{"n", 3}}, 30).ok());
    (*st)->Rollback();
  }
  auto st = StateStore::Open(path);
  ASSERT_TRUE(st.ok());
  auto states = (*st)->LoadAlertStates();
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].first, "http/Rate");
  EXPECT_EQ((*states)[0].second.labels, (Labels{{"host", "web-1"}}));
  EXPECT_TRUE((*states)[0].second.open);
  EXPECT_EQ((*states)[0].second.paged_severity, Severity::kCritical);
  EXPECT_EQ((*st)->LoadRuleProgress()->at("http/Rate"), 123000);
  auto outbox = (*st)->LoadOutbox();
  ASSERT_TRUE(outbox.ok());
  ASSERT_EQ(outbox->size(), 2u);
  EXPECT_EQ((*outbox)[0].page["n"], 1);
  EXPECT_EQ((*outbox)[0].attempts, 3);
  EXPECT_EQ((*outbox)[0].next_ms, 99);
  EXPECT_EQ((*outbox)[1].page["n"], 2);
  EXPECT_EQ((*st)->LoadIncidents()->size(), 1u);
  EXPECT_EQ((*st)->LoadSilences()->size(), 1u);
  ASSERT_TRUE((*st)->DeleteOutbox((*outbox)[0].seq).ok());
  EXPECT_EQ((*st)->LoadOutbox()->size(), 1u);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path().parent_path());
}

TEST(StateStoreTest, RefusesAFileThatIsNotADatabase) {
  const std::string path = TempPath();
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("this is not sqlite, just text long enough to be a header ...............................", f);
    std::fclose(f);
  }
  auto st = StateStore::Open(path);
  EXPECT_FALSE(st.ok());
  std::filesystem::remove_all(std::filesystem::path(path).parent_path().parent_path());
}

}  // namespace
}  // namespace logship::alerter
