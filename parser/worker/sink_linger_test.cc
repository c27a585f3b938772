// The worker gathers a batch for as long as the sink's batching().linger asks (ClickHouse,
// Elasticsearch), and writes at once when the sink asks for nothing (SQLite).
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "core/queue/in_process.h"
#include "parser/rules/rule_set.h"
#include "parser/worker/parser_worker.h"

namespace logship {
namespace {

class RecordingSink final : public EventSink {
 public:
  explicit RecordingSink(Millis linger) : linger_(linger) {}
  Status Write(std::span<const ParsedEvent> events) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!events.empty()) sizes_.push_back(events.size());
    return Status::Ok();
  }
  SinkBatching batching() const override { return {linger_}; }
  std::vector<size_t> sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return sizes_;
  }

 private:
  Millis linger_;
  std::mutex mu_;
  std::vector<size_t> sizes_;
};

// Publishes 10 events 20 ms apart and returns the sizes of the sink's writes.
std::vector<size_t> RunWithLinger(Millis linger) {
  auto rules = rules::LoadRuleSet({}, {});
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  InProcessQueue<Event> queue(InProcessQueueOptions{100, false});
  RecordingSink sink(linger);
  ParserConfig pc;
  pc.batch_max_events = 100;
  pc.batch_wait = Millis(20);
  ParserWorker worker(pc, rules.value(), &queue.consumer(), &sink, nullptr);
  worker.Start();
  for (int i = 0; i < 10; ++i) {
    Event e;
    e.id = "e" + std::to_string(i);
    e.raw = "line";
    EXPECT_TRUE(queue.producer().Publish(std::vector<Event>{e}).ok());
    std::this_thread::sleep_for(Millis(20));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (worker.stats().committed < 10 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(Millis(10));
  }
  worker.Stop();
  EXPECT_EQ(worker.stats().committed, 10u);
  return sink.sizes();
}

TEST(SinkLingerTest, GathersForTheLingerBeforeWriting) {
  std::vector<size_t> sizes = RunWithLinger(Millis(2000));
  ASSERT_FALSE(sizes.empty());
  EXPECT_EQ(sizes[0], 10u);  // 10 events over ~200 ms: one write
}

TEST(SinkLingerTest, WritesWhatOnePollGotWithoutALinger) {
  std::vector<size_t> sizes = RunWithLinger(Millis(0));
  EXPECT_GT(sizes.size(), 3u);
}

}  // namespace
}  // namespace logship
