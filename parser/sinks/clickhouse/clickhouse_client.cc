#include "parser/sinks/clickhouse/clickhouse_client.h"

#include <algorithm>
#include <cctype>

#include "parser/sinks/common/event_encoding.h"

namespace logship::clickhouse {
namespace {

// ClickHouse error codes (src/Common/ErrorCodes.cpp) after which the same statement can
// succeed later without anyone changing it.
bool IsRetryableCode(int code) {
  switch (code) {
    case 3:    // UNEXPECTED_END_OF_FILE (the body was cut in transit)
    case 23:   // CANNOT_READ_FROM_ISTREAM
    case 24:   // CANNOT_WRITE_TO_OSTREAM
    case 32:   // ATTEMPT_TO_READ_AFTER_EOF
    case 74:   // CANNOT_READ_FROM_FILE_DESCRIPTOR
    case 75:   // CANNOT_WRITE_TO_FILE_DESCRIPTOR
    case 159:  // TIMEOUT_EXCEEDED
    case 160:  // TOO_SLOW
    case 201:  // QUOTA_EXPIRED (quota exceeded for this interval)
    case 202:  // TOO_MANY_SIMULTANEOUS_QUERIES
    case 203:  // NO_FREE_CONNECTION
    case 209:  // SOCKET_TIMEOUT
    case 210:  // NETWORK_ERROR
    case 225:  // NO_ZOOKEEPER
    case 236:  // ABORTED
    case 241:  // MEMORY_LIMIT_EXCEEDED
    case 242:  // TABLE_IS_READ_ONLY
    case 243:  // NOT_ENOUGH_SPACE
    case 252:  // TOO_MANY_PARTS (inserts faster than merges)
    case 279:  // ALL_CONNECTION_TRIES_FAILED
    case 285:  // TOO_FEW_LIVE_REPLICAS
    case 319:  // UNKNOWN_STATUS_OF_INSERT
    case 373:  // SESSION_IS_LOCKED
    case 394:  // QUERY_WAS_CANCELLED
    case 425:  // SYSTEM_ERROR
    case 439:  // CANNOT_SCHEDULE_TASK
    case 473:  // DEADLOCK_AVOIDED
    case 999:  // KEEPER_EXCEPTION
    case 1000: // POCO_EXCEPTION (network)
    // The table or database is gone (dropped by an operator): the sink creates it again.
    case 60:   // UNKNOWN_TABLE
    case 81:   // UNKNOWN_DATABASE
      return true;
    default:
      return false;
  }
}

bool IsAuthCode(int code) {
  return code == 192 || code == 193 || code == 194 || code == 195 || code == 516 || code == 497;
}

// "Wrong password for user default" out of
// "Code: 193, e.displayText() = DB::Exception: Wrong password for user default, e.what() = DB::Exception"
// (18.x) or "Code: 516. DB::Exception: ...: (AUTHENTICATION_FAILED) (version ...)" (newer).
std::string ExceptionText(std::string_view body) {
  std::string_view s = body;
  if (size_t p = s.find("DB::Exception: "); p != std::string_view::npos) s.remove_prefix(p + 15);
  if (size_t p = s.find(", e.what() = "); p != std::string_view::npos) s = s.substr(0, p);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s.substr(0, 300));
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

}  // namespace

int ExceptionCode(std::string_view body) {
  size_t p = body.find("Code: ");
  if (p == std::string_view::npos || p > 64) return -1;
  p += 6;
  int code = 0;
  size_t digits = 0;
  while (p < body.size() && std::isdigit(static_cast<unsigned char>(body[p])) && digits < 6) {
    code = code * 10 + (body[p] - '0');
    ++p;
    ++digits;
  }
  return digits == 0 ? -1 : code;
}

Status ClassifyClickHouseReply(long http_status, std::string_view body, const std::string& context) {
  if (http_status >= 200 && http_status < 300) return Status::Ok();
  const int code = ExceptionCode(body);
  std::string msg = "clickhouse " + context + ": ";
  if (code < 0) {
    std::string text(body.substr(0, 200));
    std::replace(text.begin(), text.end(), '\n', ' ');
    msg += "HTTP " + std::to_string(http_status) + (text.empty() ? "" : ": " + text);
    if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status < 600)) {
      return Status::Retryable(msg);
    }
    return Status::Permanent(msg);
  }
  msg += "Code " + std::to_string(code) + ": " + ExceptionText(body);
  if (IsRetryableCode(code)) return Status::Retryable(msg);
  if (IsAuthCode(code)) msg += " (check parser.clickhouse.user and password)";
  return Status::Permanent(msg);
}

std::string QuoteString(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\\' || c == '\'') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\0') {
      out += "\\0";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::string QuoteIdentifier(std::string_view s) {
  std::string out = "`";
  for (char c : s) {
    if (c == '`' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "`";
}

namespace {
HttpClient::Options HttpOptions(const ClickHouseSinkConfig& config, size_t max_response_bytes) {
  HttpClient::Options o;
  o.verify_tls = config.verify_tls;
  o.ca_file = config.ca_file;
  o.connect_timeout = std::min(config.timeout, Millis(5000));
  o.max_response_bytes = max_response_bytes;
  return o;
}
}  // namespace

ClickHouseClient::ClickHouseClient(const ClickHouseSinkConfig& config, size_t max_response_bytes)
    : config_(config),
      base_url_(config.url),
      http_(HttpOptions(config, max_response_bytes)),
      max_response_bytes_(max_response_bytes) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  if (!config_.user.empty()) {
    headers_.emplace_back("Authorization",
                          "Basic " + sinks::Base64Encode(config_.user + ":" + config_.password.value));
  }
}

Result<std::string> ClickHouseClient::Post(const std::string& url, const std::string& body, bool gzip,
                                           const std::string& what) {
  last_code_ = -1;
  HttpHeaders headers = headers_;
  const std::string* payload = &body;
  std::string compressed;
  if (gzip) {
    auto z = sinks::Gzip(body);
    if (!z.ok()) return z.status();
    compressed = std::move(z.value());
    payload = &compressed;
    headers.emplace_back("Content-Encoding", "gzip");
  }
  auto reply = http_.PostAnyStatus(url, *payload, headers, config_.timeout);
  if (!reply.ok()) return reply.status().Annotate("clickhouse " + what);
  Status st = ClassifyClickHouseReply(reply->status, reply->body, base_url_ + " " + what);
  if (!st.ok()) {
    last_code_ = ExceptionCode(reply->body);
    return st;
  }
  if (reply->truncated) {
    return Status::Permanent("clickhouse " + base_url_ + " " + what + ": the reply is larger than " +
                             std::to_string(max_response_bytes_) + " bytes");
  }
  return std::move(reply->body);
}

Result<std::string> ClickHouseClient::Query(const std::string& sql) {
  std::string verb = sql.substr(0, sql.find_first_of(" \n"));
  return Post(base_url_ + "/", sql, false, verb);
}

Status ClickHouseClient::Insert(const std::string& insert, const std::string& data) {
  auto r = Post(base_url_ + "/?query=" + sinks::UrlEscape(insert), data, config_.compress, "INSERT");
  return r.status();
}

}  // namespace logship::clickhouse
