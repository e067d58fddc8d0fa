#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "monitors/stats.h"

namespace vigie::state::v1 {
class QuantileSketchState;
}

namespace vigie::monitors {

// A retained value and the number of stream values it stands for.
struct WeightedValue {
  double value;
  uint64_t weight;
};

// A mergeable quantile sketch of a stream of doubles, of the KLL type
// (Karnin, Lang and Liberty, "Optimal quantile approximation in streams",
// FOCS 2016): the distribution of a feature in a pane, for drift tests.
//
//   QuantileSketch sketch;                 // k = 200, exact to 1,024 values
//   for (double x : feature) sketch.Add(x);
//   sketch.Cdf(0.5);  sketch.Quantile(0.99);  sketch.Sorted();
//
// Exact phase. While count() <= exact_capacity every value is kept, with
// weight 1: Rank, Cdf, Quantile and Sorted are then those of the sample
// itself, so tests on small samples are exact.
//
// Compacted phase. Values are appended to an unsorted buffer of 256; a full
// buffer is sorted into the levels, level h holding sorted values of weight
// 2^h. When the levels hold more than their total capacity, the lowest level
// at or over its own capacity is compacted: every other value (odd or even
// positions, by a coin flip) moves up a level with twice the weight; with
// an odd size the smallest value stays. Capacities are KLL's: k for the top
// level, 2/3 of the level above's below it (rounded down), never under 8, so
// the levels hold at most about 3k + 8 log2(n / k) values. On a long stream
// sorting every value would dominate Add, so, as KLL does for its lowest
// levels, a full buffer is first sampled: one value, drawn uniformly, of
// each block of W consecutive values moves to level log2(W) with weight W,
// where W is the largest power of two <= n / k^2 (so sampling starts at n =
// 2 k^2) and at most 256. This makes NormalizedRankError() 4% to 8% larger
// than sorting every value would (measured, 10^5 to 10^7 values).
//
// Error. Each random step changes the estimated rank of any x by a
// zero-mean amount given the past: a compaction of level h by 0 or +-2^h, a
// sampled block of weight W by an amount within a range of width W. With V
// the sum of the squared half-ranges (2^(2h) per compaction, W^2 / 4 per
// block), the Azuma-Hoeffding inequality gives, for any x fixed in advance,
//   P(|Rank(x) - true rank of x| > eps n) <= 1%,  eps = sqrt(2 V ln 200) / n,
// which is NormalizedRankError(); likewise for RankBelow, Cdf, and the rank
// of Quantile(q) around q n. NormalizedRankErrorAllQuantiles() bounds the
// error at every x at once, also at 99%. V is tracked exactly, merges
// included, and depends only on the counts, not on the values: for k = 200
// eps is 0.9% to 1.42% and the all-x bound 1.5% to 2.3% for one stream of
// 10^4 to 10^8 values; k eps stays within [1.8, 3] for k from 100 to 1000
// (and within [0.8, 1.6] for k = 16). The largest error actually seen over
// 2,000 quantiles of a stream of 10^4 to 10^7 values is 50% to 90% of eps. The
// coin flips come from a 64-bit generator whose state belongs to the sketch and
// is stirred with a hash of each compacted level, so independent panes flip
// different coins; the bound treats them as fair coins, which holds for any
// stream not crafted against this generator.
//
// Deterministic: the same values in the same order (and the same merges)
// give the same state, byte for byte, so a replayed log rebuilds it.
// Thread-compatible: const methods may run concurrently; others need a
// single owner.
//
// Costs. Add appends; a full buffer then costs a sort of 256 / W values,
// so amortized Add is a few nanoseconds once W is large (3.3-3.7 ns a
// value at W = 256, n >= 256 k^2, where a bare append loop takes 1.5-2.5
// ns) and 55-60 ns while every value is sorted (n < 2 k^2), on a shared
// 2-core machine; bench/monitors/quantile_sketch_benchmark.cc. Merge:
// O(retained values of both). Rank, RankBelow and Cdf: O(retained); Sorted
// and Quantile: O(r log r) for r retained values. Memory: 8 bytes per
// retained value, up to exact_capacity, then at most about 3k + 8 log2(n /
// k) + 256 (under 1,000 for k = 200 up to 10^8 values).
class QuantileSketch {
 public:
  static constexpr uint32_t kDefaultK = 200;
  static constexpr uint32_t kMinK = 16;
  static constexpr uint32_t kMaxK = 4096;
  static constexpr uint32_t kDefaultExactCapacity = 1024;
  static constexpr uint32_t kMaxExactCapacity = 65536;
  // Confidence of NormalizedRankError and NormalizedRankErrorAllQuantiles.
  static constexpr double kConfidence = 0.99;
  // Unsorted values held after the exact phase; also the largest sampling
  // block, so that blocks never straddle two flushes.
  static constexpr size_t kBufferCapacity = 256;
  // The largest count a sketch holds; values past it are ignored.
  static constexpr uint64_t kMaxCount = uint64_t{1} << 62;

  // k: accuracy (KLL's k), in [16, 4096]. exact_capacity: values kept
  // exactly before the first compaction, in [k, 65536]. kInvalidArgument
  // otherwise.
  static absl::StatusOr<QuantileSketch> Create(
      uint32_t k = kDefaultK, uint32_t exact_capacity = kDefaultExactCapacity);
  QuantileSketch();  // k = 200, exact_capacity = 1024.

  // Amortized O(1). NaN and infinities are ignored and counted in ignored().
  void Add(double value);

  // Adds `other`'s values, in O(retained values of both). kInvalidArgument
  // if `other` has another k or exact_capacity, kOutOfRange if the counts
  // would sum past kMaxCount; *this is then unchanged. The result is exact
  // while the total count is at most exact_capacity; its error bound
  // accounts for both sketches' random steps and the merge's own.
  absl::Status Merge(const QuantileSketch& other);

  uint64_t count() const { return flushed_count_ + buffer_.size(); }
  uint64_t ignored() const { return ignored_; }
  bool empty() const { return count() == 0; }
  // Smallest and largest value added (exact); NaN when empty.
  double min() const;
  double max() const;
  // True while no step has been random: every value is retained, weight 1.
  bool exact() const { return error_variance_ == 0; }

  // Estimated number of values <= x (< x for RankBelow); exact while
  // exact(). NaN for a NaN x.
  double Rank(double x) const;
  double RankBelow(double x) const;
  // Rank(x) / count(); 0 when empty.
  double Cdf(double x) const;
  // The smallest retained v with Rank(v) >= q count(); min() for q = 0 and
  // max() for q = 1. NaN when empty or q is not in [0, 1].
  double Quantile(double q) const;
  // The retained values, ascending, one entry per distinct value, with
  // weights summing to count(): the sample itself while exact().
  std::vector<WeightedValue> Sorted() const;

  // eps such that |Rank(x) - true rank| <= eps count() with probability at
  // least kConfidence, for any one x fixed in advance (see the class
  // comment); 0 while exact(), at most 1.
  double NormalizedRankError() const;
  // The same for every x at once, as a sup of CDF errors (a KS statistic)
  // needs: the least over N = 2^j of sqrt(2 V ln(400 N)) / n + 1 / N, a
  // union bound over Rank and RankBelow at N grid points, the true
  // (j / N)-quantiles, between which true ranks move by at most n / N. 0
  // while exact(), at most 1.
  double NormalizedRankErrorAllQuantiles() const;

  uint32_t k() const { return k_; }
  uint32_t exact_capacity() const { return exact_capacity_; }
  // Values held: unsorted ones and all levels'.
  size_t retained() const;

  void ToProto(state::v1::QuantileSketchState* state) const;
  // kDataLoss for a state no sketch could have: a version other than 1, k
  // or exact_capacity out of range, non-finite values, values outside
  // [min, max], unsorted levels, weights not summing to count, levels over
  // their capacity or present in the exact phase, an empty top level, an
  // error variance that is negative, not finite, or 0 with weighted values.
  static absl::StatusOr<QuantileSketch> FromProto(
      const state::v1::QuantileSketchState& state);
  std::string Serialize() const;  // A vigie.state.v1.QuantileSketchState.
  static absl::StatusOr<QuantileSketch> Deserialize(absl::string_view bytes);

 private:
  QuantileSketch(uint32_t k, uint32_t exact_capacity);
  static absl::Status ValidateParameters(uint32_t k, uint32_t exact_capacity);

  // Sorts (or samples) the unsorted buffer into the levels, then compacts.
  void FlushBuffer();
  // Compacts levels until they fit in their total capacity.
  void Compress();
  void CompactLevel(size_t level);
  size_t LevelCapacity(size_t level) const;
  // Adds empty levels on top up to `num_levels`, updating total_capacity_.
  void SetNumLevels(size_t num_levels);
  // log2 of the sampling block for a stream of n values.
  int SamplingShift(uint64_t n) const;
  uint64_t NextRandom();

  uint32_t k_;
  uint32_t exact_capacity_;
  // Unsorted values of weight 1, in arrival order; flushed when full.
  std::vector<double> buffer_;
  size_t buffer_capacity_;
  // levels_[h]: sorted values of weight 2^h. Empty in the exact phase.
  std::vector<std::vector<double>> levels_;
  uint64_t flushed_count_ = 0;  // Total weight of levels_.
  size_t retained_in_levels_ = 0;
  size_t total_capacity_ = 0;  // Sum of the levels' capacities.
  uint64_t ignored_ = 0;
  // Extremes of the values added, except those still in buffer_.
  double min_;
  double max_;
  uint64_t random_state_;
  double error_variance_ = 0;  // V in the class comment.
};

// Inline: Add runs once per feature per event.
inline void QuantileSketch::Add(double value) {
  if (!std::isfinite(value)) [[unlikely]] {
    ignored_ = SaturatingAdd(ignored_, 1);
    return;
  }
  if (buffer_.size() >= buffer_capacity_) [[unlikely]] {
    FlushBuffer();
  }
  buffer_.push_back(value);
}

}  // namespace vigie::monitors
