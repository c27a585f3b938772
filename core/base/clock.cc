#include "logship/clock.h"

#include <time.h>

namespace logship {
namespace {

class RealClock final : public Clock {
 public:
  int64_t NowNs() const override {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }
};

}  // namespace

const Clock& SystemClock() {
  static const RealClock clock;
  return clock;
}

}  // namespace logship
