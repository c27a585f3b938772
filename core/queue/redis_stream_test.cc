#include "core/queue/redis_stream.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
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

  QueueConfig Queue() {
    QueueConfig q;
    q.redis = server_->client_config();
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
