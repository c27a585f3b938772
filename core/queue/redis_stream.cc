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

// A list of entries as XREADGROUP, XRANGE and XAUTOCLAIM return it: [[id, [f, v, ...] | nil], ...].
bool ParseEntryList(RedisReply& list, std::vector<StreamEntry>* out) {
  if (!list.is_array()) return false;
  out->reserve(out->size() + list.elements.size());
  for (RedisReply& entry : list.elements) {
    if (!entry.is_array() || entry.elements.size() != 2 || !entry.elements[0].is_string()) return false;
    StreamEntry e;
    e.id = std::move(entry.elements[0].str);
    e.time_ms = IdMillis(e.id);
    RedisReply& fields = entry.elements[1];
    if (fields.is_nil()) {
      e.deleted = true;
    } else {
      if (!fields.is_array()) return false;
      e.fields.reserve(fields.elements.size() / 2);
      for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
        e.fields.emplace_back(std::move(fields.elements[i].str), std::move(fields.elements[i + 1].str));
      }
    }
    out->push_back(std::move(e));
  }
  return true;
}

// XREADGROUP reply: nil, or [[stream, [[id, [f, v, ...] | nil], ...]]].
Status ParseReadReply(RedisReply& reply, const std::string& context,
                      std::vector<StreamEntry>* out) {
  if (reply.is_nil()) return Status::Ok();
  auto malformed = [&] { return Status::Permanent(context + ": malformed XREADGROUP reply"); };
  if (!reply.is_array()) return malformed();
  for (RedisReply& stream : reply.elements) {
    if (!stream.is_array() || stream.elements.size() != 2) return malformed();
    if (!ParseEntryList(stream.elements[1], out)) return malformed();
  }
  return Status::Ok();
}

// Moves up to ARGV[1] items of list KEYS[1] into stream KEYS[2], oldest first. ARGV[2] is
// how the producer pushes: "lpush" (newest at the head) or "rpush" (newest at the tail).
constexpr const char* kImportScript = R"lua(
local n = tonumber(ARGV[1])
local items
if ARGV[2] == 'rpush' then
  items = redis.call('LRANGE', KEYS[1], 0, n - 1)
  if #items > 0 then redis.call('LTRIM', KEYS[1], #items, -1) end
  for i = 1, #items do redis.call('XADD', KEYS[2], '*', 'msg', items[i], 'list', KEYS[1]) end
else
  items = redis.call('LRANGE', KEYS[1], -n, -1)
  if #items > 0 then redis.call('LTRIM', KEYS[1], 0, -#items - 1) end
  for i = #items, 1, -1 do redis.call('XADD', KEYS[2], '*', 'msg', items[i], 'list', KEYS[1]) end
end
return #items
)lua";

// Removes from group ARGV[1] of stream KEYS[1] every consumer other than ARGV[2] that has
// nothing pending and was idle at least ARGV[3] ms; returns their names.
constexpr const char* kExpireScript = R"lua(
local removed = {}
local min_idle = tonumber(ARGV[3])
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['name'] ~= ARGV[2] and info['pending'] == 0 and info['idle'] >= min_idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed[#removed + 1] = info['name']
  end
end
return removed
)lua";

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
    : client_(redis),
      stream_(std::move(stream)),
      events_per_entry_(std::max<size_t>(redis.events_per_entry, 1)),
      probe_(QueueProbe::For("redis", stream_)) {
  AppendRespBulk(xadd_prefix_, "XADD");
  AppendRespBulk(xadd_prefix_, stream_);
  AppendRespBulk(xadd_prefix_, "*");
}

std::pair<size_t, size_t> RedisEventProducer::Encode(std::span<const Event> events) {
  out_.clear();
  size_t commands = 0, bytes = 0;
  auto field = [&](std::string_view name, std::string_view value) {
    AppendRespBulk(out_, name);
    AppendRespBulk(out_, value);
    bytes += name.size() + value.size();
  };
  if (events_per_entry_ <= 1) {
    wire::EventFieldScratch scratch;
    for (const Event& e : events) {
      AppendRespArrayHeader(out_, 3 + 2 * wire::EventFieldCount(e));
      out_ += xadd_prefix_;
      wire::VisitEventFields(e, scratch, field);
      ++commands;
    }
    return {commands, bytes};
  }
  // Consecutive events, up to events_per_entry_ and kMaxBatchEntryBytes of raw lines
  // (at least one event) per entry.
  size_t begin = 0;
  while (begin < events.size()) {
    size_t end = begin, raw = 0;
    while (end < events.size() && end - begin < events_per_entry_ &&
           (end == begin || raw + events[end].raw.size() <= kMaxBatchEntryBytes)) {
      raw += events[end].raw.size();
      ++end;
    }
    const wire::FieldList fields = wire::EncodeEventBatch(events.subspan(begin, end - begin));
    AppendRespArrayHeader(out_, 3 + 2 * fields.size());
    out_ += xadd_prefix_;
    for (const auto& [k, v] : fields) field(k, v);
    ++commands;
    begin = end;
  }
  return {commands, bytes};
}

Status RedisEventProducer::Publish(std::span<const Event> events) {
  if (!in_flight_.empty()) {
    return Status::Permanent(client_.endpoint() + ": XADD " + stream_ + ": Publish while batches are in flight");
  }
  Begin(events);
  return Finish();
}

void RedisEventProducer::Begin(std::span<const Event> events) {
  InFlight& b = in_flight_.emplace_back();
  b.events = events.size();
  if (events.empty()) return;
  auto [commands, bytes] = Encode(events);
  Status st = client_.Send(out_, "XADD " + stream_);
  if (out_.capacity() > (8u << 20)) std::string().swap(out_);  // do not keep a huge buffer
  if (!st.ok()) {
    b.status = std::move(st);
    return;
  }
  b.commands = commands;
  b.bytes = bytes;
  b.connection = client_.connects();
}

Status RedisEventProducer::Finish() {
  InFlight b = std::move(in_flight_.front());
  in_flight_.pop_front();
  Status st = std::move(b.status);
  if (st.ok() && b.commands > 0) {
    const std::string what = "XADD " + stream_;
    if (!client_.connected() || client_.connects() != b.connection) {
      // The connection these commands went out on failed while finishing an earlier batch
      // (or writing a later one): their replies are lost; some may have been executed.
      st = Status::Retryable(client_.endpoint() + ": " + what + ": connection lost before the replies");
    } else {
      // Permanent beats Retryable beats Ok; every reply is read, to stay in step.
      Status worst;
      Status read = client_.Receive(b.commands, what, [&](const RedisReply& r) {
        if (r.type == RedisReply::Type::kString) return;
        if (!worst.ok() && worst.code() == StatusCode::kPermanent) return;
        Status one = r.is_error() ? ClassifyRedisError(0, r.str, client_.endpoint() + ": " + what)
                                  : Status::Permanent(client_.endpoint() + ": " + what + ": unexpected XADD reply");
        if (worst.ok() || one.code() == StatusCode::kPermanent) worst = std::move(one);
      });
      st = read.ok() ? std::move(worst) : std::move(read);
    }
  }
  return Count(probe_, std::move(st), b.events, b.bytes);
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
    : config_(redis),
      stream_(std::move(stream)),
      group_(std::move(group)),
      consumer_(std::move(consumer)),
      dead_letter_stream_(config_.dead_letter_stream.empty() ? stream_ + ":dead"
                                                             : config_.dead_letter_stream),
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
  // Bounded: pending reads whose entries were all dead-lettered, claim steps that found
  // nothing, a NOGROUP recovery; then the blocking read of new entries.
  for (int step = 0; step < 64; ++step) {
    if (!reading_pending_) {
      auto claimed = ClaimStep(max);
      if (!claimed.ok()) return claimed.status();
      if (claimed->has_value()) {
        if (!(*claimed)->empty()) return std::move(**claimed);
        continue;  // the round goes on (or just ended): try the next step
      }
    }
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
        claiming_ = false;
        claim_cursor_ = "0-0";
        LOGSHIP_RETURN_IF_ERROR(CreateGroup());
        continue;
      }
      return ClassifyRedisError(0, reply->str, context);
    }
    LOGSHIP_RETURN_IF_ERROR(ParseReadReply(*reply, context, &entries));
    if (!reading_pending_) return entries;
    if (entries.empty()) {
      reading_pending_ = false;  // all our pending entries were handed out: claims, new ones now
      continue;
    }
    // Own pending entries left by a previous run are redeliveries: an entry that keeps
    // killing its parser ends in the dead-letter stream.
    std::string last = entries.back().id;
    auto kept = FilterRedelivered(std::move(entries));
    if (!kept.ok()) return kept.status();  // the cursor stays: the next Read repeats this
    pending_cursor_ = std::move(last);
    if (!kept->empty()) return std::move(*kept);
    entries.clear();
  }
  return entries;
}

Result<std::optional<std::vector<StreamEntry>>> RedisStreamReader::ClaimStep(size_t max) {
  if (config_.claim_idle.count() <= 0) return std::optional<std::vector<StreamEntry>>();
  if (!claiming_) {
    if (SteadyClock::now() < next_claim_) return std::optional<std::vector<StreamEntry>>();
    claiming_ = true;
    claim_cursor_ = "0-0";
  }
  const std::string context = read_client_.endpoint() + ": XAUTOCLAIM " + stream_ + " " + group_;
  const std::string min_idle = std::to_string(config_.claim_idle.count());
  const std::string count = std::to_string(max);
  auto reply = read_client_.Command(
      {"XAUTOCLAIM", stream_, group_, consumer_, min_idle, claim_cursor_, "COUNT", count});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) {
    if (RedisErrorIs(reply->str, "NOGROUP")) {
      // The group vanished: the read that follows recreates it; claim again later.
      claiming_ = false;
      next_claim_ = SteadyClock::now() + config_.claim_interval;
      return std::optional<std::vector<StreamEntry>>();
    }
    return ClassifyRedisError(0, reply->str, context);
  }
  // [next cursor, [[id, fields], ...], [deleted ids] (Redis 7)]
  std::vector<StreamEntry> entries;
  if (!reply->is_array() || reply->elements.size() < 2 || !reply->elements[0].is_string() ||
      !ParseEntryList(reply->elements[1], &entries)) {
    return Status::Permanent(context + ": malformed reply");
  }
  std::string next = reply->elements[0].str;
  size_t deleted = 0;
  if (reply->elements.size() >= 3 && reply->elements[2].is_array()) deleted = reply->elements[2].elements.size();
  if (deleted > 0) {
    // Pending entries whose content was deleted: Redis removed them from the PEL.
    probe_.dropped->Increment(static_cast<double>(deleted));
    spdlog::warn("redis stream {}: {} pending entries of idle consumers were deleted from the stream", stream_,
                 deleted);
  }
  if (!entries.empty()) {
    probe_.claimed->Increment(static_cast<double>(entries.size()));
    spdlog::info("redis stream {}: claimed {} entries idle for more than {} ms", stream_, entries.size(),
                 config_.claim_idle.count());
  }
  auto kept = FilterRedelivered(std::move(entries));
  if (!kept.ok()) return kept.status();  // the cursor stays; the claimed entries are ours now
  claim_cursor_ = std::move(next);
  if (claim_cursor_ == "0-0") {
    claiming_ = false;
    next_claim_ = SteadyClock::now() + config_.claim_interval;
    if (config_.consumer_expiry.count() > 0) {
      Status st = ExpireConsumers();
      if (!st.ok()) spdlog::warn("redis stream {}: expiring idle consumers: {}", stream_, st.message());
    }
  }
  return std::optional<std::vector<StreamEntry>>(std::move(*kept));
}

Result<std::vector<StreamEntry>> RedisStreamReader::FilterRedelivered(std::vector<StreamEntry> entries) {
  if (config_.max_deliveries <= 0 || entries.empty()) return entries;
  std::vector<RedisArgs> commands;
  commands.reserve(entries.size());
  for (const StreamEntry& e : entries) {
    commands.push_back({"XPENDING", stream_, group_, e.id, e.id, "1"});
  }
  auto replies = read_client_.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  const std::string context = read_client_.endpoint() + ": XPENDING " + stream_ + " " + group_;
  std::vector<StreamEntry> kept;
  kept.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const RedisReply& r = (*replies)[i];
    if (r.is_error()) return ClassifyRedisError(0, r.str, context);
    // [[id, consumer, idle ms, deliveries]], or [] when no longer pending.
    int64_t deliveries = 0;
    if (r.is_array() && !r.elements.empty() && r.elements[0].is_array() && r.elements[0].elements.size() == 4) {
      deliveries = r.elements[0].elements[3].integer;
    }
    if (entries[i].deleted || deliveries <= config_.max_deliveries) {
      kept.push_back(std::move(entries[i]));
      continue;
    }
    LOGSHIP_RETURN_IF_ERROR(DeadLetter(entries[i], deliveries));
  }
  return kept;
}

Status RedisStreamReader::DeadLetter(const StreamEntry& entry, int64_t deliveries) {
  const std::string context = read_client_.endpoint() + ": dead-letter " + stream_ + " -> " + dead_letter_stream_;
  const std::string count = std::to_string(deliveries);
  const std::string reason = "delivered " + count + " times without acknowledgement (max_deliveries " +
                             std::to_string(config_.max_deliveries) + ")";
  RedisArgs xadd = {"XADD", dead_letter_stream_, "*"};
  for (const auto& [k, v] : entry.fields) {
    xadd.push_back(k);
    xadd.push_back(v);
  }
  const std::pair<std::string_view, std::string_view> why[] = {{"dead_id", entry.id},
                                                                {"dead_stream", stream_},
                                                                {"dead_group", group_},
                                                                {"dead_deliveries", count},
                                                                {"dead_reason", reason}};
  for (const auto& [k, v] : why) {
    xadd.push_back(k);
    xadd.push_back(v);
  }
  std::vector<RedisArgs> commands = {{"MULTI"}, xadd, {"XACK", stream_, group_, entry.id}, {"EXEC"}};
  auto replies = read_client_.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  const RedisReply& exec = replies->back();
  if (exec.is_error()) return ClassifyRedisError(0, exec.str, context);
  if (!exec.is_array() || exec.elements.size() != 2) return Status::Permanent(context + ": transaction aborted");
  for (const RedisReply& r : exec.elements) {
    if (r.is_error()) return ClassifyRedisError(0, r.str, context);
  }
  probe_.dead_lettered->Increment();
  spdlog::error("redis stream {}: entry {} {}; moved to {}", stream_, entry.id, reason, dead_letter_stream_);
  return Status::Ok();
}

Status RedisStreamReader::ExpireConsumers() {
  const std::string min_idle = std::to_string(config_.consumer_expiry.count());
  auto reply = read_client_.Command({"EVAL", kExpireScript, "1", stream_, group_, consumer_, min_idle});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return ClassifyRedisError(0, reply->str, read_client_.endpoint() + ": expire consumers");
  for (const RedisReply& name : reply->elements) {
    probe_.consumers_removed->Increment();
    spdlog::info("redis stream {}: removed consumer {} from group {} (idle, nothing pending)", stream_, name.str,
                 group_);
  }
  return Status::Ok();
}

Result<size_t> RedisStreamReader::ImportLists(size_t max) {
  size_t moved = 0;
  if (config_.import_lists.empty() || max == 0) return moved;
  const std::string n = std::to_string(max);
  for (const std::string& list : config_.import_lists) {
    auto reply = read_client_.Command({"EVAL", kImportScript, "2", list, stream_, n, config_.import_push});
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) {
      return ClassifyRedisError(0, reply->str, read_client_.endpoint() + ": import list " + list);
    }
    moved += static_cast<size_t>(std::max<int64_t>(reply->integer, 0));
  }
  if (moved > 0) probe_.imported->Increment(static_cast<double>(moved));
  return moved;
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
    : reader_(redis, std::move(stream), std::move(group), std::move(consumer)),
      import_(!redis.import_lists.empty()) {}

Result<std::vector<Delivery<Event>>> RedisEventConsumer::Poll(size_t max,
                                                              std::chrono::milliseconds wait) {
  if (max == 0) return std::vector<Delivery<Event>>();
  if (batched_.HasReady()) return batched_.Take(max);
  if (import_) {
    // A failure here is not the stream's: log it and read the stream anyway.
    auto moved = reader_.ImportLists(max);
    if (!moved.ok()) {
      reader_.probe().CountError(moved.status().retryable());
      spdlog::warn("redis stream {}: {}", reader_.stream(), moved.status().message());
    }
  }
  // Batched entries hold several events each: read about `max` events' worth of entries,
  // as estimated from the last read (the first read takes a few: memory stays bounded
  // even when every entry holds the most events a producer packs).
  const size_t want = events_per_entry_ == 0 ? std::min<size_t>(max, 8)
                                             : std::max<size_t>(1, max / events_per_entry_);
  auto entries = reader_.Read(want, wait);
  if (!entries.ok()) return entries.status();
  std::vector<Delivery<Event>> out;
  out.reserve(entries->size());
  std::vector<std::string> gone;
  // Entries decode in stream order into `out`; a batched entry's events are held back by
  // batched_. Once one is, the entries after it (single events too) queue behind it, so
  // deliveries keep the stream's order.
  bool queue_behind = false;
  size_t events_read = entries->size();
  auto deliver = [&](std::string entry_id, Event e) {
    if (!queue_behind) {
      out.push_back({std::move(entry_id), std::move(e)});
      return;
    }
    std::vector<Event> one;
    one.push_back(std::move(e));
    batched_.Add(entry_id, std::move(one));
  };
  for (StreamEntry& entry : *entries) {
    if (entry.deleted) {
      gone.push_back(std::move(entry.id));
      continue;
    }
    Status bad;
    if (wire::IsEventBatch(entry.fields)) {
      auto events = wire::DecodeEventBatch(entry.fields, entry.id);
      if (events.ok()) {
        events_read += events->size() - 1;
        batched_.Add(entry.id, std::move(events).value());
        queue_behind = true;
        continue;
      }
      bad = events.status();
    } else {
      auto event = wire::DecodeEvent(std::move(entry.fields), reader_.stream(), entry.id, entry.time_ms);
      if (event.ok()) {
        deliver(std::move(entry.id), std::move(event).value());
        continue;
      }
      bad = event.status();
    }
    undecodable_.fetch_add(1);
    reader_.probe().undecodable->Increment();
    spdlog::warn("redis stream {}: entry {} does not decode ({}); delivered as _undecodable",
                 reader_.stream(), entry.id, bad.message());
    Event e;
    e.id = reader_.stream() + "/" + entry.id;
    e.time_ns = entry.time_ms * 1'000'000;
    e.source = reader_.stream();
    e.type = "_undecodable";
    e.raw = DumpFields(entry.fields);
    deliver(std::move(entry.id), std::move(e));
  }
  if (!entries->empty()) events_per_entry_ = std::max<size_t>(1, events_read / entries->size());
  if (!gone.empty()) {
    reader_.probe().dropped->Increment(static_cast<double>(gone.size()));
    // Pending entries whose content was deleted (XDEL, or a trim by someone else): nothing
    // to deliver; acknowledge them so they do not come back.
    spdlog::warn("redis stream {}: {} pending entries were deleted from the stream; acking them",
                 reader_.stream(), gone.size());
    LOGSHIP_RETURN_IF_ERROR(reader_.Ack(gone));
  }
  if (out.size() < max && batched_.HasReady()) {
    if (out.empty()) return batched_.Take(max);  // the common case with v2 entries: no copy
    auto more = batched_.Take(max - out.size());
    out.reserve(out.size() + more.size());
    for (auto& d : more) out.push_back(std::move(d));
  }
  return out;
}

Status RedisEventConsumer::Ack(std::span<const Delivery<Event>> deliveries) {
  std::vector<std::string> ids;
  ids.reserve(deliveries.size());
  if (!batched_.tracking()) {
    for (const auto& d : deliveries) ids.push_back(d.queue_id);
    return reader_.Ack(ids);
  }
  // Entries of one event are acknowledged at once; batched ones when their last event is.
  std::vector<std::string> complete = batched_.Acknowledge(deliveries, &ids);
  ids.insert(ids.end(), complete.begin(), complete.end());
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
