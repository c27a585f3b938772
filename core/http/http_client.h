// HttpClient: a small libcurl client for the downstreams logship posts to (webhooks,
// PagerDuty, Alertmanager, ...). Every result is Ok, Retryable or Permanent, decided in
// one place: ClassifyHttpResult().
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "logship/status.h"

namespace logship {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  long status = 0;      // HTTP status code
  HttpHeaders headers;  // response headers of the final response, names as sent
  std::string body;     // at most Options::max_response_bytes; the rest is discarded
  bool truncated = false;  // the body was longer than Options::max_response_bytes

  // The first header named `name` (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
};

enum class HttpVerdictKind { kOk, kRetryable, kPermanent };

struct HttpVerdict {
  HttpVerdictKind kind = HttpVerdictKind::kOk;
  // How long the server asked us to wait (Retry-After), 0 when it did not say. Only set
  // for Retryable verdicts.
  std::chrono::milliseconds retry_after{0};
  std::string reason;  // "HTTP 503", "connect failed: ..." (empty when Ok)
};

// THE decision for every HTTP call. `curl_code` is the CURLcode of the transfer (0 = a
// response was received), `http_status` the response status (ignored unless curl_code is
// 0), `retry_after` the Retry-After header value ("" when absent; delta-seconds or an
// HTTP-date, resolved against `now_unix_ms`).
//   Ok:        2xx.
//   Retryable: connect/resolve failures, timeouts, send/receive errors, TLS handshake
//              failures, 408, 429, 5xx, and unknown transport errors (never drop).
//   Permanent: other 1xx/3xx/4xx (redirects are not followed), malformed URLs, unsupported
//              protocols, certificate verification failures, bad local TLS files.
HttpVerdict ClassifyHttpResult(int curl_code, long http_status, std::string_view retry_after,
                               int64_t now_unix_ms);

// One libcurl easy handle; connections are kept alive and reused between calls.
// Thread-compatible, NOT thread-safe: use one client per thread.
// TLS peer and host verification are on unless Options::verify_tls is false.
class HttpClient {
 public:
  static constexpr size_t kMaxResponseBytes = 1 << 20;

  struct Options {
    bool verify_tls = true;
    std::string ca_file;  // PEM bundle; "" uses the system store
    std::chrono::milliseconds connect_timeout{5000};  // capped by each call's timeout
    std::string user_agent = "logship/0.1";
    // Client certificate and its key (PEM files) for mutual TLS; "" sends none.
    std::string cert_file, key_file;
    // Longer bodies are cut here (HttpResponse::truncated); the rest is read and discarded.
    size_t max_response_bytes = kMaxResponseBytes;
    // Offer every encoding libcurl can inflate (Accept-Encoding: gzip, ...); the body and
    // max_response_bytes are then the inflated bytes.
    bool accept_compressed = false;
  };

  HttpClient();
  explicit HttpClient(Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request and returns the response when ClassifyHttpResult() says Ok;
  // otherwise a Retryable or Permanent Status naming method, URL (without query) and
  // reason. After a Retryable failure, last_retry_after() holds the server's Retry-After.
  Result<HttpResponse> Post(const std::string& url, const std::string& body,
                            const HttpHeaders& headers, std::chrono::milliseconds timeout);
  // PUT with a body (same outcome rules as Post).
  Result<HttpResponse> Put(const std::string& url, const std::string& body,
                           const HttpHeaders& headers, std::chrono::milliseconds timeout);
  Result<HttpResponse> Get(const std::string& url, const HttpHeaders& headers,
                           std::chrono::milliseconds timeout);

  // Like Post, but every HTTP response is returned as a value, whatever its status, for
  // clients that decide from the server's own error codes in the body (ClickHouse's
  // "Code: N", Elasticsearch's per-item errors). Only a transfer that got no response is a
  // Status (Retryable or Permanent, by ClassifyHttpResult()).
  Result<HttpResponse> PostAnyStatus(const std::string& url, const std::string& body,
                                     const HttpHeaders& headers, std::chrono::milliseconds timeout);

  // Retry-After of the last call that failed Retryable; 0 when none was given.
  std::chrono::milliseconds last_retry_after() const { return last_retry_after_; }
  // The CURLcode of the last call (0: a response was received) and its HTTP status (0
  // when none), for callers that count failures by kind.
  int last_curl_code() const { return last_curl_code_; }
  long last_http_status() const { return last_http_status_; }

 private:
  Result<HttpResponse> Perform(const char* method, const std::string& url,
                               const std::string* body, const HttpHeaders& headers,
                               std::chrono::milliseconds timeout, bool any_status = false);

  Options options_;
  void* curl_ = nullptr;  // CURL*, kept out of this header
  std::chrono::milliseconds last_retry_after_{0};
  int last_curl_code_ = 0;
  long last_http_status_ = 0;
};

}  // namespace logship
