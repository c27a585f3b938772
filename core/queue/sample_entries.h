// SampleEntries: a queue entry (Redis stream entry, Kafka message) carries a batch of
// samples, but consumers deliver and acknowledge samples one by one. This hands the
// samples out in order and tells when every sample of an entry was acknowledged, which
// is when the entry itself may be acknowledged to the queue. Shared by the Redis and
// Kafka sample consumers. Thread-safe.
#pragma once

#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "logship/queue.h"

namespace logship {

class SampleEntries {
 public:
  // True when samples are waiting to be handed out.
  bool HasReady() const;
  // Hands out up to `max` samples in the order their entries were added.
  std::vector<Delivery<Sample>> Take(size_t max);
  // Adds an entry's samples. REQUIRES: !samples.empty() (an empty entry is complete at
  // once; the caller acknowledges it directly).
  void Add(const std::string& entry_id, std::vector<Sample> samples);
  // Counts `deliveries` as acknowledged; returns the ids of the entries whose samples
  // are now all acknowledged. Unknown or repeated deliveries are ignored.
  std::vector<std::string> Acknowledge(std::span<const Delivery<Sample>> deliveries);

 private:
  mutable std::mutex mu_;
  std::deque<Delivery<Sample>> ready_;                   // GUARDED_BY(mu_)
  std::unordered_map<std::string, size_t> outstanding_;  // GUARDED_BY(mu_): entry id -> samples not acked
};

}  // namespace logship
