#include "core/queue/sample_entries.h"

#include <algorithm>

namespace logship {

bool SampleEntries::HasReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !ready_.empty();
}

std::vector<Delivery<Sample>> SampleEntries::Take(size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Delivery<Sample>> out;
  size_t n = std::min(max, ready_.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  return out;
}

void SampleEntries::Add(const std::string& entry_id, std::vector<Sample> samples) {
  std::lock_guard<std::mutex> lock(mu_);
  outstanding_[entry_id] += samples.size();
  for (Sample& s : samples) ready_.push_back({entry_id, std::move(s)});
}

std::vector<std::string> SampleEntries::Acknowledge(std::span<const Delivery<Sample>> deliveries) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> complete;
  for (const auto& d : deliveries) {
    auto it = outstanding_.find(d.queue_id);
    if (it == outstanding_.end()) continue;
    if (--it->second == 0) {
      complete.push_back(it->first);
      outstanding_.erase(it);
    }
  }
  return complete;
}

}  // namespace logship
