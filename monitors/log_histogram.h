#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigie::state::v1 {
class LogHistogramState;
}

namespace vigie::monitors {

// Counts of non-negative values in log-linear buckets: a quantile sketch
// with a deterministic relative error, for interval widths and
// nonconformity scores, whose natural error unit is relative.
//
// Buckets are HDR Histogram's (Tene): the bucket of a positive double is
// its IEEE-754 bit pattern shifted right by 46, that is its binary exponent
// and the top 6 bits of its mantissa, so that every octave [2^e, 2^(e+1))
// has 64 buckets of equal width and Add needs no logarithm. A bucket [a, b)
// has b / a <= 1 + 1/64. Zeros are counted apart.
//
// Quantiles are rank-exact, as counts are: ValueAtRank(k) finds the bucket
// of the k-th smallest value x exactly and returns its midpoint clamped to
// [min, max], so |ValueAtRank(k) - x| <= x / 128 (relative error at most
// 0.79%; DDSketch's guarantee, Masson, Rim and Lee, VLDB 2019), for every
// k and every normal x. Exceptions, both counted: positive values below
// 2^-1068 share the bucket above, and a stream spanning more than
// max_buckets buckets (max_buckets / 64 octaves; 1,024 buckets are 16
// octaves, a factor of 65,536) folds its lowest values into the lowest
// bucket kept, DDSketch's "collapsing lowest" store: the bound then holds
// for ranks above collapsed().
//
// Exact merge: the state depends only on the multiset of values added (the
// buckets kept are the top max_buckets below the largest index, clipped to
// the smallest), so Merge is associative and commutative, and two halves of
// a stream merge into the whole stream's state, byte for byte.
// Thread-compatible: const methods may run concurrently; others need a
// single owner.
//
// Costs: Add O(1), no allocation once the range of values is known (a new
// bucket below the lowest costs a copy of the buckets); ValueAtRank and
// Merge O(buckets). Memory: 8 bytes per bucket between the smallest and the
// largest positive value, at most 8 max_buckets.
class LogHistogram {
 public:
  static constexpr uint32_t kMinBuckets = 64;
  static constexpr uint32_t kMaxBuckets = 16384;
  static constexpr uint32_t kDefaultMaxBuckets = 1024;
  // Shift from a double's bits to its bucket index.
  static constexpr int kShift = 46;
  // Largest relative error of a value read back (see the class comment).
  static constexpr double kRelativeError = 1.0 / 128;

  // kInvalidArgument unless max_buckets is in [64, 16384].
  static absl::StatusOr<LogHistogram> Create(
      uint32_t max_buckets = kDefaultMaxBuckets);
  LogHistogram() : LogHistogram(kDefaultMaxBuckets) {}

  // O(1). Negative, NaN and infinite values are ignored (returns false);
  // callers count them.
  bool Add(double value);

  // kInvalidArgument if `other` has another max_buckets; *this is then
  // unchanged. O(buckets of both).
  absl::Status Merge(const LogHistogram& other);

  // Values counted (zeros included).
  uint64_t count() const { return count_; }
  uint64_t zeros() const { return zeros_; }
  uint64_t collapsed() const { return collapsed_; }
  uint32_t max_buckets() const { return max_buckets_; }
  size_t buckets() const { return counts_.size(); }

  // The k-th smallest value (1-based) within the relative error above; 0
  // for k == 0 or k > count() (callers check). O(buckets).
  double ValueAtRank(uint64_t rank) const;
  // ValueAtRank(max(1, ceil(q count()))): the lower q-quantile; 0 when
  // empty.
  double Quantile(double q) const;

  void ToProto(state::v1::LogHistogramState* state) const;
  // kDataLoss for a state no histogram could have (see the proto's
  // comments).
  static absl::StatusOr<LogHistogram> FromProto(
      const state::v1::LogHistogramState& state);

 private:
  explicit LogHistogram(uint32_t max_buckets) : max_buckets_(max_buckets) {}
  static uint32_t Index(double value) {
    return static_cast<uint32_t>(std::bit_cast<uint64_t>(value) >> kShift);
  }
  bool AddSlow(double value);
  // Widens the buckets to cover [low, high] (indices), collapsing the
  // lowest ones past max_buckets; returns the new lowest index.
  uint32_t Widen(uint32_t low, uint32_t high);

  uint32_t max_buckets_;
  uint32_t offset_ = 0;  // Index of counts_[0]; >= 1 once not empty.
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t zeros_ = 0;
  uint64_t collapsed_ = 0;
  double min_positive_ = 0;  // 0 while no positive value was added.
  double max_ = 0;
};

// Inline: it runs for every observation.
inline bool LogHistogram::Add(double value) {
  const uint32_t i = Index(value) - offset_;
  // Buckets are empty until a first slow add sets offset_ >= 1, so zero,
  // negatives, NaN and infinities never pass this test.
  if (i < counts_.size()) [[likely]] {
    ++counts_[i];
    ++count_;
    min_positive_ = std::min(min_positive_, value);
    max_ = std::max(max_, value);
    return true;
  }
  return AddSlow(value);
}

}  // namespace vigie::monitors
