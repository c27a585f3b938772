// EntryItems: a queue entry (Redis stream entry, Kafka message) may carry a batch of items
// (metric samples; events in a batched v2 entry), but consumers deliver and acknowledge
// items one by one. This hands the items out in order and tells when every item of an
// entry was acknowledged, which is when the entry itself may be acknowledged to the queue.
// Shared by the Redis and Kafka sample consumers and the Redis event consumer. Thread-safe.
#pragma once

#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "logship/event.h"
#include "logship/queue.h"

namespace logship {

template <class T>
class EntryItems {
 public:
  // True when items are waiting to be handed out.
  bool HasReady() const;
  // How many items wait to be handed out.
  size_t ready() const;
  // True when some entry still has items not acknowledged.
  bool tracking() const;
  // Hands out up to `max` items in the order their entries were added.
  std::vector<Delivery<T>> Take(size_t max);
  // Adds an entry's items. REQUIRES: !items.empty() (an empty entry is complete at once;
  // the caller acknowledges it directly).
  void Add(const std::string& entry_id, std::vector<T> items);
  // Counts `deliveries` as acknowledged; returns the ids of the entries whose items are
  // now all acknowledged. Deliveries of no tracked entry are ignored, or, when
  // `untracked` is given, their queue ids are appended to it (single-item entries the
  // consumer delivered directly, or a repeated acknowledgement of a completed entry).
  std::vector<std::string> Acknowledge(std::span<const Delivery<T>> deliveries,
                                       std::vector<std::string>* untracked = nullptr);
  // Forgets every entry (e.g. the consumer group was recreated empty).
  void Clear();

 private:
  mutable std::mutex mu_;
  std::deque<Delivery<T>> ready_;                        // GUARDED_BY(mu_)
  std::unordered_map<std::string, size_t> outstanding_;  // GUARDED_BY(mu_): entry id -> items not acked
};

extern template class EntryItems<Sample>;
extern template class EntryItems<Event>;

using SampleEntries = EntryItems<Sample>;
using EventEntries = EntryItems<Event>;

}  // namespace logship
