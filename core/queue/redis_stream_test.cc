#include "core/queue/redis_stream.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/redis/redis_client.h"
#include "tests/support/events.h"
#include "tests/support/redis_server.h"

namespace logship {
namespace {

using namespace std::string_literals;

using std::chrono::milliseconds;
using std::chrono::seconds;
using logship::testing::RedisServer;
using logship::testing::RedisServerOptions;

const std::string kStream = "test:events";

Event MakeEvent(int i) { return testing::MakeTestEvent(i); }

using testing::ExpectSameEvent;

std::vector<Event> MakeEvents(int begin, int end) {
  std::vector<Event> v;
  for (int i = begin; i < end; ++i) v.push_back(MakeEvent(i));
  return v;
}

// Polls until `n` deliveries arrived or 20 s passed.
template <class T>
std::vector<Delivery<T>> PollN(Consumer<T>& c, size_t n, size_t max = 1000) {
  std::vector<Delivery<T>> all;
  auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (all.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto r = c.Poll(std::min(max, n - all.size()), milliseconds(200));
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) break;
    for (auto& d : *r) all.push_back(std::move(d));
  }
  return all;
}

class RedisStreamTest : public ::testing::Test {
 protected:
  virtual RedisServerOptions Options() { return {}; }
  void SetUp() override {
    server_ = std::make_unique<RedisServer>(Options());
    ASSERT_TRUE(server_->Start().ok());
  }

  // One v1 entry per event unless a test asks for batched entries (entry counts, PELs and
  // dead letters below are per event).
  QueueConfig Queue() {
    QueueConfig q;
    q.redis = server_->client_config();
    q.redis.events_per_entry = 1;
    q.events_stream = kStream;
    q.metrics_stream = "test:metrics";
    return q;
  }
  std::unique_ptr<EventProducer> Producer() { return MakeRedisEventProducer(Queue()).value(); }
  std::unique_ptr<EventConsumer> Consumer(const std::string& name = "c1") {
    return MakeRedisEventConsumer(Queue(), "parsers", name).value();
  }
  RedisReply Cmd(const RedisArgs& args) {
    RedisClient client(server_->client_config());
    auto r = client.Command(args);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : RedisReply{};
  }
  int64_t PendingCount(const std::string& stream = kStream) {
    RedisReply r = Cmd({"XPENDING", stream, "parsers"});
    EXPECT_TRUE(r.is_array()) << r.str;
    return r.is_array() ? r.elements[0].integer : -1;
  }

  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisStreamTest, RoundTripTenThousandEventsWithEveryField) {
  auto producer = Producer();
  auto consumer = Consumer();
  constexpr int kEvents = 10000, kBatch = 2000;
  std::vector<Event> sent = MakeEvents(0, kEvents);
  ASSERT_TRUE(producer->Publish(std::span(sent).subspan(0, 1)).ok());  // connect first
  const QueueProbe probe = QueueProbe::For("redis", kStream);
  const double sent_before = probe.sent_events->Value();
  auto start = std::chrono::steady_clock::now();
  std::clock_t cpu_start = std::clock();
  for (int i = 0; i < kEvents; i += kBatch) {
    Status st = producer->Publish(std::span(sent).subspan(i, kBatch));
    ASSERT_TRUE(st.ok()) << st.message();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  // Wall time includes redis-server's own work; cpu is this process (encode, write, parse).
  std::printf("publish: %d events in %.3f s = %.0f events/s (client cpu %.3f s)\n", kEvents,
              secs, kEvents / secs, cpu);
  RecordProperty("publish_events_per_second", static_cast<int>(kEvents / secs));

  EXPECT_EQ(probe.sent_events->Value() - sent_before, kEvents);
  EXPECT_EQ(Cmd({"XLEN", kStream}).integer, kEvents + 1);
  auto first = PollN(*consumer, 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(consumer->Ack(first).ok());
  auto got = PollN(*consumer, kEvents);
  ASSERT_EQ(got.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    ExpectSameEvent(got[i].value, sent[i]);  // stream order is publish order
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_EQ(PendingCount(), kEvents);
  ASSERT_TRUE(consumer->Ack(got).ok());
  EXPECT_EQ(PendingCount(), 0);
  // Nothing more to read.
  auto more = consumer->Poll(10, milliseconds(10));
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->empty());
}

TEST_F(RedisStreamTest, AckRemovesExactlyTheAckedEntriesFromThePel) {
  auto producer = Producer();
  auto consumer = Consumer();
  auto sent = MakeEvents(0, 10);
  ASSERT_TRUE(producer->Publish(sent).ok());
  auto got = PollN(*consumer, 10);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(PendingCount(), 10);
  ASSERT_TRUE(consumer->Ack(std::span(got).subspan(0, 4)).ok());
  EXPECT_EQ(PendingCount(), 6);
  RedisReply detail = Cmd({"XPENDING", kStream, "parsers", "-", "+", "100"});
  ASSERT_TRUE(detail.is_array());
  ASSERT_EQ(detail.elements.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(detail.elements[i].elements[0].str, got[4 + i].queue_id);
    EXPECT_EQ(detail.elements[i].elements[1].str, "c1");
  }
}

TEST_F(RedisStreamTest, PendingEntriesAreRedeliveredToARestartedConsumerOfTheSameName) {
  auto producer = Producer();
  ASSERT_TRUE(producer->Publish(MakeEvents(0, 10)).ok());
  std::vector<std::string> first_ids;
  {
    auto consumer = Consumer("c1");
    auto got = PollN(*consumer, 5, 5);
    ASSERT_EQ(got.size(), 5u);
    for (auto& d : got) first_ids.push_back(d.queue_id);
    ASSERT_TRUE(consumer->Ack(std::span(got).subspan(0, 1)).ok());  // one acked, 4 pending
  }
  // Another consumer name does not see c1's pending entries, only new ones.
  {
    auto other = Consumer("c2");
    auto got = PollN(*other, 2, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].value.id, MakeEvent(5).id);
    ASSERT_TRUE(other->Ack(got).ok());
  }
  auto restarted = Consumer("c1");
  auto got = PollN(*restarted, 7, 3);  // small polls: pending ones must not repeat
  ASSERT_EQ(got.size(), 7u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(got[i].queue_id, first_ids[i + 1]);
    EXPECT_EQ(got[i].value.id, MakeEvent(static_cast<int>(i) + 1).id);
  }
  for (size_t i = 4; i < 7; ++i) EXPECT_EQ(got[i].value.id, MakeEvent(static_cast<int>(i) + 3).id);
  ASSERT_TRUE(restarted->Ack(got).ok());
  EXPECT_EQ(PendingCount(), 0);
}

TEST_F(RedisStreamTest, PlainTextEntryDecodesAsPlainEvent) {
  RedisReply id = Cmd({"XADD", kStream, "*", "msg", "hello"});
  ASSERT_TRUE(id.is_string());
  auto consumer = Consumer();
  auto got = PollN(*consumer, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].queue_id, id.str);
  EXPECT_EQ(got[0].value.raw, "hello");
  EXPECT_EQ(got[0].value.type, "plain");
  EXPECT_EQ(got[0].value.id, kStream + "/" + id.str);
  EXPECT_EQ(got[0].value.time_ns, std::stoll(id.str.substr(0, id.str.find('-'))) * 1'000'000);
}

TEST_F(RedisStreamTest, UndecodableEntryIsDeliveredTaggedAndTheConsumerGoesOn) {
  auto consumer = Consumer();
  ASSERT_TRUE(consumer->Poll(1, milliseconds(0)).ok());  // creates the group
  RedisReply bad = Cmd({"XADD", kStream, "*", "v", "99", "id", "x"});
  RedisReply missing = Cmd({"XADD", kStream, "*", "v", "1", "id", "y"});  // no host, msg...
  ASSERT_TRUE(Producer()->Publish(MakeEvents(0, 1)).ok());
  auto got = PollN(*consumer, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].value.type, "_undecodable");
  EXPECT_EQ(got[0].value.raw, "v=99 id=x");
  EXPECT_EQ(got[0].value.id, kStream + "/" + bad.str);
  EXPECT_EQ(got[1].value.type, "_undecodable");
  EXPECT_EQ(got[1].value.raw, "v=1 id=y");
  ExpectSameEvent(got[2].value, MakeEvent(0));
  EXPECT_EQ(static_cast<RedisEventConsumer&>(*consumer).undecodable(), 2u);
  ASSERT_TRUE(consumer->Ack(got).ok());
  EXPECT_EQ(PendingCount(), 0);
}

TEST_F(RedisStreamTest, WrongTypeIsPermanent) {
  Cmd({"SET", kStream, "not a stream"});
  Status st = Producer()->Publish(MakeEvents(0, 3));
  EXPECT_EQ(st.code(), StatusCode::kPermanent) << st.message();
  auto r = Consumer()->Poll(1, milliseconds(0));
  EXPECT_EQ(r.status().code(), StatusCode::kPermanent) << r.status().message();
}

TEST_F(RedisStreamTest, ConsumerSurvivesRestartWithoutPersistence) {
  auto producer = Producer();
  auto consumer = Consumer();
  ASSERT_TRUE(producer->Publish(MakeEvents(0, 2)).ok());
  auto got = PollN(*consumer, 2);
  ASSERT_EQ(got.size(), 2u);

  server_->Kill();
  auto down = consumer->Poll(10, milliseconds(100));
  EXPECT_EQ(down.status().code(), StatusCode::kRetryable);
  down = consumer->Poll(10, milliseconds(100));  // connection refused
  EXPECT_EQ(down.status().code(), StatusCode::kRetryable);
  // Ack while down is Retryable too (the caller keeps the deliveries).
  EXPECT_EQ(consumer->Ack(got).code(), StatusCode::kRetryable);

  ASSERT_TRUE(server_->Start().ok());  // empty: no stream, no group
  // The old PEL is gone with the group: acking it is not an error.
  EXPECT_TRUE(consumer->Ack(got).ok());
  // The producer's connection died with the server: Retryable once, then it reconnects.
  EXPECT_EQ(producer->Publish(MakeEvents(2, 5)).code(), StatusCode::kRetryable);
  ASSERT_TRUE(producer->Publish(MakeEvents(2, 5)).ok());  // the stream exists, no group
  auto after = PollN(*consumer, 3);  // NOGROUP -> recreated from 0
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0].value.id, MakeEvent(2).id);
  ASSERT_TRUE(consumer->Ack(after).ok());
  EXPECT_EQ(PendingCount(), 0);
}

class PersistentRedisStreamTest : public RedisStreamTest {
 protected:
  RedisServerOptions Options() override {
    RedisServerOptions options;
    options.persistent = true;
    return options;
  }
};

TEST_F(PersistentRedisStreamTest, RestartBetweenBatchesIsRetryableAndNothingIsMissing) {
  auto producer = Producer();
  ASSERT_TRUE(producer->Publish(MakeEvents(0, 2000)).ok());
  server_->Kill();
  auto batch = MakeEvents(2000, 4000);
  EXPECT_EQ(producer->Publish(batch).code(), StatusCode::kRetryable);  // dead connection
  EXPECT_EQ(producer->Publish(batch).code(), StatusCode::kRetryable);  // refused
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_TRUE(producer->Publish(batch).ok());

  auto consumer = Consumer();
  auto got = PollN(*consumer, 4000);
  ASSERT_EQ(got.size(), 4000u);
  for (int i = 0; i < 4000; ++i) ASSERT_EQ(got[i].value.id, MakeEvent(i).id);
}

TEST_F(PersistentRedisStreamTest, CrashDuringPublishLoopLosesNothingAcknowledged) {
  constexpr int kBatches = 40, kBatch = 2000;
  std::atomic<int> acked_batches{0};
  std::atomic<int> retryables{0};
  std::atomic<bool> failed{false};
  std::thread publisher([&] {
    auto producer = Producer();
    for (int b = 0; b < kBatches; ++b) {
      auto batch = MakeEvents(b * kBatch, (b + 1) * kBatch);
      auto deadline = std::chrono::steady_clock::now() + seconds(30);
      while (true) {
        Status st = producer->Publish(batch);
        if (st.ok()) break;
        if (!st.retryable() || std::chrono::steady_clock::now() > deadline) {
          failed = true;
          return;
        }
        retryables++;
        std::this_thread::sleep_for(milliseconds(20));  // the caller's backoff
      }
      acked_batches++;
    }
  });
  // Crash Redis while batches are in flight, then bring it back.
  while (acked_batches.load() < 3 && !failed.load()) std::this_thread::yield();
  server_->Kill();
  ASSERT_TRUE(server_->Start().ok());
  publisher.join();
  ASSERT_FALSE(failed.load());
  EXPECT_GE(retryables.load(), 1);
  std::printf("retryable publishes during the crash: %d\n", retryables.load());

  // Every event is in the stream at least once (a re-published batch may add duplicates).
  auto consumer = Consumer();
  std::set<std::string> ids;
  size_t total = static_cast<size_t>(Cmd({"XLEN", kStream}).integer);
  ASSERT_GE(total, static_cast<size_t>(kBatches * kBatch));
  auto got = PollN(*consumer, total, 5000);
  ASSERT_EQ(got.size(), total);
  for (auto& d : got) ids.insert(d.value.id);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kBatches * kBatch));
}

// Publishes `batches` the way the shipper's tail loop does: up to max_in_flight() begun
// before the oldest is finished; after a failed Finish the others are finished too and
// every failed batch is published again, in order, until it is taken (or 30 s passed).
// Returns the number of failed Finish/Publish calls, or -1 on a non-retryable failure.
int PublishLikeTheShipper(EventProducer& producer, const std::vector<std::vector<Event>>& batches,
                          const std::function<void(size_t)>& on_acked = {}) {
  int failures = 0;
  std::deque<size_t> in_flight;
  auto republish = [&](size_t b) {
    auto deadline = std::chrono::steady_clock::now() + seconds(30);
    for (;;) {
      Status st = producer.Publish(batches[b]);
      if (st.ok()) return true;
      ++failures;
      if (!st.retryable() || std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(20));
    }
  };
  auto finish_oldest = [&]() -> bool {
    Status st = producer.Finish();
    if (st.ok()) {
      if (on_acked) on_acked(in_flight.front());
      in_flight.pop_front();
      return true;
    }
    if (!st.retryable()) return false;
    ++failures;
    std::vector<bool> failed = {true};
    for (size_t i = 1; i < in_flight.size(); ++i) {
      Status later = producer.Finish();
      if (!later.ok() && !later.retryable()) return false;
      failures += later.ok() ? 0 : 1;
      failed.push_back(!later.ok());
    }
    for (size_t i = 0; i < in_flight.size(); ++i) {
      if (failed[i] && !republish(in_flight[i])) return false;
      if (on_acked) on_acked(in_flight[i]);
    }
    in_flight.clear();
    return true;
  };
  for (size_t b = 0; b < batches.size(); ++b) {
    if (in_flight.size() >= producer.max_in_flight() && !finish_oldest()) return -1;
    producer.Begin(batches[b]);
    in_flight.push_back(b);
  }
  while (!in_flight.empty()) {
    if (!finish_oldest()) return -1;
  }
  return failures;
}

std::vector<std::vector<Event>> MakeBatches(int count, int size) {
  std::vector<std::vector<Event>> batches;
  for (int b = 0; b < count; ++b) batches.push_back(MakeEvents(b * size, (b + 1) * size));
  return batches;
}

TEST_F(RedisStreamTest, PipelinedBatchesArriveInOrder) {
  auto producer = Producer();
  ASSERT_GT(producer->max_in_flight(), 1u);
  auto batches = MakeBatches(10, 1000);
  std::vector<size_t> acked;
  ASSERT_EQ(PublishLikeTheShipper(*producer, batches, [&](size_t b) { acked.push_back(b); }), 0);
  ASSERT_EQ(acked.size(), 10u);
  for (size_t i = 0; i < acked.size(); ++i) EXPECT_EQ(acked[i], i);
  EXPECT_EQ(Cmd({"XLEN", kStream}).integer, 10000);
  auto got = PollN(*Consumer(), 10000);
  ASSERT_EQ(got.size(), 10000u);
  for (int i = 0; i < 10000; ++i) {
    ExpectSameEvent(got[i].value, MakeEvent(i));
    if (::testing::Test::HasFailure()) break;
  }
}

TEST_F(RedisStreamTest, RejectedPipelinedBatchesFailEachInOrderAndTheConnectionStaysInStep) {
  auto producer = Producer();
  Cmd({"SET", kStream, "not a stream"});
  auto batches = MakeBatches(3, 200);
  for (const auto& b : batches) producer->Begin(b);
  for (size_t i = 0; i < batches.size(); ++i) EXPECT_EQ(producer->Finish().code(), StatusCode::kPermanent) << i;
  // Every reply of the rejected batches was read: the next one is answered on its own.
  Cmd({"DEL", kStream});
  producer->Begin(batches[0]);
  producer->Begin(batches[1]);
  EXPECT_TRUE(producer->Finish().ok());
  EXPECT_TRUE(producer->Finish().ok());
  EXPECT_EQ(Cmd({"XLEN", kStream}).integer, 400);
}

TEST_F(PersistentRedisStreamTest, KillWithBatchesInFlightFailsThemAllAndRepublishingLosesNothing) {
  auto producer = Producer();
  auto batches = MakeBatches(5, 500);
  ASSERT_TRUE(producer->Publish(batches[0]).ok());
  // Writes are held: the next batches reach Redis but none of them is executed, so no
  // reply can come back before the crash.
  Cmd({"CLIENT", "PAUSE", "30000", "WRITE"});
  for (size_t b = 1; b < batches.size(); ++b) producer->Begin(batches[b]);
  server_->Kill();
  ASSERT_TRUE(server_->Start().ok());
  for (size_t b = 1; b < batches.size(); ++b) {
    Status st = producer->Finish();
    EXPECT_EQ(st.code(), StatusCode::kRetryable) << b << ": " << st.message();
  }
  EXPECT_EQ(Cmd({"XLEN", kStream}).integer, 500);  // only what was acknowledged
  for (size_t b = 1; b < batches.size(); ++b) ASSERT_TRUE(producer->Publish(batches[b]).ok()) << b;
  auto got = PollN(*Consumer(), 2500);
  ASSERT_EQ(got.size(), 2500u);
  for (int i = 0; i < 2500; ++i) ASSERT_EQ(got[i].value.id, MakeEvent(i).id) << i;
}

TEST_F(RedisStreamTest, BatchesOfALostConnectionFailEvenAfterALaterBatchReconnected) {
  auto producer = Producer();
  auto batches = MakeBatches(3, 300);
  ASSERT_TRUE(producer->Publish(MakeEvents(0, 1)).ok());  // connected
  Cmd({"CLIENT", "PAUSE", "30000", "WRITE"});
  producer->Begin(batches[0]);
  producer->Begin(batches[1]);
  Cmd({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});  // drops the producer's connection
  Cmd({"CLIENT", "UNPAUSE"});
  EXPECT_EQ(producer->Finish().code(), StatusCode::kRetryable);  // notices the loss
  producer->Begin(batches[2]);  // on a new connection
  // batches[1] went out on the lost connection: the replies on the new one are not its.
  EXPECT_EQ(producer->Finish().code(), StatusCode::kRetryable);
  EXPECT_TRUE(producer->Finish().ok());
  EXPECT_EQ(Cmd({"XLEN", kStream}).integer, 1 + 300);
}

TEST_F(PersistentRedisStreamTest, CrashDuringPipelinedPublishingLosesNothing) {
  constexpr int kBatches = 40, kBatch = 2000;
  const auto batches = MakeBatches(kBatches, kBatch);
  std::atomic<int> acked{0};
  std::atomic<int> failures{0};
  std::set<size_t> acked_batches;
  std::mutex mu;
  std::thread publisher([&] {
    auto producer = Producer();
    failures = PublishLikeTheShipper(*producer, batches, [&](size_t b) {
      std::lock_guard<std::mutex> lock(mu);
      acked_batches.insert(b);
      acked++;
    });
  });
  // Crash Redis while batches are in flight, then bring it back.
  while (acked.load() < 3) std::this_thread::yield();
  server_->Kill();
  ASSERT_TRUE(server_->Start().ok());
  publisher.join();
  ASSERT_GE(failures.load(), 1) << "the crash was not noticed";
  std::printf("failed finishes/publishes during the crash: %d\n", failures.load());
  EXPECT_EQ(acked_batches.size(), static_cast<size_t>(kBatches));

  std::set<std::string> ids;
  size_t total = static_cast<size_t>(Cmd({"XLEN", kStream}).integer);
  ASSERT_GE(total, static_cast<size_t>(kBatches * kBatch));
  auto got = PollN(*Consumer(), total, 5000);
  ASSERT_EQ(got.size(), total);
  for (auto& d : got) ids.insert(d.value.id);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kBatches * kBatch));
}

TEST_F(RedisStreamTest, SamplesRoundTripAndEntryAckedWhenAllItsSamplesAre) {
  auto producer = MakeRedisSampleProducer(Queue()).value();
  auto consumer = MakeRedisSampleConsumer(Queue(), "alerters", "a1").value();
  std::vector<Sample> batch;
  for (int i = 0; i < 5; ++i) {
    Sample s;
    s.name = "cpu_seconds_total";
    s.labels = {{"cpu", std::to_string(i)}, {"host", "h\"1"}};
    s.time_ms = 1'700'000'000'000 + i;
    s.value = 1.5 * i;
    batch.push_back(s);
  }
  ASSERT_TRUE(producer->Publish(batch).ok());
  ASSERT_TRUE(producer->Publish(std::span(batch).subspan(0, 2)).ok());
  ASSERT_TRUE(producer->Publish(std::span<const Sample>()).ok());  // nothing
  RedisClient raw(server_->client_config());
  EXPECT_EQ(raw.Command({"XLEN", "test:metrics"})->integer, 2);
  ASSERT_TRUE(raw.Command({"XADD", "test:metrics", "*", "v", "1", "samples", "not a sample"}).ok());

  auto first = consumer->Poll(3, seconds(1));  // 3 of the first entry's 5
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 3u);
  auto rest = PollN(*consumer, 4);
  ASSERT_EQ(rest.size(), 4u);
  EXPECT_EQ((*first)[0].value.name, "cpu_seconds_total");
  EXPECT_EQ((*first)[1].value.labels, batch[1].labels);
  EXPECT_EQ((*first)[2].value.value, 3.0);
  EXPECT_EQ((*first)[2].value.time_ms, batch[2].time_ms);
  EXPECT_EQ(rest[1].value.value, 6.0);  // sample 4 of the first entry
  EXPECT_EQ(rest[2].queue_id, rest[3].queue_id);
  EXPECT_NE(rest[1].queue_id, rest[2].queue_id);
  EXPECT_EQ(static_cast<RedisSampleConsumer&>(*consumer).undecodable(), 1u);

  auto pending = [&] { return raw.Command({"XPENDING", "test:metrics", "alerters"})->elements[0].integer; };
  EXPECT_EQ(pending(), 2);  // the undecodable entry was acked at once
  ASSERT_TRUE(consumer->Ack(*first).ok());
  EXPECT_EQ(pending(), 2);  // 2 samples of the first entry still unacked
  ASSERT_TRUE(consumer->Ack(std::span(rest).subspan(0, 2)).ok());
  EXPECT_EQ(pending(), 1);
  ASSERT_TRUE(consumer->Ack(std::span(rest).subspan(2, 2)).ok());
  EXPECT_EQ(pending(), 0);
}

TEST(RedisStreamAuthTest, ProducerAndConsumerAuthenticateWithAclUser) {
  RedisServerOptions options;
  options.acl_user = "logship";
  options.acl_password = "pw-acl";
  options.requirepass = "pw-default";
  RedisServer server(options);
  ASSERT_TRUE(server.Start().ok());
  QueueConfig q;
  q.redis = server.client_config();
  q.redis.db = 2;
  auto producer = MakeRedisEventProducer(q).value();
  auto consumer = MakeRedisEventConsumer(q, "g", "c").value();
  ASSERT_TRUE(producer->Publish(MakeEvents(0, 3)).ok());
  auto got = PollN(*consumer, 3);
  ASSERT_EQ(got.size(), 3u);
  ExpectSameEvent(got[2].value, MakeEvent(2));
  ASSERT_TRUE(consumer->Ack(got).ok());

  q.redis.password.value = "wrong";
  auto bad = MakeRedisEventProducer(q).value();
  Status st = bad->Publish(MakeEvents(0, 1));
  EXPECT_EQ(st.code(), StatusCode::kPermanent);
  EXPECT_EQ(st.message().find("wrong"), std::string::npos) << st.message();
}

// ---- batched entries, claims, dead letters, consumer expiry, list import ----

class RedisGroupTest : public RedisStreamTest {
 protected:
  std::unique_ptr<EventConsumer> ConsumerWith(const QueueConfig& q, const std::string& name) {
    return MakeRedisEventConsumer(q, "parsers", name).value();
  }
  // XPENDING detail: id -> {consumer, deliveries}.
  std::map<std::string, std::pair<std::string, int64_t>> PendingDetail(const std::string& stream = kStream) {
    std::map<std::string, std::pair<std::string, int64_t>> out;
    RedisReply r = Cmd({"XPENDING", stream, "parsers", "-", "+", "1000"});
    for (const RedisReply& e : r.elements) out[e.elements[0].str] = {e.elements[1].str, e.elements[3].integer};
    return out;
  }
  std::map<std::string, std::string> EntryFields(const RedisReply& entry) {
    std::map<std::string, std::string> f;
    const RedisReply& kv = entry.elements[1];
    for (size_t i = 0; i + 1 < kv.elements.size(); i += 2) f[kv.elements[i].str] = kv.elements[i + 1].str;
    return f;
  }
  std::vector<std::string> ConsumerNames() {
    std::vector<std::string> names;
    RedisReply r = Cmd({"XINFO", "CONSUMERS", kStream, "parsers"});
    for (const RedisReply& c : r.elements) {
      for (size_t i = 0; i + 1 < c.elements.size(); i += 2) {
        if (c.elements[i].str == "name") names.push_back(c.elements[i + 1].str);
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST_F(RedisGroupTest, BatchedEntriesCarryEveryEventAndAreAckedWhenAllTheirEventsAre) {
  QueueConfig q = Queue();
  q.redis.events_per_entry = 100;
  auto producer = MakeRedisEventProducer(q).value();
  const QueueProbe probe = QueueProbe::For("redis", kStream);
  const double sent_before = probe.sent_events->Value();
  std::vector<Event> sent = MakeEvents(0, 1000);
  ASSERT_TRUE(producer->Publish(sent).ok());
  EXPECT_EQ(probe.sent_events->Value() - sent_before, 1000);
  EXPECT_EQ(Cmd({"XLEN", kStream}).integer, 10);  // 100 events per entry
  RedisReply first = Cmd({"XRANGE", kStream, "-", "+", "COUNT", "1"});
  ASSERT_EQ(first.elements.size(), 1u);
  auto fields = EntryFields(first.elements[0]);
  EXPECT_EQ(fields["v"], "2");
  EXPECT_EQ(fields["n"], "100");
  EXPECT_EQ(fields["enc"], "zlib");
  // A v1 entry between batched ones is delivered too.
  ASSERT_TRUE(Producer()->Publish(MakeEvents(1000, 1001)).ok());
  sent.push_back(MakeEvent(1000));

  auto consumer = ConsumerWith(q, "c1");
  auto got = PollN(*consumer, 1001, 250);  // Poll(250): entries are split across Polls
  ASSERT_EQ(got.size(), 1001u);
  for (size_t i = 0; i < sent.size(); ++i) {
    ExpectSameEvent(got[i].value, sent[i]);
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_EQ(got[0].queue_id, got[99].queue_id);
  EXPECT_NE(got[99].queue_id, got[100].queue_id);
  EXPECT_EQ(PendingCount(), 11);
  // An entry is acknowledged only once every one of its events is.
  ASSERT_TRUE(consumer->Ack(std::span(got).subspan(0, 150)).ok());
  EXPECT_EQ(PendingCount(), 10);
  ASSERT_TRUE(consumer->Ack(std::span(got).subspan(150, 849)).ok());  // up to event 998
  EXPECT_EQ(PendingCount(), 2);                                      // entry 10 (one left), the v1 one
  ASSERT_TRUE(consumer->Ack(std::span(got).subspan(1000, 1)).ok());
  EXPECT_EQ(PendingCount(), 1);
  ASSERT_TRUE(consumer->Ack(std::span(got).subspan(999, 1)).ok());
  EXPECT_EQ(PendingCount(), 0);
  // Acknowledging again (a retried Ack) is harmless.
  EXPECT_TRUE(consumer->Ack(std::span(got).subspan(0, 10)).ok());
}

TEST_F(RedisGroupTest, BatchedEntryRedeliveredAfterACrashKeepsItsEventIds) {
  QueueConfig q = Queue();
  q.redis.events_per_entry = 50;
  ASSERT_TRUE(MakeRedisEventProducer(q).value()->Publish(MakeEvents(0, 120)).ok());
  std::vector<std::string> ids;
  {
    auto c = ConsumerWith(q, "c1");
    auto got = PollN(*c, 70, 70);
    ASSERT_EQ(got.size(), 70u);
    ASSERT_TRUE(c->Ack(got).ok());  // entry 1 complete, entry 2 has 20 of 50 acked
    EXPECT_EQ(PendingCount(), 2);
  }
  auto c = ConsumerWith(q, "c1");  // the same name after a crash: entry 2 again, whole
  auto got = PollN(*c, 70, 1000);
  ASSERT_EQ(got.size(), 70u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].value.id, MakeEvent(50 + static_cast<int>(i)).id);
  ASSERT_TRUE(c->Ack(got).ok());
  EXPECT_EQ(PendingCount(), 0);
}

TEST_F(RedisGroupTest, CorruptBatchedEntryIsDeliveredAsUndecodable) {
  auto consumer = Consumer();
  ASSERT_TRUE(consumer->Poll(1, milliseconds(0)).ok());
  RedisReply bad = Cmd({"XADD", kStream, "*", "v", "2", "n", "3", "enc", "zlib", "events", "not zlib"});
  auto got = PollN(*consumer, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].value.type, "_undecodable");
  EXPECT_EQ(got[0].value.id, kStream + "/" + bad.str);
  ASSERT_TRUE(consumer->Ack(got).ok());
  EXPECT_EQ(PendingCount(), 0);
}

TEST_F(RedisGroupTest, EntriesOfADeadConsumerAreClaimedOnceIdle) {
  QueueConfig q = Queue();
  q.redis.claim_idle = milliseconds(400);
  q.redis.claim_interval = milliseconds(50);
  ASSERT_TRUE(Producer()->Publish(MakeEvents(0, 10)).ok());
  const QueueProbe probe = QueueProbe::For("redis", kStream);
  const double claimed_before = probe.claimed->Value();
  auto read_at = std::chrono::steady_clock::now();
  {
    auto dead = ConsumerWith(q, "dead");
    ASSERT_EQ(PollN(*dead, 10).size(), 10u);  // and never acknowledged
  }
  auto live = ConsumerWith(q, "live");
  auto early = live->Poll(100, milliseconds(0));
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty()) << "claimed before claim_idle passed";
  auto got = PollN(*live, 10, 100);
  auto waited = std::chrono::steady_clock::now() - read_at;
  ASSERT_EQ(got.size(), 10u);
  EXPECT_GE(waited, milliseconds(400));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i].value.id, MakeEvent(i).id);
  EXPECT_EQ(probe.claimed->Value() - claimed_before, 10);
  for (const auto& [id, owner] : PendingDetail()) {
    EXPECT_EQ(owner.first, "live") << id;
    EXPECT_EQ(owner.second, 2) << id;  // delivered twice
  }
  ASSERT_TRUE(live->Ack(got).ok());
  EXPECT_EQ(PendingCount(), 0);
}

TEST_F(RedisGroupTest, EntryDeliveredTooOftenGoesToTheDeadLetterStream) {
  QueueConfig q = Queue();
  q.redis.max_deliveries = 2;
  q.redis.claim_idle = milliseconds(100);
  q.redis.claim_interval = milliseconds(20);
  ASSERT_TRUE(Producer()->Publish(MakeEvents(0, 3)).ok());
  const QueueProbe probe = QueueProbe::For("redis", kStream);
  const double dead_before = probe.dead_lettered->Value();
  std::string poison_entry;
  {  // Delivery 1: event 0 "kills" its parser (never acknowledged); 1 and 2 are fine.
    auto c = ConsumerWith(q, "c1");
    auto got = PollN(*c, 3);
    ASSERT_EQ(got.size(), 3u);
    poison_entry = got[0].queue_id;
    ASSERT_TRUE(c->Ack(std::span(got).subspan(1)).ok());
  }
  {  // Delivery 2: the restarted parser (same name) gets it from its pending entries.
    auto c = ConsumerWith(q, "c1");
    auto got = PollN(*c, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].queue_id, poison_entry);
  }
  // Delivery 3 would be a claim by another parser: it goes to the dead-letter stream.
  auto other = ConsumerWith(q, "c2");
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (Cmd({"XLEN", kStream + ":dead"}).integer == 0 && std::chrono::steady_clock::now() < deadline) {
    auto r = other->Poll(10, milliseconds(20));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->empty());
  }
  RedisReply dead = Cmd({"XRANGE", kStream + ":dead", "-", "+"});
  ASSERT_EQ(dead.elements.size(), 1u);
  auto f = EntryFields(dead.elements[0]);
  EXPECT_EQ(f["dead_id"], poison_entry);
  EXPECT_EQ(f["dead_stream"], kStream);
  EXPECT_EQ(f["dead_group"], "parsers");
  EXPECT_EQ(f["dead_deliveries"], "3");
  EXPECT_NE(f["dead_reason"].find("3 times"), std::string::npos) << f["dead_reason"];
  // The original fields are kept, so the entry can be replayed as it was.
  EXPECT_EQ(f["v"], "1");
  EXPECT_EQ(f["id"], MakeEvent(0).id);
  EXPECT_EQ(f["msg"], MakeEvent(0).raw);
  EXPECT_EQ(PendingCount(), 0);
  EXPECT_EQ(probe.dead_lettered->Value() - dead_before, 1);

  // The same for a parser that keeps dying on its own pending entry; custom stream name.
  q.redis.max_deliveries = 1;
  q.redis.dead_letter_stream = "poison";
  ASSERT_TRUE(Producer()->Publish(MakeEvents(3, 4)).ok());
  ASSERT_EQ(PollN(*ConsumerWith(q, "c3"), 1).size(), 1u);
  auto again = ConsumerWith(q, "c3")->Poll(10, milliseconds(0));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(Cmd({"XLEN", "poison"}).integer, 1);
  EXPECT_EQ(PendingCount(), 0);
}

TEST_F(RedisGroupTest, IdleConsumersWithNothingPendingAreRemoved) {
  QueueConfig q = Queue();
  q.redis.consumer_expiry = milliseconds(1000);
  q.redis.claim_interval = milliseconds(20);
  q.redis.claim_idle = std::chrono::hours(1);  // "busy" keeps its pending entry
  ASSERT_TRUE(Producer()->Publish(MakeEvents(0, 2)).ok());
  {
    auto old = ConsumerWith(q, "old");
    auto got = PollN(*old, 1, 1);
    ASSERT_TRUE(old->Ack(got).ok());
    auto busy = ConsumerWith(q, "busy");
    ASSERT_EQ(PollN(*busy, 1, 1).size(), 1u);
  }
  const auto old_seen = std::chrono::steady_clock::now();
  const QueueProbe probe = QueueProbe::For("redis", kStream);
  const double removed_before = probe.consumers_removed->Value();
  auto live = ConsumerWith(q, "live");
  ASSERT_TRUE(live->Poll(10, milliseconds(0)).ok());
  if (std::chrono::steady_clock::now() - old_seen < milliseconds(500)) {
    EXPECT_EQ(ConsumerNames(), (std::vector<std::string>{"busy", "live", "old"}));  // not idle long enough yet
  }
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (ConsumerNames().size() == 3 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(live->Poll(10, milliseconds(20)).ok());
  }
  EXPECT_EQ(ConsumerNames(), (std::vector<std::string>{"busy", "live"}));
  EXPECT_EQ(probe.consumers_removed->Value() - removed_before, 1);
  EXPECT_EQ(PendingCount(), 1);  // busy's entry is still there
}

TEST_F(RedisGroupTest, OmhiredisListItemsAreImportedOnceInPushOrder) {
  for (const std::string push : {"lpush", "rpush"}) {
    SCOPED_TRACE(push);
    QueueConfig q = Queue();
    q.events_stream = "import:" + push;
    q.redis.import_lists = {"rsyslog:" + push, "empty:" + push};
    q.redis.import_push = push;
    // What omhiredis mode="queue" sends: one RPUSH/LPUSH per message, the template's text.
    RedisClient client(server_->client_config());
    std::vector<std::string> lines;
    std::vector<RedisArgs> pushes;
    for (int i = 0; i < 2500; ++i) lines.push_back("<13>Jan  1 00:00:00 host app[1]: line " + std::to_string(i));
    for (const auto& l : lines) pushes.push_back({push == "lpush" ? "LPUSH" : "RPUSH", "rsyslog:" + push, l});
    ASSERT_TRUE(client.Pipeline(pushes).ok());
    std::vector<std::string> ids;
    {
      auto c = ConsumerWith(q, "c1");
      auto got = PollN(*c, 2500, 1000);
      ASSERT_EQ(got.size(), 2500u);
      for (int i = 0; i < 2500; ++i) {
        EXPECT_EQ(got[i].value.raw, lines[i]);
        EXPECT_EQ(got[i].value.type, "plain");
        EXPECT_EQ(got[i].value.id, q.events_stream + "/" + got[i].queue_id);
        ids.push_back(got[i].value.id);
        if (::testing::Test::HasFailure()) return;
      }
      EXPECT_EQ(Cmd({"LLEN", "rsyslog:" + push}).integer, 0);
      EXPECT_EQ(Cmd({"XLEN", q.events_stream}).integer, 2500);
      ASSERT_TRUE(c->Ack(std::span(got).subspan(0, 2000)).ok());
    }
    // A restart redelivers the unacknowledged rest with the same ids: a replay dedupes.
    auto c = ConsumerWith(q, "c1");
    auto again = PollN(*c, 500, 1000);
    ASSERT_EQ(again.size(), 500u);
    for (int i = 0; i < 500; ++i) EXPECT_EQ(again[i].value.id, ids[2000 + i]);
    ASSERT_TRUE(c->Ack(again).ok());
    EXPECT_EQ(PendingCount(q.events_stream), 0);
  }
}

TEST_F(RedisGroupTest, PipelinedBatchedEntriesArriveInOrder) {
  QueueConfig q = Queue();
  q.redis.events_per_entry = 100;
  auto producer = MakeRedisEventProducer(q).value();
  ASSERT_EQ(PublishLikeTheShipper(*producer, MakeBatches(8, 1000)), 0);
  EXPECT_EQ(Cmd({"XLEN", kStream}).integer, 80);
  auto got = PollN(*Consumer(), 8000);
  ASSERT_EQ(got.size(), 8000u);
  for (int i = 0; i < 8000; ++i) {
    ExpectSameEvent(got[i].value, MakeEvent(i));
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(RedisStreamFactoryTest, RejectsBadConfig) {
  QueueConfig q;
  q.events_stream = "";
  EXPECT_EQ(MakeRedisEventProducer(q).status().code(), StatusCode::kInvalidArgument);
  q = QueueConfig();
  q.redis.port = 0;
  EXPECT_EQ(MakeRedisSampleProducer(q).status().code(), StatusCode::kInvalidArgument);
  q = QueueConfig();
  EXPECT_EQ(MakeRedisEventConsumer(q, "", "c").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeRedisSampleConsumer(q, "g", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(MakeRedisEventConsumer(q, "g", "c").ok());  // no I/O: nothing listens, still Ok
}

}  // namespace
}  // namespace logship
