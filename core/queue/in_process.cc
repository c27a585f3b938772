#include "core/queue/in_process.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace logship {

template <class T>
InProcessQueue<T>::InProcessQueue(InProcessQueueOptions options)
    : capacity_(std::max<size_t>(options.capacity, 1)), wait_for_ack_(options.wait_for_ack) {}

template <class T>
InProcessQueue<T>::~InProcessQueue() {
  Close();
}

template <class T>
std::unique_ptr<Producer<T>> InProcessQueue<T>::NewProducer() {
  return std::make_unique<ProducerView>(this);
}

template <class T>
std::unique_ptr<Consumer<T>> InProcessQueue<T>::NewConsumer() {
  return std::make_unique<ConsumerView>(this);
}

template <class T>
Status InProcessQueue<T>::Publish(std::span<const T> items) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return Status::Cancelled("in-process queue closed");
  std::shared_ptr<Ticket> ticket = wait_for_ack_ ? std::make_shared<Ticket>() : nullptr;
  size_t next = 0;
  while (next < items.size()) {
    space_cv_.wait(lock, [&] { return closed_ || in_flight_ < capacity_; });
    if (closed_) return Status::Cancelled("in-process queue closed while publishing");
    size_t n = std::min(capacity_ - in_flight_, items.size() - next);
    for (size_t i = 0; i < n; ++i) {
      queue_.push_back(Item{next_seq_++, items[next++], ticket});
    }
    in_flight_ += n;
    if (ticket) ticket->outstanding += n;
    items_cv_.notify_all();
  }
  if (ticket) {
    acked_cv_.wait(lock, [&] { return closed_ || ticket->outstanding == 0; });
    if (ticket->outstanding != 0) {
      return Status::Cancelled("in-process queue closed before the consumer acknowledged " +
                               std::to_string(ticket->outstanding) + " items");
    }
  }
  return Status::Ok();
}

template <class T>
Result<std::vector<Delivery<T>>> InProcessQueue<T>::Poll(size_t max,
                                                         std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<Delivery<T>> out;
  if (max == 0) return out;
  items_cv_.wait_for(lock, wait, [&] { return closed_ || !queue_.empty(); });
  size_t n = std::min(max, queue_.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Item& item = queue_.front();
    delivered_.emplace(item.seq, std::move(item.ticket));
    out.push_back(Delivery<T>{std::to_string(item.seq), std::move(item.value)});
    queue_.pop_front();
  }
  return out;
}

template <class T>
Status InProcessQueue<T>::Ack(std::span<const Delivery<T>> deliveries) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t acked = 0;
  for (const Delivery<T>& d : deliveries) {
    uint64_t seq = 0;
    const std::string& id = d.queue_id;
    auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), seq);
    if (ec != std::errc() || p != id.data() + id.size()) continue;
    auto it = delivered_.find(seq);
    if (it == delivered_.end()) continue;
    if (it->second) --it->second->outstanding;
    delivered_.erase(it);
    ++acked;
  }
  if (acked > 0) {
    in_flight_ -= acked;
    space_cv_.notify_all();
    acked_cv_.notify_all();
  }
  return Status::Ok();
}

template <class T>
void InProcessQueue<T>::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  space_cv_.notify_all();
  items_cv_.notify_all();
  acked_cv_.notify_all();
}

template <class T>
size_t InProcessQueue<T>::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

template <class T>
size_t InProcessQueue<T>::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

template class InProcessQueue<Event>;
template class InProcessQueue<Sample>;

}  // namespace logship
