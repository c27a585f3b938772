// ClickHouseClient: statements over ClickHouse's HTTP interface (port 8123, or https), as
// used by the ClickHouse sink and `logship search`. Every reply is Ok, Retryable or
// Permanent, decided in one place: ClassifyClickHouseReply(). Tested against the Debian
// clickhouse-server (18.16) in clickhouse_sink_test.cc.
#pragma once

#include <string>
#include <string_view>

#include "core/http/http_client.h"
#include "logship/config.h"
#include "logship/status.h"

namespace logship::clickhouse {

// The exception code of a ClickHouse error body ("Code: 193, e.displayText() = ..."), or
// -1 when the body has none.
int ExceptionCode(std::string_view body);

// THE decision for a reply that arrived (transport failures are HttpClient's):
//   Ok:        2xx.
//   Retryable: codes that say "later" (timeouts, too many parts or queries, memory limit,
//              network and read-only-replica errors, quota), 60/81 (table or database
//              missing: the sink creates them again), and 408/429/5xx without a code.
//   Permanent: every other code (bad credentials 192-195/516, access denied 497, syntax
//              62, data that does not parse 26/27/...), and other statuses.
// `context` names the server and statement in the message, e.g.
//   "permanent: clickhouse http://h:8123 INSERT: Code 193: Wrong password for user default".
Status ClassifyClickHouseReply(long http_status, std::string_view body, const std::string& context);

// 'text' as a ClickHouse string literal: \ and ' escaped, NUL as \0; every other byte kept.
std::string QuoteString(std::string_view s);
// `name` as a ClickHouse identifier (backquoted, ` and \ escaped).
std::string QuoteIdentifier(std::string_view s);

// One HTTP connection (kept alive). Thread-compatible, not thread-safe.
class ClickHouseClient {
 public:
  // Replies longer than `max_response_bytes` are an error (a search result too large).
  explicit ClickHouseClient(const ClickHouseSinkConfig& config,
                            size_t max_response_bytes = HttpClient::kMaxResponseBytes);

  // Runs one statement sent as the request body; returns the reply body.
  Result<std::string> Query(const std::string& sql);
  // Runs `insert` ("INSERT INTO `db`.`t` FORMAT JSONEachRow", sent in the URL) with `data`
  // as the body, gzip-compressed when config.compress.
  Status Insert(const std::string& insert, const std::string& data);

  // The exception code of the last failed reply, -1 when it had none.
  int last_code() const { return last_code_; }
  // The URL without credentials or query, for messages.
  const std::string& where() const { return base_url_; }

 private:
  Result<std::string> Post(const std::string& url, const std::string& body, bool gzip, const std::string& what);

  ClickHouseSinkConfig config_;
  std::string base_url_;  // config.url without a trailing '/'
  HttpHeaders headers_;
  HttpClient http_;
  int last_code_ = -1;
  size_t max_response_bytes_;
};

}  // namespace logship::clickhouse
