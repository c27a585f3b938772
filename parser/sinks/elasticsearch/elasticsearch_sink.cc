#include "parser/sinks/elasticsearch/elasticsearch_sink.h"

#include <fcntl.h>
#include <prometheus/counter.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "parser/sinks/common/event_encoding.h"

// Reply shapes follow the Elasticsearch Bulk API reference,
// https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html
// ("Response body" and "Example with failed actions"): HTTP 200 with
//   {"took":486,"errors":true,"items":[{"create":{"_index":"index1","_id":"7","status":409,
//     "error":{"type":"version_conflict_engine_exception","reason":"[7]: version conflict,
//     document already exists (current version [1])",...}}}, ...]}
// one item per action, in request order. OpenSearch answers the same
// (https://opensearch.org/docs/latest/api-reference/document-apis/bulk/).
// We ask for filter_path=errors,items.*.status,items.*.error to keep replies small.

namespace logship::elasticsearch {
namespace {

using nlohmann::json;

constexpr size_t kMaxItemsPerRequest = 10000;
constexpr size_t kMaxReplyBytes = 64u << 20;
constexpr Millis kMaxBackoff{10000};

bool IsReserved(const std::string& name) {
  return name == "@timestamp" || name == "event.original" || name == "tags" || name == "logship" ||
         name.starts_with("logship.") || name.starts_with("parsed.");
}

// "security_exception: missing authentication credentials" out of an Elasticsearch error
// reply, or the first bytes of the body.
std::string ErrorSummary(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_object()) return e.value("type", std::string("error")) + ": " + e.value("reason", std::string());
    if (e.is_string()) return e.get<std::string>();
  }
  std::string s(body.substr(0, 200));
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

HttpClient::Options HttpOptions(const ElasticsearchSinkConfig& c) {
  HttpClient::Options o;
  o.verify_tls = c.verify_tls;
  o.ca_file = c.ca_file;
  o.connect_timeout = std::min(c.timeout, Millis(5000));
  o.max_response_bytes = kMaxReplyBytes;
  return o;
}

}  // namespace

std::string IndexName(std::string_view pattern, int64_t time_ns) {
  const int64_t day = sinks::UtcDayIndex(time_ns);
  const sinks::CivilDate c = sinks::CivilFromDayIndex(day);
  const int64_t hour = (time_ns - day * 86'400LL * 1'000'000'000) / (3600LL * 1'000'000'000);
  std::string out;
  char buf[16];
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size()) {
      out.push_back(pattern[i]);
      continue;
    }
    switch (pattern[++i]) {
      case 'Y': std::snprintf(buf, sizeof buf, "%04d", c.year); out += buf; break;
      case 'm': std::snprintf(buf, sizeof buf, "%02d", c.month); out += buf; break;
      case 'd': std::snprintf(buf, sizeof buf, "%02d", c.day); out += buf; break;
      case 'H': std::snprintf(buf, sizeof buf, "%02d", static_cast<int>(hour)); out += buf; break;
      case '%': out.push_back('%'); break;
      default: out.push_back('%'); out.push_back(pattern[i]);
    }
  }
  return out;
}

std::string DocumentJson(const ParsedEvent& pe) {
  const Event& e = pe.event;
  json doc = json::object();
  for (const Field& f : sinks::StoredFields(pe)) {
    const std::string name = IsReserved(f.name) ? "parsed." + f.name : f.name;
    std::visit([&](const auto& v) { doc[name] = v; }, f.value);
  }
  if (!doc.contains("message") || !doc["message"].is_string()) doc["message"] = e.raw;
  doc["@timestamp"] = sinks::FormatRfc3339Nanos(e.time_ns);
  doc["event.original"] = e.raw;
  if (!sinks::IsValidUtf8(e.raw)) doc["logship.raw_base64"] = sinks::Base64Encode(e.raw);
  doc["logship.id"] = e.id;
  doc["logship.host"] = e.host;
  doc["logship.source"] = e.source;
  doc["logship.type"] = e.type;
  doc["logship.offset"] = e.offset;
  doc["tags"] = pe.tags;
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

ItemOutcome ClassifyItemStatus(int status) {
  if (status >= 200 && status < 300) return ItemOutcome::kStored;
  if (status == 409) return ItemOutcome::kDuplicate;
  if (status == 429 || status >= 500) return ItemOutcome::kRetry;
  return ItemOutcome::kReject;
}

Result<std::vector<ItemResult>> ParseBulkReply(std::string_view body, size_t expected_items) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("items") || !j["items"].is_array()) {
    return Status::Corruption("bulk reply without an items array: " + std::string(body.substr(0, 200)));
  }
  const json& items = j["items"];
  if (items.size() != expected_items) {
    return Status::Corruption("bulk reply has " + std::to_string(items.size()) + " items for " +
                              std::to_string(expected_items) + " actions");
  }
  std::vector<ItemResult> out;
  out.reserve(items.size());
  for (const json& item : items) {
    // {"create": {"status": 201, ...}}: one key, the action.
    if (!item.is_object() || item.size() != 1 || !item.begin()->is_object()) {
      return Status::Corruption("bulk reply item is not {action: {...}}: " + item.dump().substr(0, 200));
    }
    const json& r = *item.begin();
    ItemResult res;
    res.status = r.value("status", 0);
    if (res.status == 0) return Status::Corruption("bulk reply item without status: " + item.dump().substr(0, 200));
    res.outcome = ClassifyItemStatus(res.status);
    if (r.contains("error")) res.error = r["error"].dump(-1, ' ', false, json::error_handler_t::replace);
    out.push_back(std::move(res));
  }
  return out;
}

ElasticsearchSink::ElasticsearchSink(const ElasticsearchSinkConfig& config, const Clock& clock)
    : config_(config), clock_(clock), http_(HttpOptions(config)), probe_(sinks::SinkProbe::For("elasticsearch")) {
  std::string base = config_.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  bulk_url_ = base + "/_bulk?filter_path=errors,items.*.status,items.*.error";
  headers_.emplace_back("Content-Type", "application/x-ndjson");
  if (!config_.api_key.empty()) {
    headers_.emplace_back("Authorization", "ApiKey " + config_.api_key.value);
  } else if (!config_.user.empty()) {
    headers_.emplace_back("Authorization",
                          "Basic " + sinks::Base64Encode(config_.user + ":" + config_.password.value));
  }
}

Result<std::unique_ptr<ElasticsearchSink>> ElasticsearchSink::Create(const ElasticsearchSinkConfig& config,
                                                                     const Clock& clock) {
  if (config.url.empty()) return Status::InvalidArgument("elasticsearch sink: url is not set");
  if (config.dead_letter_path.empty()) return Status::InvalidArgument("elasticsearch sink: dead_letter_path is not set");
  return std::unique_ptr<ElasticsearchSink>(new ElasticsearchSink(config, clock));
}

Status ElasticsearchSink::WriteDeadLetters(std::span<const ParsedEvent> events, const std::vector<DeadLetter>& letters,
                                           const std::vector<std::string>& docs) {
  if (letters.empty()) return Status::Ok();
  const std::string& path = config_.dead_letter_path;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return Status::IOError("elasticsearch dead-letter file " + path + ": " + std::strerror(errno));
  struct stat st {};
  uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  std::string out;
  uint64_t written = 0, dropped = 0;
  const std::string now = sinks::FormatRfc3339Nanos(clock_.NowNs());
  for (const DeadLetter& l : letters) {
    const Event& e = events[l.event].event;
    std::string line = "{\"time\":\"" + now + "\",\"index\":";
    sinks::AppendJsonString(&line, IndexName(config_.index, e.time_ns), sinks::Utf8Policy::kReplace);
    line += ",\"id\":";
    sinks::AppendJsonString(&line, e.id, sinks::Utf8Policy::kReplace);
    line += ",\"status\":" + std::to_string(l.status) + ",\"error\":" + (l.error.empty() ? "null" : l.error) +
            ",\"event\":" + docs[l.event] + "}\n";
    if (size + out.size() + line.size() > config_.dead_letter_max_bytes) {
      ++dropped;
      continue;
    }
    out += line;
    ++written;
  }
  Status result;
  for (size_t off = 0; off < out.size();) {
    ssize_t n = ::write(fd, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result = Status::IOError("elasticsearch dead-letter file " + path + ": write: " + std::strerror(errno));
      break;
    }
    off += static_cast<size_t>(n);
  }
  if (result.ok() && !out.empty() && ::fdatasync(fd) != 0) {
    result = Status::IOError("elasticsearch dead-letter file " + path + ": fdatasync: " + std::strerror(errno));
  }
  ::close(fd);
  if (!result.ok()) return result;
  dead_lettered_total_ += written;
  dropped_total_ += dropped;
  probe_.dead_lettered->Increment(static_cast<double>(written));
  probe_.dropped->Increment(static_cast<double>(dropped));
  if (written > 0) spdlog::warn("elasticsearch: {} rejected events written to {}", written, path);
  if (dropped > 0) {
    spdlog::error("elasticsearch: {} rejected events dropped: the dead-letter file {} reached {} bytes", dropped, path,
                  config_.dead_letter_max_bytes);
  }
  return Status::Ok();
}

Status ElasticsearchSink::Write(std::span<const ParsedEvent> events) {
  probe_.received->Increment(static_cast<double>(events.size()));
  // The action and document lines of each event, built once.
  std::vector<std::string> docs(events.size()), actions(events.size());
  std::vector<size_t> pending;
  std::unordered_set<std::string> resolved;  // handled in this write (stored, duplicate, dead letter)
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i].event;
    if (resolved_.count(e.id)) {  // handled by the previous attempt of this batch
      resolved.insert(e.id);
      continue;
    }
    docs[i] = DocumentJson(events[i]);
    std::string& a = actions[i];
    a = "{\"create\":{\"_index\":";
    sinks::AppendJsonString(&a, IndexName(config_.index, e.time_ns), sinks::Utf8Policy::kReplace);
    a += ",\"_id\":";
    sinks::AppendJsonString(&a, e.id, sinks::Utf8Policy::kReplace);
    a += "}}\n";
    pending.push_back(i);
  }
  uint64_t confirmed = resolved.size();

  Millis backoff = config_.retry_backoff;
  Status last_error;
  for (int attempt = 0; !pending.empty(); ++attempt) {
    if (attempt > 0) {
      if (attempt > config_.max_retries) break;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    std::vector<size_t> retry;
    std::vector<DeadLetter> letters;
    bool item_retry = false;
    size_t next = 0;
    while (next < pending.size()) {
      // One request: up to batch_max_bytes (at least one action) and kMaxItemsPerRequest.
      std::string body;
      std::vector<size_t> chunk;
      while (next < pending.size() && chunk.size() < kMaxItemsPerRequest) {
        size_t i = pending[next];
        size_t add = actions[i].size() + docs[i].size() + 1;
        if (!chunk.empty() && body.size() + add > config_.batch_max_bytes) break;
        body += actions[i];
        body += docs[i];
        body += '\n';
        chunk.push_back(i);
        ++next;
      }
      ++requests_total_;
      probe_.requests->Increment();
      probe_.bytes->Increment(static_cast<double>(body.size()));
      auto reply = http_.PostAnyStatus(bulk_url_, body, headers_, config_.timeout);
      Status failure;
      if (!reply.ok()) {
        failure = reply.status().Annotate("elasticsearch _bulk");
      } else if (reply->status < 200 || reply->status >= 300) {
        const long s = reply->status;
        std::string msg = "elasticsearch " + config_.url + " _bulk: HTTP " + std::to_string(s) + ": " +
                          ErrorSummary(reply->body);
        if (s == 408 || s == 429 || s >= 500) {
          failure = Status::Retryable(msg);
          // Retry-After in seconds (Elasticsearch sends none; proxies in front may).
          const std::string ra = reply->Header("Retry-After");
          if (!ra.empty() && std::all_of(ra.begin(), ra.end(), ::isdigit) && ra.size() < 6) {
            backoff = std::clamp(Millis(std::stoll(ra) * 1000), backoff, kMaxBackoff);
          }
        } else if (s == 401 || s == 403) {
          failure = Status::Permanent(msg + " (check parser.elasticsearch.user/password or api_key)");
        } else if (s == 413) {
          failure = Status::Permanent(msg + " (lower parser.elasticsearch.batch_max_bytes)");
        } else {
          failure = Status::Permanent(msg);
        }
      } else if (reply->truncated) {
        failure = Status::Retryable("elasticsearch _bulk: reply larger than " + std::to_string(kMaxReplyBytes) +
                                    " bytes");
      } else {
        auto items = ParseBulkReply(reply->body, chunk.size());
        if (!items.ok()) {
          failure = Status::Retryable("elasticsearch " + config_.url + " _bulk: " + items.status().message());
        } else {
          for (size_t k = 0; k < chunk.size(); ++k) {
            const ItemResult& r = items.value()[k];
            const size_t i = chunk[k];
            switch (r.outcome) {
              case ItemOutcome::kStored:
                ++created_total_;
                resolved.insert(events[i].event.id);
                break;
              case ItemOutcome::kDuplicate:
                ++duplicates_total_;
                probe_.duplicates->Increment();
                resolved.insert(events[i].event.id);
                break;
              case ItemOutcome::kRetry:
                retry.push_back(i);
                item_retry = true;
                last_error = Status::Retryable("elasticsearch " + config_.url + " _bulk item " +
                                               std::to_string(r.status) + ": " + ErrorSummary("{\"error\":" +
                                               (r.error.empty() ? std::string("null") : r.error) + "}"));
                break;
              case ItemOutcome::kReject:
                letters.push_back({i, r.status, r.error});
                break;
            }
          }
        }
      }
      if (!failure.ok()) {
        probe_.CountError(failure.retryable());
        if (!failure.retryable()) {
          resolved_ = std::move(resolved);
          return failure;
        }
        last_error = failure;
        retry.insert(retry.end(), chunk.begin(), chunk.end());
      }
    }
    // Rejected items are handled once they are in the dead-letter file.
    if (Status st = WriteDeadLetters(events, letters, docs); !st.ok()) {
      resolved_ = std::move(resolved);
      return st;
    }
    for (const DeadLetter& l : letters) resolved.insert(events[l.event].event.id);
    if (item_retry) probe_.CountError(true);
    pending = std::move(retry);
  }
  confirmed = resolved.size() - confirmed;
  probe_.sent->Increment(static_cast<double>(confirmed));
  if (!pending.empty()) {
    resolved_ = std::move(resolved);
    return Status::Retryable(std::to_string(pending.size()) + " of " + std::to_string(events.size()) +
                             " events not stored after " + std::to_string(config_.max_retries) +
                             " retries; last error: " + last_error.message());
  }
  resolved_.clear();
  return Status::Ok();
}

}  // namespace logship::elasticsearch
