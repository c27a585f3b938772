// Pipelined commits: batches read while earlier ones are in flight are committed through
// their TailMarks, in order; a checkpoint never passes a batch that was not acknowledged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "shipper/tail/checkpoint_store.h"
#include "shipper/tail/file_tailer.h"

namespace logship {
namespace {

namespace fs = std::filesystem;

class TailMarkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tail_mark_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    input_.paths = {(dir_ / "*.log").string()};
    input_.type = "app";
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Append(const std::string& name, const std::string& text) {
    std::ofstream out(dir_ / name, std::ios::app | std::ios::binary);
    out << text;
  }
  std::unique_ptr<FileTailer> NewTailer(CheckpointStore* store) {
    return std::make_unique<FileTailer>(std::vector<FileInputConfig>{input_}, "host-a", store, clock_);
  }

  fs::path dir_;
  FileInputConfig input_;
  ManualClock clock_{1'700'000'000'000'000'000};
};

TEST_F(TailMarkTest, CommitThroughAMarkStopsAtThatBatch) {
  for (int i = 0; i < 9; ++i) Append("a.log", "line" + std::to_string(i) + "\n");  // 6 bytes each
  const std::string cp = (dir_ / "cp.json").string();
  {
    CheckpointStore store(cp);
    auto t = NewTailer(&store);
    t->Poll();
    std::vector<Event> b1, b2, b3;
    TailMark m1, m2, m3;
    ASSERT_EQ(t->ReadBatch(3, 1 << 20, &b1, &m1), 3u);
    ASSERT_EQ(t->ReadBatch(3, 1 << 20, &b2, &m2), 3u);  // read while b1 is in flight
    ASSERT_EQ(t->ReadBatch(3, 1 << 20, &b3, &m3), 3u);
    EXPECT_EQ(b2.front().raw, "line3");
    EXPECT_EQ(b3.front().raw, "line6");
    ASSERT_TRUE(t->Commit(/*save=*/true, &m1).ok());
    ASSERT_TRUE(t->Commit(/*save=*/true, &m2).ok());
    // b3 never acknowledged: the process dies here.
  }
  CheckpointStore store(cp);
  ASSERT_TRUE(store.Load().ok());
  auto t = NewTailer(&store);
  t->Poll();
  std::vector<Event> again;
  t->ReadBatch(100, 1 << 20, &again);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again.front().raw, "line6");
  EXPECT_EQ(again.front().offset, 36u);
}

TEST_F(TailMarkTest, AnOlderMarkNeverMovesTheCheckpointBack) {
  for (int i = 0; i < 4; ++i) Append("a.log", "line" + std::to_string(i) + "\n");
  const std::string cp = (dir_ / "cp.json").string();
  {
    CheckpointStore store(cp);
    auto t = NewTailer(&store);
    t->Poll();
    std::vector<Event> b1, b2;
    TailMark m1, m2;
    t->ReadBatch(2, 1 << 20, &b1, &m1);
    t->ReadBatch(2, 1 << 20, &b2, &m2);
    ASSERT_TRUE(t->Commit(true, &m2).ok());
    ASSERT_TRUE(t->Commit(true, &m1).ok());  // out of order by mistake: must not rewind
  }
  CheckpointStore store(cp);
  ASSERT_TRUE(store.Load().ok());
  auto t = NewTailer(&store);
  t->Poll();
  std::vector<Event> again;
  EXPECT_EQ(t->ReadBatch(100, 1 << 20, &again), 0u);
}

TEST_F(TailMarkTest, RotatedFileIsReleasedOnlyWhenItsLastBatchIsCommitted) {
  Append("a.log", "old0\nold1\nold2\nold3\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  t->Poll();
  fs::rename(dir_ / "a.log", dir_ / "a.log.1");  // no glob matches it any more
  Append("a.log", "new0\n");
  t->Poll();
  EXPECT_EQ(t->stats().draining_files, 1u);
  std::vector<Event> b1, b2;
  TailMark m1, m2;
  t->ReadBatch(2, 1 << 20, &b1, &m1);
  t->ReadBatch(10, 1 << 20, &b2, &m2);
  ASSERT_TRUE(t->Commit(false, &m1).ok());
  t->Poll();
  EXPECT_EQ(t->stats().draining_files, 1u) << "released with a batch of it still in flight";
  ASSERT_TRUE(t->Commit(false, &m2).ok());
  t->Poll();
  EXPECT_EQ(t->stats().draining_files, 0u);
}

// The acknowledgements of batches read before a truncation arrive after reading restarted
// at 0 (the shipper keeps batches in flight across Poll). They must not advance the new
// contents' checkpoint: that would skip new lines never sent. New contents with a first
// line never seen before start again at generation 0, so only the restart tells them apart.
TEST_F(TailMarkTest, MarksReadBeforeATruncationAdvanceNothingAfterIt) {
  for (bool poll_finds_it : {true, false}) {
    SCOPED_TRACE(poll_finds_it ? "truncation found by Poll" : "truncation found by ReadBatch");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (int i = 0; i < 4; ++i) Append("a.log", "old" + std::to_string(i) + "\n");  // 5 bytes each
    const std::string cp = (dir_ / "cp.json").string();
    {
      CheckpointStore store(cp);
      auto t = NewTailer(&store);
      t->Poll();
      std::vector<Event> b1, b2;
      TailMark m1, m2;
      ASSERT_EQ(t->ReadBatch(2, 1 << 20, &b1, &m1), 2u);
      ASSERT_EQ(t->ReadBatch(2, 1 << 20, &b2, &m2), 2u);
      // Truncated and written again, past the old offset (20), with another first line.
      fs::resize_file(dir_ / "a.log", 0);
      for (int i = 0; i < 5; ++i) Append("a.log", "new_" + std::to_string(i) + "\n");  // 6 bytes each
      if (poll_finds_it) t->Poll();
      std::vector<Event> b3;
      TailMark m3;
      ASSERT_EQ(t->ReadBatch(1, 1 << 20, &b3, &m3), 1u);
      EXPECT_EQ(b3.front().raw, "new_0");
      EXPECT_EQ(b3.front().offset, 0u);
      EXPECT_EQ(t->stats().truncations, 1u);
      // b1 and b2 are acknowledged now; b3 never is: the process dies.
      ASSERT_TRUE(t->Commit(/*save=*/true, &m1).ok());
      ASSERT_TRUE(t->Commit(/*save=*/true, &m2).ok());
      EXPECT_EQ(t->Files().at(0).acked_offset, 0u);
    }
    CheckpointStore store(cp);
    ASSERT_TRUE(store.Load().ok());
    auto t = NewTailer(&store);
    t->Poll();
    std::vector<Event> again;
    t->ReadBatch(100, 1 << 20, &again);
    ASSERT_EQ(again.size(), 5u) << "new lines were skipped";
    EXPECT_EQ(again.front().raw, "new_0");
    EXPECT_EQ(again.front().offset, 0u);
  }
}

}  // namespace
}  // namespace logship
