#include "core/queue/in_process.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <thread>
#include <vector>

namespace logship {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<Event> MakeEvents(int n, int start = 0) {
  std::vector<Event> events;
  for (int i = start; i < start + n; ++i) {
    Event e;
    e.id = "e" + std::to_string(i);
    e.raw = "line " + std::to_string(i);
    events.push_back(e);
  }
  return events;
}

// Polls until `n` deliveries arrived or 10 s passed.
std::vector<Delivery<Event>> PollN(Consumer<Event>& c, size_t n) {
  std::vector<Delivery<Event>> all;
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (all.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto r = c.Poll(n - all.size(), milliseconds(200));
    EXPECT_TRUE(r.ok());
    for (auto& d : *r) all.push_back(std::move(d));
  }
  return all;
}

TEST(InProcessQueueTest, PublishWaitsUntilEveryItemIsAcked) {
  InProcessEventQueue q({.capacity = 100, .wait_for_ack = true});
  auto events = MakeEvents(3);
  auto published = std::async(std::launch::async, [&] {
    return q.producer().Publish(events);
  });
  auto got = PollN(q.consumer(), 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].value.id, "e0");
  EXPECT_EQ(got[2].value.raw, "line 2");
  EXPECT_EQ(q.in_flight(), 3u);

  // Delivered but not acked: Publish has not returned.
  EXPECT_EQ(published.wait_for(milliseconds(50)), std::future_status::timeout);
  ASSERT_TRUE(q.consumer().Ack(std::span(got).subspan(0, 2)).ok());
  EXPECT_EQ(published.wait_for(milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(q.in_flight(), 1u);
  // Acking twice does not count twice.
  ASSERT_TRUE(q.consumer().Ack(std::span(got).subspan(0, 2)).ok());
  EXPECT_EQ(published.wait_for(milliseconds(50)), std::future_status::timeout);

  ASSERT_TRUE(q.consumer().Ack(std::span(got).subspan(2, 1)).ok());
  ASSERT_EQ(published.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_TRUE(published.get().ok());
  EXPECT_EQ(q.in_flight(), 0u);
}

TEST(InProcessQueueTest, WithoutWaitForAckPublishReturnsOnceEnqueued) {
  InProcessSampleQueue q({.capacity = 10, .wait_for_ack = false});
  std::vector<Sample> samples(4);
  samples[0].name = "a";
  ASSERT_TRUE(q.producer().Publish(samples).ok());  // no consumer involved: must not block
  EXPECT_EQ(q.queued(), 4u);
  auto r = q.consumer().Poll(10, milliseconds(0));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].value.name, "a");
  EXPECT_EQ(q.queued(), 0u);
  EXPECT_EQ(q.in_flight(), 4u);  // delivered, not acked: still counts against capacity
  ASSERT_TRUE(q.consumer().Ack(*r).ok());
  EXPECT_EQ(q.in_flight(), 0u);
}

TEST(InProcessQueueTest, PublishBlocksWhileFullAndBatchesLargerThanCapacityPass) {
  InProcessEventQueue q({.capacity = 5, .wait_for_ack = false});
  auto events = MakeEvents(23);
  auto published = std::async(std::launch::async, [&] { return q.producer().Publish(events); });

  std::vector<Delivery<Event>> all;
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (all.size() < events.size() && std::chrono::steady_clock::now() < deadline) {
    auto r = q.consumer().Poll(100, milliseconds(200));
    ASSERT_TRUE(r.ok());
    EXPECT_LE(q.in_flight(), 5u);
    if (r->empty()) continue;
    EXPECT_LE(r->size(), 5u);  // never more than capacity in flight
    ASSERT_TRUE(q.consumer().Ack(*r).ok());
    for (auto& d : *r) all.push_back(std::move(d));
  }
  ASSERT_EQ(published.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_TRUE(published.get().ok());
  ASSERT_EQ(all.size(), 23u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].value.id, "e" + std::to_string(i));
}

TEST(InProcessQueueTest, PollWaitsForItems) {
  InProcessEventQueue q({.capacity = 10, .wait_for_ack = false});
  auto poll = std::async(std::launch::async, [&] { return q.consumer().Poll(10, seconds(30)); });
  auto events = MakeEvents(1);
  ASSERT_TRUE(q.producer().Publish(events).ok());
  ASSERT_EQ(poll.wait_for(seconds(10)), std::future_status::ready);  // woken, not timed out
  auto r = poll.get();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);

  auto start = std::chrono::steady_clock::now();
  auto empty = q.consumer().Poll(10, milliseconds(30));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(30));
}

TEST(InProcessQueueTest, CloseCancelsPublishersAndDrainsConsumers) {
  InProcessEventQueue q({.capacity = 2, .wait_for_ack = true});
  auto events = MakeEvents(3);  // more than capacity: blocks for space
  auto waiting_for_space = std::async(std::launch::async, [&] { return q.producer().Publish(events); });
  auto two = PollN(q.consumer(), 2);
  ASSERT_EQ(two.size(), 2u);

  q.Close();
  ASSERT_EQ(waiting_for_space.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(waiting_for_space.get().code(), StatusCode::kCancelled);
  EXPECT_EQ(q.producer().Publish(events).code(), StatusCode::kCancelled);

  // Ack still works after Close.
  EXPECT_TRUE(q.consumer().Ack(two).ok());
  EXPECT_EQ(q.in_flight(), 0u);
  // Nothing left: Poll returns empty at once instead of waiting.
  auto start = std::chrono::steady_clock::now();
  auto r = q.consumer().Poll(10, seconds(30));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST(InProcessQueueTest, CloseReturnsWhatIsLeftThenEmpty) {
  InProcessEventQueue q({.capacity = 10, .wait_for_ack = false});
  auto events = MakeEvents(3);
  ASSERT_TRUE(q.producer().Publish(events).ok());
  q.Close();
  auto r = q.consumer().Poll(2, seconds(30));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 2u);
  r = q.consumer().Poll(2, seconds(30));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 1u);
  r = q.consumer().Poll(2, seconds(30));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(InProcessQueueTest, CloseCancelsPublisherWaitingForAck) {
  InProcessEventQueue q({.capacity = 10, .wait_for_ack = true});
  auto events = MakeEvents(2);
  auto published = std::async(std::launch::async, [&] { return q.producer().Publish(events); });
  auto got = PollN(q.consumer(), 2);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(q.consumer().Ack(std::span(got).subspan(0, 1)).ok());
  q.Close();
  ASSERT_EQ(published.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(published.get().code(), StatusCode::kCancelled);
}

TEST(InProcessQueueTest, ManyProducersEveryItemExactlyOnceInPerProducerOrder) {
  InProcessEventQueue q({.capacity = 64, .wait_for_ack = true});
  constexpr int kProducers = 4, kPerProducer = 5000, kBatch = 50;
  std::vector<std::thread> producers;
  std::atomic<int> failures{0};
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      auto producer = q.NewProducer();
      for (int i = 0; i < kPerProducer; i += kBatch) {
        auto batch = MakeEvents(kBatch, i);
        for (auto& e : batch) e.host = std::to_string(p);
        if (!producer->Publish(batch).ok()) failures++;
      }
    });
  }
  std::map<std::string, int> last;  // host -> last index seen
  int received = 0;
  auto consumer = q.NewConsumer();
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (received < kProducers * kPerProducer && std::chrono::steady_clock::now() < deadline) {
    auto r = consumer->Poll(37, milliseconds(200));
    ASSERT_TRUE(r.ok());
    for (auto& d : *r) {
      int index = std::stoi(d.value.id.substr(1));
      auto it = last.find(d.value.host);
      if (it != last.end()) {
        EXPECT_EQ(index, it->second + 1) << d.value.host;
      }
      last[d.value.host] = index;
      ++received;
    }
    ASSERT_TRUE(consumer->Ack(*r).ok());
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(received, kProducers * kPerProducer);
  EXPECT_EQ(q.in_flight(), 0u);
}

}  // namespace
}  // namespace logship
