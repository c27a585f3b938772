// The queue between tiers on Kafka (docs/kafka.md).
//
// Producers are idempotent (enable.idempotence=true, acks=all): Publish produces the whole
// batch, then serves delivery reports until every message of the batch has one, and is Ok
// only when all of them are. Events are one message each: key "<host>:<source>" (one
// file's lines stay in order on one partition), value the raw line, the other fields one
// header, wire::kKafkaEventHeader ("e"). Samples are one message per Publish.
//
// Consumers read in a consumer group with enable.auto.commit=false and
// enable.auto.offset.store=false. A delivery's queue_id is "<partition>:<offset>". Ack
// commits, synchronously, for each partition the position below which every delivered
// message was acknowledged (an unacknowledged message holds back the commit of the ones
// after it, which are delivered again after a restart: at-least-once). On partition
// revocation what was acknowledged is committed; later Acks of revoked partitions are
// ignored (the new owner delivers them again). Messages with an "e" header decode from it,
// those of earlier shippers from their v1 headers ("v", "id", ...); messages with neither
// are plain text (rsyslog's omkafka).
//
// Failures follow ClassifyKafkaError(). Construction does no I/O: the librdkafka client is
// created by the first Publish / Poll.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/kafka/kafka_client.h"
#include "core/queue/queue_probe.h"
#include "core/queue/sample_entries.h"
#include "core/wire/wire.h"
#include "logship/config.h"
#include "logship/queue.h"

namespace logship {

// One message to produce. `headers` become Kafka message headers, in order.
struct KafkaOutMessage {
  std::optional<std::string> key;  // nullopt: no key (the partitioner spreads messages)
  wire::FieldList headers;
  std::string value;
};

// A message as Produce reads it: views into the caller's data, valid until the fill
// callback is called again (librdkafka copies what it keeps). One view is reused for a
// whole batch, so filling it allocates nothing once `headers` has grown.
struct KafkaOutView {
  bool has_key = false;  // false: no key (the partitioner spreads messages)
  std::string_view key;
  std::string_view value;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};

// The idempotent producer shared by the event and sample producers. Thread-compatible:
// delivery reports are served only inside Produce(), on the caller's thread.
class KafkaTopicProducer {
 public:
  KafkaTopicProducer(KafkaConfig kafka, std::string topic);
  // Flushes what is still queued (at most kafka.timeout) and logs what could not be.
  ~KafkaTopicProducer();
  KafkaTopicProducer(const KafkaTopicProducer&) = delete;
  KafkaTopicProducer& operator=(const KafkaTopicProducer&) = delete;

  // Produces `messages` in order and waits for their delivery reports: Ok when every one
  // succeeded; otherwise the worst outcome (Permanent beats Retryable) of the reports and
  // of enqueueing. Waits at most kafka.timeout (message.timeout.ms) plus a short grace;
  // reports that arrive after a Produce returned are ignored. After a fatal error the
  // client is rebuilt (a new producer id) on the next call.
  Status Produce(std::span<const KafkaOutMessage> messages);
  // The same for `count` messages described by fill(i, view), called in order; `view`
  // arrives with its headers cleared.
  Status Produce(size_t count, const std::function<void(size_t, KafkaOutView&)>& fill);

  // Pipelined: Enqueue hands a batch to librdkafka and returns; Await waits for the
  // oldest enqueued batch's reports and returns what Produce would have. Produce is
  // Enqueue + Await and REQUIRES nothing in flight.
  void Enqueue(size_t count, const std::function<void(size_t, KafkaOutView&)>& fill);
  Status Await();
  size_t in_flight() const { return batches_.size(); }

  // What Enqueue is made of, for a caller that lays out its messages itself (the event
  // producer, one message per line, where a callback per message showed in the profile):
  // StartBatch(count), then Add for each of the `count` messages in order, then EndBatch.
  // Add returns false once the batch has failed (the rest would land out of order behind
  // a gap): the caller stops adding and still calls EndBatch. `timestamp_ms` 0 means now.
  void StartBatch(size_t count);
  bool Add(const std::string_view* key, std::string_view value,
           std::span<const std::pair<std::string_view, std::string_view>> headers, int64_t timestamp_ms);
  void EndBatch();

  const std::string& topic() const { return topic_; }
  const QueueProbe& probe() const { return probe_; }

 private:
  Status EnsureClient();
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  const KafkaConfig kafka_;
  const std::string topic_;
  const std::string context_;  // "kafka <brokers>: produce <topic>"
  const QueueProbe probe_;
  KafkaHandle rk_;
  KafkaTopic rkt_;             // topic_'s handle in rk_ (destroyed before rk_)
  bool rebuild_ = false;       // a fatal error was raised: the client is rebuilt when idle
  bool adding_ = false;        // between StartBatch and EndBatch, and the batch is healthy

  // A batch whose reports are awaited. Its messages carry its id as their opaque.
  struct Batch {
    uint64_t id = 0;
    size_t count = 0;
    size_t awaiting = 0;  // reports not yet served
    size_t bytes = 0;
    Status status;        // worst of the enqueue result and the reports so far
    std::chrono::steady_clock::time_point deadline;
  };
  std::deque<Batch> batches_;  // oldest first; ids consecutive
  uint64_t next_batch_ = 1;
};

// Thread-compatible.
class KafkaEventProducer final : public EventProducer {
 public:
  KafkaEventProducer(KafkaConfig kafka, std::string topic);
  Status Publish(std::span<const Event> events) override;
  // Four batches in flight (8,000 messages at the default batch of 2,000): the tail loop
  // reads the next batches while librdkafka sends the earlier ones, and Await flushes
  // rather than lingers while it waits. 16 used twice the memory (peak RSS 63 MB against
  // 31 MB) and more CPU (the events in flight no longer stayed in cache) for no gain in
  // bench/shipper_kafka; 2 was as fast there but leaves less in flight for a broker
  // farther away than loopback.
  size_t max_in_flight() const override { return 4; }
  void Begin(std::span<const Event> events) override;
  Status Finish() override { return producer_.Await(); }

 private:
  KafkaTopicProducer producer_;
  std::string key_;     // scratch of Begin: the key of the last message (host:source)
  std::string header_;  // scratch of Begin: one message's wire::kKafkaEventHeader value
};

// One message per Publish: value = wire::EncodeSamples' Prometheus text, header v=1,
// no key. An empty span publishes nothing. Thread-compatible.
class KafkaSampleProducer final : public SampleProducer {
 public:
  KafkaSampleProducer(KafkaConfig kafka, std::string topic);
  Status Publish(std::span<const Sample> samples) override;

 private:
  KafkaTopicProducer producer_;
};

// Position of a consumed message.
struct KafkaPosition {
  int32_t partition = 0;
  int64_t offset = 0;
};

// "<partition>:<offset>" and back; nullopt when `id` is not of that form.
std::string KafkaQueueId(int32_t partition, int64_t offset);
std::optional<KafkaPosition> ParseKafkaQueueId(std::string_view id);

// The consumer-group reading shared by both consumers: subscription, the bookkeeping of
// delivered and acknowledged offsets, commits. Read(): one thread at a time. Ack():
// thread-safe, and may run concurrently with Read().
class KafkaTopicReader {
 public:
  KafkaTopicReader(KafkaConfig kafka, std::string topic, std::string group, std::string consumer);
  // Leaves the group (rd_kafka_consumer_close): acknowledged offsets are committed by the
  // revocation; unacknowledged messages are delivered again to the next owner.
  ~KafkaTopicReader();
  KafkaTopicReader(const KafkaTopicReader&) = delete;
  KafkaTopicReader& operator=(const KafkaTopicReader&) = delete;

  // Up to `max` messages, waiting at most `wait` for the first. Consumer errors are
  // classified; an unknown topic is logged and reads as empty (it may be created later).
  Result<std::vector<KafkaMessage>> Read(size_t max, std::chrono::milliseconds wait);
  // Marks the positions acknowledged and commits (synchronously: rd_kafka_commit, async=0)
  // every partition whose acknowledged prefix grew. Not Ok: the commit failed; the
  // acknowledgement is kept and committed by a later Ack or the revocation.
  Status Ack(std::span<const KafkaPosition> positions);

  const std::string& topic() const { return topic_; }
  const QueueProbe& probe() const { return probe_; }

 private:
  struct PartitionState {
    std::set<int64_t> outstanding;  // delivered, not acknowledged
    int64_t acked_end = -1;         // highest acknowledged offset + 1
    int64_t committed = -1;         // last committed position
    // The offset to commit: below it every delivered message was acknowledged.
    int64_t CommitPosition() const;
  };

  Status EnsureClient();
  // REQUIRES: mu_ not held. Commits the positions of `partitions` (all when empty) that
  // moved since their last commit.
  Status CommitAcked(const std::vector<int32_t>& partitions);
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);

  const KafkaConfig kafka_;
  const std::string topic_;
  const std::string group_;
  const std::string consumer_;
  const std::string context_;  // "kafka <brokers>: consume <topic> (group <group>)"
  const QueueProbe probe_;
  KafkaHandle rk_;  // created by the first Read; guarded by "Read: one thread at a time"
  std::mutex mu_;
  std::map<int32_t, PartitionState> partitions_;  // assigned partitions; guarded by mu_
  uint64_t unknown_topic_logs_ = 0;
};

// Delivers one Event per message. A message with an "e" header decodes with
// wire::DecodeKafkaEvent (key, header, value); else one with a `v` header decodes with
// wire::DecodeEvent (headers + value as "msg"); one with neither is plain text: raw = value,
// id "<topic>/<partition>/<offset>", type "plain", time the message timestamp. A message
// that does not decode is delivered with type "_undecodable" (raw: its headers "k=v ..."
// and value), id "<topic>/<partition>/<offset>". Poll: one thread at a time; Ack:
// thread-safe.
class KafkaEventConsumer final : public EventConsumer {
 public:
  KafkaEventConsumer(KafkaConfig kafka, std::string topic, std::string group, std::string consumer);
  Result<std::vector<Delivery<Event>>> Poll(size_t max, std::chrono::milliseconds wait) override;
  Status Ack(std::span<const Delivery<Event>> deliveries) override;

  uint64_t undecodable() const { return undecodable_.load(); }

 private:
  KafkaTopicReader reader_;
  std::atomic<uint64_t> undecodable_{0};
};

// Delivers one Sample per sample; all samples of a message share its queue_id, and the
// message counts as acknowledged once every one of its samples was. `max` bounds the
// samples returned; the rest of a message waits for the next Poll. A message that does not
// decode is logged, counted and acknowledged. Poll: one thread at a time; Ack: thread-safe.
class KafkaSampleConsumer final : public SampleConsumer {
 public:
  KafkaSampleConsumer(KafkaConfig kafka, std::string topic, std::string group, std::string consumer);
  Result<std::vector<Delivery<Sample>>> Poll(size_t max, std::chrono::milliseconds wait) override;
  Status Ack(std::span<const Delivery<Sample>> deliveries) override;

  uint64_t undecodable() const { return undecodable_.load(); }

 private:
  KafkaTopicReader reader_;
  std::atomic<uint64_t> undecodable_{0};
  SampleEntries entries_;  // decoded samples, handed out one by one
};

// Decodes one consumed message as an event (see KafkaEventConsumer).
Result<Event> DecodeKafkaEvent(const rd_kafka_message_t& message, const std::string& topic);

// Factories: validate the config (brokers, topic names: letters, digits, '.', '_', '-';
// group and consumer names) and build; no I/O. Events use queue.events_stream, samples
// queue.metrics_stream, as topic names.
Result<std::unique_ptr<EventProducer>> MakeKafkaEventProducer(const QueueConfig& queue);
Result<std::unique_ptr<SampleProducer>> MakeKafkaSampleProducer(const QueueConfig& queue);
Result<std::unique_ptr<EventConsumer>> MakeKafkaEventConsumer(const QueueConfig& queue,
                                                              const std::string& group,
                                                              const std::string& consumer);
Result<std::unique_ptr<SampleConsumer>> MakeKafkaSampleConsumer(const QueueConfig& queue,
                                                                const std::string& group,
                                                                const std::string& consumer);

}  // namespace logship
