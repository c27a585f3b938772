#include "alerter/scrape/scraper.h"

#include <curl/curl.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "alerter/scrape/scrape_probe.h"
#include "core/wire/wire.h"

namespace logship::alerter {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What the Accept header asks for: the text format Prometheus 2 also understands.
constexpr const char* kAccept = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

// The kind of a failed transfer, from libcurl's code (0: a response came back).
const char* TransferErrorKind(int curl_code) {
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return "connect";
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
      return "tls";
    default:
      return "transfer";
  }
}

Sample Health(const ScrapeTarget& target, const char* name, double value, int64_t t) {
  return Sample{name, target.labels, t, value};
}

}  // namespace

Result<ScrapeTarget> MakeScrapeTarget(const ScrapeTargetConfig& config) {
  ScrapeTarget t;
  t.config = config;
  CURLU* u = curl_url();
  if (u == nullptr) return Status::IOError("scrape: curl_url failed");
  std::string host, port;
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, config.url.c_str(), 0);
  if (rc == CURLUE_OK) {
    char* part = nullptr;
    if (curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK) host = part;
    curl_free(part);
    part = nullptr;
    if (curl_url_get(u, CURLUPART_PORT, &part, 0) == CURLUE_OK) port = part;
    curl_free(part);
  }
  curl_url_cleanup(u);
  if (rc != CURLUE_OK || host.empty()) {
    return Status::InvalidArgument("scrape job " + config.job + ": bad url \"" + config.url + "\": " +
                                   (rc != CURLUE_OK ? curl_url_strerror(rc) : "no host"));
  }
  t.instance = port.empty() ? host : host + ":" + port;
  t.labels = {{"instance", t.instance}, {"job", config.job}};
  for (const auto& label : config.labels) {
    auto it = std::find_if(t.labels.begin(), t.labels.end(), [&](const auto& l) { return l.first == label.first; });
    if (it != t.labels.end()) {
      it->second = label.second;  // `instance` given explicitly
    } else {
      t.labels.push_back(label);
    }
  }
  std::sort(t.labels.begin(), t.labels.end());
  for (const auto& [k, v] : t.labels) {
    if (k == "instance") t.instance = v;
  }
  return t;
}

void ApplyTargetLabels(const Labels& target, Labels& labels) {
  if (target.empty()) return;
  bool renamed = false;
  for (auto& [k, v] : labels) {
    auto clash = [&](const std::string& name) {
      return std::binary_search(target.begin(), target.end(), std::make_pair(name, std::string()),
                                [](const auto& a, const auto& b) { return a.first < b.first; });
    };
    if (!clash(k)) continue;
    // Keep the scraped value under exported_<name>, unless that is taken too.
    std::string name = "exported_" + k;
    auto taken = [&](const std::string& n) {
      return clash(n) || std::any_of(labels.begin(), labels.end(), [&](const auto& l) { return l.first == n; });
    };
    while (taken(name)) name = "exported_" + name;
    k = std::move(name);
    renamed = true;
  }
  if (renamed) std::sort(labels.begin(), labels.end());
  Labels merged;
  merged.reserve(labels.size() + target.size());
  std::merge(labels.begin(), labels.end(), target.begin(), target.end(), std::back_inserter(merged),
             [](const auto& a, const auto& b) { return a.first < b.first; });
  labels = std::move(merged);
}

ScrapeResult ScrapeOnce(HttpClient& http, const ScrapeTarget& target, int64_t start_ms) {
  ScrapeResult r;
  const auto t0 = SteadyClock::now();
  HttpHeaders headers = {{"Accept", kAccept}};
  if (!target.config.bearer_token.empty()) {
    headers.emplace_back("Authorization", "Bearer " + target.config.bearer_token.value);
  }
  auto resp = http.Get(target.config.url, headers, target.config.timeout);
  r.duration_seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  auto fail = [&](const char* kind, std::string what) {
    r.scraped.clear();
    r.up = false;
    r.error_kind = kind;
    r.error = std::move(what);
    return r;
  };
  if (!resp.ok()) {
    const int code = http.last_curl_code();
    return fail(code == 0 ? "http" : TransferErrorKind(code), resp.status().message());
  }
  r.body_bytes = resp->body.size();
  if (resp->truncated || resp->body.size() > target.config.max_body_bytes) {
    return fail("body_too_large", "the page is longer than max_body_bytes (" +
                                      std::to_string(target.config.max_body_bytes) + ")");
  }
  auto parsed = wire::ParsePrometheusExposition(resp->body, start_ms);
  if (!parsed.ok()) return fail("parse", "unparsable page: " + parsed.status().message());
  if (target.config.sample_limit > 0 && parsed->samples.size() > target.config.sample_limit) {
    return fail("sample_limit", std::to_string(parsed->samples.size()) + " samples, more than sample_limit " +
                                    std::to_string(target.config.sample_limit));
  }
  r.scraped.samples = std::move(parsed->samples);
  r.scraped.cumulative = std::move(parsed->cumulative);
  for (Sample& s : r.scraped.samples) ApplyTargetLabels(target.labels, s.labels);
  r.up = true;
  return r;
}

HttpClient::Options ScrapeClientOptions(const ScrapeTargetConfig& c) {
  HttpClient::Options o;
  o.verify_tls = c.tls_verify;
  o.ca_file = c.ca_file;
  o.cert_file = c.cert_file;
  o.key_file = c.key_file;
  o.max_response_bytes = static_cast<size_t>(c.max_body_bytes);
  o.accept_compressed = true;
  return o;
}

void AppendHealthSamples(const ScrapeTarget& target, const ScrapeResult& result, int64_t start_ms,
                         ScrapedSamples* out) {
  // `out` may be result.scraped itself: count before appending.
  const double scraped = static_cast<double>(result.scraped.samples.size());
  out->samples.push_back(Health(target, "up", result.up ? 1 : 0, start_ms));
  out->samples.push_back(Health(target, "scrape_duration_seconds", result.duration_seconds, start_ms));
  out->samples.push_back(Health(target, "scrape_samples_scraped", scraped, start_ms));
  out->cumulative.resize(out->samples.size(), 0);
}

Result<std::unique_ptr<Scraper>> Scraper::Create(const std::vector<ScrapeTargetConfig>& configs,
                                                 ScraperOptions options) {
  std::vector<ScrapeTarget> targets;
  for (const auto& c : configs) {
    auto t = MakeScrapeTarget(c);
    if (!t.ok()) return t.status();
    targets.push_back(std::move(*t));
  }
  return std::unique_ptr<Scraper>(new Scraper(std::move(targets), options));
}

Scraper::Scraper(std::vector<ScrapeTarget> targets, ScraperOptions options)
    : targets_(std::move(targets)), options_(options) {}

Scraper::~Scraper() { Stop(); }

void Scraper::Start() {
  for (size_t i = 0; i < targets_.size(); ++i) threads_.emplace_back([this, i] { Loop(i); });
}

void Scraper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Scraper::TakeSamples(ScrapedSamples* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (out->samples.empty()) {
    std::swap(*out, buffer_);
    return;
  }
  std::move(buffer_.samples.begin(), buffer_.samples.end(), std::back_inserter(out->samples));
  out->cumulative.insert(out->cumulative.end(), buffer_.cumulative.begin(), buffer_.cumulative.end());
  buffer_.clear();
}

uint64_t Scraper::scrapes_completed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_;
}

void Scraper::Loop(size_t index) {
  const ScrapeTarget& target = targets_[index];
  const ScrapeTargetConfig& c = target.config;
  HttpClient http(ScrapeClientOptions(c));
  const ScrapeProbe probe = ScrapeProbe::For(c.job, target.instance);
  bool was_up = true;  // so the first failure is logged
  auto next = SteadyClock::now();
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    const int64_t start_ms = options_.clock->NowMs();
    ScrapeResult r = ScrapeOnce(http, target, start_ms);
    probe.requests->Increment();
    probe.bytes->Increment(static_cast<double>(r.body_bytes));
    probe.up->Set(r.up ? 1 : 0);
    probe.duration->Set(r.duration_seconds);
    if (r.up) {
      probe.received_samples->Increment(static_cast<double>(r.scraped.samples.size()));
      if (!was_up) spdlog::info("scrape: job {} instance {} is up again", c.job, target.instance);
    } else {
      probe.CountError(r.error_kind);
      if (was_up) {
        spdlog::warn("scrape: job {} instance {} failed ({}): {}", c.job, target.instance, r.error_kind, r.error);
      }
    }
    was_up = r.up;
    AppendHealthSamples(target, r, start_ms, &r.scraped);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (buffer_.samples.size() + r.scraped.samples.size() > options_.max_buffered_samples) {
        probe.dropped_samples->Increment(static_cast<double>(r.scraped.samples.size()));
      } else {
        std::move(r.scraped.samples.begin(), r.scraped.samples.end(), std::back_inserter(buffer_.samples));
        buffer_.cumulative.insert(buffer_.cumulative.end(), r.scraped.cumulative.begin(),
                                  r.scraped.cumulative.end());
      }
      ++completed_;
    }
    // Fixed rate: the next slot after now (a slow scrape skips the slots it overran).
    const auto now = SteadyClock::now();
    next += c.interval;
    if (next <= now) next += ((now - next) / c.interval + 1) * c.interval;
  }
}

}  // namespace logship::alerter
