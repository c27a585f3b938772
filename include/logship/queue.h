// The queue between tiers: producers that return only once the queue acknowledged, and
// consumers whose deliveries stay pending until acknowledged. Implementations:
// Redis Streams (core/queue/redis_stream.h) and in-process (core/queue/in_process.h).
#pragma once

#include <chrono>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "logship/event.h"
#include "logship/status.h"

namespace logship {

template <class T>
class Producer {
 public:
  virtual ~Producer() = default;
  // Publishes `items` in order. Returns Ok only when the queue acknowledged every item
  // (the Redis reply, the Kafka delivery report, or for the in-process queue the
  // consumer's Ack). Retryable: nothing or part was acknowledged; publishing the same
  // items again is safe because ids are deterministic. Thread-compatible.
  virtual Status Publish(std::span<const T> items) = 0;

  // Pipelined publishing, for callers that keep several batches in flight: Begin starts
  // publishing a batch, Finish waits for the oldest begun one and returns what Publish
  // would have. Batches finish in the order they began. REQUIRES: at most max_in_flight()
  // begun and not finished; `items` stay valid and unchanged until their Finish returns.
  // A failed batch says nothing of later ones: the caller finishes them all and publishes
  // again from the first failure (ids make the repeats removable).
  // The default publishes in Begin, so it is correct for any queue, only not concurrent.
  virtual size_t max_in_flight() const { return 1; }
  virtual void Begin(std::span<const T> items) { begun_.push_back(Publish(items)); }
  virtual Status Finish() {
    Status s = std::move(begun_.front());
    begun_.pop_front();
    return s;
  }

 private:
  std::deque<Status> begun_;  // results of the default Begin, oldest first
};

template <class T>
struct Delivery {
  std::string queue_id;  // the queue's id of the entry (Redis stream id, "p:off" for Kafka)
  T value;
};

template <class T>
class Consumer {
 public:
  virtual ~Consumer() = default;
  // Returns up to `max` deliveries, waiting at most `wait` when none is ready; an empty
  // vector after the wait is not an error. Deliveries not acknowledged are delivered again
  // (to this consumer after a restart, or to another one after they go idle).
  virtual Result<std::vector<Delivery<T>>> Poll(size_t max, std::chrono::milliseconds wait) = 0;
  // Acknowledges deliveries; REQUIRES: they came from this consumer's Poll.
  virtual Status Ack(std::span<const Delivery<T>> deliveries) = 0;
};

using EventProducer = Producer<Event>;
using EventConsumer = Consumer<Event>;
using SampleProducer = Producer<Sample>;
using SampleConsumer = Consumer<Sample>;

}  // namespace logship
