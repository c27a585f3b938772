// The in-process queue of `logship run`: all tiers in one process, no Redis.
//
// Contracts:
//  - Bounded: at most `capacity` items are in flight (enqueued, or delivered and not yet
//    acknowledged). Publish blocks while the queue is full; nothing is ever dropped.
//  - wait_for_ack (events): Publish returns Ok only after the consumer acknowledged every
//    item of the call, so the shipper checkpoints a file offset only after the sink
//    committed the line: at-least-once end to end within one process. Without it
//    (samples), Publish returns once every item is enqueued.
//  - Poll waits up to `wait` on a condition variable; it returns items in publish order.
//  - A delivery that is never acknowledged is not delivered again (there is no consumer
//    restart inside one process); its publisher waits until it is acked or Close().
//  - Close() wakes everyone: a Publish in progress (waiting for space or for acks) returns
//    Cancelled, later Publish calls return Cancelled at once; Poll returns what is left in
//    the queue, then an empty vector without waiting. Ack keeps working after Close.
//  - Thread-safe: any number of producers and consumers; all methods may be called
//    concurrently. The queue must outlive its views.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "logship/event.h"
#include "logship/queue.h"

namespace logship {

struct InProcessQueueOptions {
  size_t capacity = 10000;    // items in flight; 0 is treated as 1
  bool wait_for_ack = true;   // Publish waits for the consumer's Ack (see above)
};

template <class T>
class InProcessQueue {
 public:
  explicit InProcessQueue(InProcessQueueOptions options = {});
  ~InProcessQueue();
  InProcessQueue(const InProcessQueue&) = delete;
  InProcessQueue& operator=(const InProcessQueue&) = delete;

  // Views on this queue; valid while the queue lives.
  Producer<T>& producer() { return producer_; }
  Consumer<T>& consumer() { return consumer_; }
  // Owning handles on the same views, for components that take a unique_ptr.
  // REQUIRES: the queue outlives them.
  std::unique_ptr<Producer<T>> NewProducer();
  std::unique_ptr<Consumer<T>> NewConsumer();

  Status Publish(std::span<const T> items);
  Result<std::vector<Delivery<T>>> Poll(size_t max, std::chrono::milliseconds wait);
  // Unknown or already acknowledged queue ids are ignored.
  Status Ack(std::span<const Delivery<T>> deliveries);
  void Close();

  size_t in_flight() const;  // enqueued + delivered but not acknowledged
  size_t queued() const;     // enqueued, not yet delivered
  size_t capacity() const { return capacity_; }

 private:
  struct Ticket {
    size_t outstanding = 0;  // items of one Publish call not yet acknowledged
  };
  struct Item {
    uint64_t seq;
    T value;
    std::shared_ptr<Ticket> ticket;  // null when the publisher does not wait
  };
  class ProducerView final : public Producer<T> {
   public:
    explicit ProducerView(InProcessQueue* q) : q_(q) {}
    Status Publish(std::span<const T> items) override { return q_->Publish(items); }

   private:
    InProcessQueue* q_;
  };
  class ConsumerView final : public Consumer<T> {
   public:
    explicit ConsumerView(InProcessQueue* q) : q_(q) {}
    Result<std::vector<Delivery<T>>> Poll(size_t max, std::chrono::milliseconds wait) override {
      return q_->Poll(max, wait);
    }
    Status Ack(std::span<const Delivery<T>> deliveries) override { return q_->Ack(deliveries); }

   private:
    InProcessQueue* q_;
  };

  const size_t capacity_;
  const bool wait_for_ack_;
  ProducerView producer_{this};
  ConsumerView consumer_{this};

  mutable std::mutex mu_;
  std::condition_variable space_cv_;  // in_flight_ dropped below capacity, or closed
  std::condition_variable items_cv_;  // queue_ became non-empty, or closed
  std::condition_variable acked_cv_;  // some ticket's outstanding dropped, or closed
  std::deque<Item> queue_;                                         // guarded by mu_
  std::unordered_map<uint64_t, std::shared_ptr<Ticket>> delivered_;  // guarded by mu_
  size_t in_flight_ = 0;                                           // guarded by mu_
  uint64_t next_seq_ = 1;                                          // guarded by mu_
  bool closed_ = false;                                            // guarded by mu_
};

extern template class InProcessQueue<Event>;
extern template class InProcessQueue<Sample>;

using InProcessEventQueue = InProcessQueue<Event>;
using InProcessSampleQueue = InProcessQueue<Sample>;

}  // namespace logship
