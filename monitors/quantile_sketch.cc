#include "monitors/quantile_sketch.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "monitors/stats.h"

namespace vigie::monitors {
namespace {

constexpr size_t kBufferCapacity = QuantileSketch::kBufferCapacity;
constexpr int kMaxSamplingShift = 8;  // log2(kBufferCapacity).
static_assert(size_t{1} << kMaxSamplingShift == kBufferCapacity);
// Sampling starts once n >= kSamplingFactor k^2 (class comment).
constexpr double kSamplingFactor = 1;
// No level is given fewer slots than this.
constexpr uint64_t kMinLevelCapacity = 8;
// ln(2 / (1 - kConfidence)) = ln(200): the Azuma-Hoeffding bound's log term.
constexpr double kLogTwoOverDelta = 5.2983173665480363;
static_assert(QuantileSketch::kConfidence == 0.99);
// Seed of every new sketch's generator; merges and compactions stir it.
constexpr uint64_t kSeed = 0x5669676965514b4cULL;

// SplitMix64's output function (Steele, Lea and Flood, OOPSLA 2014): a
// bijective 64-bit mixer.
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A hash of a level's values, to stir the generator before the level's
// coin flip: sketches of different data then flip different coins even if
// they started from the same seed.
uint64_t HashValues(const std::vector<double>& values) {
  uint64_t h = values.size();
  for (double v : values) {
    h = (h ^ std::bit_cast<uint64_t>(v)) * 0x100000001b3ULL;
  }
  return Mix(h);
}

// Merges the sorted `incoming` values into the sorted `level`, in place
// from the back, without a temporary.
void MergeInto(std::vector<double>& level, const double* incoming,
               size_t incoming_size) {
  if (incoming_size == 0) return;
  size_t i = level.size();
  size_t j = incoming_size;
  level.resize(i + j);
  for (size_t out = i + j; j > 0;) {
    if (i > 0 && level[i - 1] > incoming[j - 1]) {
      level[--out] = level[--i];
    } else {
      level[--out] = incoming[--j];
    }
  }
}

// Capacity of a level `depth` levels below the top: floor(k (2/3)^depth),
// at least kMinLevelCapacity. Exact integers, so every platform agrees.
uint64_t CapacityAtDepth(uint32_t k, size_t depth) {
  // For k <= 4096, k (2/3)^16 < 8: deeper levels all get the minimum, and
  // 3^15 and 4096 * 2^15 fit easily in 64 bits.
  if (depth >= 16) return kMinLevelCapacity;
  uint64_t numerator = k;
  uint64_t denominator = 1;
  for (size_t i = 0; i < depth; ++i) {
    numerator *= 2;
    denominator *= 3;
  }
  return std::max(kMinLevelCapacity, numerator / denominator);
}

double ToDouble(uint64_t n) { return static_cast<double>(n); }

// How many values of `sorted` are <= x (CountAtMost) or < x (CountBelow).
double CountAtMost(const std::vector<double>& sorted, double x) {
  return ToDouble(static_cast<uint64_t>(
      std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin()));
}
double CountBelow(const std::vector<double>& sorted, double x) {
  return ToDouble(static_cast<uint64_t>(
      std::lower_bound(sorted.begin(), sorted.end(), x) - sorted.begin()));
}

}  // namespace

QuantileSketch::QuantileSketch(uint32_t k, uint32_t exact_capacity)
    : k_(k),
      exact_capacity_(exact_capacity),
      buffer_capacity_(exact_capacity),
      min_(std::numeric_limits<double>::infinity()),
      max_(-std::numeric_limits<double>::infinity()),
      random_state_(kSeed) {
  buffer_.reserve(buffer_capacity_);
}

QuantileSketch::QuantileSketch()
    : QuantileSketch(kDefaultK, kDefaultExactCapacity) {}

absl::StatusOr<QuantileSketch> QuantileSketch::Create(uint32_t k,
                                                      uint32_t exact_capacity) {
  if (absl::Status status = ValidateParameters(k, exact_capacity);
      !status.ok()) {
    return status;
  }
  return QuantileSketch(k, exact_capacity);
}

absl::Status QuantileSketch::ValidateParameters(uint32_t k,
                                                uint32_t exact_capacity) {
  if (k < QuantileSketch::kMinK || k > QuantileSketch::kMaxK) {
    return absl::InvalidArgumentError(
        absl::StrCat("k must be in [", QuantileSketch::kMinK, ", ",
                     QuantileSketch::kMaxK, "], got ", k));
  }
  if (exact_capacity < k ||
      exact_capacity > QuantileSketch::kMaxExactCapacity) {
    return absl::InvalidArgumentError(absl::StrCat(
        "exact_capacity must be in [k, ", QuantileSketch::kMaxExactCapacity,
        "] = [", k, ", ", QuantileSketch::kMaxExactCapacity, "], got ",
        exact_capacity));
  }
  return absl::OkStatus();
}

uint64_t QuantileSketch::NextRandom() {
  random_state_ += 0x9e3779b97f4a7c15ULL;
  return Mix(random_state_);
}

size_t QuantileSketch::LevelCapacity(size_t level) const {
  return static_cast<size_t>(CapacityAtDepth(k_, levels_.size() - 1 - level));
}

void QuantileSketch::SetNumLevels(size_t num_levels) {
  while (levels_.size() < num_levels) {
    // The new top level's capacity is k; each level below moves one step
    // deeper, so the total gains the capacity of the new deepest depth.
    total_capacity_ += static_cast<size_t>(CapacityAtDepth(k_, levels_.size()));
    levels_.emplace_back();
  }
}

int QuantileSketch::SamplingShift(uint64_t n) const {
  if (levels_.empty()) return 0;
  const double blocks =
      ToDouble(n) / (kSamplingFactor * ToDouble(k_) * ToDouble(k_));
  int shift = 0;
  while (shift < kMaxSamplingShift &&
         ToDouble(uint64_t{2} << shift) <= blocks) {
    ++shift;
  }
  // Sampled values enter level `shift`, which must already exist.
  return std::min(shift, static_cast<int>(levels_.size()) - 1);
}

void QuantileSketch::FlushBuffer() {
  if (buffer_.empty()) return;
  const size_t size = buffer_.size();
  if (size > kMaxCount - flushed_count_) {
    // Only a stream of 2^62 values gets here.
    ignored_ = SaturatingAdd(ignored_, size);
    buffer_.clear();
    return;
  }
  // Extremes in two independent chains each (one min chain would be bound
  // by the latency of minsd): values at even positions in one, at odd ones
  // in the other. The chains are the two lanes of a vector of two doubles
  // (GCC's and Clang's vector extension: one minpd and one maxpd per pair of
  // values on x86-64, half the instructions of the scalar chains, which were
  // most of a flush's cost). Each lane makes the comparisons std::min and
  // std::max would, in the same order, so the extremes are the same, down
  // to which of -0.0 and 0.0 is kept.
  using Pair = double __attribute__((vector_size(16)));
  const double* values = buffer_.data();
  Pair lo = {min_, min_};
  Pair hi = {max_, max_};
  size_t i = 0;
  for (; i + 2 <= size; i += 2) {
    Pair v;
    std::memcpy(&v, values + i, sizeof v);
    lo = v < lo ? v : lo;  // std::min(lo, v), lane by lane.
    hi = hi < v ? v : hi;  // std::max(hi, v).
  }
  double lo0 = lo[0], lo1 = lo[1], hi0 = hi[0], hi1 = hi[1];
  if (i < size) {
    lo0 = std::min(lo0, values[i]);
    hi0 = std::max(hi0, values[i]);
  }
  min_ = std::min(lo0, lo1);
  max_ = std::max(hi0, hi1);

  const int shift = SamplingShift(flushed_count_ + size);
  SetNumLevels(std::max<size_t>(levels_.size(), 1));
  if (shift == 0) {
    std::sort(buffer_.begin(), buffer_.end());
    MergeInto(levels_[0], buffer_.data(), size);
    flushed_count_ += size;
    retained_in_levels_ += size;
    buffer_.clear();
  } else {
    const size_t block = size_t{1} << shift;
    const size_t blocks = size / block;
    // A full buffer gives at most kBufferCapacity / 2 samples; only a merge
    // into a sketch in its exact phase flushes more.
    std::array<double, kBufferCapacity / 2> on_stack;
    std::vector<double> on_heap;
    double* sampled = on_stack.data();
    if (blocks > on_stack.size()) {
      on_heap.resize(blocks);
      sampled = on_heap.data();
    }
    for (size_t b = 0; b < blocks; ++b) {
      const size_t pick = static_cast<size_t>(NextRandom() >> (64 - shift));
      sampled[b] = buffer_[b * block + pick];
    }
    std::sort(sampled, sampled + blocks);
    MergeInto(levels_[static_cast<size_t>(shift)], sampled, blocks);
    // The values of an incomplete last block wait for the next flush.
    buffer_.erase(
        buffer_.begin(),
        buffer_.begin() + static_cast<std::ptrdiff_t>(blocks * block));
    flushed_count_ += blocks * block;
    retained_in_levels_ += blocks;
    error_variance_ += ToDouble(blocks) * ToDouble(block) * ToDouble(block) / 4;
  }
  buffer_capacity_ = kBufferCapacity;
  Compress();
}

void QuantileSketch::Compress() {
  while (retained_in_levels_ > total_capacity_) {
    // Some level is at or over its capacity, as the total is over theirs.
    size_t h = 0;
    while (levels_[h].size() < LevelCapacity(h)) ++h;
    CompactLevel(h);
  }
}

void QuantileSketch::CompactLevel(size_t h) {
  SetNumLevels(std::max(levels_.size(), h + 2));
  std::vector<double>& level = levels_[h];
  // With an odd size the smallest value stays: exact at its weight.
  const size_t start = level.size() % 2;
  random_state_ ^= HashValues(level);
  const size_t offset = static_cast<size_t>(NextRandom() >> 63);
  // Promoted values are written over the front of the level (i / 2 < i),
  // then moved up.
  size_t promoted = 0;
  for (size_t i = start + offset; i < level.size(); i += 2) {
    level[start + promoted++] = level[i];
  }
  MergeInto(levels_[h + 1], level.data() + start, promoted);
  retained_in_levels_ -= level.size() - start - promoted;
  level.resize(start);
  const double weight = std::ldexp(1.0, static_cast<int>(h));
  error_variance_ += weight * weight;
}

absl::Status QuantileSketch::Merge(const QuantileSketch& other) {
  if (other.k_ != k_ || other.exact_capacity_ != exact_capacity_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge a quantile sketch with k ", other.k_,
        " and exact_capacity ", other.exact_capacity_, " into one with k ", k_,
        " and exact_capacity ", exact_capacity_));
  }
  if (other.count() > kMaxCount - count()) {
    return absl::OutOfRangeError(
        absl::StrCat("merged quantile sketch would hold ", count(), " + ",
                     other.count(), " values, over ", kMaxCount));
  }
  if (&other == this) {
    const QuantileSketch copy = other;
    return Merge(copy);
  }
  ignored_ = SaturatingAdd(ignored_, other.ignored_);
  if (other.empty()) return absl::OkStatus();

  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  buffer_.insert(buffer_.end(), other.buffer_.begin(), other.buffer_.end());
  SetNumLevels(std::max(levels_.size(), other.levels_.size()));
  for (size_t h = 0; h < other.levels_.size(); ++h) {
    MergeInto(levels_[h], other.levels_[h].data(), other.levels_[h].size());
  }
  flushed_count_ += other.flushed_count_;
  retained_in_levels_ += other.retained_in_levels_;
  error_variance_ += other.error_variance_;
  random_state_ = Mix(random_state_ ^ Mix(other.random_state_ + kSeed));

  if (count() > exact_capacity_ &&
      (levels_.empty() || buffer_.size() > kBufferCapacity)) {
    FlushBuffer();
  } else {
    // Still exact-phase (no levels), or the buffer fits the compacted
    // phase's capacity.
    if (!levels_.empty()) buffer_capacity_ = kBufferCapacity;
    Compress();
  }
  return absl::OkStatus();
}

double QuantileSketch::min() const {
  if (empty()) return std::numeric_limits<double>::quiet_NaN();
  double m = min_;
  for (double v : buffer_) m = std::min(m, v);
  return m;
}

double QuantileSketch::max() const {
  if (empty()) return std::numeric_limits<double>::quiet_NaN();
  double m = max_;
  for (double v : buffer_) m = std::max(m, v);
  return m;
}

double QuantileSketch::Rank(double x) const {
  if (std::isnan(x)) return x;
  double rank = 0;
  for (double v : buffer_) rank += v <= x ? 1 : 0;
  for (size_t h = 0; h < levels_.size(); ++h) {
    rank += std::ldexp(CountAtMost(levels_[h], x), static_cast<int>(h));
  }
  return rank;
}

double QuantileSketch::RankBelow(double x) const {
  if (std::isnan(x)) return x;
  double rank = 0;
  for (double v : buffer_) rank += v < x ? 1 : 0;
  for (size_t h = 0; h < levels_.size(); ++h) {
    rank += std::ldexp(CountBelow(levels_[h], x), static_cast<int>(h));
  }
  return rank;
}

double QuantileSketch::Cdf(double x) const {
  if (std::isnan(x)) return x;
  if (empty()) return 0;
  return Rank(x) / ToDouble(count());
}

double QuantileSketch::Quantile(double q) const {
  if (empty() || !(q >= 0 && q <= 1)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (q == 0) return min();
  if (q == 1) return max();
  const double target = q * ToDouble(count());
  double rank = 0;
  const std::vector<WeightedValue> sorted = Sorted();
  for (const WeightedValue& v : sorted) {
    rank += ToDouble(v.weight);
    if (rank >= target) return v.value;
  }
  return sorted.back().value;
}

std::vector<WeightedValue> QuantileSketch::Sorted() const {
  std::vector<WeightedValue> all;
  all.reserve(retained());
  for (double v : buffer_) all.push_back({v, 1});
  for (size_t h = 0; h < levels_.size(); ++h) {
    for (double v : levels_[h]) all.push_back({v, uint64_t{1} << h});
  }
  std::sort(all.begin(), all.end(),
            [](const WeightedValue& a, const WeightedValue& b) {
              return a.value < b.value;
            });
  // One entry per distinct value.
  size_t out = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (out > 0 && all[out - 1].value == all[i].value) {
      all[out - 1].weight += all[i].weight;
    } else {
      all[out++] = all[i];
    }
  }
  all.resize(out);
  return all;
}

double QuantileSketch::NormalizedRankError() const {
  if (exact()) return 0;
  return std::min(1.0, std::sqrt(2 * error_variance_ * kLogTwoOverDelta) /
                           ToDouble(count()));
}

double QuantileSketch::NormalizedRankErrorAllQuantiles() const {
  if (exact()) return 0;
  const double n = ToDouble(count());
  double best = 1;
  // ln(4N / delta) = ln(2 / delta) + ln(2N).
  for (int log2_n = 0; log2_n <= 40; ++log2_n) {
    const double grid = std::ldexp(1.0, log2_n);
    const double eps = std::sqrt(2 * error_variance_ *
                                 (kLogTwoOverDelta + std::log(2 * grid))) /
                           n +
                       1 / grid;
    best = std::min(best, eps);
  }
  return best;
}

size_t QuantileSketch::retained() const {
  return buffer_.size() + retained_in_levels_;
}

}  // namespace vigie::monitors
