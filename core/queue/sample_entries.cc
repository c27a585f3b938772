#include "core/queue/sample_entries.h"

#include <algorithm>

namespace logship {

template <class T>
bool EntryItems<T>::HasReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !ready_.empty();
}

template <class T>
size_t EntryItems<T>::ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.size();
}

template <class T>
bool EntryItems<T>::tracking() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !outstanding_.empty();
}

template <class T>
std::vector<Delivery<T>> EntryItems<T>::Take(size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Delivery<T>> out;
  size_t n = std::min(max, ready_.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  return out;
}

template <class T>
void EntryItems<T>::Add(const std::string& entry_id, std::vector<T> items) {
  std::lock_guard<std::mutex> lock(mu_);
  outstanding_[entry_id] += items.size();
  for (T& item : items) ready_.push_back({entry_id, std::move(item)});
}

template <class T>
std::vector<std::string> EntryItems<T>::Acknowledge(std::span<const Delivery<T>> deliveries,
                                                    std::vector<std::string>* untracked) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> complete;
  for (const auto& d : deliveries) {
    auto it = outstanding_.find(d.queue_id);
    if (it == outstanding_.end()) {
      if (untracked != nullptr) untracked->push_back(d.queue_id);
      continue;
    }
    if (--it->second == 0) {
      complete.push_back(it->first);
      outstanding_.erase(it);
    }
  }
  return complete;
}

template <class T>
void EntryItems<T>::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ready_.clear();
  outstanding_.clear();
}

template class EntryItems<Sample>;
template class EntryItems<Event>;

}  // namespace logship
