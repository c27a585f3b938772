// An existing rsyslog fleet feeds the parsers directly: real rsyslogd (Debian's 8.2302,
// packages rsyslog, rsyslog-hiredis, rsyslog-kafka) reads a file with imfile and forwards
// it with omhiredis (mode "queue": LPUSH, or RPUSH with userpush) into a Redis list, and
// with omkafka into a Kafka topic. logship's consumers must deliver every line once, as a
// plain event with a deterministic id, however rsyslog's templates shape the payload.
// This version of omhiredis has no stream mode (modes queue, publish, set, template), so
// lists are the way in; a later omhiredis writing XADD <stream> * msg <line> is covered by
// the plain-text entry tests in core/queue/redis_stream_test.cc.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
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
using testing::KafkaBroker;
using testing::KafkaBrokerOptions;
using testing::RedisServer;
using testing::Subprocess;

constexpr const char* kRsyslogd = "/usr/sbin/rsyslogd";
constexpr int kLines = 300;

std::string Line(int i) { return "app[42]: request " + std::to_string(i) + " took 12 ms path=/a b=\"c d\""; }

// Polls `consumer` until `n` deliveries arrived or `deadline` passed.
std::vector<Delivery<Event>> PollN(EventConsumer& consumer, size_t n, seconds deadline) {
  std::vector<Delivery<Event>> all;
  auto until = std::chrono::steady_clock::now() + deadline;
  while (all.size() < n && std::chrono::steady_clock::now() < until) {
    auto r = consumer.Poll(1000, milliseconds(200));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) break;
    for (auto& d : *r) all.push_back(std::move(d));
  }
  return all;
}

class RsyslogQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kRsyslogd, X_OK) != 0) GTEST_SKIP() << kRsyslogd << " missing: scripts/setup --test installs rsyslog";
    dir_ = testing::MakeTempDir("logship-rsyslog");
    ASSERT_FALSE(dir_.empty());
    fs::create_directories(dir_ + "/state");
    std::ofstream in(dir_ + "/in.log");
    for (int i = 0; i < kLines; ++i) in << Line(i) << "\n";
  }
  void TearDown() override {
    if (rsyslog_) {
      rsyslog_->Signal(SIGTERM);
      rsyslog_->Wait(10000);
    }
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }

  // Starts rsyslogd with imfile on in.log and the given actions.
  void StartRsyslog(const std::string& modules, const std::string& actions) {
    std::ofstream(dir_ + "/rsyslog.conf") << "global(workDirectory=\"" << dir_ << "/state\")\n"
                                          << "module(load=\"imfile\")\n"
                                          << modules
                                          << "template(name=\"msgonly\" type=\"string\" string=\"%msg%\")\n"
                                          << "input(type=\"imfile\" File=\"" << dir_
                                          << "/in.log\" Tag=\"app:\")\n"
                                          << actions;
    rsyslog_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kRsyslogd, "-n", "-f", dir_ + "/rsyslog.conf", "-i", dir_ + "/rsyslogd.pid"},
        dir_ + "/rsyslogd.log");
    ASSERT_TRUE(rsyslog_->Start().ok());
  }

  // Every line arrived once, in file order, as a plain event whose raw line holds it.
  void ExpectLines(const std::vector<Delivery<Event>>& got, bool exact) {
    ASSERT_EQ(got.size(), static_cast<size_t>(kLines)) << rsyslog_->Log();
    std::set<std::string> ids;
    for (int i = 0; i < kLines; ++i) {
      const Event& e = got[i].value;
      EXPECT_EQ(e.type, "plain");
      if (exact) {
        EXPECT_EQ(e.raw, Line(i));
      } else {  // rsyslog's default template wraps the line: PRI, time, host, tag
        EXPECT_NE(e.raw.find(Line(i).substr(9)), std::string::npos) << e.raw;
        EXPECT_NE(e.raw.back(), '\n') << "the line terminator was kept";
      }
      ids.insert(e.id);
      if (HasFailure()) return;
    }
    EXPECT_EQ(ids.size(), got.size()) << "ids are not unique";
  }

  std::string dir_;
  std::unique_ptr<Subprocess> rsyslog_;
};

TEST_F(RsyslogQueueTest, OmhiredisQueueModeListsAreImportedIntoTheStream) {
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  const std::string port = std::to_string(redis.port());
  // LPUSH with rsyslog's default template, and RPUSH (userpush) with the bare message.
  StartRsyslog("module(load=\"omhiredis\")\n",
               "action(type=\"omhiredis\" server=\"127.0.0.1\" serverport=\"" + port +
                   "\" mode=\"queue\" key=\"rsyslog:lpush\")\n"
                   "action(type=\"omhiredis\" server=\"127.0.0.1\" serverport=\"" + port +
                   "\" mode=\"queue\" userpush=\"on\" key=\"rsyslog:rpush\" template=\"msgonly\")\n");
  for (const std::string push : {"lpush", "rpush"}) {
    SCOPED_TRACE(push);
    QueueConfig q;
    q.redis = redis.client_config();
    q.redis.import_lists = {"rsyslog:" + push};
    q.redis.import_push = push;
    q.events_stream = "events:" + push;
    auto consumer = MakeRedisEventConsumer(q, "parsers", "p1").value();
    auto got = PollN(*consumer, kLines, seconds(30));
    ExpectLines(got, push == "rpush");
    for (const auto& d : got) EXPECT_EQ(d.value.id, q.events_stream + "/" + d.queue_id);
    ASSERT_TRUE(consumer->Ack(got).ok());
    RedisClient client(redis.client_config());
    auto len = client.Command({"LLEN", "rsyslog:" + push});
    ASSERT_TRUE(len.ok());
    EXPECT_EQ(len->integer, 0);
    auto pending = client.Command({"XPENDING", q.events_stream, "parsers"});
    ASSERT_TRUE(pending.ok() && pending->is_array());
    EXPECT_EQ(pending->elements[0].integer, 0);
  }
}

TEST_F(RsyslogQueueTest, OmkafkaPlainMessagesAreEventsWithStableIds) {
  KafkaBrokerOptions options;
  options.topics = {"rsyslog.default:2", "rsyslog.msg:1"};
  KafkaBroker broker(options);
  ASSERT_TRUE(broker.Start().ok());
  // Default template (RSYSLOG_FileFormat: the line ends in "\n"), and the bare message.
  StartRsyslog("module(load=\"omkafka\")\n",
               "action(type=\"omkafka\" broker=[\"" + broker.bootstrap() + "\"] topic=\"rsyslog.default\")\n"
               "action(type=\"omkafka\" broker=[\"" + broker.bootstrap() +
                   "\"] topic=\"rsyslog.msg\" template=\"msgonly\")\n");
  for (const std::string topic : {"rsyslog.default", "rsyslog.msg"}) {
    SCOPED_TRACE(topic);
    QueueConfig q;
    q.type = "kafka";
    q.kafka.brokers = broker.bootstrap();
    q.kafka.properties["session.timeout.ms"] = "6000";
    q.events_stream = topic;
    std::vector<std::string> first_ids;
    {
      auto consumer = MakeKafkaEventConsumer(q, "parsers", "p1").value();
      auto got = PollN(*consumer, kLines, seconds(45));
      if (topic == "rsyslog.msg") {
        ExpectLines(got, true);  // one partition: file order
      } else {
        ASSERT_EQ(got.size(), static_cast<size_t>(kLines)) << rsyslog_->Log();
        std::set<std::string> ids;
        for (const auto& d : got) {
          EXPECT_EQ(d.value.type, "plain");
          EXPECT_NE(d.value.raw.find("took 12 ms"), std::string::npos) << d.value.raw;
          EXPECT_NE(d.value.raw.back(), '\n');
          ids.insert(d.value.id);
        }
        EXPECT_EQ(ids.size(), got.size());
      }
      for (const auto& d : got) {
        auto pos = ParseKafkaQueueId(d.queue_id);
        ASSERT_TRUE(pos.has_value());
        EXPECT_EQ(d.value.id, topic + "/" + std::to_string(pos->partition) + "/" + std::to_string(pos->offset));
        first_ids.push_back(d.value.id);
      }
      // Not acknowledged: the next member of the group gets the same messages again.
    }
    auto again = MakeKafkaEventConsumer(q, "parsers", "p2").value();
    auto replay = PollN(*again, kLines, seconds(45));
    ASSERT_EQ(replay.size(), first_ids.size());
    std::set<std::string> a(first_ids.begin(), first_ids.end()), b;
    for (const auto& d : replay) b.insert(d.value.id);
    EXPECT_EQ(a, b) << "a replay must produce the same ids";
    ASSERT_TRUE(again->Ack(replay).ok());
  }
}

}  // namespace
}  // namespace logship
