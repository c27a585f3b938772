// The queue between tiers on Redis Streams (docs/redis-streams.md).
//
// Producers XADD up to queue.redis.events_per_entry events (default 100) per
// zlib-compressed v2 entry, or with 1 one wire v1 entry per event, pipelined (several
// batches in flight on one connection), and never trim the stream. Consumers read with XREADGROUP in a consumer group: first their
// own pending entries (left over from a previous run under the same consumer name), then
// entries idle past queue.redis.claim_idle on other (dead) consumers (XAUTOCLAIM, every
// claim_interval), then new ones; an entry stays pending until Ack (XACK). An entry
// delivered more than max_deliveries times goes to the dead-letter stream instead of being
// delivered again. Plain-text entries (rsyslog's omhiredis) decode as events, and items
// of Redis lists (omhiredis "queue" mode) can be imported into the stream.
//
// Failures follow ClassifyRedisError(): Retryable while Redis is unreachable or loading
// (the caller backs off and calls again; the client reconnects), Permanent when Redis
// rejects the request (wrong password, WRONGTYPE). Construction does no I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
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

// Publishes each event as one stream entry: XADD <stream> * <wire::EncodeEvent fields>;
// with redis.events_per_entry > 1, consecutive events (up to that many, and up to
// kMaxBatchEntryBytes of raw lines) as one wire::EncodeEventBatch entry. The commands are
// written in the Redis protocol straight from the events (no per-event allocation).
//
// Pipelined: Begin writes a batch's XADDs on the connection and returns without reading;
// Finish reads the oldest begun batch's replies. Up to kMaxInFlight batches are in flight
// on one connection, so Redis works on one while the caller reads the next. When the
// connection fails, the batch being finished and every later one still on that
// connection fail Retryable (part of them may be in the stream: publishing them again is
// safe, ids are deterministic); a batch begun after that goes out on a new connection.
// Thread-compatible.
class RedisEventProducer final : public EventProducer {
 public:
  static constexpr size_t kMaxBatchEntryBytes = 1 << 20;
  static constexpr size_t kMaxInFlight = 4;

  RedisEventProducer(RedisConfig redis, std::string stream);
  // Ok only when every XADD replied with an id. Retryable on a connection failure (part of
  // the batch may be in the stream; publishing it again is safe, ids are deterministic)
  // or a transient reply (OOM, LOADING); Permanent when any XADD was rejected otherwise.
  // REQUIRES: nothing begun and not finished.
  Status Publish(std::span<const Event> events) override;

  size_t max_in_flight() const override { return kMaxInFlight; }
  void Begin(std::span<const Event> events) override;
  // What Publish would have returned for the oldest begun batch.
  Status Finish() override;

 private:
  struct InFlight {
    size_t commands = 0;     // XADDs written, replies to read
    size_t events = 0;
    size_t bytes = 0;        // field bytes, for the probe
    uint64_t connection = 0; // client_.connects() when written
    Status status;           // not Ok: the batch failed in Begin (nothing to read)
  };
  // Appends the XADDs of `events` to out_; returns how many commands and field bytes.
  std::pair<size_t, size_t> Encode(std::span<const Event> events);

  RedisClient client_;
  const std::string stream_;
  const size_t events_per_entry_;
  const QueueProbe probe_;
  std::string xadd_prefix_;        // "$4\r\nXADD\r\n$<n>\r\n<stream>\r\n$1\r\n*\r\n"
  std::string out_;                // the batch being written, reused
  std::deque<InFlight> in_flight_; // oldest first
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
// connections, so an Ack is not held up by a blocking read. Read() and ImportLists(): one
// thread at a time; Ack(): thread-safe, and may run concurrently with Read().
class RedisStreamReader {
 public:
  // Claiming, dead-lettering, consumer expiry and list import follow `redis`
  // (claim_idle, claim_interval, max_deliveries, dead_letter_stream, consumer_expiry,
  // import_lists, import_push).
  RedisStreamReader(RedisConfig redis, std::string stream, std::string group,
                    std::string consumer);

  // Creates the group on first use (XGROUP CREATE <stream> <group> 0 MKSTREAM; an existing
  // group is fine) and again when Redis answers NOGROUP (e.g. it restarted empty).
  // Returns, in this order of preference: this consumer's pending entries (each once per
  // process, in id order); when a claim round is due, entries idle past claim_idle
  // (XAUTOCLAIM, the round continues over several Reads until the PEL was scanned, then
  // idle consumers are expired); new entries, waiting up to `wait` (XREADGROUP BLOCK).
  // Pending and claimed entries delivered more than max_deliveries times are moved to the
  // dead-letter stream and acknowledged (MULTI/XADD/XACK/EXEC) instead of being returned.
  // On an error the step is repeated by the next Read (its cursor did not advance).
  Result<std::vector<StreamEntry>> Read(size_t max, std::chrono::milliseconds wait);
  // XACK; a vanished group (NOGROUP) means nothing is pending any more: Ok.
  Status Ack(std::span<const std::string> ids);
  // Moves up to `max` items of each import list into the stream, oldest first, each as a
  // plain-text entry (msg=<item>, list=<list>). One Lua script per list: items leave the
  // list only together with their XADD, so none is lost or imported twice. Returns how
  // many were moved.
  Result<size_t> ImportLists(size_t max);

  const std::string& stream() const { return stream_; }
  const std::string& dead_letter_stream() const { return dead_letter_stream_; }
  const QueueProbe& probe() const { return probe_; }

 private:
  using SteadyClock = std::chrono::steady_clock;
  Status CreateGroup();
  Result<std::vector<StreamEntry>> ReadEntries(size_t max, std::chrono::milliseconds wait);
  // One XAUTOCLAIM step of the claim round; nullopt when the round is not due.
  Result<std::optional<std::vector<StreamEntry>>> ClaimStep(size_t max);
  // Dead-letters the entries delivered more than max_deliveries times; returns the others.
  Result<std::vector<StreamEntry>> FilterRedelivered(std::vector<StreamEntry> entries);
  Status DeadLetter(const StreamEntry& entry, int64_t deliveries);
  // XGROUP DELCONSUMER of other consumers idle past consumer_expiry with nothing pending
  // (one Lua script: the check and the removal are atomic).
  Status ExpireConsumers();
  Status AckIds(std::span<const std::string> ids);

  const RedisConfig config_;
  const std::string stream_;
  const std::string group_;
  const std::string consumer_;
  const std::string dead_letter_stream_;
  const QueueProbe probe_;
  RedisClient read_client_;  // guarded by the caller's "one thread at a time"
  bool group_ready_ = false;
  bool reading_pending_ = true;
  std::string pending_cursor_ = "0";  // last pending id returned; next read starts after it
  bool claiming_ = false;             // a claim round is in progress
  std::string claim_cursor_ = "0-0";  // XAUTOCLAIM's cursor within the round
  SteadyClock::time_point next_claim_{};  // the first round runs once pending entries are done
  std::mutex ack_mu_;
  RedisClient ack_client_;  // guarded by ack_mu_
};

// Delivers one Event per entry, decoded with wire::DecodeEvent (queue name = stream name),
// or, for a batched v2 entry, one Event per event in it (wire::DecodeEventBatch), each with
// the entry id as queue_id; such an entry is XACKed once all its events were acknowledged.
// An entry that does not decode is delivered as an Event with type "_undecodable", whose
// raw is the entry's fields as text ("k=v k=v"), id "<stream>/<entry id>": it is stored
// and visible, and the consumer goes on. With redis.import_lists, each Poll first imports
// list items (RedisStreamReader::ImportLists). Poll: one thread at a time; Ack: thread-safe.
class RedisEventConsumer final : public EventConsumer {
 public:
  RedisEventConsumer(RedisConfig redis, std::string stream, std::string group,
                     std::string consumer);
  Result<std::vector<Delivery<Event>>> Poll(size_t max, std::chrono::milliseconds wait) override;
  Status Ack(std::span<const Delivery<Event>> deliveries) override;

  uint64_t undecodable() const { return undecodable_.load(); }

 private:
  RedisStreamReader reader_;
  const bool import_;
  std::atomic<uint64_t> undecodable_{0};
  EventEntries batched_;           // events of batched entries, handed out one by one
  size_t events_per_entry_ = 0;    // Poll thread: mean events per entry of the last read; 0 before one
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
