#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "monitors/stats.h"

// The rates of fairness between groups and the gaps between them, from
// per-group confusion counts: what FairnessMonitor::Snapshot reports, and
// what a caller with counts of its own (a test, a batch tool) can compute.

namespace vigie::monitors {

// Wilson 95% intervals of the rates of GroupRates, each empty with its rate.
struct RateIntervals {
  std::optional<Interval> selection_rate;
  std::optional<Interval> base_rate;
  std::optional<Interval> true_positive_rate;
  std::optional<Interval> false_positive_rate;
  std::optional<Interval> true_negative_rate;
  std::optional<Interval> false_negative_rate;
  std::optional<Interval> precision;
  std::optional<Interval> negative_predictive_value;
  std::optional<Interval> false_discovery_rate;
  std::optional<Interval> false_omission_rate;
  std::optional<Interval> accuracy;
};

// Counts and rates of one group, or of all groups together (the overall
// row). A rate whose denominator is zero is empty: never NaN, never 0.
struct GroupRates {
  std::string group;
  uint64_t predictions = 0;                  // Decisions observed: the count.
  uint64_t selected = 0;                     // Positive decisions.
  uint64_t true_positives = 0;               // Labelled: decision 1, outcome 1.
  uint64_t false_positives = 0;              // Labelled: decision 1, outcome 0.
  uint64_t true_negatives = 0;               // Labelled: decision 0, outcome 0.
  uint64_t false_negatives = 0;              // Labelled: decision 0, outcome 1.
  std::optional<double> selection_rate;      // selected / predictions.
  std::optional<double> base_rate;           // (TP + FN) / labelled.
  std::optional<double> true_positive_rate;  // TP / (TP + FN).
  std::optional<double> false_positive_rate;        // FP / (FP + TN).
  std::optional<double> true_negative_rate;         // TN / (TN + FP).
  std::optional<double> false_negative_rate;        // FN / (FN + TP).
  std::optional<double> precision;                  // PPV: TP / (TP + FP).
  std::optional<double> negative_predictive_value;  // TN / (TN + FN).
  std::optional<double> false_discovery_rate;       // FP / (TP + FP).
  std::optional<double> false_omission_rate;        // FN / (TN + FN).
  std::optional<double> accuracy;                   // (TP + TN) / labelled.
  RateIntervals intervals;
  // False when the group has fewer than Options::min_group_size predictions
  // ("insufficient data"): reported, but left out of every gap and test.
  // Always false for the overall row, which is no group.
  bool included_in_gaps = true;

  uint64_t labeled() const {
    return true_positives + false_positives + true_negatives + false_negatives;
  }
  uint64_t positives() const { return true_positives + false_negatives; }
  uint64_t negatives() const { return false_positives + true_negatives; }
};

// A gap between two groups on one rate. `value` is empty when fewer than two
// groups have the rate defined (or, for a ratio, when the highest is 0).
struct GapValue {
  std::optional<double> value;
  std::string high_group;  // Highest rate (the denominator of a ratio).
  std::string low_group;   // Lowest rate.
  // high_group against low_group on that rate (TestProportions at 95%:
  // z-test, or Fisher's exact test when an expected cell is below 5); its
  // interval is that of the difference high - low, also for a ratio. Empty
  // with `value`. When all the rates are equal, high_group == low_group and
  // the test compares that group with the next one that has the rate.
  std::optional<ProportionComparison> test;
};

// One included group against the overall row and the reference group.
struct GroupGap {
  std::string group;
  std::optional<double> difference_to_overall;  // Rate - overall rate.
  std::optional<double> ratio_to_reference;     // Rate / reference's rate.
};

// One fairness criterion over the included groups.
struct CriterionGaps {
  GapValue difference;             // max - min ("between_groups").
  GapValue ratio;                  // min / max; empty when max is 0.
  std::vector<GroupGap> by_group;  // Included groups, in the given order.
};

// Gaps over a set of groups. Each criterion compares one rate; a group
// without that rate is skipped, ties go to the group first in the set.
struct FairnessGaps {
  // Kept for current callers: the same values as demographic_parity's
  // difference and ratio, equal_opportunity's and false_positive_parity's
  // differences and equalized_odds' difference.
  GapValue demographic_parity_difference;   // max - min selection rate.
  GapValue demographic_parity_ratio;        // min / max selection rate.
  GapValue true_positive_rate_difference;   // max - min TPR.
  GapValue false_positive_rate_difference;  // max - min FPR.
  GapValue equalized_odds_difference;

  // The group ratios are taken against (see ComputeGaps); empty when no
  // group is included. ratio_to_reference is empty when it is not an
  // included group or its rate is undefined or 0.
  std::string reference_group;
  // Selection rate. Its ratios are the disparate impact (impact ratio of
  // the four-fifths rule): ratio.value min/max, by_group[i].ratio_to_reference
  // each group's.
  CriterionGaps demographic_parity;
  CriterionGaps equal_opportunity;      // True positive rate.
  CriterionGaps false_positive_parity;  // False positive rate.
  CriterionGaps predictive_parity;      // Precision (PPV).
  // Fairlearn's equalized_odds_difference / _ratio: the larger of the TPR
  // and FPR differences, the smaller of their ratios (the TPR one on a tie),
  // each with that rate's groups and test; empty unless both are defined.
  // By group: the difference to the overall larger in magnitude, the ratio
  // to the reference further from 1 (by max(r, 1/r)).
  CriterionGaps equalized_odds;
};

// Gaps over `groups` against `overall` (the row the differences to the
// overall subtract). `reference_group` names the group the ratios are taken
// against; empty: the group with the most predictions, ties to the label
// first in byte order. O(groups) plus the tests (see TestProportions).
FairnessGaps ComputeGaps(absl::Span<const GroupRates> groups,
                         const GroupRates& overall,
                         absl::string_view reference_group);
// The same with the overall row summed from `groups`' counts and the default
// reference group.
FairnessGaps ComputeGaps(absl::Span<const GroupRates> groups);

// Level of the per-rate intervals and of the gap tests.
inline constexpr double kRateConfidence = 0.95;
// Fills every rate of `g`, and its interval, from g's counts; `z` is the
// normal quantile of kRateConfidence (NormalQuantile(0.975)), computed once
// by a caller that fills many rows. Sums saturate as the counts do.
void FillRates(GroupRates& g, double z);
// Adds `from`'s counts to `to`'s, saturating.
void AddCounts(GroupRates& to, const GroupRates& from);

}  // namespace vigie::monitors
