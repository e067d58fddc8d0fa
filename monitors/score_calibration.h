#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vigie::monitors {

// How a calibration map is learned from labelled score bins.
enum class CalibrationMethod {
  // Isotonic regression: pool-adjacent-violators over the bins, weighted by
  // their labelled counts, so the map is non-decreasing in the score
  // (Zadrozny & Elkan, KDD 2002). The default: it pools sparse bins.
  kIsotonic,
  // Histogram binning: each bin's observed frequency (Zadrozny & Elkan,
  // ICML 2001).
  kHistogram,
};

// "isotonic" or "histogram".
absl::string_view CalibrationMethodName(CalibrationMethod method);
absl::StatusOr<CalibrationMethod> ParseCalibrationMethod(
    absl::string_view name);

// A calibration map over B equal-width score bins: the probability that the
// outcome is positive given that the score fell in bin b, learned from the
// labelled pairs of a reference period, bin by bin.
//
// The map is piecewise constant: bins are grouped in blocks (a bin alone
// for histogram binning, a pooled run of bins for isotonic regression),
// and a block's probability is its positives / its labelled pairs, m_k of
// them. Its sampling variance is q_k (1 - q_k) / m_k, and bins of one
// block share the error, which is what PerformanceEstimateMonitor needs for
// the part of its uncertainty that comes from the reference.
//
// A bin with no labelled pair takes the block of the nearest bin that has
// one (the lower one on a tie), keeping an isotonic map non-decreasing;
// `extrapolated(b)` says so, and the estimates count the predictions that
// fell in such bins. Immutable; thread-safe.
class ScoreCalibration {
 public:
  struct Block {
    uint64_t labelled = 0;   // m_k > 0.
    double probability = 0;  // q_k = positives / m_k, in [0, 1].
  };

  // O(B). kInvalidArgument if the spans differ in length or are shorter than
  // 2, or a bin has more positives than pairs; kFailedPrecondition when no
  // bin has a labelled pair.
  static absl::StatusOr<ScoreCalibration> Learn(
      absl::Span<const uint64_t> labelled, absl::Span<const uint64_t> positives,
      CalibrationMethod method);

  int num_bins() const { return static_cast<int>(block_of_.size()); }
  double probability(int bin) const {
    return blocks_[block_of_[bin]].probability;
  }
  int block(int bin) const { return block_of_[bin]; }
  bool extrapolated(int bin) const { return extrapolated_[bin]; }
  const std::vector<Block>& blocks() const { return blocks_; }
  // Labelled pairs learned from: the sum of the blocks' m_k.
  uint64_t labelled() const { return labelled_; }

 private:
  ScoreCalibration() = default;
  std::vector<Block> blocks_;
  std::vector<int> block_of_;  // By bin.
  std::vector<bool> extrapolated_;
  uint64_t labelled_ = 0;
};

}  // namespace vigie::monitors
