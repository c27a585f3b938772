#include "shipper/tail/file_tailer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace logship {
namespace {

namespace fs = std::filesystem;

class FileTailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tailer_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    input_.paths = {(dir_ / "*.log").string()};
    input_.type = "nginx";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Append(const std::string& name, const std::string& text) {
    std::ofstream out(dir_ / name, std::ios::app | std::ios::binary);
    out << text;
  }
  std::unique_ptr<FileTailer> NewTailer(CheckpointStore* store) {
    return std::make_unique<FileTailer>(std::vector<FileInputConfig>{input_}, "host-a", store, clock_);
  }
  // Polls and reads until nothing is left; commits each batch when `commit`.
  std::vector<Event> Drain(FileTailer& t, bool commit = true) {
    std::vector<Event> all;
    for (int round = 0; round < 100; ++round) {
      t.Poll();
      std::vector<Event> batch;
      size_t n = t.ReadBatch(7, 1 << 20, &batch);
      all.insert(all.end(), batch.begin(), batch.end());
      if (commit) {
        EXPECT_TRUE(t.Commit().ok());
      }
      if (n == 0) break;
    }
    return all;
  }
  static std::vector<std::string> Raws(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.raw);
    return out;
  }

  fs::path dir_;
  FileInputConfig input_;
  ManualClock clock_{1'700'000'000'000'000'000};
};

TEST_F(FileTailerTest, ReadsCompleteLinesOnlyWithOffsetsAndIds) {
  Append("a.log", "one\ntwo\r\nthr");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto events = Drain(*t);
  ASSERT_EQ(Raws(events), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(events[0].offset, 0u);
  EXPECT_EQ(events[1].offset, 4u);
  EXPECT_EQ(events[0].type, "nginx");
  EXPECT_EQ(events[0].host, "host-a");
  EXPECT_NE(events[0].id, events[1].id);
  Append("a.log", "ee\n");
  events = Drain(*t);
  ASSERT_EQ(Raws(events), (std::vector<std::string>{"three"}));
  EXPECT_EQ(events[0].offset, 9u);
}

TEST_F(FileTailerTest, ResumesAfterCommitAndRereadsUncommittedWithTheSameIds) {
  Append("a.log", "l1\nl2\nl3\n");
  CheckpointStore store((dir_ / "cp.json").string());
  std::vector<Event> first;
  {
    auto t = NewTailer(&store);
    first = Drain(*t, /*commit=*/false);  // delivered but never acknowledged: a crash
  }
  ASSERT_EQ(first.size(), 3u);
  CheckpointStore reloaded((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded.Load().ok());
  auto t2 = NewTailer(&reloaded);
  auto again = Drain(*t2);
  ASSERT_EQ(again.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(again[i].id, first[i].id);  // the sink dedupes these
  Append("a.log", "l4\n");
  CheckpointStore reloaded2((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded2.Load().ok());
  auto t3 = NewTailer(&reloaded2);
  EXPECT_EQ(Raws(Drain(*t3)), (std::vector<std::string>{"l4"}));
}

TEST_F(FileTailerTest, RenameAndCreateReadsTheOldFileToItsEnd) {
  input_.paths = {(dir_ / "app.log").string()};
  Append("app.log", "a1\na2\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 2u);
  Append("app.log", "a3\na4-no-newline");
  fs::rename(dir_ / "app.log", dir_ / "app.log.1");
  Append("app.log", "b1\n");
  auto events = Drain(*t);
  std::multiset<std::string> got;
  for (auto& r : Raws(events)) got.insert(r);
  EXPECT_EQ(got, (std::multiset<std::string>{"a3", "a4-no-newline", "b1"}));
  EXPECT_EQ(t->stats().rotations, 1u);
  EXPECT_EQ(t->stats().open_files, 1u);  // the rotated file was released
}

TEST_F(FileTailerTest, CopyTruncateRestartsAtZeroWithNewIds) {
  Append("a.log", "same-first-line\nx\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto before = Drain(*t);
  ASSERT_EQ(before.size(), 2u);
  fs::resize_file(dir_ / "a.log", 0);
  t->Poll();
  Append("a.log", "same-first-line\n");
  auto after = Drain(*t);
  ASSERT_EQ(Raws(after), (std::vector<std::string>{"same-first-line"}));
  EXPECT_EQ(after[0].offset, 0u);
  EXPECT_NE(after[0].id, before[0].id);  // same offset, same text: still a new event
  EXPECT_EQ(t->stats().truncations, 1u);
}

TEST_F(FileTailerTest, InodeReuseWithDifferentContentIsANewFile) {
  Append("a.log", "old-1\nold-2\n");
  CheckpointStore store((dir_ / "cp.json").string());
  {
    auto t = NewTailer(&store);
    Drain(*t);
  }
  // Simulate reuse: the checkpoint says this inode was read to offset 12, but the file
  // now holds other content. Rewriting in place keeps the inode.
  {
    std::ofstream out(dir_ / "a.log", std::ios::trunc | std::ios::binary);
    out << "new-content-1\nnew-2\n";
  }
  CheckpointStore reloaded((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded.Load().ok());
  auto t = NewTailer(&reloaded);
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"new-content-1", "new-2"}));
}

TEST_F(FileTailerTest, LongLinesAreSplitAndBinaryIsCarried) {
  input_.max_line_bytes = 256;
  std::string big(600, 'x');
  std::string binary("a\0b\xff\xfe", 5);
  Append("a.log", big + "\n" + binary + "\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto events = Drain(*t);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].raw.size(), 256u);
  EXPECT_EQ(events[1].raw.size(), 256u);
  EXPECT_EQ(events[2].raw.size(), 88u);
  EXPECT_EQ(events[1].offset, 256u);
  EXPECT_EQ(events[3].raw, binary);
  EXPECT_EQ(t->stats().lines_split, 2u);
}

TEST_F(FileTailerTest, DirectoriesAndUnreadableFilesDoNotStopTheOthers) {
  fs::create_directories(dir_ / "dir.log");
  Append("ok.log", "fine\n");
  Append("locked.log", "secret\n");
  fs::permissions(dir_ / "locked.log", fs::perms::none);
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto raws = Raws(Drain(*t));
  EXPECT_NE(std::find(raws.begin(), raws.end(), "fine"), raws.end());
  if (geteuid() != 0) {
    EXPECT_GE(t->stats().errors, 1u);  // root can read anything
  }
}

}  // namespace
}  // namespace logship
