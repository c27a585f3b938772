// The shipper's pipelined publishing against a producer that fails on demand: batches
// are in flight together, a failed one is published again, and the checkpoint only ever
// covers acknowledged batches. (A fault-injecting producer: the real queues are covered
// by tests/pipeline_test and the queue tests.)
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "shipper/shipper.h"
#include "shipper/tail/checkpoint_store.h"

namespace logship {
namespace {

namespace fs = std::filesystem;

// Pipelines like the Kafka producer: Begin only records the batch; Finish decides.
class ScriptedProducer final : public EventProducer {
 public:
  explicit ScriptedProducer(std::set<int> failing_finishes) : failing_(std::move(failing_finishes)) {}

  Status Publish(std::span<const Event> items) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++publishes_;
    for (const Event& e : items) delivered_.push_back(e.id);
    return Status::Ok();
  }
  size_t max_in_flight() const override { return 3; }
  void Begin(std::span<const Event> items) override {
    std::lock_guard<std::mutex> lock(mu_);
    begun_.emplace_back(items.begin(), items.end());
    max_seen_in_flight_ = std::max(max_seen_in_flight_, begun_.size());
  }
  Status Finish() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Event> batch = std::move(begun_.front());
    begun_.pop_front();
    if (failing_.count(finishes_++) > 0) return Status::Retryable("injected: broker went away");
    for (const Event& e : batch) delivered_.push_back(e.id);
    return Status::Ok();
  }

  std::vector<std::string> delivered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }
  size_t max_seen_in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_seen_in_flight_;
  }
  int publishes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return publishes_;
  }

 private:
  mutable std::mutex mu_;
  std::set<int> failing_;
  std::deque<std::vector<Event>> begun_;
  std::vector<std::string> delivered_;
  int finishes_ = 0;
  int publishes_ = 0;
  size_t max_seen_in_flight_ = 0;
};

class PipelinedPublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pipelined_publish_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    config_.host = "host-a";
    config_.data_dir = (dir_ / "data").string();
    FileInputConfig in;
    in.paths = {(dir_ / "*.log").string()};
    in.type = "app";
    config_.shipper.files = {in};
    config_.shipper.host_metrics.enabled = false;
    config_.shipper.batch_max_events = 10;
    config_.shipper.poll_interval = Millis(5000);  // long: batches stay pipelined between polls
    std::ofstream out(dir_ / "a.log");
    for (int i = 0; i < kLines; ++i) out << "line " << i << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void RunUntilCaughtUp(ScriptedProducer& producer) {
    Shipper shipper(config_, &producer, nullptr);
    ASSERT_TRUE(shipper.Start().ok());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!shipper.CaughtUp() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(shipper.CaughtUp());
    shipper.Stop();
  }
  uint64_t CheckpointedOffset() {
    CheckpointStore store(config_.data_dir + "/shipper.checkpoints.json");
    EXPECT_TRUE(store.Load().ok());
    struct stat st;
    EXPECT_EQ(::stat((dir_ / "a.log").c_str(), &st), 0);
    const FileCheckpoint* cp = store.Find(std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino));
    return cp ? cp->offset : 0;
  }

  static constexpr int kLines = 1000;
  fs::path dir_;
  Config config_;
};

TEST_F(PipelinedPublishTest, EveryBatchArrivesAndSeveralAreInFlight) {
  ScriptedProducer producer({});
  RunUntilCaughtUp(producer);
  auto ids = producer.delivered();
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLines));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), static_cast<size_t>(kLines));
  EXPECT_EQ(producer.max_seen_in_flight(), 3u);
  EXPECT_EQ(CheckpointedOffset(), fs::file_size(dir_ / "a.log"));
}

TEST_F(PipelinedPublishTest, AFailedBatchIsPublishedAgainAndNothingIsLost) {
  // Finishes 4 and 5 fail: the oldest of a window and the one behind it.
  ScriptedProducer producer({4, 5, 30});
  RunUntilCaughtUp(producer);
  auto ids = producer.delivered();
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kLines)) << "lines lost";
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLines)) << "only the failed batches are sent again";
  EXPECT_GE(producer.publishes(), 3);
  EXPECT_EQ(CheckpointedOffset(), fs::file_size(dir_ / "a.log"));
}

}  // namespace
}  // namespace logship
