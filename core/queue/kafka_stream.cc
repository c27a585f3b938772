#include "core/queue/kafka_stream.h"

#include <spdlog/spdlog.h>

#include <prometheus/counter.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <thread>

namespace logship {
namespace {

using Clock = std::chrono::steady_clock;

// Reports are guaranteed within message.timeout.ms; this covers the time to serve them.
constexpr std::chrono::milliseconds kReportGrace{5000};

// How long one rd_kafka_flush call of Await may run (see there).
constexpr int kFlushSliceMs = 5;

// Properties logship sets itself on every producer / consumer; the pass-through map may
// not override them.
const std::vector<std::string> kProducerOwned = {
    "enable.idempotence", "acks", "request.required.acks", "compression.codec",
    "compression.type", "message.timeout.ms", "delivery.timeout.ms", "max.in.flight",
    "max.in.flight.requests.per.connection", "enable.gapless.guarantee", "transactional.id"};
const std::vector<std::string> kConsumerOwned = {
    "group.id", "enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof",
    "auto.offset.reset"};

std::string Endpoint(const KafkaConfig& kafka) { return "kafka " + kafka.brokers; }

Result<KafkaProperties> ProducerProperties(const KafkaConfig& kafka) {
  auto props = KafkaBaseProperties(kafka, kProducerOwned);
  if (!props.ok()) return props.status();
  // linger.ms 1 rather than librdkafka's 5 is a default, not owned: queue.kafka.properties
  // come after it and win. The shipper produces a batch, then more while earlier ones are
  // in flight; with 5 ms the broker thread sat idle while a batch was being produced
  // (bench/shipper_kafka: 0.69 to 0.76 s against 0.88 to 0.92 s; 0 sent smaller requests
  // and cost 20% more CPU).
  props->insert(props->begin(),
                {{"enable.idempotence", "true"},
                 {"acks", "all"},
                 {"compression.codec", kafka.compression},
                 {"message.timeout.ms", std::to_string(kafka.timeout.count())},
                 {"linger.ms", "1"}});
  return props;
}

Result<KafkaProperties> ConsumerProperties(const KafkaConfig& kafka, const std::string& group,
                                           const std::string& consumer) {
  KafkaConfig k = kafka;
  k.client_id = kafka.client_id + "-" + consumer;
  auto props = KafkaBaseProperties(k, kConsumerOwned);
  if (!props.ok()) return props.status();
  props->insert(props->begin(), {{"group.id", group},
                                 {"enable.auto.commit", "false"},
                                 {"enable.auto.offset.store", "false"},
                                 {"enable.partition.eof", "false"},
                                 {"auto.offset.reset", "earliest"}});
  return props;
}

// Headers and value of a message as "k=v k=v msg=<value>".
std::string DumpMessage(const rd_kafka_message_t& m) {
  std::string out;
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      out += name;
      out += '=';
      if (value) out.append(static_cast<const char*>(value), size);
      out += ' ';
    }
  }
  out += "msg=";
  if (m.payload) out.append(static_cast<const char*>(m.payload), m.len);
  return out;
}

std::string_view Payload(const rd_kafka_message_t& m) {
  return m.payload ? std::string_view(static_cast<const char*>(m.payload), m.len)
                   : std::string_view();
}

int64_t TimestampMs(const rd_kafka_message_t& m) {
  int64_t ts = rd_kafka_message_timestamp(&m, nullptr);
  return ts < 0 ? 0 : ts;
}

bool ValidTopic(const std::string& t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

Status ValidateKafka(const QueueConfig& queue, const std::string& key, const std::string& topic) {
  if (queue.kafka.brokers.empty()) return Status::InvalidArgument("queue.kafka.brokers is empty");
  if (queue.kafka.timeout.count() <= 0) {
    return Status::InvalidArgument("queue.kafka.timeout must be positive");
  }
  if (!ValidTopic(topic)) {
    return Status::InvalidArgument(
        "queue." + key + " \"" + topic +
        "\" is not a valid Kafka topic name (letters, digits, '.', '_', '-'); with "
        "queue.type kafka set it, e.g. to \"logship.events\" / \"logship.metrics\"");
  }
  return Status::Ok();
}

Status ValidateConsumer(const std::string& group, const std::string& consumer) {
  if (group.empty()) return Status::InvalidArgument("consumer group name is empty");
  if (consumer.empty()) return Status::InvalidArgument("consumer name is empty");
  return Status::Ok();
}

// librdkafka's default partitioner, consistent_random (CRC32 of the key modulo the partition
// count; a random partition without a key), remembering the last key per thread: every line
// of one file has the same key, and hashing it again for each message was 5% of the
// shipper's CPU (bench/shipper_kafka). A key gets the partition the default gives it.
// librdkafka may call a partitioner on its own threads too (messages produced before the
// topic's metadata arrived), hence thread_local.
int32_t ConsistentRandomRememberingLastKey(const rd_kafka_topic_t* rkt, const void* key, size_t key_len,
                                           int32_t partition_cnt, void* rkt_opaque, void* msg_opaque) {
  if (key == nullptr) {
    return rd_kafka_msg_partitioner_consistent_random(rkt, key, key_len, partition_cnt, rkt_opaque, msg_opaque);
  }
  struct Last {
    std::string key;
    int32_t partition_cnt = -1;
    int32_t partition = 0;
  };
  thread_local Last last;
  const std::string_view k(static_cast<const char*>(key), key_len);
  if (partition_cnt == last.partition_cnt && k == last.key) return last.partition;
  const int32_t p =
      rd_kafka_msg_partitioner_consistent_random(rkt, key, key_len, partition_cnt, rkt_opaque, msg_opaque);
  last.key.assign(k);
  last.partition_cnt = partition_cnt;
  last.partition = p;
  return p;
}

// Builds (without creating a client) every property, so a bad one fails at startup.
Status CheckConf(Result<KafkaProperties> props) {
  if (!props.ok()) return props.status();
  return MakeKafkaConf(*props).status();
}

}  // namespace

// ---- producer ----

KafkaTopicProducer::KafkaTopicProducer(KafkaConfig kafka, std::string topic)
    : kafka_(std::move(kafka)),
      topic_(std::move(topic)),
      context_(Endpoint(kafka_) + ": produce " + topic_),
      probe_(QueueProbe::For("kafka", topic_)) {}

KafkaTopicProducer::~KafkaTopicProducer() {
  if (!rk_) return;
  rd_kafka_flush(rk_.get(), static_cast<int>(kafka_.timeout.count()));
  int left = rd_kafka_outq_len(rk_.get());
  if (left > 0) {
    spdlog::warn("{}: {} messages or requests still queued at shutdown; their batches were "
                 "not acknowledged and will be published again",
                 context_, left);
  }
}

Status KafkaTopicProducer::EnsureClient() {
  if (rk_ && !rebuild_) return Status::Ok();
  if (rk_) {
    spdlog::warn("{}: rebuilding the producer after a fatal error", context_);
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rkt_.reset();
    rk_.reset();
  }
  auto props = ProducerProperties(kafka_);
  if (!props.ok()) return props.status();
  auto conf = MakeKafkaConf(*props);
  if (!conf.ok()) return conf.status();
  // Unless queue.kafka.properties chose another partitioner: the default's mapping, faster.
  if (kafka_.properties.count("partitioner") == 0) {
    if (rd_kafka_topic_conf_t* topic_conf = rd_kafka_conf_get_default_topic_conf(conf->get())) {
      rd_kafka_topic_conf_set_partitioner_cb(topic_conf, &ConsistentRandomRememberingLastKey);
    } else {
      topic_conf = rd_kafka_topic_conf_new();
      rd_kafka_topic_conf_set_partitioner_cb(topic_conf, &ConsistentRandomRememberingLastKey);
      rd_kafka_conf_set_default_topic_conf(conf->get(), topic_conf);  // takes it
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaTopicProducer::OnDelivery);
  rd_kafka_conf_set_error_cb(conf->get(), &KafkaTopicProducer::OnError);
  rd_kafka_conf_set_opaque(conf->get(), this);
  SetKafkaLogger(conf->get());
  auto rk = MakeKafkaHandle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk.ok()) return rk.status();
  KafkaTopic rkt(rd_kafka_topic_new(rk->get(), topic_.c_str(), nullptr));
  if (!rkt) {
    return ClassifyKafkaError(rd_kafka_last_error(), context_ + ": topic handle");
  }
  rk_ = std::move(*rk);
  rkt_ = std::move(rkt);
  rebuild_ = false;
  return Status::Ok();
}

void KafkaTopicProducer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaTopicProducer*>(opaque);
  const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(msg->_private));
  if (self->batches_.empty() || id < self->batches_.front().id) return;  // already returned
  const size_t index = id - self->batches_.front().id;
  if (index >= self->batches_.size()) return;
  Batch& b = self->batches_[index];
  --b.awaiting;
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (!b.status.ok() && b.status.code() == StatusCode::kPermanent) return;
  Status st = ClassifyKafkaError(msg->err, self->context_ + ": delivery");
  if (b.status.ok() || st.code() == StatusCode::kPermanent) b.status = st;
}

void KafkaTopicProducer::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaTopicProducer*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    spdlog::error("{}: fatal error {}: {}", self->context_, rd_kafka_err2name(orig), buf);
    self->rebuild_ = true;
    return;
  }
  // Transport errors are retried by librdkafka on its own; they surface as delivery
  // reports when the batch cannot be delivered in time.
  spdlog::warn("{}: {}: {}", self->context_, rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
               reason);
}

Status KafkaTopicProducer::Produce(std::span<const KafkaOutMessage> messages) {
  return Produce(messages.size(), [&](size_t i, KafkaOutView& v) {
    const KafkaOutMessage& m = messages[i];
    v.has_key = m.key.has_value();
    if (m.key) v.key = *m.key;
    v.value = m.value;
    for (const auto& [k, val] : m.headers) v.headers.emplace_back(k, val);
  });
}

Status KafkaTopicProducer::Produce(size_t count, const std::function<void(size_t, KafkaOutView&)>& fill) {
  if (count == 0) return Status::Ok();
  Enqueue(count, fill);
  return Await();
}

void KafkaTopicProducer::Enqueue(size_t count, const std::function<void(size_t, KafkaOutView&)>& fill) {
  StartBatch(count);
  KafkaOutView m;
  for (size_t i = 0; i < count; ++i) {
    m.headers.clear();
    fill(i, m);
    if (!Add(m.has_key ? &m.key : nullptr, m.value, m.headers, 0)) break;
  }
  EndBatch();
}

void KafkaTopicProducer::StartBatch(size_t count) {
  Batch& b = batches_.emplace_back();
  b.id = next_batch_++;
  b.count = count;
  b.deadline = Clock::now() + kafka_.timeout + kReportGrace;
  adding_ = false;
  if (count == 0) return;
  // A client that raised a fatal error is rebuilt only when nothing else is in flight:
  // purging it fails the earlier batches, which their callers then publish again.
  Status st = rebuild_ && batches_.size() > 1
                  ? Status::Retryable(context_ + ": producer is being rebuilt after a fatal error")
                  : EnsureClient();
  if (!st.ok()) {
    b.status = st;
    return;
  }
  adding_ = true;
}

bool KafkaTopicProducer::Add(const std::string_view* key, std::string_view value,
                             std::span<const std::pair<std::string_view, std::string_view>> headers,
                             int64_t timestamp_ms) {
  if (!adding_) return false;
  // `b` stays valid: OnDelivery (served by the polls here) only reads batches_ by index,
  // and only Await removes from it.
  Batch& b = batches_.back();
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [k, v] : headers) {
      rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(), static_cast<ssize_t>(v.size()));
    }
  }
  const void* key_data = key != nullptr ? static_cast<const void*>(key->data()) : nullptr;
  const size_t key_len = key != nullptr ? key->size() : 0;
  rd_kafka_resp_err_t err;
  for (;;) {
    // The topic handle, not its name: by name, librdkafka looks the topic up under a
    // write lock for every message.
    err = rd_kafka_producev(rk_.get(), RD_KAFKA_V_RKT(rkt_.get()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(key_data, key_len),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(b.id))),
                            RD_KAFKA_V_END);
    // A full local queue drains as reports are served; wait for room until the deadline.
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || Clock::now() >= b.deadline) break;
    rd_kafka_poll(rk_.get(), 10);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);  // not taken on failure
    Status enqueue = ClassifyKafkaError(err, context_ + ": enqueue");
    if (b.status.ok() || enqueue.code() == StatusCode::kPermanent) b.status = enqueue;
    adding_ = false;  // later messages would land out of order behind a gap: stop here
    return false;
  }
  ++b.awaiting;
  b.bytes += value.size() + key_len;
  for (const auto& [k, v] : headers) b.bytes += k.size() + v.size();
  return true;
}

void KafkaTopicProducer::EndBatch() {
  adding_ = false;
  if (rk_) rd_kafka_poll(rk_.get(), 0);  // serve what is ready without waiting
}

Status KafkaTopicProducer::Await() {
  Batch& b = batches_.front();
  // The caller produces nothing more until this batch is done, so nothing will join what
  // librdkafka holds back for linger.ms: flush (which ignores linger.ms while it runs and
  // serves reports like poll) rather than poll. Polling, every window of batches waited
  // out linger.ms before it was sent. Flush returns once nothing is queued or after
  // kFlushSliceMs, whichever comes first; a shorter slice woke the broker thread so often
  // that it sent smaller requests and used more CPU (bench/shipper_kafka).
  while (rk_ && b.awaiting > 0 && Clock::now() < b.deadline) rd_kafka_flush(rk_.get(), kFlushSliceMs);
  if (rk_) rd_kafka_poll(rk_.get(), 0);  // serve error events (fatal) raised meanwhile

  // Permanent beats Retryable beats Ok.
  Status result = b.status;
  if (result.ok() && b.awaiting > 0) {
    result = Status::Retryable(context_ + ": " + std::to_string(b.awaiting) +
                               " delivery reports still outstanding after " +
                               std::to_string(kafka_.timeout.count() + kReportGrace.count()) + " ms");
  }
  if (rebuild_ && rk_ && (result.ok() || result.retryable())) {
    char buf[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
    result = ClassifyKafkaError(orig, context_ + ": " + buf, /*fatal=*/true);
  }
  if (b.count > 0) {
    if (result.ok()) {
      probe_.sent_events->Increment(static_cast<double>(b.count));
      probe_.sent_bytes->Increment(static_cast<double>(b.bytes));
    } else {
      probe_.CountError(result.retryable());
    }
  }
  batches_.pop_front();
  return result;
}

KafkaEventProducer::KafkaEventProducer(KafkaConfig kafka, std::string topic)
    : producer_(std::move(kafka), std::move(topic)) {}

Status KafkaEventProducer::Publish(std::span<const Event> events) {
  Begin(events);
  return producer_.Await();
}

void KafkaEventProducer::Begin(std::span<const Event> events) {
  // The value is the raw line, the other fields one header (wire::kKafkaEventHeader,
  // docs/kafka.md); the key host:source keeps one file's lines in one partition, in order.
  // The message timestamp is the event's time (when the line was read). Both scratch
  // strings are reused: no allocation per event once they have grown, and the key is
  // rebuilt only when the file changes.
  producer_.StartBatch(events.size());
  for (const Event& e : events) {
    if (key_.size() != e.host.size() + 1 + e.source.size() || !key_.starts_with(e.host) ||
        !key_.ends_with(e.source) || key_[e.host.size()] != ':') {
      key_.assign(e.host).append(":").append(e.source);
    }
    header_.clear();
    wire::AppendKafkaEventHeader(e, key_, header_);
    const std::string_view key = key_;
    const std::pair<std::string_view, std::string_view> header(wire::kKafkaEventHeader, header_);
    if (!producer_.Add(&key, e.raw, std::span(&header, 1), e.time_ns > 0 ? e.time_ns / 1'000'000 : 0)) break;
  }
  producer_.EndBatch();
}

KafkaSampleProducer::KafkaSampleProducer(KafkaConfig kafka, std::string topic)
    : producer_(std::move(kafka), std::move(topic)) {}

Status KafkaSampleProducer::Publish(std::span<const Sample> samples) {
  if (samples.empty()) return Status::Ok();
  wire::FieldList fields = wire::EncodeSamples(std::vector<Sample>(samples.begin(), samples.end()));
  KafkaOutMessage m;
  for (auto& [k, v] : fields) {
    if (k == "samples") {
      m.value = std::move(v);
    } else {
      m.headers.emplace_back(k, std::move(v));
    }
  }
  return producer_.Produce(std::span<const KafkaOutMessage>(&m, 1));
}

// ---- queue ids ----

std::string KafkaQueueId(int32_t partition, int64_t offset) {
  return std::to_string(partition) + ":" + std::to_string(offset);
}

std::optional<KafkaPosition> ParseKafkaQueueId(std::string_view id) {
  size_t colon = id.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  KafkaPosition p;
  auto r1 = std::from_chars(id.data(), id.data() + colon, p.partition);
  auto r2 = std::from_chars(id.data() + colon + 1, id.data() + id.size(), p.offset);
  if (r1.ec != std::errc() || r1.ptr != id.data() + colon || r2.ec != std::errc() ||
      r2.ptr != id.data() + id.size() || p.partition < 0 || p.offset < 0) {
    return std::nullopt;
  }
  return p;
}

// ---- reader ----

int64_t KafkaTopicReader::PartitionState::CommitPosition() const {
  if (acked_end < 0) return -1;
  if (!outstanding.empty()) return std::min(*outstanding.begin(), acked_end);
  return acked_end;
}

KafkaTopicReader::KafkaTopicReader(KafkaConfig kafka, std::string topic, std::string group,
                                   std::string consumer)
    : kafka_(std::move(kafka)),
      topic_(std::move(topic)),
      group_(std::move(group)),
      consumer_(std::move(consumer)),
      context_(Endpoint(kafka_) + ": consume " + topic_ + " (group " + group_ + ")"),
      probe_(QueueProbe::For("kafka", topic_)) {}

KafkaTopicReader::~KafkaTopicReader() {
  if (!rk_) return;
  // Revokes the assignment: OnRebalance commits what was acknowledged.
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get());
  if (err) spdlog::warn("{}: close: {}", context_, rd_kafka_err2str(err));
}

Status KafkaTopicReader::EnsureClient() {
  if (rk_) return Status::Ok();
  auto props = ConsumerProperties(kafka_, group_, consumer_);
  if (!props.ok()) return props.status();
  auto conf = MakeKafkaConf(*props);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaTopicReader::OnRebalance);
  rd_kafka_conf_set_opaque(conf->get(), this);
  SetKafkaLogger(conf->get());
  auto rk = MakeKafkaHandle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk.ok()) return rk.status();
  rd_kafka_poll_set_consumer(rk->get());
  KafkaPartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk->get(), topics.get());
  if (err) return ClassifyKafkaError(err, context_ + ": subscribe");
  rk_ = std::move(*rk);
  return Status::Ok();
}

void KafkaTopicReader::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<KafkaTopicReader*>(opaque);
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  std::vector<int32_t> ids;
  for (int i = 0; i < parts->cnt; ++i) ids.push_back(parts->elems[i].partition);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      for (int32_t p : ids) self->partitions_[p] = PartitionState{};
    }
    spdlog::info("{}: assigned {} partitions", self->context_, ids.size());
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts);
      if (e) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, parts);
    }
    return;
  }
  // Revoked (or lost): commit what was acknowledged, then forget the partitions; the next
  // owner starts from the commit. After a loss the commit fails, which is fine.
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk)) {
    Status st = self->CommitAcked(ids);
    if (!st.ok()) spdlog::warn("{}: commit on revocation: {}", self->context_, st.message());
  }
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    for (int32_t p : ids) self->partitions_.erase(p);
  }
  spdlog::info("{}: revoked {} partitions", self->context_, ids.size());
  if (cooperative) {
    rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts);
    if (e) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

Result<std::vector<KafkaMessage>> KafkaTopicReader::Read(size_t max, std::chrono::milliseconds wait) {
  std::vector<KafkaMessage> out;
  if (max == 0) return out;
  Status st = EnsureClient();
  if (!st.ok()) {
    probe_.CountError(st.retryable());
    return st;
  }
  const auto deadline = Clock::now() + wait;
  size_t bytes = 0;
  while (out.size() < max) {
    int timeout_ms = 0;
    if (out.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
    }
    KafkaMessage m(rd_kafka_consumer_poll(rk_.get(), timeout_ms));
    if (!m) {
      if (!out.empty() || Clock::now() >= deadline) break;
      continue;  // a rebalance or error event was served; wait on
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        // The topic may not exist yet (created by the first producer, or by an operator).
        if (unknown_topic_logs_++ % 100 == 0) {
          spdlog::warn("{}: topic does not exist (yet): {}", context_, rd_kafka_message_errstr(m.get()));
        }
        if (out.empty() && Clock::now() < deadline) {
          std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
              std::chrono::milliseconds(100),
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())));
          continue;
        }
        break;
      }
      Status err = ClassifyKafkaError(m->err, context_ + ": " + rd_kafka_message_errstr(m.get()));
      if (!out.empty()) {
        spdlog::warn("{}", err.message());  // deliver what was read; the error recurs if it lasts
        break;
      }
      probe_.CountError(err.retryable());
      return err;
    }
    {
      // Only partitions assigned to us are tracked. A message of another one (possible
      // only around a rebalance) is delivered untracked: its Ack is ignored, so this
      // consumer can never commit a partition it does not own.
      std::lock_guard<std::mutex> lock(mu_);
      auto it = partitions_.find(m->partition);
      if (it != partitions_.end()) it->second.outstanding.insert(m->offset);
    }
    bytes += m->len + m->key_len;
    out.push_back(std::move(m));
  }
  probe_.received_events->Increment(static_cast<double>(out.size()));
  probe_.received_bytes->Increment(static_cast<double>(bytes));
  return out;
}

Status KafkaTopicReader::Ack(std::span<const KafkaPosition> positions) {
  std::vector<int32_t> touched;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const KafkaPosition& pos : positions) {
      auto it = partitions_.find(pos.partition);
      if (it == partitions_.end()) continue;  // revoked since: its new owner delivers it again
      if (it->second.outstanding.erase(pos.offset) == 0) continue;  // not delivered, or acked
      it->second.acked_end = std::max(it->second.acked_end, pos.offset + 1);
      if (std::find(touched.begin(), touched.end(), pos.partition) == touched.end()) {
        touched.push_back(pos.partition);
      }
    }
  }
  if (touched.empty()) return Status::Ok();
  Status st = CommitAcked({});  // also retries partitions whose earlier commit failed
  if (!st.ok()) probe_.CountError(st.retryable());
  return st;
}

Status KafkaTopicReader::CommitAcked(const std::vector<int32_t>& partitions) {
  if (!rk_) return Status::Ok();
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(4));
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [p, state] : partitions_) {
      if (!partitions.empty() && std::find(partitions.begin(), partitions.end(), p) == partitions.end()) {
        continue;
      }
      int64_t pos = state.CommitPosition();
      if (pos > state.committed) {
        rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = pos;
      }
    }
  }
  if (list->cnt == 0) return Status::Ok();
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), /*async=*/0);
  Status st = ClassifyKafkaError(err, context_ + ": commit");
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = list->elems[i];
    if (tp.err) {
      if (st.ok() || (st.retryable() && !ClassifyKafkaError(tp.err, "").retryable())) {
        st = ClassifyKafkaError(tp.err, context_ + ": commit partition " + std::to_string(tp.partition));
      }
      continue;
    }
    if (err) continue;
    auto it = partitions_.find(tp.partition);
    if (it != partitions_.end()) it->second.committed = std::max(it->second.committed, tp.offset);
  }
  return st;
}

// ---- event consumer ----

Result<Event> DecodeKafkaEvent(const rd_kafka_message_t& m, const std::string& topic) {
  const std::string entry = std::to_string(m.partition) + "/" + std::to_string(m.offset);
  rd_kafka_headers_t* headers = nullptr;
  const bool has_headers = rd_kafka_message_headers(&m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (has_headers) {
    if (auto e = KafkaHeader(headers, wire::kKafkaEventHeader.data())) {
      std::string_view key = m.key ? std::string_view(static_cast<const char*>(m.key), m.key_len) : std::string_view();
      return wire::DecodeKafkaEvent(key, *e, Payload(m), topic + "/" + entry);
    }
  }
  // Earlier shippers: the v1 fields as headers; or plain text without any.
  wire::FieldList fields;
  fields.emplace_back("msg", std::string(Payload(m)));
  bool versioned = false;
  if (has_headers) {
    versioned = KafkaHeader(headers, "v").has_value();
    if (versioned) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                         RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        fields.emplace_back(name, value ? std::string(static_cast<const char*>(value), size)
                                        : std::string());
      }
    }
  }
  // Without "v" only the value counts: a plain-text message (rsyslog's omkafka).
  return wire::DecodeEvent(std::move(fields), topic, entry, TimestampMs(m));
}

KafkaEventConsumer::KafkaEventConsumer(KafkaConfig kafka, std::string topic, std::string group,
                                       std::string consumer)
    : reader_(std::move(kafka), std::move(topic), std::move(group), std::move(consumer)) {}

Result<std::vector<Delivery<Event>>> KafkaEventConsumer::Poll(size_t max,
                                                              std::chrono::milliseconds wait) {
  auto messages = reader_.Read(max, wait);
  if (!messages.ok()) return messages.status();
  std::vector<Delivery<Event>> out;
  out.reserve(messages->size());
  for (const KafkaMessage& m : *messages) {
    std::string queue_id = KafkaQueueId(m->partition, m->offset);
    auto event = DecodeKafkaEvent(*m, reader_.topic());
    if (event.ok()) {
      out.push_back({std::move(queue_id), std::move(event).value()});
      continue;
    }
    undecodable_.fetch_add(1);
    reader_.probe().undecodable->Increment();
    spdlog::warn("kafka topic {}: message {} does not decode ({}); delivered as _undecodable",
                 reader_.topic(), queue_id, event.status().message());
    Event e;
    e.id = reader_.topic() + "/" + std::to_string(m->partition) + "/" + std::to_string(m->offset);
    e.time_ns = TimestampMs(*m) * 1'000'000;
    e.source = reader_.topic();
    e.type = "_undecodable";
    e.raw = DumpMessage(*m);
    out.push_back({std::move(queue_id), std::move(e)});
  }
  return out;
}

Status KafkaEventConsumer::Ack(std::span<const Delivery<Event>> deliveries) {
  std::vector<KafkaPosition> positions;
  positions.reserve(deliveries.size());
  for (const auto& d : deliveries) {
    if (auto p = ParseKafkaQueueId(d.queue_id)) positions.push_back(*p);
  }
  return reader_.Ack(positions);
}

// ---- sample consumer ----

KafkaSampleConsumer::KafkaSampleConsumer(KafkaConfig kafka, std::string topic, std::string group,
                                         std::string consumer)
    : reader_(std::move(kafka), std::move(topic), std::move(group), std::move(consumer)) {}

Result<std::vector<Delivery<Sample>>> KafkaSampleConsumer::Poll(size_t max,
                                                                std::chrono::milliseconds wait) {
  if (entries_.HasReady() || max == 0) return entries_.Take(max);
  // Messages carry several samples each; reading `max` messages is enough for `max` samples.
  auto messages = reader_.Read(max, wait);
  if (!messages.ok()) return messages.status();
  std::vector<KafkaPosition> bad;
  for (const KafkaMessage& m : *messages) {
    std::string queue_id = KafkaQueueId(m->partition, m->offset);
    wire::FieldList fields;
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (auto v = KafkaHeader(headers, "v")) fields.emplace_back("v", std::string(*v));
    }
    fields.emplace_back("samples", std::string(Payload(*m)));
    auto samples = wire::DecodeSamples(fields);
    if (samples.ok() && samples->empty()) {
      bad.push_back({m->partition, m->offset});  // nothing to deliver
      continue;
    }
    if (!samples.ok()) {
      undecodable_.fetch_add(1);
      reader_.probe().undecodable->Increment();
      reader_.probe().dropped->Increment();
      spdlog::warn("kafka topic {}: message {} does not decode ({}); acknowledged and skipped", reader_.topic(),
                   queue_id, samples.status().message());
      bad.push_back({m->partition, m->offset});
      continue;
    }
    entries_.Add(queue_id, std::move(*samples));
  }
  if (!bad.empty()) {
    // A failed commit is not an error of this Poll: the messages come back after a restart.
    Status st = reader_.Ack(bad);
    if (!st.ok()) spdlog::warn("{}", st.message());
  }
  return entries_.Take(max);
}

Status KafkaSampleConsumer::Ack(std::span<const Delivery<Sample>> deliveries) {
  std::vector<KafkaPosition> complete;
  for (const std::string& id : entries_.Acknowledge(deliveries)) {
    if (auto p = ParseKafkaQueueId(id)) complete.push_back(*p);
  }
  // The reader keeps the acknowledgement when the commit fails; a later Ack commits it.
  return reader_.Ack(complete);
}

// ---- factories ----

Result<std::unique_ptr<EventProducer>> MakeKafkaEventProducer(const QueueConfig& queue) {
  LOGSHIP_RETURN_IF_ERROR(ValidateKafka(queue, "events_stream", queue.events_stream));
  LOGSHIP_RETURN_IF_ERROR(CheckConf(ProducerProperties(queue.kafka)));
  return std::unique_ptr<EventProducer>(
      std::make_unique<KafkaEventProducer>(queue.kafka, queue.events_stream));
}

Result<std::unique_ptr<SampleProducer>> MakeKafkaSampleProducer(const QueueConfig& queue) {
  LOGSHIP_RETURN_IF_ERROR(ValidateKafka(queue, "metrics_stream", queue.metrics_stream));
  LOGSHIP_RETURN_IF_ERROR(CheckConf(ProducerProperties(queue.kafka)));
  return std::unique_ptr<SampleProducer>(
      std::make_unique<KafkaSampleProducer>(queue.kafka, queue.metrics_stream));
}

Result<std::unique_ptr<EventConsumer>> MakeKafkaEventConsumer(const QueueConfig& queue,
                                                              const std::string& group,
                                                              const std::string& consumer) {
  LOGSHIP_RETURN_IF_ERROR(ValidateKafka(queue, "events_stream", queue.events_stream));
  LOGSHIP_RETURN_IF_ERROR(ValidateConsumer(group, consumer));
  LOGSHIP_RETURN_IF_ERROR(CheckConf(ConsumerProperties(queue.kafka, group, consumer)));
  return std::unique_ptr<EventConsumer>(
      std::make_unique<KafkaEventConsumer>(queue.kafka, queue.events_stream, group, consumer));
}

Result<std::unique_ptr<SampleConsumer>> MakeKafkaSampleConsumer(const QueueConfig& queue,
                                                                const std::string& group,
                                                                const std::string& consumer) {
  LOGSHIP_RETURN_IF_ERROR(ValidateKafka(queue, "metrics_stream", queue.metrics_stream));
  LOGSHIP_RETURN_IF_ERROR(ValidateConsumer(group, consumer));
  LOGSHIP_RETURN_IF_ERROR(CheckConf(ConsumerProperties(queue.kafka, group, consumer)));
  return std::unique_ptr<SampleConsumer>(
      std::make_unique<KafkaSampleConsumer>(queue.kafka, queue.metrics_stream, group, consumer));
}

}  // namespace logship
