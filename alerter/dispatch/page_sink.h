// PageSink: where the evaluator (alerter/alerter.h) hands the result of each Evaluate():
// the alert states that changed, each rule's progress and the pages. The daemon's sink is
// the PageDispatcher (durable: state and notifications are written before anything is
// sent); DirectPageSink sends pages straight to notifiers (tests, backtests, benchmarks).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "alerter/notify/notifier.h"
#include "alerter/state/alert_state.h"
#include "logship/status.h"

namespace logship::alerter {

struct StateChange {
  std::string rule;  // RuleKey(): "<group>/<alert>"
  AlertState state;  // for an erase, only dedup_key is meaningful
  bool erased = false;
};

struct EvaluationOutput {
  std::vector<StateChange> states;
  std::vector<std::pair<std::string, int64_t>> progress;  // rule key -> last evaluated step
  std::vector<Page> pages;                                 // in evaluation order
  bool empty() const { return states.empty() && progress.empty() && pages.empty(); }
  void Append(EvaluationOutput&& other);
};

// What the evaluator persisted, to resume after a restart (Alerter::Restore()).
struct EvaluatorSnapshot {
  std::vector<std::pair<std::string, AlertState>> states;  // (rule key, state)
  std::map<std::string, int64_t> progress;
};

class PageSink {
 public:
  virtual ~PageSink() = default;
  // Takes one evaluation's output. Ok: it is durable (for a durable sink) and its pages are
  // accepted; failed[i] is true when a notifier already gave up on pages[i] (synchronous
  // sinks only). Not Ok: nothing was taken; the caller submits it again later (merged with
  // what follows).
  virtual Status Submit(const EvaluationOutput& out, std::vector<bool>* failed) = 0;
};

// Sends every page to every notifier, synchronously, in order. No persistence, routing,
// muting or repeats.
class DirectPageSink final : public PageSink {
 public:
  explicit DirectPageSink(std::vector<std::unique_ptr<Notifier>> notifiers) : notifiers_(std::move(notifiers)) {}
  Status Submit(const EvaluationOutput& out, std::vector<bool>* failed) override;

 private:
  std::vector<std::unique_ptr<Notifier>> notifiers_;
};

}  // namespace logship::alerter
