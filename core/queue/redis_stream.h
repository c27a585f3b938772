// The queue between tiers on Redis Streams.
//
// Producers XADD one entry per event (one entry per Publish for samples) in one pipelined
// round trip and never trim the stream. Consumers read with XREADGROUP in a consumer group:
// first their own pending entries (left over from a previous run under the same consumer
// name), then new ones; an entry stays pending until Ack (XACK). Entry fields are wire
// format v1 (core/wire/wire.h); plain-text entries (rsyslog's omhiredis) decode as events.
//
// Failures follow ClassifyRedisError(): Retryable while Redis is unreachable or loading
// (the caller backs off and calls again; the client reconnects), Permanent when Redis
// rejects the request (wrong password, WRONGTYPE). Construction does no I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/queue/queue_probe.h"
#include "core/queue/sample_entries.h"
#include "core/redis/redis_client.h"
#include "core/wire/wire.h"
#include "logship/config.h"
#include "logship/queue.h"

namespace logship {

// Publishes each event as one stream entry: XADD <stream> * <wire::EncodeEvent fields>.
// Thread-compatible.
class RedisEventProducer final : public EventProducer {
 public:
  RedisEventProducer(RedisConfig redis, std::string stream);
  // Ok only when every XADD replied with an id. Retryable on a connection failure (part of
  // the batch may be in the stream; publishing it again is safe, ids are deterministic)
  // or a transient reply (OOM, LOADING); Permanent when any XADD was rejected otherwise.
  Status Publish(std::span<const Event> events) override;

 private:
  RedisClient client_;
  const std::string stream_;
  const QueueProbe probe_;
};

// Publishes all samples of one Publish call as one entry (wire::EncodeSamples).
// An empty span publishes nothing. Thread-compatible.
class RedisSampleProducer final : public SampleProducer {
 public:
  RedisSampleProducer(RedisConfig redis, std::string stream);
  Status Publish(std::span<const Sample> samples) override;

 private:
  RedisClient client_;
  const std::string stream_;
  const QueueProbe probe_;
};

// One stream entry as read by RedisStreamReader.
struct StreamEntry {
  std::string id;          // "<ms>-<seq>"
  int64_t time_ms = 0;     // the ms part of the id
  bool deleted = false;    // pending, but its content was deleted from the stream
  wire::FieldList fields;
};

// The consumer-group reading shared by both consumers. Read() and Ack() use separate
// connections, so an Ack is not held up by a blocking read. Read(): one thread at a time;
// Ack(): thread-safe, and may run concurrently with Read().
class RedisStreamReader {
 public:
  RedisStreamReader(RedisConfig redis, std::string stream, std::string group,
                    std::string consumer);

  // Creates the group on first use (XGROUP CREATE <stream> <group> 0 MKSTREAM; an existing
  // group is fine) and again when Redis answers NOGROUP (e.g. it restarted empty).
  // Returns this consumer's pending entries first (each once per process, in id order),
  // then new ones, waiting up to `wait` (XREADGROUP BLOCK) for new ones.
  Result<std::vector<StreamEntry>> Read(size_t max, std::chrono::milliseconds wait);
  // XACK; a vanished group (NOGROUP) means nothing is pending any more: Ok.
  Status Ack(std::span<const std::string> ids);

  const std::string& stream() const { return stream_; }
  const QueueProbe& probe() const { return probe_; }

 private:
  Status CreateGroup();
  Result<std::vector<StreamEntry>> ReadEntries(size_t max, std::chrono::milliseconds wait);
  Status AckIds(std::span<const std::string> ids);

  const std::string stream_;
  const std::string group_;
  const std::string consumer_;
  const QueueProbe probe_;
  RedisClient read_client_;  // guarded by the caller's "one thread at a time"
  bool group_ready_ = false;
  bool reading_pending_ = true;
  std::string pending_cursor_ = "0";  // last pending id returned; next read starts after it
  std::mutex ack_mu_;
  RedisClient ack_client_;  // guarded by ack_mu_
};

// Delivers one Event per entry, decoded with wire::DecodeEvent (queue name = stream name).
// An entry that does not decode is delivered as an Event with type "_undecodable", whose
// raw is the entry's fields as text ("k=v k=v"), id "<stream>/<entry id>": it is stored
// and visible, and the consumer goes on. Poll: one thread at a time; Ack: thread-safe.
class RedisEventConsumer final : public EventConsumer {
 public:
  RedisEventConsumer(RedisConfig redis, std::string stream, std::string group,
                     std::string consumer);
  Result<std::vector<Delivery<Event>>> Poll(size_t max, std::chrono::milliseconds wait) override;
  Status Ack(std::span<const Delivery<Event>> deliveries) override;

  uint64_t undecodable() const { return undecodable_.load(); }

 private:
  RedisStreamReader reader_;
  std::atomic<uint64_t> undecodable_{0};
};

// Delivers one Sample per sample; all samples of an entry share its queue_id. `max` bounds
// the samples returned: the rest of an entry is kept and returned by the next Poll. The
// entry is XACKed once every one of its samples was acknowledged. An entry that does not
// decode is logged, counted and acknowledged. Poll: one thread at a time; Ack: thread-safe.
class RedisSampleConsumer final : public SampleConsumer {
 public:
  RedisSampleConsumer(RedisConfig redis, std::string stream, std::string group,
                      std::string consumer);
  Result<std::vector<Delivery<Sample>>> Poll(size_t max, std::chrono::milliseconds wait) override;
  Status Ack(std::span<const Delivery<Sample>> deliveries) override;

  uint64_t undecodable() const { return undecodable_.load(); }

 private:
  RedisStreamReader reader_;
  std::atomic<uint64_t> undecodable_{0};
  SampleEntries entries_;                 // decoded samples, handed out one by one
  std::mutex mu_;
  std::vector<std::string> ack_backlog_;  // GUARDED_BY(mu_): complete entries whose XACK failed
};

// Factories: validate the config (host, port, stream, group and consumer names) and build;
// no I/O. Events use queue.events_stream, samples queue.metrics_stream.
Result<std::unique_ptr<EventProducer>> MakeRedisEventProducer(const QueueConfig& queue);
Result<std::unique_ptr<SampleProducer>> MakeRedisSampleProducer(const QueueConfig& queue);
Result<std::unique_ptr<EventConsumer>> MakeRedisEventConsumer(const QueueConfig& queue,
                                                              const std::string& group,
                                                              const std::string& consumer);
Result<std::unique_ptr<SampleConsumer>> MakeRedisSampleConsumer(const QueueConfig& queue,
                                                                const std::string& group,
                                                                const std::string& consumer);

}  // namespace logship
