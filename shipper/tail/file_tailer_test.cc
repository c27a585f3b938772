#include "shipper/tail/file_tailer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

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
    return std::make_unique<FileTailer>(std::vector<FileInputConfig>{input_}, "host-a", store, clock_, options_);
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
  FileTailerOptions options_;
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

// Recycled events (FileTailer::Recycle) are filled by assignment: nothing of what they
// held before may show through, whatever it was.
TEST_F(FileTailerTest, RecycledEventsCarryNothingOfTheirPast) {
  Append("a.log", "one\ntwo\nthree\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  t->Poll();
  std::vector<Event> first;
  ASSERT_EQ(t->ReadBatch(10, 1 << 20, &first), 3u);
  const std::vector<Event> expected = first;  // what fresh events look like
  ASSERT_TRUE(t->Commit().ok());

  // Give back events full of other things, then read the same lines from a new tailer.
  std::vector<Event> used(5);
  for (Event& e : used) {
    e.id = std::string(100, 'i');
    e.raw = std::string(300, 'r');
    e.host = e.source = e.type = std::string(40, 'x');
    e.offset = 99;
    e.time_ns = -1;
    e.syslog = SyslogHeader{1, 2, "app", "1", "m", "[sd]"};
  }
  used.push_back(Event{});  // one plain one too
  CheckpointStore fresh((dir_ / "cp2.json").string());
  auto again = NewTailer(&fresh);
  again->Recycle(&used);
  EXPECT_TRUE(used.empty());
  again->Poll();
  std::vector<Event> second;
  ASSERT_EQ(again->ReadBatch(10, 1 << 20, &second), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(second[i].id, expected[i].id);
    EXPECT_EQ(second[i].raw, expected[i].raw);
    EXPECT_EQ(second[i].host, "host-a");
    EXPECT_EQ(second[i].source, expected[i].source);
    EXPECT_EQ(second[i].type, "nginx");
    EXPECT_EQ(second[i].offset, expected[i].offset);
    EXPECT_EQ(second[i].time_ns, expected[i].time_ns);
    EXPECT_FALSE(second[i].syslog.has_value());
    // The 300-byte buffers are within the slack of 3-byte lines: reused.
    EXPECT_LE(second[i].raw.capacity(), 2 * second[i].raw.size() + FileTailer::kSlackBytes);
  }
  // A batch handed back while some are still spare: kept up to the bound, all reusable.
  again->Recycle(&second);
  Append("a.log", "four\n");
  again->Poll();
  std::vector<Event> third;
  ASSERT_EQ(again->ReadBatch(10, 1 << 20, &third), 1u);
  EXPECT_EQ(third[0].raw, "four");
  EXPECT_FALSE(third[0].syslog.has_value());

  // What is kept is bounded in bytes too, however large the lines were.
  std::vector<Event> big(10);
  for (Event& e : big) e.raw.assign(1 << 20, 'b');
  again->Recycle(&third);
  again->Recycle(&big);
  EXPECT_GT(again->spare_bytes(), 0u);
  EXPECT_LE(again->spare_bytes(), FileTailer::kMaxSpareBytes);
  // And a big buffer given a short line is let go: the batch holds what it carries.
  Append("a.log", "five\n");
  again->Poll();
  std::vector<Event> fourth;
  ASSERT_EQ(again->ReadBatch(10, 1 << 20, &fourth), 1u);
  EXPECT_EQ(fourth[0].raw, "five");
  EXPECT_LE(fourth[0].raw.capacity(), 2 * fourth[0].raw.size() + FileTailer::kSlackBytes);
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


TEST_F(FileTailerTest, ExcludeGlobsMatchPathAndBasename) {
  input_.paths = {(dir_ / "*").string()};
  input_.exclude = {"*.gz", "app.log.1", (dir_ / "skip-*").string()};
  Append("app.log", "keep\n");
  Append("app.log.1", "rotated\n");
  Append("old.gz", "compressed\n");
  Append("skip-me.log", "skipped\n");
  CheckpointStore store((dir_ / "cp.json").string());
  input_.exclude.push_back("cp.json*");
  auto t = NewTailer(&store);
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"keep"}));
  EXPECT_EQ(t->stats().open_files, 1u);
}

TEST_F(FileTailerTest, RenamedToAnExcludedNameIsDrainedAsARotation) {
  input_.paths = {(dir_ / "*").string()};
  input_.exclude = {"*.1", "cp.json*"};
  Append("app", "a1\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 1u);
  Append("app", "a2\n");
  fs::rename(dir_ / "app", dir_ / "app.1");
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"a2"}));
  EXPECT_EQ(t->stats().rotations, 1u);
  EXPECT_EQ(t->stats().open_files, 0u);
}

TEST_F(FileTailerTest, OpenFileLimitMakesFilesWaitButEveryLineArrives) {
  options_.max_open_files = 2;
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  std::multiset<std::string> want;
  for (int round = 0; round < 2; ++round) {
    for (const char* name : {"a.log", "b.log", "c.log"}) {
      for (int i = 0; i < 3; ++i) {
        std::string line = std::string(name) + "-" + std::to_string(round) + "-" + std::to_string(i);
        Append(name, line + "\n");
        want.insert(line);
      }
    }
    bool saw_waiting = false;
    for (int i = 0; i < 50; ++i) {
      t->Poll();
      saw_waiting |= t->stats().files_waiting > 0;
      EXPECT_LE(t->stats().open_files, 2u);
      std::vector<Event> batch;
      t->ReadBatch(100, 1 << 20, &batch);
      ASSERT_TRUE(t->Commit().ok());
      for (auto& e : batch) {
        ASSERT_EQ(want.count(e.raw), 1u) << e.raw;  // every line once
        want.erase(e.raw);
      }
      if (want.empty()) break;
    }
    EXPECT_TRUE(want.empty()) << "round " << round << ": " << want.size() << " lines never arrived";
    EXPECT_TRUE(saw_waiting);
  }
  EXPECT_GE(t->stats().idle_files_closed, 1u);
}

TEST_F(FileTailerTest, InotifyWakesPromptlyOnGrowthAndNewFiles) {
  Append("a.log", "first\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  Drain(*t);
  ASSERT_TRUE(t->stats().inotify_active) << "inotify unavailable on this host";
  t->WaitForChange(std::chrono::milliseconds(0));  // forget the events of the setup
  for (const char* name : {"a.log", "b.log"}) {
    std::thread writer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      Append(name, std::string("late-") + name + "\n");
    });
    auto start = std::chrono::steady_clock::now();
    bool changed = t->WaitForChange(std::chrono::seconds(5));  // poll_interval of 5 s
    auto waited = std::chrono::steady_clock::now() - start;
    writer.join();
    EXPECT_TRUE(changed);
    EXPECT_LT(waited, std::chrono::milliseconds(1000)) << name;
    t->Poll();
    std::vector<Event> batch;
    t->ReadBatch(10, 1 << 20, &batch);
    ASSERT_TRUE(t->Commit().ok());
    EXPECT_EQ(Raws(batch), (std::vector<std::string>{std::string("late-") + name}));
    t->WaitForChange(std::chrono::milliseconds(0));
  }
}

TEST_F(FileTailerTest, InterruptEndsAWait) {
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  t->Poll();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    t->Interrupt();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(t->WaitForChange(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  stopper.join();
}

TEST_F(FileTailerTest, WithoutInotifyWaitingIsTheTimeout) {
  options_.inotify = false;
  Append("a.log", "x\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 1u);
  EXPECT_FALSE(t->stats().inotify_active);
  Append("a.log", "y\n");
  EXPECT_FALSE(t->WaitForChange(std::chrono::milliseconds(30)));
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"y"}));  // the periodic Poll finds it
}

TEST_F(FileTailerTest, HeldFileIsReleasedAfterMaxHold) {
  options_.max_hold = std::chrono::minutes(10);
  input_.paths = {(dir_ / "app.log").string()};
  Append("app.log", "a1\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 1u);
  Append("app.log", "never-sent\n");
  fs::rename(dir_ / "app.log", dir_ / "app.log.1");
  t->Poll();  // the queue is down: nothing is read
  EXPECT_EQ(t->stats().draining_files, 1u);
  EXPECT_EQ(t->stats().held_bytes, 14u);
  clock_.AdvanceNs(9LL * 60 * 1'000'000'000);
  t->Poll();
  EXPECT_EQ(t->stats().draining_files, 1u);  // still within max_hold
  EXPECT_EQ(t->stats().held_files_released_unfinished, 0u);
  clock_.AdvanceNs(2LL * 60 * 1'000'000'000);
  t->Poll();
  EXPECT_EQ(t->stats().held_files_released_unfinished, 1u);
  EXPECT_EQ(t->stats().draining_files, 0u);
  EXPECT_EQ(t->stats().held_bytes, 0u);
  EXPECT_EQ(t->stats().open_files, 0u);
  std::vector<Event> batch;
  EXPECT_EQ(t->ReadBatch(10, 1 << 20, &batch), 0u);
}

TEST_F(FileTailerTest, DeletedHeldFilesAreBoundedByDisk) {
  options_.max_held_bytes = 25;
  input_.paths = {(dir_ / "*.log").string()};
  Append("a.log", "a1\n");
  Append("b.log", "b1\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 2u);
  Append("a.log", "never-sent-aaaaaa\n");  // 21 bytes
  Append("b.log", "never-sent-bb\n");      // 17 bytes
  fs::rename(dir_ / "a.log", dir_ / "a.old");  // renamed: keeps no disk space of its own
  t->Poll();  // the queue is down: nothing is read
  EXPECT_EQ(t->stats().held_deleted_bytes, 0u);
  fs::remove(dir_ / "a.old");
  clock_.AdvanceNs(1'000'000'000);
  fs::remove(dir_ / "b.log");
  t->Poll();  // 38 bytes deleted and held > 25: a (held longest) goes
  EXPECT_EQ(t->stats().held_files_released_unfinished, 1u);
  EXPECT_EQ(t->stats().draining_files, 1u);
  EXPECT_EQ(t->stats().held_deleted_bytes, 17u);
  std::vector<Event> batch;
  EXPECT_EQ(t->ReadBatch(10, 1 << 20, &batch), 1u);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].raw, "never-sent-bb");
}

TEST_F(FileTailerTest, ADanglingSymlinkIsAnErrorUntilItsTargetAppears) {
  input_.paths = {(dir_ / "*.log").string()};
  fs::create_symlink(dir_ / "target.txt", dir_ / "link.log");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_TRUE(Drain(*t).empty());
  EXPECT_EQ(t->stats().errors_by_kind[static_cast<size_t>(TailError::kDanglingSymlink)], 1u);  // once
  EXPECT_EQ(t->stats().files_in_error, 1u);
  Append("target.txt", "late\n");  // the target appears: followed through the link
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"late"}));
  EXPECT_EQ(t->stats().files_in_error, 0u);
  EXPECT_EQ(t->stats().errors, 1u);
}

TEST_F(FileTailerTest, HeldFileReadToItsEndIsNotCountedAsUnfinished) {
  options_.max_hold = std::chrono::minutes(10);
  input_.paths = {(dir_ / "app.log").string()};
  Append("app.log", "a1\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  Drain(*t);
  fs::rename(dir_ / "app.log", dir_ / "app.log.1");
  Drain(*t);
  clock_.AdvanceNs(11LL * 60 * 1'000'000'000);
  t->Poll();
  EXPECT_EQ(t->stats().held_files_released_unfinished, 0u);
}

// --- multiline ---

constexpr const char* kJavaLog =
    "2024-05-01 10:00:00 INFO started\n"
    "2024-05-01 10:00:01 ERROR request failed\n"
    "java.lang.IllegalStateException: boom\n"
    "\tat com.example.Foo.bar(Foo.java:10)\n"
    "\tat com.example.Main.main(Main.java:3)\n"
    "Caused by: java.io.IOException: disk\n"
    "\t... 2 more\n"
    "2024-05-01 10:00:02 INFO next\n";

TEST_F(FileTailerTest, MultilineStartJoinsAJavaStackTrace) {
  input_.multiline.start = R"(^\d{4}-\d{2}-\d{2} )";
  Append("a.log", kJavaLog);
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto events = Drain(*t);
  ASSERT_EQ(Raws(events), (std::vector<std::string>{
                              "2024-05-01 10:00:00 INFO started",
                              "2024-05-01 10:00:01 ERROR request failed\n"
                              "java.lang.IllegalStateException: boom\n"
                              "\tat com.example.Foo.bar(Foo.java:10)\n"
                              "\tat com.example.Main.main(Main.java:3)\n"
                              "Caused by: java.io.IOException: disk\n"
                              "\t... 2 more"}));
  EXPECT_EQ(events[1].offset, 33u);  // the first line's offset
  EXPECT_FALSE(t->CaughtUp());       // the last event waits for flush_after
  clock_.AdvanceNs(1'000'000'000);
  events = Drain(*t);
  ASSERT_EQ(Raws(events), (std::vector<std::string>{"2024-05-01 10:00:02 INFO next"}));
  EXPECT_TRUE(t->CaughtUp());
  EXPECT_EQ(t->stats().multiline_events, 1u);
  EXPECT_EQ(t->stats().lines_read, 8u);
}

TEST_F(FileTailerTest, MultilineContinuationJoinsIndentedLines) {
  input_.multiline.continuation = R"(^(\s|Caused by:))";
  Append("a.log", kJavaLog);
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto all = Drain(*t);
  clock_.AdvanceNs(2'000'000'000);
  auto rest = Drain(*t);
  all.insert(all.end(), rest.begin(), rest.end());
  // Without a start pattern the exception line begins the event; its frames join it.
  ASSERT_EQ(Raws(all), (std::vector<std::string>{
                           "2024-05-01 10:00:00 INFO started",
                           "2024-05-01 10:00:01 ERROR request failed",
                           "java.lang.IllegalStateException: boom\n"
                           "\tat com.example.Foo.bar(Foo.java:10)\n"
                           "\tat com.example.Main.main(Main.java:3)\n"
                           "Caused by: java.io.IOException: disk\n"
                           "\t... 2 more",
                           "2024-05-01 10:00:02 INFO next"}));
  EXPECT_EQ(all[2].offset, std::string(kJavaLog).find("java.lang"));
}

TEST_F(FileTailerTest, MultilineFlushAfterWaitsForQuiet) {
  input_.multiline.start = "^START";
  input_.multiline.flush_after = std::chrono::milliseconds(1000);
  Append("a.log", "START one\n  more\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_TRUE(Drain(*t).empty());
  clock_.AdvanceNs(600'000'000);
  Append("a.log", "  later\n");  // a new line restarts the quiet period
  EXPECT_TRUE(Drain(*t).empty());
  clock_.AdvanceNs(600'000'000);
  EXPECT_TRUE(Drain(*t).empty());
  clock_.AdvanceNs(400'000'000);
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"START one\n  more\n  later"}));
}

TEST_F(FileTailerTest, CrashMidMultilineRereadsTheEventWithTheSameId) {
  input_.multiline.start = "^START";
  Append("a.log", "START a\n a1\nSTART b\n b1\n");
  CheckpointStore store((dir_ / "cp.json").string());
  std::vector<Event> first;
  {
    auto t = NewTailer(&store);
    first = Drain(*t);  // "START a..." out, "START b..." pending
    ASSERT_EQ(Raws(first), (std::vector<std::string>{"START a\n a1"}));
    clock_.AdvanceNs(2'000'000'000);
    std::vector<Event> flushed;
    t->Poll();
    ASSERT_EQ(t->ReadBatch(10, 1 << 20, &flushed), 1u);  // read, never acknowledged: a crash
    first.push_back(flushed[0]);
  }
  ASSERT_EQ(Raws(first), (std::vector<std::string>{"START a\n a1", "START b\n b1"}));
  CheckpointStore reloaded((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded.Load().ok());
  auto t2 = NewTailer(&reloaded);
  EXPECT_TRUE(Drain(*t2).empty());  // the checkpoint stopped at "START b": it is pending again
  clock_.AdvanceNs(2'000'000'000);
  auto again = Drain(*t2);
  ASSERT_EQ(Raws(again), (std::vector<std::string>{"START b\n b1"}));
  EXPECT_EQ(again[0].id, first[1].id);
  EXPECT_EQ(again[0].offset, 12u);  // "START b" follows "START a\n a1\n"
}

TEST_F(FileTailerTest, CrashBeforeAnyCommitRereadsSameEvents) {
  input_.multiline.start = "^START";
  Append("a.log", "START a\n a1\nSTART b\n b1\n");
  CheckpointStore store((dir_ / "cp.json").string());
  std::vector<Event> first;
  {
    auto t = NewTailer(&store);
    first = Drain(*t, /*commit=*/false);
  }
  CheckpointStore reloaded((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded.Load().ok());
  auto t2 = NewTailer(&reloaded);
  auto again = Drain(*t2);
  ASSERT_EQ(Raws(again), Raws(first));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, first[0].id);
}

TEST_F(FileTailerTest, MultilineBoundsSplitAndCount) {
  input_.multiline.start = "^START";
  input_.multiline.max_lines = 3;
  input_.multiline.max_bytes = 1 << 20;
  Append("a.log", "START\n1\n2\n3\n4\nSTART\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto events = Drain(*t);
  ASSERT_EQ(Raws(events), (std::vector<std::string>{"START\n1\n2", "3\n4"}));
  EXPECT_EQ(events[1].offset, 10u);
  EXPECT_EQ(t->stats().multiline_splits, 1u);

  input_.multiline.max_lines = 100;
  input_.multiline.max_bytes = 20;
  Append("b.log", "START 0123456789\nabcdefgh\nxyz\n");
  CheckpointStore store2((dir_ / "cp2.json").string());
  input_.paths = {(dir_ / "b.log").string()};
  auto t2 = NewTailer(&store2);
  auto more = Drain(*t2);
  clock_.AdvanceNs(2'000'000'000);
  auto tail = Drain(*t2);
  more.insert(more.end(), tail.begin(), tail.end());
  ASSERT_EQ(Raws(more), (std::vector<std::string>{"START 0123456789", "abcdefgh\nxyz"}));
  EXPECT_EQ(more[1].offset, 17u);
  EXPECT_EQ(t2->stats().multiline_splits, 1u);
}

TEST(FileInputConfigTest, MultilineAndLimitsParseAndBadPatternsNameTheLine) {
  auto ok = ParseConfig(
      "shipper:\n  max_open_files: 2\n  max_hold: 5m\n  files:\n    - paths: [/var/log/*.log]\n"
      "      exclude: ['*.gz']\n      multiline:\n        start: '^\\d{4}-'\n        flush_after: 2s\n",
      "cfg.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->shipper.max_open_files, 2u);
  EXPECT_EQ(ok->shipper.max_hold, std::chrono::minutes(5));
  EXPECT_EQ(ok->shipper.files[0].exclude, (std::vector<std::string>{"*.gz"}));
  EXPECT_EQ(ok->shipper.files[0].multiline.start, "^\\d{4}-");
  EXPECT_EQ(ok->shipper.files[0].multiline.flush_after, std::chrono::seconds(2));

  auto bad = ParseConfig("shipper:\n  files:\n    - paths: [/x]\n      multiline:\n        start: 'a(b'\n",
                         "cfg.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("cfg.yaml:5:"), std::string::npos) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("RE2"), std::string::npos) << bad.status().ToString();

  auto both = ParseConfig(
      "shipper:\n  files:\n    - paths: [/x]\n      multiline: {start: a, continuation: b}\n", "cfg.yaml");
  EXPECT_FALSE(both.ok());
}

TEST_F(FileTailerTest, RotatedFileFlushesItsPendingMultilineEvent) {
  input_.paths = {(dir_ / "app.log").string()};
  input_.multiline.start = "^START";
  Append("app.log", "START a\n a1\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_TRUE(Drain(*t).empty());
  fs::rename(dir_ / "app.log", dir_ / "app.log.1");
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"START a\n a1"}));  // no flush_after wait
  EXPECT_EQ(t->stats().open_files, 0u);
}

// --- copytruncate copies, truncation seen late, held files, errors by kind ---

class CopyTruncateTest : public FileTailerTest {
 protected:
  void SetUp() override {
    FileTailerTest::SetUp();
    input_.paths = {(dir_ / "app.log*").string()};
  }
  // What logrotate's copytruncate does: copy, then truncate the original in place.
  void CopyTruncate() {
    fs::copy_file(dir_ / "app.log", dir_ / "app.log.1");
    fs::resize_file(dir_ / "app.log", 0);
  }
  // The ids every line of app.log has now, read by a tailer with a store of its own.
  std::map<std::string, std::string> ReferenceIds() {
    CheckpointStore other((dir_ / "reference.json").string());
    FileInputConfig only = input_;
    only.paths = {(dir_ / "app.log").string()};
    FileTailer t({only}, "host-a", &other, clock_, options_);
    std::map<std::string, std::string> ids;
    for (int round = 0; round < 100; ++round) {
      t.Poll();
      std::vector<Event> batch;
      if (t.ReadBatch(100, 1 << 20, &batch) == 0) break;
      for (const auto& e : batch) ids[e.raw] = e.id;
    }
    fs::remove(dir_ / "reference.json");
    return ids;
  }
};

TEST_F(CopyTruncateTest, TheCopyIsReadFromWhereTheOriginalStoppedWithItsIds) {
  Append("app.log", "line-1\nline-2\nline-3\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 3u);
  Append("app.log", "line-4\nline-5\n");  // written, not yet read when the rotation comes
  auto reference = ReferenceIds();
  CopyTruncate();
  Append("app.log", "next-1\n");
  auto events = Drain(*t);
  std::map<std::string, std::string> got;
  for (const auto& e : events) EXPECT_TRUE(got.emplace(e.raw, e.id).second) << "twice: " << e.raw;
  ASSERT_EQ(got.size(), 3u) << ::testing::PrintToString(Raws(events));
  EXPECT_EQ(got["line-4"], reference["line-4"]);  // the original's ids: a replay deduplicates
  EXPECT_EQ(got["line-5"], reference["line-5"]);
  EXPECT_TRUE(got.count("next-1"));
  EXPECT_EQ(t->stats().copies_recognised, 1u);
  EXPECT_EQ(t->stats().truncations, 1u);
}

TEST_F(CopyTruncateTest, ACopySeenBeforeTheTruncationWaitsForIt) {
  Append("app.log", "line-1\nline-2\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 2u);
  Append("app.log", "line-3\n");
  auto reference = ReferenceIds();
  fs::copy_file(dir_ / "app.log", dir_ / "app.log.1");
  // The copy is found before the original is truncated: reading it now would send
  // line-1 and line-2 again under new ids. Only the original's own line-3 comes.
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"line-3"}));
  fs::resize_file(dir_ / "app.log", 0);
  Append("app.log", "next-1\n");
  auto events = Drain(*t);
  ASSERT_EQ(Raws(events), (std::vector<std::string>{"next-1"}));
  EXPECT_EQ(t->stats().copies_recognised, 1u);  // read from the anchor: nothing left in it
}

TEST_F(CopyTruncateTest, ACopyNobodyTruncatesIsReadAfterTheWait) {
  Append("app.log", "line-1\nline-2\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 2u);
  fs::copy_file(dir_ / "app.log", dir_ / "app.log.1");
  EXPECT_TRUE(Drain(*t).empty());
  clock_.AdvanceNs((FileTailer::kCopyWaitMs + 1) * 1'000'000);
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"line-1", "line-2"}));
  EXPECT_EQ(t->stats().copies_recognised, 0u);
}

TEST_F(CopyTruncateTest, CopyTruncateWhileNotRunningLosesNothing) {
  Append("app.log", "line-1\nline-2\n");
  {
    CheckpointStore store((dir_ / "cp.json").string());
    auto t = NewTailer(&store);
    EXPECT_EQ(Drain(*t).size(), 2u);
  }
  Append("app.log", "line-3\nline-4\n");
  auto reference = ReferenceIds();
  CopyTruncate();
  Append("app.log", "next-1\nnext-2\n");
  CheckpointStore reloaded((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded.Load().ok());
  auto t = NewTailer(&reloaded);
  auto events = Drain(*t);
  std::map<std::string, std::string> got;
  for (const auto& e : events) EXPECT_TRUE(got.emplace(e.raw, e.id).second) << "twice: " << e.raw;
  EXPECT_EQ(got.size(), 4u) << ::testing::PrintToString(Raws(events));
  EXPECT_EQ(got["line-3"], reference["line-3"]);
  EXPECT_EQ(got["line-4"], reference["line-4"]);
  EXPECT_TRUE(got.count("next-1") && got.count("next-2"));
  // The retired checkpoint was consumed by the copy and survives Save/Load until then.
  EXPECT_EQ(t->stats().copies_recognised, 1u);
}

// Killed after a batch was published but before any checkpoint save that knew of it, and
// the file is copied and truncated while logship is down: the copy must still be known
// as a copy (same ids), so ReadBatch asks for a save before the first events of a new
// identity go out (TakeSaveRequest), and the shipper saves then.
TEST_F(CopyTruncateTest, FirstEventsOfAFileAreAnchoredOnDiskBeforeTheyAreSent) {
  Append("app.log", "line-1\nline-2\nline-3\n");
  std::map<std::string, std::string> sent;
  {
    CheckpointStore store((dir_ / "cp.json").string());
    auto t = NewTailer(&store);
    t->Poll();
    std::vector<Event> batch;
    ASSERT_EQ(t->ReadBatch(100, 1 << 20, &batch), 3u);
    ASSERT_TRUE(t->TakeSaveRequest());
    EXPECT_FALSE(t->TakeSaveRequest());  // once
    ASSERT_TRUE(store.Save().ok());      // what the shipper does before publishing
    for (const auto& e : batch) sent[e.raw] = e.id;
    // Published and acknowledged, then SIGKILL before Commit and the next save.
  }
  CopyTruncate();
  Append("app.log", "next-1\n");
  CheckpointStore reloaded((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded.Load().ok());
  auto t = NewTailer(&reloaded);
  for (const auto& e : Drain(*t)) {
    if (sent.count(e.raw)) {
      EXPECT_EQ(e.id, sent[e.raw]) << e.raw << " sent again under another id";
    }
  }
  EXPECT_EQ(t->stats().copies_recognised, 1u);
}

TEST_F(CopyTruncateTest, ACopyEndingBeforeWhereTheOriginalWasReadIsStillACopy) {
  Append("app.log", "line-1\nline-2\nline-3\n");
  {
    CheckpointStore store((dir_ / "cp.json").string());
    auto t = NewTailer(&store);
    EXPECT_EQ(Drain(*t).size(), 3u);
    fs::copy_file(dir_ / "app.log", dir_ / "app.log.1");
    Append("app.log", "line-4\n");  // written between the copy and the truncation
    EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"line-4"}));
  }  // killed before the truncation
  fs::resize_file(dir_ / "app.log", 0);
  Append("app.log", "next-1\n");
  CheckpointStore reloaded((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded.Load().ok());
  auto t = NewTailer(&reloaded);
  // The copy holds line-1..3, all sent: recognised at an older anchor, nothing re-sent.
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"next-1"}));
  EXPECT_EQ(t->stats().copies_recognised, 1u);
}

TEST_F(CopyTruncateTest, ANewFileWithTheSameHeaderIsNotACopy) {
  Append("app.log", "#header\nold-1\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 2u);
  fs::rename(dir_ / "app.log", dir_ / "app.log.1");  // rename + create
  Append("app.log", "#header\n");
  EXPECT_TRUE(Drain(*t).empty());  // only the header: it might still become a copy
  Append("app.log", "new-1\n");
  auto events = Drain(*t);
  EXPECT_EQ(Raws(events), (std::vector<std::string>{"#header", "new-1"}));
  EXPECT_EQ(t->stats().copies_recognised, 0u);
}

TEST_F(FileTailerTest, TruncatedAndWrittenPastTheOldOffsetBetweenPollsIsSeen) {
  Append("a.log", "old-1\nold-2\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto before = Drain(*t);
  ASSERT_EQ(before.size(), 2u);
  {
    std::ofstream out(dir_ / "a.log", std::ios::trunc | std::ios::binary);
    out << "new-first-line\nnew-second-line\n";  // longer than what was read
  }
  auto after = Drain(*t);
  ASSERT_EQ(Raws(after), (std::vector<std::string>{"new-first-line", "new-second-line"}));
  EXPECT_EQ(t->stats().truncations, 1u);
}

TEST_F(FileTailerTest, TruncatedAndWrittenAgainBetweenPollAndReadIsNotReadAtTheOldOffset) {
  Append("a.log", "old-1\nold-2\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  ASSERT_EQ(Drain(*t).size(), 2u);
  Append("a.log", "old-3\n");
  t->Poll();  // sees old-3 to read
  {
    std::ofstream out(dir_ / "a.log", std::ios::trunc | std::ios::binary);
    out << "brand-new-first\nbrand-new-second\n";
  }
  std::vector<Event> batch;
  t->ReadBatch(100, 1 << 20, &batch);  // no Poll in between
  EXPECT_EQ(Raws(batch), (std::vector<std::string>{"brand-new-first", "brand-new-second"}));
  EXPECT_EQ(batch[0].offset, 0u);
  ASSERT_TRUE(t->Commit().ok());
  EXPECT_TRUE(Drain(*t).empty());
  EXPECT_EQ(t->stats().truncations, 1u);
}

TEST_F(FileTailerTest, TruncatedToEmptyTakesTheNewFirstLineBeforeReadingIt) {
  Append("a.log", "old-1\nold-2\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  ASSERT_EQ(Drain(*t).size(), 2u);
  fs::resize_file(dir_ / "a.log", 0);
  t->Poll();  // truncation seen; no first line yet
  Append("a.log", "new-1\nnew-2\nnew-3\n");
  std::vector<Event> batch;
  t->ReadBatch(100, 1 << 20, &batch);  // before the Poll that would see the first line
  ASSERT_TRUE(t->Commit().ok());
  EXPECT_EQ(Raws(batch), (std::vector<std::string>{"new-1", "new-2", "new-3"}));
  EXPECT_TRUE(Drain(*t).empty());  // the first line appearing is not a second truncation
  EXPECT_EQ(t->stats().truncations, 1u);
  // After a restart the same lines keep their ids (the identity uses the new first line).
  Append("a.log", "new-4\n");
  CheckpointStore reloaded((dir_ / "cp.json").string());
  ASSERT_TRUE(reloaded.Load().ok());
  auto t2 = NewTailer(&reloaded);
  auto more = Drain(*t2);
  ASSERT_EQ(Raws(more), (std::vector<std::string>{"new-4"}));
  EXPECT_EQ(more[0].id.substr(0, 16), batch[0].id.substr(0, 16));
}

TEST_F(FileTailerTest, ADeletedFileReadToItsEndIsReleasedWithoutACommit) {
  Append("a.log", "one\n");
  Append("b.log", "two\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  EXPECT_EQ(Drain(*t).size(), 2u);
  fs::remove(dir_ / "a.log");
  t->Poll();  // a quiet tail loop: nothing to read, so nothing to commit
  EXPECT_EQ(t->stats().open_files, 1u);
  EXPECT_EQ(t->stats().draining_files, 0u);
  EXPECT_EQ(t->stats().held_files_released_unfinished, 0u);
}

TEST_F(FileTailerTest, ErrorsAreCountedOncePerFailureByKind) {
  input_.paths = {(dir_ / "*").string()};
  input_.exclude = {"cp.json*"};
  fs::create_directories(dir_ / "dir.log");
  ASSERT_EQ(::mkfifo((dir_ / "fifo.log").c_str(), 0644), 0);
  fs::create_symlink("/dev/null", dir_ / "null.log");
  Append("ok.log", "fine\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  auto kind = [&](TailError k) { return t->stats().errors_by_kind[static_cast<size_t>(k)]; };
  EXPECT_EQ(Raws(Drain(*t)), (std::vector<std::string>{"fine"}));  // several Polls
  t->Poll();
  EXPECT_EQ(kind(TailError::kNotRegular), 3u);
  EXPECT_EQ(t->stats().files_in_error, 3u);
  fs::remove(dir_ / "fifo.log");
  t->Poll();
  EXPECT_EQ(t->stats().files_in_error, 2u);
  ASSERT_EQ(::mkfifo((dir_ / "fifo.log").c_str(), 0644), 0);  // fails anew: counted anew
  t->Poll();
  EXPECT_EQ(kind(TailError::kNotRegular), 4u);
  EXPECT_EQ(t->stats().errors, 4u);
  // A followed file replaced by a directory: drained and released, then an error.
  fs::remove(dir_ / "ok.log");
  fs::create_directories(dir_ / "ok.log");
  Drain(*t);
  EXPECT_EQ(kind(TailError::kNotRegular), 5u);
  EXPECT_EQ(t->stats().open_files, 0u);
}

TEST_F(FileTailerTest, PerFileInfoReportsUnacknowledgedBytes) {
  Append("a.log", "12345\n");
  CheckpointStore store((dir_ / "cp.json").string());
  auto t = NewTailer(&store);
  t->Poll();
  std::vector<Event> batch;
  ASSERT_EQ(t->ReadBatch(10, 1 << 20, &batch), 1u);
  t->Poll();  // read, not acknowledged
  auto files = t->Files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].lag_bytes(), 6u);
  EXPECT_EQ(t->stats().lag_bytes, 6u);
  ASSERT_TRUE(t->Commit().ok());
  t->Poll();
  EXPECT_EQ(t->Files()[0].lag_bytes(), 0u);
  EXPECT_EQ(t->stats().lag_bytes, 0u);
}

}  // namespace
}  // namespace logship
