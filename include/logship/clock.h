// Clock: the one door to time, so tests can drive it.
#pragma once

#include <atomic>
#include <cstdint>

namespace logship {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in nanoseconds since the Unix epoch. Thread-safe.
  virtual int64_t NowNs() const = 0;
  int64_t NowMs() const { return NowNs() / 1'000'000; }
};

// The real clock (CLOCK_REALTIME).
const Clock& SystemClock();

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ns = 0) : now_ns_(now_ns) {}
  int64_t NowNs() const override { return now_ns_.load(); }
  void SetNs(int64_t ns) { now_ns_.store(ns); }
  void AdvanceNs(int64_t ns) { now_ns_.fetch_add(ns); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace logship
