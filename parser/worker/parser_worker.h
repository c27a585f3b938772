// ParserWorker: the parser daemon's loop. Takes a batch from the queue, parses it with
// the current rules, writes it to the sink, and only after the sink committed
// acknowledges the batch to the queue. Derived counters are published as delta samples
// every `metrics_flush`. A batch is what one poll returns (at most batch_max_events), or,
// when the sink asks for a linger (EventSink::batching(): ClickHouse, Elasticsearch), what
// further polls add until the batch is full or the linger since its first event passed.
//
// Lifecycle: construct (no I/O) -> Start -> Stop. Stop finishes the batch in hand when the
// sink accepts it; a batch the sink has not committed is left unacknowledged, so the
// queue delivers it again (to this consumer name after a restart, or another parser).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/queue.h"
#include "logship/sink.h"
#include "parser/rules/rule_set.h"

namespace logship {

struct ParserStats {
  uint64_t received = 0;   // deliveries taken from the queue
  uint64_t parsed = 0;     // a pattern matched
  uint64_t unparsed = 0;   // tagged _grokparsefailure (stored raw)
  uint64_t committed = 0;  // written by the sink and acknowledged
  uint64_t sink_retries = 0;
  uint64_t samples_published = 0;
};

class ParserWorker {
 public:
  // All pointers must outlive the worker; `metrics` may be null.
  ParserWorker(const ParserConfig& config, std::shared_ptr<const rules::RuleSet> rules, EventConsumer* input,
               EventSink* sink, SampleProducer* metrics, const Clock& clock = SystemClock());
  ~ParserWorker();

  void Start();
  void Stop();  // idempotent; flushes the derived counters last

  // Swaps the rules for the next batch (SIGHUP). Thread-safe.
  void SetRules(std::shared_ptr<const rules::RuleSet> rules);

  // True when the last poll found the queue empty and nothing is in hand.
  bool Idle() const { return idle_.load(); }
  ParserStats stats() const;

 private:
  class Probe;
  void Loop();
  void FlushMetrics();
  bool WaitFor(Millis d);

  ParserConfig config_;
  EventConsumer* input_;
  EventSink* sink_;
  SampleProducer* metrics_;
  const Clock& clock_;
  std::unique_ptr<Probe> probe_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                      // GUARDED_BY(mu_)
  std::shared_ptr<const rules::RuleSet> rules_;       // GUARDED_BY(mu_)
  ParserStats stats_;                          // GUARDED_BY(mu_)
  std::unique_ptr<rules::DerivedCounters> counters_;  // loop thread only
  std::atomic<bool> idle_{false};
  std::thread thread_;
};

}  // namespace logship
