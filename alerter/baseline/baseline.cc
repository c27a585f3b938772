#include "alerter/baseline/baseline.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

namespace logship::alerter {
namespace {

// Warm-up bookkeeping shared by every estimator.
class WarmUp {
 public:
  explicit WarmUp(const BaselineSpec& spec) : spec_(spec) {}
  void Seen(int64_t t) {
    if (first_ms_ < 0) first_ms_ = t;
    ++points_;
  }
  bool Ready(int64_t t) const {
    return first_ms_ >= 0 && points_ >= spec_.min_points &&
           t - first_ms_ >= spec_.min_history.count();
  }

 private:
  const BaselineSpec& spec_;
  int64_t first_ms_ = -1;
  uint64_t points_ = 0;
};

// Rolling mean and stddev over `window`, kept as 32 sub-window aggregates (Welford
// n/mean/M2 each, merged with Chan's formula). The window slides one sub-window at a time.
class RollingMean final : public BaselineEstimator {
 public:
  explicit RollingMean(const BaselineSpec& spec)
      : spec_(spec), warm_(spec_), width_(std::max<int64_t>(1, spec.window.count() / kSlots)) {}

  std::optional<BaselineBand> Expected(int64_t t) const override {
    if (!warm_.Ready(t)) return std::nullopt;
    const int64_t cur = t / width_;
    double n = 0, mean = 0, m2 = 0;
    for (const Slot& s : slots_) {
      if (s.n == 0 || s.id <= cur - kSlots || s.id > cur) continue;
      double nn = n + s.n;
      double d = s.mean - mean;
      mean += d * s.n / nn;
      m2 += s.m2 + d * d * n * s.n / nn;
      n = nn;
    }
    if (n < 2) return std::nullopt;
    return BaselineBand{mean, std::sqrt(m2 / (n - 1))};
  }

  void Add(int64_t t, double v) override {
    if (!std::isfinite(v)) return;  // NaN/Inf (scraped pages have them) would poison the state
    warm_.Seen(t);
    const int64_t id = t / width_;
    Slot& s = slots_[static_cast<size_t>(((id % kSlots) + kSlots) % kSlots)];
    if (s.id != id) s = Slot{id, 0, 0, 0};
    s.n += 1;
    double d = v - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (v - s.mean);
  }

  size_t MemoryBytes() const override { return sizeof(*this); }

 private:
  static constexpr int64_t kSlots = 32;
  struct Slot {
    int64_t id = -1;
    double n = 0, mean = 0, m2 = 0;
  };
  const BaselineSpec& spec_;  // the rule's; outlives the estimator
  WarmUp warm_;
  int64_t width_;
  std::array<Slot, kSlots> slots_{};
};

// EWMA with exponentially weighted variance (West 1979 incremental form).
class Ewma final : public BaselineEstimator {
 public:
  explicit Ewma(const BaselineSpec& spec) : spec_(spec), warm_(spec_) {}

  std::optional<BaselineBand> Expected(int64_t t) const override {
    if (!warm_.Ready(t) || last_ms_ < 0) return std::nullopt;
    return BaselineBand{mean_, std::sqrt(var_)};
  }

  void Add(int64_t t, double v) override {
    if (!std::isfinite(v)) return;  // NaN/Inf (scraped pages have them) would poison the state
    warm_.Seen(t);
    if (last_ms_ < 0) {
      mean_ = v;
      var_ = 0;
    } else {
      double a = spec_.alpha;
      if (a <= 0) {
        double tau = std::max<double>(1, static_cast<double>(spec_.window.count()));
        a = 1 - std::exp(-static_cast<double>(std::max<int64_t>(t - last_ms_, 1)) / tau);
      }
      double d = v - mean_;
      double incr = a * d;
      mean_ += incr;
      var_ = (1 - a) * (var_ + d * incr);
    }
    last_ms_ = t;
  }

  size_t MemoryBytes() const override { return sizeof(*this); }

 private:
  const BaselineSpec& spec_;  // the rule's; outlives the estimator
  WarmUp warm_;
  int64_t last_ms_ = -1;
  double mean_ = 0, var_ = 0;
};

// Median +- 1.4826 * MAD (1.2533 x mean absolute deviation when the MAD is 0) over a
// window of at most kCap points. When points arrive faster than window / kCap, only one
// point per window / kCap is kept (decimation keeps the distribution, unlike averaging,
// which would narrow it).
class RollingMad final : public BaselineEstimator {
 public:
  explicit RollingMad(const BaselineSpec& spec)
      : spec_(spec), warm_(spec_), min_gap_(spec.window.count() / kCap) {
    times_.reserve(kCap);
    values_.reserve(kCap);
  }

  std::optional<BaselineBand> Expected(int64_t t) const override {
    if (!warm_.Ready(t)) return std::nullopt;
    std::vector<float> v;
    v.reserve(size_);
    for (size_t i = 0; i < size_; ++i) {
      if (times_[i] > t - spec_.window.count()) v.push_back(values_[i]);
    }
    if (v.size() < 3) return std::nullopt;
    const double med = Median(v);
    double sum_abs = 0;
    for (float& x : v) {
      x = static_cast<float>(std::fabs(x - med));
      sum_abs += x;
    }
    const double mad = Median(v);
    if (mad > 0) return BaselineBand{med, 1.4826 * mad};
    // More than half the window sits exactly on the median (a quantised, mostly flat
    // series: CPU 0.066% with excursions to 0.134%): the MAD is 0 although the values
    // vary. Fall back to the mean absolute deviation (x 1.2533 for a normal), as the
    // "modified z-score" does, so the excursions the window already holds set the band.
    // A truly flat window still has spread 0 (min_deviation guards that).
    return BaselineBand{med, 1.2533 * sum_abs / static_cast<double>(v.size())};
  }

  void Add(int64_t t, double v) override {
    if (!std::isfinite(v)) return;  // NaN/Inf (scraped pages have them) would poison the state
    warm_.Seen(t);
    if (last_kept_ms_ >= 0 && t - last_kept_ms_ < min_gap_) return;
    last_kept_ms_ = t;
    if (size_ < kCap) {
      times_.push_back(t);
      values_.push_back(static_cast<float>(v));
      ++size_;
    } else {
      times_[head_] = t;
      values_[head_] = static_cast<float>(v);
      head_ = (head_ + 1) % kCap;
    }
  }

  size_t MemoryBytes() const override {
    return sizeof(*this) + kCap * (sizeof(int64_t) + sizeof(float));
  }

 private:
  static constexpr size_t kCap = 128;
  static double Median(std::vector<float>& v) {
    const size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + mid, v.end());
    double hi = v[mid];
    if (v.size() % 2) return hi;
    double lo = *std::max_element(v.begin(), v.begin() + mid);
    return (lo + hi) / 2;
  }
  const BaselineSpec& spec_;  // the rule's; outlives the estimator
  WarmUp warm_;
  int64_t min_gap_;
  int64_t last_kept_ms_ = -1;
  size_t size_ = 0, head_ = 0;
  std::vector<int64_t> times_;
  std::vector<float> values_;
};

// IEEE 754 binary16 <-> float, round to nearest even (F. Giesen's branch-light
// conversions). The seasonal profile keeps its buckets in 16 bits.
uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint16_t FloatToHalf(float f) {
  constexpr uint32_t kInf32 = 255u << 23;
  constexpr uint32_t kMax16 = (127u + 16) << 23;  // 65536: Inf from here
  constexpr uint32_t kDenormMagic = ((127u - 15) + (23 - 10) + 1) << 23;
  uint32_t u = FloatBits(f);
  const uint32_t sign = u & 0x80000000u;
  u ^= sign;
  uint16_t o;
  if (u >= kMax16) {
    o = u > kInf32 ? 0x7e00 : 0x7c00;  // NaN, Inf
  } else if (u < (113u << 23)) {  // subnormal or zero
    o = static_cast<uint16_t>(FloatBits(BitsFloat(u) + BitsFloat(kDenormMagic)) - kDenormMagic);
  } else {
    const uint32_t odd = (u >> 13) & 1;
    u += (static_cast<uint32_t>(15 - 127) << 23) + 0xfff;
    u += odd;
    o = static_cast<uint16_t>(u >> 13);
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}
float HalfToFloat(uint16_t h) {
  constexpr uint32_t kShiftedExp = 0x7c00u << 13;
  uint32_t o = (h & 0x7fffu) << 13;
  const uint32_t exp = kShiftedExp & o;
  o += (127u - 15) << 23;
  if (exp == kShiftedExp) {
    o += (128u - 16) << 23;  // Inf, NaN
  } else if (exp == 0) {
    o += 1u << 23;  // zero, subnormal: renormalise
    o = FloatBits(BitsFloat(o) - BitsFloat(113u << 23));
  }
  return BitsFloat(o | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

// Seasonal profile: per phase bucket of the season (e.g. each 30 min of the day), an
// exponentially weighted mean of the values seen in that bucket in past seasons and of
// their absolute residuals. The expectation is the bucket's mean shifted by the recent
// level (an EWMA, time constant `window`, of value - profile), so a slow trend or a
// quieter week does not page; the spread is the bucket's mean absolute residual.
//
// Memory: one allocation of 64 + 4 x buckets bytes (at most 736). A bucket is 32 bits:
// the mean as an IEEE half (11 significant bits) and the mean absolute residual as a half
// without sign and its two lowest mantissa bits (9 significant bits) next to the pass
// count (3 bits, saturating at 7; only 0..5 are told apart). Both halves are scaled by
// 2^-scale_, one exponent per estimator, raised (and every bucket rescaled) when a value
// would not fit, so any magnitude keeps ~3 significant digits. The spec is the rule's.
// The bucket of the current phase is held in the object itself (cur_word_) and written
// back when the phase moves on: consecutive points fall in the same bucket (an hour is
// 360 ticks of 10 s), so a step reads and writes one cache line per estimator, not two.
class Seasonal final : public BaselineEstimator {
 public:
  static std::unique_ptr<BaselineEstimator> Make(const BaselineSpec& spec) {
    const int64_t season = std::max<int64_t>(1, spec.season.count());
    const int64_t bucket = std::max<int64_t>(1, spec.bucket.count() > 0 ? spec.bucket.count() : season / 48);
    const size_t n = static_cast<size_t>(std::clamp<int64_t>((season + bucket - 1) / bucket, 1, kMaxBuckets));
    void* mem = ::operator new(sizeof(Seasonal) + n * sizeof(uint32_t));
    return std::unique_ptr<BaselineEstimator>(new (mem) Seasonal(spec, n));
  }
  static void operator delete(void* p) { ::operator delete(p); }

  std::optional<BaselineBand> Expected(int64_t t) const override {
    if (!Ready(t) || t - first_ms_ < spec_->season.count()) return std::nullopt;
    const Bucket b = Load(Index(t));
    // Two passes at least: one season has no residual history for the bucket.
    if (b.n < 2) return std::nullopt;
    return BaselineBand{b.mean + level_, Spread(b)};
  }

  void Add(int64_t t, double v) override {
    if (!std::isfinite(v)) return;  // NaN/Inf (scraped pages have them) would poison the state
    if (first_ms_ < 0) first_ms_ = t;
    if (points_ < UINT32_MAX) ++points_;
    const size_t idx = Index(t);
    Hold(idx);
    Bucket b = Load(idx);
    // b.n counts passes through the bucket (seasons seen), not points.
    const bool new_pass = idx != last_index_ || last_ms_ < 0 || t - last_ms_ >= BucketMs();
    last_index_ = static_cast<uint16_t>(idx);
    double x = v;  // what the profile learns
    if (b.n > 0) {
      const double expected = b.mean + level_;
      double r = v - expected;
      // Winsorize: an outlier moves the profile and the level by at most 3 spreads, so a
      // spike today is not "normal" at the same time tomorrow.
      if (b.n >= 2) {
        const double cap = 3 * Spread(b);
        if (cap > 0) r = std::clamp(r, -cap, cap);
      }
      const double a_dev = b.n < 4 ? 1.0 / (b.n + 1) : kBeta;
      b.dev = b.n >= 2 ? (1 - a_dev) * b.dev + a_dev * std::fabs(r) : std::fabs(r);
      global_dev_ = global_dev_ == 0 ? std::fabs(r) : 0.98 * global_dev_ + 0.02 * std::fabs(r);
      // Recent level: EWMA (time constant `window`) of the residual against the profile.
      const double a = LevelWeight(last_ms_ < 0 ? 1 : std::max<int64_t>(t - last_ms_, 1));
      level_ += a * ((expected + r - b.mean) - level_);
      x = expected + r - level_;  // the (clipped) value net of the current level
    }
    if (b.n == 0) {
      b.mean = x;
    } else {
      const double a = b.n < 4 ? 1.0 / (b.n + 1) : kBeta;
      b.mean = (1 - a) * b.mean + a * x;
    }
    if (new_pass && b.n < kMaxPasses) ++b.n;
    Store(idx, b);
    last_ms_ = t;
  }

  size_t MemoryBytes() const override { return sizeof(*this) + nbuckets_ * sizeof(uint32_t); }

 private:
  static constexpr int64_t kMaxBuckets = 168;  // a week of hours; 4 bytes each
  static constexpr double kBeta = 0.25;  // weight of the newest season in a bucket
  static constexpr unsigned kMaxPasses = 7;
  // A half's magnitude is kept under this (of 65504), so one rescale makes room.
  static constexpr double kHalfRoom = 16384;
  struct Bucket {
    double mean = 0;
    double dev = 0;  // EW mean absolute residual
    unsigned n = 0;  // passes through the bucket (seasons seen), saturating
  };

  Seasonal(const BaselineSpec& spec, size_t n) : spec_(&spec), nbuckets_(static_cast<uint16_t>(n)) {
    std::fill(words(), words() + n, 0u);
  }
  uint32_t* words() { return reinterpret_cast<uint32_t*>(this + 1); }
  const uint32_t* words() const { return reinterpret_cast<const uint32_t*>(this + 1); }
  // Bucket i's packed word, wherever it is held.
  uint32_t Word(size_t i) const { return i == cur_ ? cur_word_ : words()[i]; }
  void SetWord(size_t i, uint32_t w) {
    if (i == cur_) {
      cur_word_ = w;
    } else {
      words()[i] = w;
    }
  }
  // Makes bucket i the one held in the object (writing the previous one back).
  void Hold(size_t i) {
    if (i == cur_) return;
    words()[cur_] = cur_word_;
    cur_ = static_cast<uint16_t>(i);
    cur_word_ = words()[i];
  }

  Bucket Load(size_t i) const {
    const uint32_t w = Word(i);
    const double scale = std::ldexp(1.0, scale_);
    Bucket b;
    b.mean = HalfToFloat(static_cast<uint16_t>(w >> 16)) * scale;
    b.dev = HalfToFloat(static_cast<uint16_t>((w & 0xfff8u) >> 1)) * scale;
    b.n = w & 7u;
    return b;
  }
  void Store(size_t i, const Bucket& b) {
    Fit(std::max(std::fabs(b.mean), b.dev));
    const double inv = std::ldexp(1.0, -scale_);
    const uint16_t mean = FloatToHalf(static_cast<float>(b.mean * inv));
    // dev >= 0: 15 bits of half; round off the two lowest mantissa bits (to nearest even).
    uint32_t dev = FloatToHalf(static_cast<float>(b.dev * inv)) & 0x7fffu;
    dev = std::min<uint32_t>((dev + 1 + ((dev >> 2) & 1)) >> 2, 0x1fffu);
    SetWord(i, (static_cast<uint32_t>(mean) << 16) | (dev << 3) | std::min(b.n, kMaxPasses));
  }
  // Raises scale_ until `magnitude` fits, rescaling every bucket (exact: powers of two).
  void Fit(double magnitude) {
    if (!std::isfinite(magnitude) || magnitude * std::ldexp(1.0, -scale_) <= kHalfRoom) return;
    int raise = 0;
    while (magnitude * std::ldexp(1.0, -(scale_ + raise)) > kHalfRoom && scale_ + raise < 120) ++raise;
    if (raise == 0) return;
    std::vector<Bucket> all(nbuckets_);
    for (size_t i = 0; i < nbuckets_; ++i) all[i] = Load(i);
    scale_ = static_cast<int8_t>(scale_ + raise);
    for (size_t i = 0; i < nbuckets_; ++i) {
      if (Word(i) != 0) Store(i, all[i]);
    }
  }

  bool Ready(int64_t t) const {
    return first_ms_ >= 0 && points_ >= spec_->min_points && t - first_ms_ >= spec_->min_history.count();
  }
  int64_t SeasonMs() const { return std::max<int64_t>(1, spec_->season.count()); }
  int64_t BucketMs() const {
    const int64_t b = spec_->bucket.count() > 0 ? spec_->bucket.count() : SeasonMs() / 48;
    return std::max<int64_t>(1, b);
  }
  // 1 - exp(-dt / window): the level's weight for a point dt after the previous one.
  // Points usually come every interval, so the last weight is kept.
  double LevelWeight(int64_t dt) {
    if (dt != weight_dt_) {
      const double tau = std::max<double>(1, static_cast<double>(spec_->window.count()));
      weight_ = 1 - std::exp(-static_cast<double>(dt) / tau);
      weight_dt_ = dt;
    }
    return weight_;
  }
  // Mean absolute residual -> sigma (x 1.2533 for a normal), the bucket's own history
  // blended with all buckets' (a bucket has few passes; the blend keeps early spreads sane).
  double Spread(const Bucket& b) const {
    const double w = std::min<double>(static_cast<double>(b.n) - 1, 4) / 8;  // at most half the bucket's own
    return 1.2533 * (w * b.dev + (1 - w) * global_dev_);
  }
  size_t Index(int64_t t) const {
    const int64_t season = SeasonMs();
    const int64_t phase = ((t % season) + season) % season;
    return static_cast<size_t>(std::min<int64_t>(phase / BucketMs(), static_cast<int64_t>(nbuckets_) - 1));
  }

  const BaselineSpec* spec_;  // the rule's; outlives the estimator
  int64_t first_ms_ = -1, last_ms_ = -1;
  int64_t weight_dt_ = -1;
  double level_ = 0, global_dev_ = 0, weight_ = 0;
  uint32_t points_ = 0;  // warm-up count, saturating
  uint16_t nbuckets_;
  uint16_t last_index_ = 0;
  int8_t scale_ = 0;  // buckets hold value x 2^-scale_
  uint16_t cur_ = 0;        // the bucket held in cur_word_ (its slot in the array is stale)
  uint32_t cur_word_ = 0;
  // Followed by nbuckets_ packed buckets (uint32_t), allocated with the object by Make().
};

}  // namespace

const char* BaselineMethodName(BaselineMethod m) {
  switch (m) {
    case BaselineMethod::kMean: return "mean";
    case BaselineMethod::kEwma: return "ewma";
    case BaselineMethod::kMad: return "mad";
    case BaselineMethod::kSeasonal: return "seasonal";
  }
  return "?";
}

const char* BaselineDirectionName(BaselineDirection d) {
  switch (d) {
    case BaselineDirection::kAbove: return "above";
    case BaselineDirection::kBelow: return "below";
    case BaselineDirection::kBoth: return "both";
  }
  return "?";
}

std::unique_ptr<BaselineEstimator> MakeBaselineEstimator(const BaselineSpec& spec) {
  switch (spec.method) {
    case BaselineMethod::kMean: return std::make_unique<RollingMean>(spec);
    case BaselineMethod::kEwma: return std::make_unique<Ewma>(spec);
    case BaselineMethod::kMad: return std::make_unique<RollingMad>(spec);
    case BaselineMethod::kSeasonal: return Seasonal::Make(spec);
  }
  return nullptr;
}

bool BaselineHolds(const BaselineSpec& spec, const std::optional<BaselineBand>& band, double value) {
  if (!band || !std::isfinite(value)) return false;
  const double c = band->center;
  if (std::max(std::fabs(value), std::fabs(c)) < spec.min_value) return false;
  const bool up = spec.direction != BaselineDirection::kBelow;
  const bool down = spec.direction != BaselineDirection::kAbove;
  const double d = value - c;
  if (spec.k > 0) {
    const double limit = std::max(spec.k * band->spread, spec.min_deviation);
    // A zero spread (a flat line) with no min_deviation: any change is off-baseline.
    if (up && d > limit) return true;
    if (down && -d > limit) return true;
  }
  // Ratio tests need a positive baseline: "5x the baseline" means nothing against 0 or a
  // negative center (a seasonal center, profile + level, can dip below 0 after a deep
  // drop), and every positive value would be "above 5x" a negative one.
  if (c <= 0) return false;
  if (up && spec.max_ratio > 0 && value > spec.max_ratio * c && d > spec.min_deviation) return true;
  if (down && spec.min_ratio > 0 && value < spec.min_ratio * c && -d > spec.min_deviation) return true;
  return false;
}

}  // namespace logship::alerter
