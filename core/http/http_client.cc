#include "core/http/http_client.h"

#include <curl/curl.h>

#include "core/util/strings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <mutex>

namespace logship {
namespace {


// Retry-After: delta-seconds or an HTTP-date. Returns 0 when absent or unparsable.
std::chrono::milliseconds ParseRetryAfter(std::string_view value, int64_t now_unix_ms) {
  value = Trim(value);
  if (value.empty()) return std::chrono::milliseconds(0);
  int64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && ptr == value.data() + value.size()) {
    return std::chrono::milliseconds(std::max<int64_t>(0, seconds) * 1000);
  }
  std::string date(value);
  time_t when = curl_getdate(date.c_str(), nullptr);
  if (when < 0) return std::chrono::milliseconds(0);
  int64_t delta = static_cast<int64_t>(when) * 1000 - now_unix_ms;
  return std::chrono::milliseconds(std::max<int64_t>(0, delta));
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The URL without its query or fragment, for messages (queries may carry keys).
std::string RedactUrl(const std::string& url) {
  size_t cut = url.find_first_of("?#");
  return cut == std::string::npos ? url : url.substr(0, cut);
}

// Where WriteBody() puts a response body: at most `cap` bytes, the rest counted only.
struct BodySink {
  HttpResponse* response;
  size_t cap;
  size_t seen = 0;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  std::string& body = sink->response->body;
  size_t n = size * nmemb;
  if (body.size() < sink->cap) body.append(data, std::min(n, sink->cap - body.size()));
  sink->seen += n;
  if (sink->seen > sink->cap) sink->response->truncated = true;
  return n;  // keep reading (and discard) past the cap so the connection stays reusable
}

size_t WriteHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* headers = static_cast<HttpHeaders*>(user);
  size_t n = size * nmemb;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after 100 Continue, or a redirect) starts over
    return n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    headers->emplace_back(std::string(Trim(line.substr(0, colon))),
                          std::string(Trim(line.substr(colon + 1))));
  }
  return n;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

HttpVerdict ClassifyHttpResult(int curl_code, long http_status, std::string_view retry_after,
                               int64_t now_unix_ms) {
  HttpVerdict v;
  if (curl_code != CURLE_OK) {
    std::string what = curl_easy_strerror(static_cast<CURLcode>(curl_code));
    switch (static_cast<CURLcode>(curl_code)) {
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
      case CURLE_NOT_BUILT_IN:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CIPHER:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CRL_BADFILE:
      case CURLE_SSL_ISSUER_ERROR:
      case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      case CURLE_TOO_MANY_REDIRECTS:
      case CURLE_LOGIN_DENIED:
      case CURLE_BAD_FUNCTION_ARGUMENT:
        v.kind = HttpVerdictKind::kPermanent;
        break;
      default:  // connect, resolve, timeout, send/recv, TLS handshake, unknown: back off
        v.kind = HttpVerdictKind::kRetryable;
        break;
    }
    v.reason = what;
    return v;
  }
  if (http_status >= 200 && http_status < 300) return v;
  v.reason = "HTTP " + std::to_string(http_status);
  if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status < 600)) {
    v.kind = HttpVerdictKind::kRetryable;
    v.retry_after = ParseRetryAfter(retry_after, now_unix_ms);
    return v;
  }
  v.kind = HttpVerdictKind::kPermanent;
  return v;
}

HttpClient::HttpClient() : HttpClient(Options()) {}

HttpClient::HttpClient(Options options) : options_(std::move(options)) {
  InitCurlOnce();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpResponse> HttpClient::Post(const std::string& url, const std::string& body,
                                      const HttpHeaders& headers,
                                      std::chrono::milliseconds timeout) {
  return Perform("POST", url, &body, headers, timeout);
}

Result<HttpResponse> HttpClient::Put(const std::string& url, const std::string& body,
                                     const HttpHeaders& headers,
                                     std::chrono::milliseconds timeout) {
  return Perform("PUT", url, &body, headers, timeout);
}

Result<HttpResponse> HttpClient::Get(const std::string& url, const HttpHeaders& headers,
                                     std::chrono::milliseconds timeout) {
  return Perform("GET", url, nullptr, headers, timeout);
}

Result<HttpResponse> HttpClient::PostAnyStatus(const std::string& url, const std::string& body,
                                               const HttpHeaders& headers,
                                               std::chrono::milliseconds timeout) {
  return Perform("POST", url, &body, headers, timeout, /*any_status=*/true);
}

Result<HttpResponse> HttpClient::Perform(const char* method, const std::string& url,
                                         const std::string* body, const HttpHeaders& headers,
                                         std::chrono::milliseconds timeout, bool any_status) {
  last_retry_after_ = std::chrono::milliseconds(0);
  last_curl_code_ = -1;  // no transfer
  last_http_status_ = 0;
  const std::string where = std::string(method) + " " + RedactUrl(url);
  auto* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Status::Retryable(where + ": curl_easy_init failed");

  // Reset options but keep live connections, DNS and TLS session caches.
  curl_easy_reset(curl);
  HttpResponse response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(timeout, options_.connect_timeout).count()));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.cert_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, options_.cert_file.c_str());
  if (!options_.key_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, options_.key_file.c_str());
  if (options_.accept_compressed) curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  BodySink sink{&response, options_.max_response_bytes};
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    if (std::string_view(method) != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  struct curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);

  CURLcode rc = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  last_curl_code_ = static_cast<int>(rc);
  last_http_status_ = response.status;
  if (rc == CURLE_OK && any_status) return response;

  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  HttpVerdict verdict =
      ClassifyHttpResult(rc, response.status, response.Header("Retry-After"), now_ms);
  std::string reason = verdict.reason;
  if (rc != CURLE_OK && errbuf[0] != '\0') reason += " (" + std::string(errbuf) + ")";
  if (rc == CURLE_OK && !response.body.empty() && verdict.kind != HttpVerdictKind::kOk) {
    reason += ": " + response.body.substr(0, 200);  // servers explain rejections here
  }
  switch (verdict.kind) {
    case HttpVerdictKind::kOk:
      return response;
    case HttpVerdictKind::kRetryable:
      last_retry_after_ = verdict.retry_after;
      return Status::Retryable(where + ": " + reason);
    case HttpVerdictKind::kPermanent:
      return Status::Permanent(where + ": " + reason);
  }
  return Status::Permanent(where + ": unreachable");
}

}  // namespace logship
