#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vigie::state::v1 {
class FairnessState;
}

namespace vigie::monitors {

// Counts and rates of one group. A rate whose denominator is zero is empty.
struct GroupRates {
  std::string group;
  uint64_t predictions = 0;                  // Decisions observed.
  uint64_t selected = 0;                     // Positive decisions.
  uint64_t true_positives = 0;               // Labelled: decision 1, outcome 1.
  uint64_t false_positives = 0;              // Labelled: decision 1, outcome 0.
  uint64_t true_negatives = 0;               // Labelled: decision 0, outcome 0.
  uint64_t false_negatives = 0;              // Labelled: decision 0, outcome 1.
  std::optional<double> selection_rate;      // selected / predictions.
  std::optional<double> true_positive_rate;  // TP / (TP + FN).
  std::optional<double> false_positive_rate;  // FP / (FP + TN).
  std::optional<double> false_negative_rate;  // FN / (FN + TP).
  std::optional<double> precision;            // TP / (TP + FP).
  // False when the group has fewer than Options::min_group_size predictions
  // and so is left out of the gaps.
  bool included_in_gaps = true;

  uint64_t labeled() const {
    return true_positives + false_positives + true_negatives + false_negatives;
  }
  uint64_t positives() const { return true_positives + false_negatives; }
  uint64_t negatives() const { return false_positives + true_negatives; }
};

// A gap between groups, and the two groups that define it. `value` is empty
// when fewer than two groups have the rate defined.
struct GapValue {
  std::optional<double> value;
  std::string high_group;  // Highest rate (the denominator of a ratio).
  std::string low_group;   // Lowest rate.
};

// Gaps over a set of groups (Fairlearn's definitions, "between_groups").
struct FairnessGaps {
  GapValue demographic_parity_difference;   // max - min selection rate.
  GapValue demographic_parity_ratio;        // min / max selection rate.
  GapValue true_positive_rate_difference;   // max - min TPR.
  GapValue false_positive_rate_difference;  // max - min FPR.
  // max(TPR difference, FPR difference); its groups are those of the larger
  // one (the TPR pair on a tie).
  GapValue equalized_odds_difference;
};

// Gaps over `groups`, skipping for each rate the groups where it is
// undefined. Ties between groups go to the one first in `groups`.
FairnessGaps ComputeGaps(absl::Span<const GroupRates> groups);

struct FairnessMetrics {
  std::vector<GroupRates> groups;  // Sorted by group label.
  FairnessGaps gaps;               // Over groups with included_in_gaps.
};

// Per-group confusion counts of a binary classifier for one group attribute
// (e.g. race), and the fairness gaps between its groups: selection rate,
// TPR, FPR, FNR and precision per group; demographic parity difference and
// ratio; equalized odds difference as Fairlearn defines it.
//
// Label-free counts (predictions, selected) update on the prediction;
// confusion counts update when the outcome is joined, so a group's
// `predictions` may exceed its `labeled()`.
//
// Exact: counts are integers, so merging the states of two sub-streams gives
// the whole stream's Snapshot() exactly.
// Thread-compatible: const methods may run concurrently; others need a
// single owner.
class FairnessMonitor {
 public:
  // Label of the group that collects observations past max_groups.
  static constexpr absl::string_view kOverflowGroup = "(other)";

  struct Options {
    // Distinct groups kept; later new groups are counted in kOverflowGroup,
    // so memory stays bounded. Default: 1000. Range: [2, 100000].
    uint32_t max_groups = 1000;
    // Groups with fewer predictions are reported but left out of the gaps
    // (insufficient data, never mixed in). Default: 0 (all groups).
    uint64_t min_group_size = 0;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<FairnessMonitor> Create(const Options& options);

  // O(1) expected (one hash look-up; no allocation for a known group). An
  // empty `group` names no group and is ignored (ingest counts it missing).
  void ObservePrediction(absl::string_view group, bool decision);
  // O(1) expected. Counts the joined pair in the confusion counts.
  void ObserveOutcome(absl::string_view group, bool decision, bool label);

  // O(groups). kInvalidArgument if `other` has other options; *this is then
  // unchanged. Groups new to *this are appended in other's order (those
  // past max_groups go to kOverflowGroup).
  absl::Status Merge(const FairnessMonitor& other);

  // O(groups log groups).
  FairnessMetrics Snapshot() const;

  const Options& options() const { return options_; }

  std::string Serialize() const;  // A vigie.state.v1.FairnessState.
  void ToProto(state::v1::FairnessState* state) const;
  // kDataLoss for bytes that are not a valid FairnessState (truncated,
  // garbage, out-of-range options, duplicate groups, inconsistent counts).
  static absl::StatusOr<FairnessMonitor> Deserialize(absl::string_view bytes);
  static absl::StatusOr<FairnessMonitor> FromProto(
      const state::v1::FairnessState& state);

 private:
  struct Counts {
    uint64_t predictions = 0;
    uint64_t selected = 0;
    uint64_t true_positives = 0;
    uint64_t false_positives = 0;
    uint64_t true_negatives = 0;
    uint64_t false_negatives = 0;
  };
  explicit FairnessMonitor(const Options& options) : options_(options) {}
  // Index of `group` in counts_, adding it (or the overflow group) if new.
  size_t GroupIndex(absl::string_view group);

  Options options_;
  std::vector<std::string> labels_;  // Parallel to counts_.
  std::vector<Counts> counts_;
  absl::flat_hash_map<std::string, size_t> index_;
  uint64_t overflowed_ = 0;
};

}  // namespace vigie::monitors
