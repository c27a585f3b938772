// Horizontal scale: three `logship parser` processes share one queue (a Redis stream; a
// Kafka topic with 4 partitions). Events are fed while they run, one parser is killed with
// SIGKILL while it holds a batch, and a replacement (a new consumer name, as after a real
// restart with the default <host>-<pid> name) is started. Every event must end up stored
// exactly once in SQLite, and the queue must end with nothing pending: the Redis PEL
// empty (the dead consumer's entries were claimed, and the dead consumer was removed),
// the Kafka group's committed offsets at the end of every partition.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/queue/kafka_stream.h"
#include "core/queue/redis_stream.h"
#include "core/redis/redis_client.h"
#include "tests/support/kafka_broker.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
using testing::KafkaBroker;
using testing::KafkaBrokerOptions;
using testing::RedisServer;
using testing::Subprocess;

constexpr int kEvents = 60'000;
constexpr int kParsers = 3;
constexpr int kSources = 16;  // keys "<host>:<source>": spread over the Kafka partitions
// An hour ago: recent enough that the store's retention (by event day) keeps it.
const int64_t kEventEpoch = time(nullptr) - 3600;

// Event `seq`: an nginx combined line (parsed by rules/parse/nginx.yaml) with a unique id.
Event ScaleEvent(int seq) {
  time_t t = static_cast<time_t>(kEventEpoch + seq / 1000);
  std::tm tm;
  gmtime_r(&t, &tm);
  char ts[64];
  std::strftime(ts, sizeof ts, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  Event e;
  // 48 keys; CRC-32 (librdkafka's partitioner) spreads them evenly over 4 partitions.
  e.host = "host-" + std::to_string(seq % 3);
  e.source = "/var/log/nginx/site" + std::to_string(seq % kSources) + "/access.log";
  e.type = "nginx";
  e.offset = static_cast<uint64_t>(seq) * 200;
  e.id = "scale:" + std::to_string(seq);
  e.time_ns = (kEventEpoch + seq / 1000) * 1'000'000'000LL;
  e.raw = "10.1." + std::to_string(seq % 250) + ".9 - - [" + ts + "] \"GET /items?seq=" + std::to_string(seq) +
          " HTTP/1.1\" " + (seq % 7 == 0 ? "503" : "200") + " 1234 \"-\" \"scale-test/1.0\"";
  return e;
}

struct Stored {
  int64_t rows = 0;
  std::set<std::string> ids;
};

// Every row of every day file under `dir`.
Stored ReadStore(const std::string& dir) {
  Stored out;
  if (!fs::exists(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("events-", 0) != 0 || entry.path().extension() != ".db") continue;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(entry.path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      continue;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT id FROM events", -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        ++out.rows;
        out.ids.insert(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
      }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  return out;
}

// Rows stored so far (cheap: count(*) per file).
int64_t CountRows(const std::string& dir) {
  int64_t rows = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".db") continue;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(entry.path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 10000);
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW) {
        rows += sqlite3_column_int64(st, 0);
      }
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
  }
  return rows;
}

class ScaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("logship-scale");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // One config for every parser: they share the store; consumer names default to
  // <host>-<pid>, so a replacement is a new consumer.
  void WriteConfig(const std::string& queue_yaml) {
    std::string src = testing::SourceDir();
    std::ofstream(dir_ + "/logship.yaml") << "host: scale\n"
                                          << "data_dir: " << dir_ << "/data\n"
                                          << "log: {level: info}\n"
                                          << "metrics: {listen: ''}\n"
                                          << queue_yaml << "parser:\n"
                                          << "  rules: [" << src << "/rules/parse/nginx.yaml]\n"
                                          << "  patterns: [" << src << "/rules/patterns]\n"
                                          << "  sqlite: {dir: " << dir_ << "/store}\n"
                                          << "  batch_max_events: 1000\n"
                                          << "  batch_wait: 100ms\n"
                                          << "  metrics_flush: 1s\n";
  }

  std::unique_ptr<Subprocess> StartParser() {
    auto p = std::make_unique<Subprocess>(
        std::vector<std::string>{testing::LogshipBinary(), "parser", "--config", dir_ + "/logship.yaml"},
        dir_ + "/parser-" + std::to_string(++started_) + ".log");
    EXPECT_TRUE(p->Start().ok());
    return p;
  }

  std::string Logs() {
    std::string out;
    for (const auto& p : parsers_) out += "---- parser " + std::to_string(p->pid()) + ":\n" + p->Log() + "\n";
    return out;
  }

  // Waits (deadline) until `kEvents` rows are stored; then checks every id once.
  void ExpectEveryEventStoredOnce(seconds deadline) {
    const std::string store = dir_ + "/store";
    auto until = Clock::now() + deadline;
    while (Clock::now() < until && CountRows(store) < kEvents) std::this_thread::sleep_for(milliseconds(250));
    Stored s = ReadStore(store);
    EXPECT_EQ(s.rows, kEvents) << Logs();
    EXPECT_EQ(s.ids.size(), static_cast<size_t>(kEvents));
    int missing = 0;
    for (int i = 0; i < kEvents && missing < 5; ++i) {
      if (!s.ids.count("scale:" + std::to_string(i))) {
        ADD_FAILURE() << "event scale:" << i << " was not stored";
        ++missing;
      }
    }
  }

  void StopParsers() {
    for (auto& p : parsers_) p->Signal(SIGTERM);
    for (auto& p : parsers_) EXPECT_EQ(p->Wait(30000), 0) << p->Log();
  }

  std::string dir_;
  int started_ = 0;
  std::vector<std::unique_ptr<Subprocess>> parsers_;
};

// ---- Redis ----

TEST_F(ScaleTest, ThreeParsersOnOneRedisStreamSurviveAKillAndStoreEveryEventOnce) {
  const auto t0 = Clock::now();
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  WriteConfig("queue:\n  redis:\n    host: 127.0.0.1\n    port: " + std::to_string(redis.port()) +
              "\n    claim_idle: 2s\n    claim_interval: 500ms\n    consumer_expiry: 3s\n");
  for (int i = 0; i < kParsers; ++i) parsers_.push_back(StartParser());

  // The first half as one v1 entry per event, the second as batched v2 entries of 100.
  QueueConfig q;
  q.redis = redis.client_config();
  q.redis.events_per_entry = 1;
  auto single = MakeRedisEventProducer(q).value();
  q.redis.events_per_entry = 100;
  auto batched = MakeRedisEventProducer(q).value();
  auto publish = [&](int begin, int end) {
    for (int i = begin; i < end; i += 1000) {
      std::vector<Event> batch;
      for (int k = i; k < std::min(end, i + 1000); ++k) batch.push_back(ScaleEvent(k));
      Status st = (i < kEvents / 2 ? single : batched)->Publish(batch);
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  };
  // Once all three are in the group, they share the backlog from the start.
  RedisClient client(redis.client_config());
  auto consumers = [&]() -> size_t {
    auto r = client.Command({"XINFO", "CONSUMERS", "logship:events", "logship-parsers"});
    return r.ok() && r->is_array() ? r->elements.size() : 0;
  };
  auto until = Clock::now() + seconds(30);
  while (Clock::now() < until && consumers() < kParsers) std::this_thread::sleep_for(milliseconds(20));
  ASSERT_EQ(consumers(), static_cast<size_t>(kParsers)) << Logs();
  publish(0, kEvents / 2);

  // Kill a parser in the middle of a batch: while it holds entries it read but has not
  // acknowledged (they are acked only once stored). Timing a kill from outside races with
  // a fast parser, so the victim is frozen (SIGSTOP) the moment it is seen holding entries,
  // checked again while frozen (it cannot ack then), and killed. Its consumer name dies
  // with it; the others claim its entries once they are idle.
  Subprocess& victim = *parsers_[0];
  const std::string victim_name = "scale-" + std::to_string(victim.pid());
  auto held_entries = [&]() -> int64_t {
    auto r = client.Command({"XPENDING", "logship:events", "logship-parsers", "-", "+", "100000", victim_name});
    return r.ok() && r->is_array() ? static_cast<int64_t>(r->elements.size()) : 0;
  };
  int64_t victim_pending = 0;
  until = Clock::now() + seconds(30);
  while (Clock::now() < until && victim_pending == 0) {
    if (held_entries() > 0) {
      victim.Signal(SIGSTOP);
      std::this_thread::sleep_for(milliseconds(20));  // a stop is delivered asynchronously
      victim_pending = held_entries();
      if (victim_pending == 0) victim.Signal(SIGCONT);
    }
    if (victim_pending == 0) std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_GT(victim_pending, 0) << "the victim was never caught holding a batch\n" << Logs();
  victim.Signal(SIGKILL);
  ASSERT_EQ(victim.Wait(10000), 128 + SIGKILL);
  parsers_.push_back(StartParser());
  publish(kEvents / 2, kEvents);  // more work arrives while the group recovers

  ExpectEveryEventStoredOnce(seconds(75));

  // Nothing pending once the last acknowledgements landed; the dead consumer is removed.
  int64_t pending = -1;
  bool victim_gone = false;
  until = Clock::now() + seconds(15);
  while (Clock::now() < until && (pending != 0 || !victim_gone)) {
    auto r = client.Command({"XPENDING", "logship:events", "logship-parsers"});
    ASSERT_TRUE(r.ok() && r->is_array()) << r.status().ToString();
    pending = r->elements[0].integer;
    auto consumers = client.Command({"XINFO", "CONSUMERS", "logship:events", "logship-parsers"});
    ASSERT_TRUE(consumers.ok());
    victim_gone = true;
    for (const RedisReply& c : consumers->elements) {
      if (c.elements.size() > 1 && c.elements[1].str == victim_name) victim_gone = false;
    }
    if (pending != 0 || !victim_gone) std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_EQ(pending, 0);
  EXPECT_TRUE(victim_gone) << victim_name << " is still a member of the group";
  auto groups = client.Command({"XINFO", "GROUPS", "logship:events"});
  ASSERT_TRUE(groups.ok() && groups->is_array() && groups->elements.size() == 1);
  const RedisReply& g = groups->elements[0];
  for (size_t i = 0; i + 1 < g.elements.size(); i += 2) {
    if (g.elements[i].str == "lag") {
      EXPECT_EQ(g.elements[i + 1].integer, 0) << "entries never delivered";
    }
  }
  parsers_.erase(parsers_.begin());  // the victim
  StopParsers();
  auto secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("redis scale: %d events, %d parsers, one killed holding %lld entries; %.1f s\n", kEvents, kParsers,
              static_cast<long long>(victim_pending), secs);
}

// ---- Kafka ----

// The group's committed offset and the high watermark of each partition.
std::vector<std::pair<int64_t, int64_t>> CommittedAndEnd(const std::string& bootstrap, const std::string& topic,
                                                         const std::string& group, int partitions) {
  std::vector<std::pair<int64_t, int64_t>> out;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int p = 0; p < partitions; ++p) {
      int64_t low = 0, high = -1;
      rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000);
      out.emplace_back(list->elems[p].offset, high);
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

TEST_F(ScaleTest, ThreeParsersOnAFourPartitionKafkaTopicSurviveAKillAndStoreEveryEventOnce) {
  const auto t0 = Clock::now();
  KafkaBrokerOptions options;
  options.topics = {"logship.events:4", "logship.metrics:1"};
  KafkaBroker broker(options);
  ASSERT_TRUE(broker.Start().ok());
  // The mock coordinator rebalances after a member died only once its session timed out.
  WriteConfig("queue:\n  type: kafka\n  events_stream: logship.events\n  metrics_stream: logship.metrics\n"
              "  kafka:\n    brokers: " +
              broker.bootstrap() + "\n    properties:\n      session.timeout.ms: '6000'\n"
              "      heartbeat.interval.ms: '500'\n");
  for (int i = 0; i < kParsers; ++i) parsers_.push_back(StartParser());

  QueueConfig q;
  q.type = "kafka";
  q.events_stream = "logship.events";
  q.kafka.brokers = broker.bootstrap();
  auto producer = MakeKafkaEventProducer(q).value();
  auto publish = [&](int begin, int end) {
    for (int i = begin; i < end; i += 2000) {
      std::vector<Event> batch;
      for (int k = i; k < std::min(end, i + 2000); ++k) batch.push_back(ScaleEvent(k));
      Status st = producer->Publish(batch);
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  };
  publish(0, kEvents / 2);

  // Kill one parser once the group is busy storing (it holds a batch: every partition
  // has a backlog, so each member is always between a poll and its commit).
  const std::string store = dir_ + "/store";
  auto until = Clock::now() + seconds(45);
  while (Clock::now() < until && CountRows(store) < kEvents / 6) std::this_thread::sleep_for(milliseconds(20));
  int64_t at_kill = CountRows(store);
  ASSERT_GE(at_kill, kEvents / 6) << "the parsers did not start storing\n" << Logs();
  ASSERT_LT(at_kill, kEvents / 2) << "too late to kill in the middle of the work";
  parsers_[0]->Signal(SIGKILL);
  ASSERT_EQ(parsers_[0]->Wait(10000), 128 + SIGKILL);
  parsers_.push_back(StartParser());
  publish(kEvents / 2, kEvents);

  ExpectEveryEventStoredOnce(seconds(75));

  // Every partition's committed offset reaches its end (commits follow the sink's).
  std::vector<std::pair<int64_t, int64_t>> offsets;
  bool committed = false;
  until = Clock::now() + seconds(15);
  while (Clock::now() < until && !committed) {
    offsets = CommittedAndEnd(broker.bootstrap(), "logship.events", "logship-parsers", 4);
    committed = offsets.size() == 4;
    for (const auto& [c, end] : offsets) committed &= end > 0 && c == end;
    if (!committed) std::this_thread::sleep_for(milliseconds(250));
  }
  ASSERT_EQ(offsets.size(), 4u);
  int64_t total = 0;
  for (int p = 0; p < 4; ++p) {
    EXPECT_EQ(offsets[p].first, offsets[p].second) << "partition " << p << " committed " << offsets[p].first
                                                   << " of " << offsets[p].second;
    EXPECT_GT(offsets[p].second, 0) << "partition " << p << " got no events";
    total += offsets[p].second;
  }
  EXPECT_EQ(total, kEvents);
  parsers_.erase(parsers_.begin());
  StopParsers();
  auto secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("kafka scale: %d events, %d parsers on 4 partitions, one killed at %lld stored; %.1f s\n", kEvents,
              kParsers, static_cast<long long>(at_kill), secs);
}

}  // namespace
}  // namespace logship
