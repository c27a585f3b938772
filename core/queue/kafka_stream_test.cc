#include "core/queue/kafka_stream.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "tests/support/events.h"
#include "tests/support/kafka_broker.h"

namespace logship {
namespace {

using namespace std::string_literals;

using logship::testing::KafkaBroker;
using logship::testing::KafkaBrokerOptions;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kTopic = "events";

Event MakeEvent(int i) { return testing::MakeTestEvent(i); }

std::vector<Event> MakeEvents(int begin, int end) {
  std::vector<Event> v;
  for (int i = begin; i < end; ++i) v.push_back(MakeEvent(i));
  return v;
}

using testing::ExpectSameEvent;

// Polls until `n` deliveries arrived or 30 s passed (the first poll joins the group).
template <class T>
std::vector<Delivery<T>> PollN(Consumer<T>& c, size_t n, size_t max = 1000) {
  std::vector<Delivery<T>> all;
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (all.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto r = c.Poll(std::min(max, n - all.size()), milliseconds(200));
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) break;
    for (auto& d : *r) all.push_back(std::move(d));
  }
  return all;
}

// Polls until a poll of `quiet` returns nothing.
template <class T>
std::vector<Delivery<T>> Drain(Consumer<T>& c, milliseconds quiet = milliseconds(1500)) {
  std::vector<Delivery<T>> all;
  for (;;) {
    auto r = c.Poll(1000, quiet);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok() || r->empty()) return all;
    for (auto& d : *r) all.push_back(std::move(d));
  }
}

// Runs a shell command and returns its stdout.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

class KafkaStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KafkaBrokerOptions options;
    options.topics = {kTopic + ":4", "metrics:1"};
    broker_ = std::make_unique<KafkaBroker>(options);
    Status st = broker_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
  }

  QueueConfig Queue(milliseconds timeout = milliseconds(10000)) {
    QueueConfig q;
    q.type = "kafka";
    q.kafka.brokers = broker_->bootstrap();
    q.kafka.timeout = timeout;
    q.events_stream = kTopic;
    q.metrics_stream = "metrics";
    return q;
  }
  // The mock's group coordinator rebalances after a member left only once the session
  // timeout has passed; the smallest a real broker allows keeps restarts quick.
  QueueConfig ConsumerQueue() {
    QueueConfig q = Queue();
    q.kafka.properties["session.timeout.ms"] = "6000";
    return q;
  }
  std::unique_ptr<EventProducer> Producer(milliseconds timeout = milliseconds(10000)) {
    return MakeKafkaEventProducer(Queue(timeout)).value();
  }
  std::unique_ptr<EventConsumer> Consumer(const std::string& name = "c1") {
    return MakeKafkaEventConsumer(ConsumerQueue(), "parsers", name).value();
  }
  // Sends the line "broken" to partition 1 with kcat's key/header options `kcat_args`;
  // the consumer must deliver it as one _undecodable event whose raw is `raw`.
  void ExpectBrokenMessageUndecodable(const std::string& kcat_args, const std::string& raw) {
    std::string out = Shell("printf 'broken\\n' | timeout 30 kcat -P -b " + broker_->bootstrap() + " -t " +
                            kTopic + " -p 1 " + kcat_args + " 2>&1; echo rc=$?");
    ASSERT_NE(out.find("rc=0"), std::string::npos) << out;
    auto consumer = std::make_unique<KafkaEventConsumer>(ConsumerQueue().kafka, kTopic, "parsers", "c1");
    auto got = PollN<Event>(*consumer, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].value.type, "_undecodable");
    EXPECT_EQ(got[0].value.id, kTopic + "/1/0");
    EXPECT_EQ(got[0].value.raw, raw);
    EXPECT_EQ(consumer->undecodable(), 1u);
  }

  std::unique_ptr<KafkaBroker> broker_;
};

TEST_F(KafkaStreamTest, RoundTripTenThousandEventsWithEveryField) {
  auto producer = Producer();
  constexpr int kEvents = 10000, kBatch = 2000;
  std::vector<Event> sent = MakeEvents(0, kEvents);
  const QueueProbe probe = QueueProbe::For("kafka", kTopic);
  const double sent_before = probe.sent_events->Value();
  auto start = std::chrono::steady_clock::now();
  std::clock_t cpu_start = std::clock();
  for (int i = 0; i < kEvents; i += kBatch) {
    Status st = producer->Publish(std::span(sent).subspan(i, kBatch));
    ASSERT_TRUE(st.ok()) << st.message();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  // Includes connecting, the idempotent producer id, and the mock's own work.
  std::printf("publish: %d events in %.3f s = %.0f events/s (client cpu %.3f s)\n", kEvents, secs,
              kEvents / secs, cpu);
  RecordProperty("publish_events_per_second", static_cast<int>(kEvents / secs));
  EXPECT_EQ(probe.sent_events->Value() - sent_before, kEvents);

  auto consumer = Consumer();
  auto got = PollN(*consumer, kEvents);
  ASSERT_EQ(got.size(), static_cast<size_t>(kEvents));
  std::map<std::string, const Event*> by_id;
  for (const Event& e : sent) by_id[e.id] = &e;
  // Lines of one source share a key, hence a partition, and keep their order in it.
  std::map<std::string, std::pair<std::string, uint64_t>> last_of_source;  // key -> (partition, offset)
  std::set<std::string> seen;
  std::set<int32_t> partitions_used;
  for (const auto& d : got) {
    auto it = by_id.find(d.value.id);
    ASSERT_NE(it, by_id.end()) << d.value.id;
    ExpectSameEvent(d.value, *it->second);
    EXPECT_TRUE(seen.insert(d.value.id).second) << "duplicate " << d.value.id;
    auto pos = ParseKafkaQueueId(d.queue_id);
    ASSERT_TRUE(pos.has_value()) << d.queue_id;
    std::string key = d.value.host + ":" + d.value.source;
    // The partition librdkafka's default partitioner (consistent_random) gives the key, as
    // any other producer of this topic would: the producer only remembers it between messages.
    EXPECT_EQ(pos->partition, rd_kafka_msg_partitioner_consistent_random(nullptr, key.data(), key.size(), 4,
                                                                         nullptr, nullptr))
        << key;
    partitions_used.insert(pos->partition);
    auto [prev, fresh] = last_of_source.try_emplace(key, std::to_string(pos->partition), d.value.offset);
    if (!fresh) {
      EXPECT_EQ(prev->second.first, std::to_string(pos->partition)) << key;
      EXPECT_LT(prev->second.second, d.value.offset) << key << " out of order";
      prev->second.second = d.value.offset;
    }
  }
  EXPECT_GT(partitions_used.size(), 1u) << "three sources, four partitions: expected a spread";
  EXPECT_TRUE(consumer->Ack(got).ok());
}

TEST_F(KafkaStreamTest, PlainKafkaConsumerSeesRawLinesAndOurFieldsAsHeaders) {
  auto producer = Producer();
  std::vector<Event> sent;
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    Event e = MakeEvent(i);
    e.raw = "GET /index.html 200 " + std::to_string(i);
    expected += e.raw + "\n";
    sent.push_back(std::move(e));
  }
  ASSERT_TRUE(producer->Publish(sent).ok());
  // One partition at a time: kcat prints partitions in no fixed order.
  std::multiset<std::string> got_lines;
  std::string out = Shell("timeout 30 kcat -C -q -b " + broker_->bootstrap() + " -t " + kTopic +
                        " -e -f '%s\\n'");
  size_t begin = 0;
  for (size_t nl; (nl = out.find('\n', begin)) != std::string::npos; begin = nl + 1) {
    got_lines.insert(out.substr(begin, nl - begin));
  }
  std::multiset<std::string> want_lines;
  for (const Event& e : sent) want_lines.insert(e.raw);
  EXPECT_EQ(got_lines, want_lines) << out;
  // Key, headers and timestamp of one message, as any Kafka client sees them: the fields
  // other than the line travel in one (binary) header, "e"; the message timestamp is the
  // event's time in ms.
  std::string first = Shell("timeout 30 kcat -C -q -b " + broker_->bootstrap() + " -t " + kTopic +
                          " -e -f '%k|%T|%s|%h\\n' | grep -aF '|GET /index.html 200 3|'");
  EXPECT_EQ(first.rfind("host-3:/var/log/app/0.log|1700000000000|GET /index.html 200 3|e=", 0), 0u) << first;
  EXPECT_EQ(first.find(",v="), std::string::npos) << first;  // one header only
}

TEST_F(KafkaStreamTest, MessagesWithTheV1HeadersOfEarlierShippersStillDecode) {
  // What a shipper before the "e" header produced: the v1 fields as headers.
  std::string out = Shell("printf 'GET / 200\\n' | timeout 30 kcat -P -b " + broker_->bootstrap() + " -t " +
                        kTopic + " -p 3 -k 'web-1:/var/log/a.log' -H v=1 -H id=0123456789abcdef:7 " +
                        "-H time=1700000000000000007 -H host=web-1 -H source=/var/log/a.log -H type=nginx " +
                        "-H offset=7 2>&1; echo rc=$?");
  ASSERT_NE(out.find("rc=0"), std::string::npos) << out;
  auto consumer = Consumer();
  auto got = PollN(*consumer, 1);
  ASSERT_EQ(got.size(), 1u);
  const Event& e = got[0].value;
  EXPECT_EQ(e.id, "0123456789abcdef:7");
  EXPECT_EQ(e.time_ns, 1700000000000000007);
  EXPECT_EQ(e.host, "web-1");
  EXPECT_EQ(e.source, "/var/log/a.log");
  EXPECT_EQ(e.type, "nginx");
  EXPECT_EQ(e.offset, 7u);
  EXPECT_EQ(e.raw, "GET / 200");
}

TEST_F(KafkaStreamTest, MessageWithABrokenEventHeaderIsDeliveredAsUndecodable) {
  ExpectBrokenMessageUndecodable("-k 'h:s' -H e=zz", "e=zz msg=broken");
}

TEST_F(KafkaStreamTest, BrokerDownMidPublishLoopIsRetryableThenUpSucceedsAndNothingIsMissing) {
  auto producer = Producer(milliseconds(2000));
  constexpr int kBatches = 8, kBatch = 100;
  std::vector<Event> sent = MakeEvents(0, kBatches * kBatch);
  int retryable = 0;
  for (int b = 0; b < kBatches; ++b) {
    auto batch = std::span(sent).subspan(b * kBatch, kBatch);
    if (b == 3) {
      ASSERT_TRUE(broker_->BrokerDown().ok());
    }
    Status st = producer->Publish(batch);
    if (b == 3) {
      EXPECT_EQ(st.code(), StatusCode::kRetryable) << st.ToString();
      ++retryable;
      ASSERT_TRUE(broker_->BrokerUp().ok());
    }
    // The caller's contract: publish the same batch again until it is acknowledged.
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (!st.ok() && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(st.retryable()) << st.ToString();
      std::this_thread::sleep_for(milliseconds(100));
      st = producer->Publish(batch);
    }
    ASSERT_TRUE(st.ok()) << "batch " << b << ": " << st.ToString();
  }
  EXPECT_EQ(retryable, 1);

  auto consumer = Consumer();
  std::set<std::string> want;
  for (const Event& e : sent) want.insert(e.id);
  std::set<std::string> got;
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (got.size() < want.size() && std::chrono::steady_clock::now() < deadline) {
    auto r = consumer->Poll(1000, milliseconds(200));
    ASSERT_TRUE(r.ok()) << r.status().message();
    for (const auto& d : *r) got.insert(d.value.id);  // duplicates of the retried batch are fine
  }
  EXPECT_EQ(got, want);
}

TEST_F(KafkaStreamTest, UnackedHalfIsRedeliveredToARestartedConsumer) {
  auto producer = Producer();
  std::vector<Event> sent = MakeEvents(0, 1000);
  ASSERT_TRUE(producer->Publish(sent).ok());
  std::set<std::string> unacked;
  {
    auto consumer = Consumer("c1");
    auto got = PollN(*consumer, sent.size());
    ASSERT_EQ(got.size(), sent.size());
    // Poll order is offset order within each partition, so the first half is a prefix of
    // every partition.
    std::span<const Delivery<Event>> half(got.data(), got.size() / 2);
    ASSERT_TRUE(consumer->Ack(half).ok());
    for (size_t i = got.size() / 2; i < got.size(); ++i) unacked.insert(got[i].value.id);
  }  // closes: leaves the group, the acked half is committed
  auto consumer = Consumer("c2");
  auto again = PollN(*consumer, unacked.size());
  std::set<std::string> redelivered;
  for (const auto& d : again) redelivered.insert(d.value.id);
  EXPECT_EQ(redelivered, unacked);
  EXPECT_EQ(again.size(), unacked.size());
  auto more = Drain(*consumer);
  EXPECT_TRUE(more.empty()) << more.size() << " acked events came back, first "
                            << more[0].value.id;
  ASSERT_TRUE(consumer->Ack(again).ok());
}

TEST_F(KafkaStreamTest, UnackedMessageHoldsBackTheCommitOfLaterOnesInItsPartition) {
  auto producer = Producer();
  std::vector<Event> sent = MakeEvents(0, 400);
  ASSERT_TRUE(producer->Publish(sent).ok());
  KafkaPosition hole;
  std::string hole_id;
  {
    auto consumer = Consumer("c1");
    auto got = PollN(*consumer, sent.size());
    ASSERT_EQ(got.size(), sent.size());
    std::vector<Delivery<Event>> acked;
    for (size_t i = 0; i < got.size(); ++i) {
      if (i == 10) {
        hole = *ParseKafkaQueueId(got[i].queue_id);
        hole_id = got[i].value.id;
      } else {
        acked.push_back(got[i]);
      }
    }
    // Acked out of order, in two calls: the later acks must not commit past the hole.
    std::span<const Delivery<Event>> all(acked);
    ASSERT_TRUE(consumer->Ack(all.subspan(200)).ok());
    ASSERT_TRUE(consumer->Ack(all.subspan(0, 200)).ok());
  }
  auto consumer = Consumer("c2");
  auto again = PollN(*consumer, 1);
  ASSERT_FALSE(again.empty());
  auto more = Drain(*consumer);  // the rest of the hole's partition
  again.insert(again.end(), more.begin(), more.end());
  bool found = false;
  for (const auto& d : again) {
    auto pos = ParseKafkaQueueId(d.queue_id);
    ASSERT_TRUE(pos.has_value());
    EXPECT_EQ(pos->partition, hole.partition) << "an acked partition came back: " << d.queue_id;
    EXPECT_GE(pos->offset, hole.offset) << "an offset before the hole came back";
    found |= d.value.id == hole_id;
  }
  EXPECT_TRUE(found) << "the unacknowledged event was not redelivered";
}

TEST_F(KafkaStreamTest, PlainTextMessageFromKcatDecodesAsPlainEvent) {
  std::string out = Shell("printf 'Oct 11 22:14:15 mymachine su: failed for lonvick\\n' | timeout 30 kcat -P -b " +
                        broker_->bootstrap() + " -t " + kTopic + " -p 2 2>&1; echo rc=$?");
  ASSERT_NE(out.find("rc=0"), std::string::npos) << out;
  auto consumer = Consumer();
  auto got = PollN(*consumer, 1);
  ASSERT_EQ(got.size(), 1u);
  const Event& e = got[0].value;
  EXPECT_EQ(got[0].queue_id, "2:0");
  EXPECT_EQ(e.type, "plain");
  EXPECT_EQ(e.raw, "Oct 11 22:14:15 mymachine su: failed for lonvick");
  EXPECT_EQ(e.id, kTopic + "/2/0");
  EXPECT_EQ(e.source, kTopic);
  EXPECT_GT(e.time_ns, 1'600'000'000'000'000'000);  // the message timestamp
  EXPECT_TRUE(consumer->Ack(got).ok());
}

TEST_F(KafkaStreamTest, V1MessageMissingAFieldIsDeliveredAsUndecodable) {
  ExpectBrokenMessageUndecodable("-H v=1 -H id=x", "v=1 id=x msg=broken");
}

TEST_F(KafkaStreamTest, SamplesRoundTripAsOneMessagePerPublish) {
  auto producer = MakeKafkaSampleProducer(Queue()).value();
  std::vector<Sample> samples;
  for (int i = 0; i < 5; ++i) {
    samples.push_back({"host_cpu_utilisation", {{"cpu", std::to_string(i)}, {"host", "web-1"}},
                       1'700'000'000'000 + i, 0.25 * i});
  }
  ASSERT_TRUE(producer->Publish(samples).ok());
  ASSERT_TRUE(producer->Publish(std::span(samples).subspan(0, 2)).ok());
  auto consumer = MakeKafkaSampleConsumer(ConsumerQueue(), "alerters", "a1").value();
  auto got = PollN(*consumer, 7, 3);
  ASSERT_EQ(got.size(), 7u);
  for (int i = 0; i < 7; ++i) {
    const Sample& want = samples[i < 5 ? i : i - 5];
    EXPECT_EQ(got[i].value.name, want.name);
    EXPECT_EQ(got[i].value.labels, want.labels);
    EXPECT_EQ(got[i].value.time_ms, want.time_ms);
    EXPECT_EQ(got[i].value.value, want.value);
    EXPECT_EQ(got[i].queue_id, i < 5 ? "0:0" : "0:1");
  }
  std::string value = Shell("timeout 30 kcat -C -q -b " + broker_->bootstrap() + " -t metrics -o 1 -e -f '%h|%s'");
  EXPECT_EQ(value,
            "v=1|host_cpu_utilisation{cpu=\"0\",host=\"web-1\"} 0 1700000000000\n"
            "host_cpu_utilisation{cpu=\"1\",host=\"web-1\"} 0.25 1700000000001\n");
  ASSERT_TRUE(consumer->Ack(got).ok());
}

TEST_F(KafkaStreamTest, OversizedMessageIsPermanent) {
  auto producer = Producer();
  Event e = MakeEvent(1);
  e.raw.assign(2 << 20, 'x');  // past message.max.bytes (1 MB)
  Status st = producer->Publish(std::span<const Event>(&e, 1));
  EXPECT_EQ(st.code(), StatusCode::kPermanent) << st.ToString();
  EXPECT_NE(st.message().find("MSG_SIZE_TOO_LARGE"), std::string::npos) << st.message();
}

TEST(KafkaFactoryTest, ValidatesTopicsAndPropertiesWithoutConnecting) {
  QueueConfig q;
  q.type = "kafka";
  q.kafka.brokers = "127.0.0.1:1";  // nothing listens; the factories must not connect
  auto bad_topic = MakeKafkaEventProducer(q);  // default "logship:events" has a ':'
  ASSERT_FALSE(bad_topic.ok());
  EXPECT_NE(bad_topic.status().message().find("queue.events_stream"), std::string::npos);
  q.events_stream = "logship.events";
  q.metrics_stream = "logship.metrics";
  EXPECT_TRUE(MakeKafkaEventProducer(q).ok());
  EXPECT_TRUE(MakeKafkaSampleConsumer(q, "g", "c").ok());
  EXPECT_EQ(MakeKafkaEventConsumer(q, "", "c").status().code(), StatusCode::kInvalidArgument);
  q.kafka.properties["enable.auto.commit"] = "true";
  EXPECT_EQ(MakeKafkaEventConsumer(q, "g", "c").status().code(), StatusCode::kInvalidArgument);
  q.kafka.properties = {{"no.such.property", "1"}};
  EXPECT_EQ(MakeKafkaEventProducer(q).status().code(), StatusCode::kInvalidArgument);
  q.kafka.properties = {};
  q.kafka.compression = "zstd";
  EXPECT_TRUE(MakeKafkaEventProducer(q).ok());
}

TEST(KafkaQueueIdTest, RoundTripsAndRejectsGarbage) {
  EXPECT_EQ(KafkaQueueId(3, 12345), "3:12345");
  auto p = ParseKafkaQueueId("3:12345");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->partition, 3);
  EXPECT_EQ(p->offset, 12345);
  for (const char* bad : {"", "3", "3:", ":4", "a:1", "1:2:3", "-1:0", "1-2"}) {
    EXPECT_FALSE(ParseKafkaQueueId(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace logship
