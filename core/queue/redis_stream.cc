#include "core/queue/redis_stream.h"

#include <spdlog/spdlog.h>

#include <prometheus/counter.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace logship {
namespace {

constexpr size_t kMaxIdsPerXack = 10000;

int64_t IdMillis(std::string_view id) {
  int64_t ms = 0;
  std::from_chars(id.data(), id.data() + id.size(), ms);
  return ms;
}

// The outcome of a batch of XADD replies: Permanent beats Retryable beats Ok.
Status CheckXaddReplies(const std::vector<RedisReply>& replies, const std::string& context) {
  Status worst;
  for (const RedisReply& r : replies) {
    if (r.type == RedisReply::Type::kString) continue;
    Status st = r.is_error() ? ClassifyRedisError(0, r.str, context)
                             : Status::Permanent(context + ": unexpected XADD reply");
    if (worst.ok() || (st.code() == StatusCode::kPermanent && worst.retryable())) {
      worst = std::move(st);
    }
  }
  return worst;
}

size_t FieldBytes(const wire::FieldList& fields) {
  size_t n = 0;
  for (const auto& [k, v] : fields) n += k.size() + v.size();
  return n;
}

// Counts the outcome of a producer call.
Status Count(const QueueProbe& probe, Status st, size_t events, size_t bytes) {
  if (st.ok()) {
    probe.sent_events->Increment(static_cast<double>(events));
    probe.sent_bytes->Increment(static_cast<double>(bytes));
  } else {
    probe.CountError(st.retryable());
  }
  return st;
}

std::string DumpFields(const wire::FieldList& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += ' ';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

// XREADGROUP reply: nil, or [[stream, [[id, [f, v, ...] | nil], ...]]].
Status ParseReadReply(RedisReply& reply, const std::string& context,
                      std::vector<StreamEntry>* out) {
  if (reply.is_nil()) return Status::Ok();
  auto malformed = [&] { return Status::Permanent(context + ": malformed XREADGROUP reply"); };
  if (!reply.is_array()) return malformed();
  for (RedisReply& stream : reply.elements) {
    if (!stream.is_array() || stream.elements.size() != 2 || !stream.elements[1].is_array()) {
      return malformed();
    }
    for (RedisReply& entry : stream.elements[1].elements) {
      if (!entry.is_array() || entry.elements.size() != 2 || !entry.elements[0].is_string()) {
        return malformed();
      }
      StreamEntry e;
      e.id = entry.elements[0].str;
      e.time_ms = IdMillis(e.id);
      RedisReply& fields = entry.elements[1];
      if (fields.is_nil()) {
        e.deleted = true;
      } else {
        if (!fields.is_array()) return malformed();
        e.fields.reserve(fields.elements.size() / 2);
        for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
          e.fields.emplace_back(std::move(fields.elements[i].str),
                                std::move(fields.elements[i + 1].str));
        }
      }
      out->push_back(std::move(e));
    }
  }
  return Status::Ok();
}

Status ValidateRedis(const QueueConfig& queue, const std::string& stream) {
  if (queue.redis.host.empty()) return Status::InvalidArgument("queue.redis.host is empty");
  if (queue.redis.port <= 0 || queue.redis.port > 65535) {
    return Status::InvalidArgument("queue.redis.port " + std::to_string(queue.redis.port) +
                                   " is not in 1..65535");
  }
  if (queue.redis.db < 0) return Status::InvalidArgument("queue.redis.db is negative");
  if (queue.redis.timeout.count() <= 0) {
    return Status::InvalidArgument("queue.redis.timeout must be positive");
  }
  if (stream.empty()) return Status::InvalidArgument("queue stream name is empty");
  return Status::Ok();
}

Status ValidateConsumer(const std::string& group, const std::string& consumer) {
  if (group.empty()) return Status::InvalidArgument("consumer group name is empty");
  if (consumer.empty()) return Status::InvalidArgument("consumer name is empty");
  return Status::Ok();
}

}  // namespace

// ---- producers ----

RedisEventProducer::RedisEventProducer(RedisConfig redis, std::string stream)
    : client_(std::move(redis)),
      stream_(std::move(stream)),
      probe_(QueueProbe::For("redis", stream_)) {}

Status RedisEventProducer::Publish(std::span<const Event> events) {
  if (events.empty()) return Status::Ok();
  std::vector<wire::FieldList> encoded;
  encoded.reserve(events.size());
  std::vector<RedisArgs> commands;
  commands.reserve(events.size());
  size_t bytes = 0;
  for (const Event& e : events) {
    const wire::FieldList& fields = encoded.emplace_back(wire::EncodeEvent(e));
    bytes += FieldBytes(fields);
    RedisArgs& args = commands.emplace_back();
    args.reserve(3 + 2 * fields.size());
    args.push_back("XADD");
    args.push_back(stream_);
    args.push_back("*");
    for (const auto& [k, v] : fields) {
      args.push_back(k);
      args.push_back(v);
    }
  }
  auto replies = client_.Pipeline(commands);
  if (!replies.ok()) return Count(probe_, replies.status(), 0, 0);
  return Count(probe_, CheckXaddReplies(*replies, client_.endpoint() + ": XADD " + stream_),
               events.size(), bytes);
}

RedisSampleProducer::RedisSampleProducer(RedisConfig redis, std::string stream)
    : client_(std::move(redis)),
      stream_(std::move(stream)),
      probe_(QueueProbe::For("redis", stream_)) {}

Status RedisSampleProducer::Publish(std::span<const Sample> samples) {
  if (samples.empty()) return Status::Ok();
  wire::FieldList fields = wire::EncodeSamples(std::vector<Sample>(samples.begin(), samples.end()));
  RedisArgs args = {"XADD", stream_, "*"};
  for (const auto& [k, v] : fields) {
    args.push_back(k);
    args.push_back(v);
  }
  auto reply = client_.Command(args);
  if (!reply.ok()) return Count(probe_, reply.status(), 0, 0);
  return Count(probe_, CheckXaddReplies({*reply}, client_.endpoint() + ": XADD " + stream_),
               samples.size(), FieldBytes(fields));
}

// ---- reader ----

RedisStreamReader::RedisStreamReader(RedisConfig redis, std::string stream, std::string group,
                                     std::string consumer)
    : stream_(std::move(stream)),
      group_(std::move(group)),
      consumer_(std::move(consumer)),
      probe_(QueueProbe::For("redis", stream_)),
      read_client_(redis),
      ack_client_(redis) {}

Status RedisStreamReader::CreateGroup() {
  auto reply = read_client_.Command({"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"});
  if (!reply.ok()) return reply.status();
  if (reply->is_error() && !RedisErrorIs(reply->str, "BUSYGROUP")) {
    return ClassifyRedisError(0, reply->str, read_client_.endpoint() + ": XGROUP CREATE " +
                                                 stream_ + " " + group_);
  }
  group_ready_ = true;
  return Status::Ok();
}

Result<std::vector<StreamEntry>> RedisStreamReader::Read(size_t max,
                                                         std::chrono::milliseconds wait) {
  auto entries = ReadEntries(max, wait);
  if (!entries.ok()) {
    probe_.CountError(entries.status().retryable());
    return entries;
  }
  size_t bytes = 0;
  for (const StreamEntry& e : *entries) bytes += FieldBytes(e.fields);
  probe_.received_events->Increment(static_cast<double>(entries->size()));
  probe_.received_bytes->Increment(static_cast<double>(bytes));
  return entries;
}

Result<std::vector<StreamEntry>> RedisStreamReader::ReadEntries(size_t max,
                                                                std::chrono::milliseconds wait) {
  std::vector<StreamEntry> entries;
  if (max == 0) return entries;
  if (!group_ready_) LOGSHIP_RETURN_IF_ERROR(CreateGroup());
  const std::string count = std::to_string(max);
  const std::string block = std::to_string(std::max<int64_t>(wait.count(), 0));
  const std::string context = read_client_.endpoint() + ": XREADGROUP " + stream_ + " " + group_;
  bool recreated = false;
  // At most: pending read, NOGROUP recovery, new read.
  for (int step = 0; step < 4; ++step) {
    RedisArgs args = {"XREADGROUP", "GROUP", group_, consumer_, "COUNT", count};
    std::chrono::milliseconds extra_wait{0};
    if (!reading_pending_ && wait.count() > 0) {
      args.push_back("BLOCK");
      args.push_back(block);
      extra_wait = wait;
    }
    args.push_back("STREAMS");
    args.push_back(stream_);
    args.push_back(reading_pending_ ? std::string_view(pending_cursor_) : std::string_view(">"));
    auto reply = read_client_.Command(args, extra_wait);
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) {
      if (RedisErrorIs(reply->str, "NOGROUP") && !recreated) {
        // The group is gone (Redis restarted without persistence, or someone deleted it):
        // whatever was pending is gone with it. Recreate it and read on.
        spdlog::warn("{}: consumer group vanished (NOGROUP); recreating it", context);
        recreated = true;
        group_ready_ = false;
        reading_pending_ = true;
        pending_cursor_ = "0";
        LOGSHIP_RETURN_IF_ERROR(CreateGroup());
        continue;
      }
      return ClassifyRedisError(0, reply->str, context);
    }
    LOGSHIP_RETURN_IF_ERROR(ParseReadReply(*reply, context, &entries));
    if (reading_pending_) {
      if (entries.empty()) {
        reading_pending_ = false;  // all our pending entries were handed out: new ones now
        continue;
      }
      pending_cursor_ = entries.back().id;
    }
    return entries;
  }
  return entries;
}

Status RedisStreamReader::Ack(std::span<const std::string> ids) {
  Status st = AckIds(ids);
  if (!st.ok()) probe_.CountError(st.retryable());
  return st;
}

Status RedisStreamReader::AckIds(std::span<const std::string> ids) {
  if (ids.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(ack_mu_);
  const std::string context = ack_client_.endpoint() + ": XACK " + stream_ + " " + group_;
  std::vector<RedisArgs> commands;
  for (size_t begin = 0; begin < ids.size(); begin += kMaxIdsPerXack) {
    size_t end = std::min(ids.size(), begin + kMaxIdsPerXack);
    RedisArgs& args = commands.emplace_back();
    args.reserve(3 + end - begin);
    args.push_back("XACK");
    args.push_back(stream_);
    args.push_back(group_);
    for (size_t i = begin; i < end; ++i) args.push_back(ids[i]);
  }
  auto replies = ack_client_.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (const RedisReply& r : *replies) {
    if (!r.is_error()) continue;
    if (RedisErrorIs(r.str, "NOGROUP")) continue;  // nothing pending any more
    return ClassifyRedisError(0, r.str, context);
  }
  return Status::Ok();
}

// ---- event consumer ----

RedisEventConsumer::RedisEventConsumer(RedisConfig redis, std::string stream, std::string group,
                                       std::string consumer)
    : reader_(std::move(redis), std::move(stream), std::move(group), std::move(consumer)) {}

Result<std::vector<Delivery<Event>>> RedisEventConsumer::Poll(size_t max,
                                                              std::chrono::milliseconds wait) {
  auto entries = reader_.Read(max, wait);
  if (!entries.ok()) return entries.status();
  std::vector<Delivery<Event>> out;
  out.reserve(entries->size());
  std::vector<std::string> gone;
  for (StreamEntry& entry : *entries) {
    if (entry.deleted) {
      gone.push_back(std::move(entry.id));
      continue;
    }
    auto event = wire::DecodeEvent(entry.fields, reader_.stream(), entry.id, entry.time_ms);
    if (event.ok()) {
      out.push_back({std::move(entry.id), std::move(event).value()});
      continue;
    }
    undecodable_.fetch_add(1);
    reader_.probe().undecodable->Increment();
    spdlog::warn("redis stream {}: entry {} does not decode ({}); delivered as _undecodable",
                 reader_.stream(), entry.id, event.status().message());
    Event e;
    e.id = reader_.stream() + "/" + entry.id;
    e.time_ns = entry.time_ms * 1'000'000;
    e.source = reader_.stream();
    e.type = "_undecodable";
    e.raw = DumpFields(entry.fields);
    out.push_back({std::move(entry.id), std::move(e)});
  }
  if (!gone.empty()) {
    reader_.probe().dropped->Increment(static_cast<double>(gone.size()));
    // Pending entries whose content was deleted (XDEL, or a trim by someone else): nothing
    // to deliver; acknowledge them so they do not come back.
    spdlog::warn("redis stream {}: {} pending entries were deleted from the stream; acking them",
                 reader_.stream(), gone.size());
    LOGSHIP_RETURN_IF_ERROR(reader_.Ack(gone));
  }
  return out;
}

Status RedisEventConsumer::Ack(std::span<const Delivery<Event>> deliveries) {
  std::vector<std::string> ids;
  ids.reserve(deliveries.size());
  for (const auto& d : deliveries) ids.push_back(d.queue_id);
  return reader_.Ack(ids);
}

// ---- sample consumer ----

RedisSampleConsumer::RedisSampleConsumer(RedisConfig redis, std::string stream,
                                         std::string group, std::string consumer)
    : reader_(std::move(redis), std::move(stream), std::move(group), std::move(consumer)) {}

Result<std::vector<Delivery<Sample>>> RedisSampleConsumer::Poll(size_t max,
                                                                std::chrono::milliseconds wait) {
  if (entries_.HasReady() || max == 0) return entries_.Take(max);
  // Entries carry several samples each; reading `max` entries is enough for `max` samples.
  auto entries = reader_.Read(max, wait);
  if (!entries.ok()) return entries.status();
  std::vector<std::string> bad;
  for (StreamEntry& entry : *entries) {
    if (entry.deleted) {
      reader_.probe().dropped->Increment();
      bad.push_back(std::move(entry.id));
      continue;
    }
    auto samples = wire::DecodeSamples(entry.fields);
    if (samples.ok() && samples->empty()) {
      bad.push_back(std::move(entry.id));  // nothing to deliver
      continue;
    }
    if (!samples.ok()) {
      undecodable_.fetch_add(1);
      reader_.probe().undecodable->Increment();
      reader_.probe().dropped->Increment();
      spdlog::warn("redis stream {}: entry {} does not decode ({}); acknowledged and skipped", reader_.stream(),
                   entry.id, samples.status().message());
      bad.push_back(std::move(entry.id));
      continue;
    }
    entries_.Add(entry.id, std::move(*samples));
  }
  if (!bad.empty()) {
    // A failed XACK is not an error of this Poll: the entries come back after a restart.
    Status st = reader_.Ack(bad);
    if (!st.ok()) spdlog::warn("{}", st.message());
  }
  return entries_.Take(max);
}

Status RedisSampleConsumer::Ack(std::span<const Delivery<Sample>> deliveries) {
  std::vector<std::string> ids = entries_.Acknowledge(deliveries);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids.insert(ids.end(), ack_backlog_.begin(), ack_backlog_.end());
    ack_backlog_.clear();
  }
  Status st = reader_.Ack(ids);
  if (!st.ok()) {
    // Keep the complete entries; the next Ack sends them again.
    std::lock_guard<std::mutex> lock(mu_);
    ack_backlog_.insert(ack_backlog_.end(), ids.begin(), ids.end());
  }
  return st;
}
// ---- factories ----

Result<std::unique_ptr<EventProducer>> MakeRedisEventProducer(const QueueConfig& queue) {
  LOGSHIP_RETURN_IF_ERROR(ValidateRedis(queue, queue.events_stream));
  return std::unique_ptr<EventProducer>(
      std::make_unique<RedisEventProducer>(queue.redis, queue.events_stream));
}

Result<std::unique_ptr<SampleProducer>> MakeRedisSampleProducer(const QueueConfig& queue) {
  LOGSHIP_RETURN_IF_ERROR(ValidateRedis(queue, queue.metrics_stream));
  return std::unique_ptr<SampleProducer>(
      std::make_unique<RedisSampleProducer>(queue.redis, queue.metrics_stream));
}

Result<std::unique_ptr<EventConsumer>> MakeRedisEventConsumer(const QueueConfig& queue,
                                                              const std::string& group,
                                                              const std::string& consumer) {
  LOGSHIP_RETURN_IF_ERROR(ValidateRedis(queue, queue.events_stream));
  LOGSHIP_RETURN_IF_ERROR(ValidateConsumer(group, consumer));
  return std::unique_ptr<EventConsumer>(
      std::make_unique<RedisEventConsumer>(queue.redis, queue.events_stream, group, consumer));
}

Result<std::unique_ptr<SampleConsumer>> MakeRedisSampleConsumer(const QueueConfig& queue,
                                                                const std::string& group,
                                                                const std::string& consumer) {
  LOGSHIP_RETURN_IF_ERROR(ValidateRedis(queue, queue.metrics_stream));
  LOGSHIP_RETURN_IF_ERROR(ValidateConsumer(group, consumer));
  return std::unique_ptr<SampleConsumer>(
      std::make_unique<RedisSampleConsumer>(queue.redis, queue.metrics_stream, group, consumer));
}

}  // namespace logship
