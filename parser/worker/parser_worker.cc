#include "parser/worker/parser_worker.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "logship/metrics.h"

namespace logship {

class ParserWorker::Probe {
 public:
  Probe()
      : received_(Counter("logship_parser_received_events_total", "Events taken from the queue")),
        sent_(Counter("logship_parser_sent_events_total", "Events committed by the sink and acknowledged")),
        bytes_(Counter("logship_parser_bytes_total", "Bytes of raw lines committed")),
        errors_(prometheus::BuildCounter().Name("logship_parser_errors_total").Help("Errors by kind")
                    .Register(MetricsRegistry())),
        dropped_(Counter("logship_parser_dropped_events_total",
                         "Events a parse rule's drop condition removed (unparsable events are never dropped: they are stored raw)")),
        unparsed_(Counter("logship_parser_unparsed_events_total", "Events no pattern matched (stored raw)")),
        queue_errors_(errors_.Add({{"kind", "queue"}})),
        sink_errors_(errors_.Add({{"kind", "sink"}})),
        metrics_errors_(errors_.Add({{"kind", "metrics"}})) {}

  static prometheus::Counter& Counter(const std::string& name, const std::string& help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(MetricsRegistry()).Add({});
  }

  prometheus::Counter& received_;
  prometheus::Counter& sent_;
  prometheus::Counter& bytes_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Counter& dropped_;
  prometheus::Counter& unparsed_;
  prometheus::Counter& queue_errors_;
  prometheus::Counter& sink_errors_;
  prometheus::Counter& metrics_errors_;
};

ParserWorker::ParserWorker(const ParserConfig& config, std::shared_ptr<const rules::RuleSet> rules, EventConsumer* input,
                           EventSink* sink, SampleProducer* metrics, const Clock& clock)
    : config_(config),
      input_(input),
      sink_(sink),
      metrics_(metrics),
      clock_(clock),
      probe_(std::make_unique<Probe>()),
      rules_(rules),
      counters_(std::make_unique<rules::DerivedCounters>(rules)) {}

ParserWorker::~ParserWorker() { Stop(); }

void ParserWorker::Start() { thread_ = std::thread([this] { Loop(); }); }

void ParserWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ParserWorker::SetRules(std::shared_ptr<const rules::RuleSet> rules) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_ = std::move(rules);
}

ParserStats ParserWorker::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool ParserWorker::WaitFor(Millis d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

void ParserWorker::FlushMetrics() {
  if (metrics_ == nullptr) return;
  std::vector<Sample> deltas = counters_->TakeDeltas();
  if (deltas.empty()) return;
  // Deltas are counts of committed events; losing them would undercount, so retry a few
  // times and then log and count what is lost.
  for (int attempt = 0; attempt < 5; ++attempt) {
    Status s = metrics_->Publish(deltas);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.samples_published += deltas.size();
      return;
    }
    if (s.code() == StatusCode::kCancelled) break;
    probe_->metrics_errors_.Increment();
    spdlog::warn("parser: publishing {} derived samples failed: {}", deltas.size(), s.ToString());
    std::this_thread::sleep_for(Millis(100 << attempt));
  }
  spdlog::error("parser: gave up on {} derived samples", deltas.size());
}

void ParserWorker::Loop() {
  std::vector<ParsedEvent> parsed;
  int64_t last_flush_ms = clock_.NowMs();
  Millis queue_backoff(100);
  for (;;) {
    std::shared_ptr<const rules::RuleSet> rules;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      rules = rules_;
    }
    if (clock_.NowMs() - last_flush_ms >= config_.metrics_flush.count()) {
      FlushMetrics();
      last_flush_ms = clock_.NowMs();
    }
    auto polled = input_->Poll(config_.batch_max_events, config_.batch_wait);
    if (!polled.ok()) {
      probe_->queue_errors_.Increment();
      spdlog::warn("parser: reading the queue failed ({}); retrying in {} ms", polled.status().ToString(),
                   queue_backoff.count());
      if (!WaitFor(queue_backoff)) break;
      queue_backoff = std::min(queue_backoff * 2, Millis(5000));
      continue;
    }
    queue_backoff = Millis(100);
    std::vector<Delivery<Event>>& batch = *polled;
    if (batch.empty()) {
      idle_.store(true);
      continue;
    }
    idle_.store(false);
    // Sinks that prefer few large writes (ClickHouse, Elasticsearch) ask for a linger:
    // keep polling until the batch is full or the linger since its first event passed.
    if (const Millis linger = sink_->batching().linger; linger.count() > 0) {
      const auto deadline = std::chrono::steady_clock::now() + linger;
      while (batch.size() < config_.batch_max_events) {
        auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stopping_) break;
        }
        auto more = input_->Poll(config_.batch_max_events - batch.size(), std::min(left, config_.batch_wait));
        if (!more.ok()) break;  // write what is in hand; the next poll reports the error
        for (Delivery<Event>& d : *more) batch.push_back(std::move(d));
      }
    }
    counters_->SetRuleSet(rules);
    parsed.clear();
    parsed.reserve(batch.size());
    uint64_t unparsed = 0, bytes = 0, dropped = 0;
    for (Delivery<Event>& d : batch) {
      bytes += d.value.raw.size();
      parsed.push_back(rules->Parse(std::move(d.value)));
      if (parsed.back().dropped) {  // a rule's drop condition: acknowledged, counted, not stored
        parsed.pop_back();
        ++dropped;
        continue;
      }
      const auto& tags = parsed.back().tags;
      if (std::find(tags.begin(), tags.end(), "_grokparsefailure") != tags.end()) ++unparsed;
    }
    probe_->received_.Increment(static_cast<double>(batch.size()));
    probe_->unparsed_.Increment(static_cast<double>(unparsed));
    probe_->dropped_.Increment(static_cast<double>(dropped));

    Millis backoff(100);
    bool committed = false;
    for (;;) {
      Status s = parsed.empty() ? Status::Ok() : sink_->Write(parsed);
      if (s.ok()) {
        committed = true;
        break;
      }
      probe_->sink_errors_.Increment();
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.sink_retries;
      }
      spdlog::warn("parser: sink write of {} events failed ({}); retrying in {} ms", parsed.size(), s.ToString(),
                   backoff.count());
      // Permanent sink errors are retried too: acknowledging would lose the batch, and
      // the operator can fix the sink (disk full, permissions) while we wait.
      if (!WaitFor(backoff)) break;  // stopping: leave the batch unacknowledged
      backoff = std::min(backoff * 2, Millis(10000));
    }
    if (!committed) break;
    for (const ParsedEvent& e : parsed) counters_->Observe(e);
    Status ack;
    for (int attempt = 0;; ++attempt) {
      ack = input_->Ack(batch);
      if (ack.ok() || ack.code() == StatusCode::kCancelled || attempt == 20) break;
      probe_->queue_errors_.Increment();
      std::this_thread::sleep_for(Millis(std::min(100 << std::min(attempt, 6), 5000)));
    }
    if (!ack.ok()) {
      // Stored but not acknowledged: the queue delivers the batch again and the sink
      // keeps one copy of each id.
      spdlog::warn("parser: acknowledging {} events failed: {}", batch.size(), ack.ToString());
    }
    probe_->sent_.Increment(static_cast<double>(batch.size()));
    probe_->bytes_.Increment(static_cast<double>(bytes));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.received += batch.size();
    stats_.unparsed += unparsed;
    stats_.parsed += batch.size() - unparsed;
    stats_.committed += batch.size();
  }
  FlushMetrics();
}

}  // namespace logship
