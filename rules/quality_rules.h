#pragma once

// Rules on the quality of what a model outputs beyond its decisions: the
// coverage and sizes of its conformal intervals or sets (K1-K3), and the
// diversity, novelty, catalogue coverage and exposure concentration of its
// recommended lists (R1-R3). Pure, as the rest of the folder: the caller
// fills the inputs from the monitors' snapshots.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "monitors/conformal_metrics.h"
#include "monitors/recommendation.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {

// What the conformal rules read: Snapshot()s of the model's
// ConformalMonitors over the rule's window. (Every field has a default
// initializer, so that {&overall} initialises the first alone.)
struct ConformalInputs {
  // The window's metrics over all of the model's labelled conformal
  // predictions (its `overall` scope; any attribute's monitor has the same
  // one); null: none in the window (conformal_coverage and
  // conformal_size_change are then insufficient_data).
  const monitors::ConformalMetrics* overall = nullptr;
  // The Mondrian view, per group attribute (group_conformal_coverage).
  std::map<std::string, monitors::ConformalMetrics> by_attribute = {};
  // conformal_size_change with baseline: reference: the metrics of the
  // model's frozen reference window (null until it is frozen), and a
  // description for alerts ("reference window <start> to <end>").
  const monitors::ConformalMetrics* baseline = nullptr;
  std::string baseline_description = {};
};

// Evaluates a conformal rule (kConformalCoverage, kGroupConformalCoverage,
// kConformalSizeChange; policy.h) on `inputs`, as the policy's overrides
// make it for the model (and each attribute): no finding when it is
// disabled, else one for the model or one per covered attribute.
//
// conformal_coverage: the value is the gate's coverage (that of the
// observations of the dominant (alpha, n_cal) setting), p_value the gate's
// P(count <= observed), interval the Wilson 95% interval of the scope's
// coverage, threshold the coverage below which the level reported holds:
// the larger of 1 - alpha - min_shortfall and, for max_p_value 0.05 or
// 0.001 on an unadjusted p-value, the law's 5% or 0.1% quantile (without
// either, the max_p_value compared, as feature_drift's). A gate with
// fewer than min_labelled observations, or none, is insufficient_data.
//
// group_conformal_coverage: per attribute, the groups (the overflow group
// "(other)" left out) whose gate has min_labelled observations are one
// family: their p-values are Holm-adjusted (HolmAdjusted) and each group
// graded as conformal_coverage's scope with the adjusted p-value. The
// finding reports the worst group (highest severity, then smallest
// adjusted p-value, then lowest coverage) as low_group with its coverage
// as value; excluded_groups lists the others left out. Without a group
// with the sample, insufficient_data.
//
// conformal_size_change: value = mean size / baseline - 1, the mean
// interval width or set size (of the finite ones) of the window against
// the rule's declared baseline or, with baseline_from_reference,
// inputs.baseline's; both need min_labelled observations. A level holds
// when the value reaches its value (>=). finding.baseline is the baseline
// size, finding.threshold the level's relative change.
std::vector<Finding> EvaluateConformalRule(const Rule& base,
                                           const Policy& policy,
                                           const std::string& model_id,
                                           const ConformalInputs& inputs);

// What the recommendation rules read: the model's RecommendationMonitor
// Snapshot()s of consecutive windows, and the baseline's.
struct RecommendationInputs {
  // The length of the windows (the rule's window: a rule whose window
  // differs is insufficient_data) and the end of the latest.
  absl::Duration window = absl::ZeroDuration();
  absl::Time window_end = {};
  // The windows of length `window` ending at window_end, numbered as
  // monitors::WindowIndex counts: 1 the latest, [window_end - window,
  // window_end), 2 the one before, and so on. A missing number is a window
  // without lists. RecommendationWindowsRead(rule) says how many a rule
  // reads.
  std::map<uint64_t, monitors::RecommendationMetrics> by_window = {};
  // Rules with baseline: reference: the metrics of the model's frozen
  // reference window (null until it is frozen), and a description for
  // alerts.
  const monitors::RecommendationMetrics* baseline = nullptr;
  std::string baseline_description = {};
};

// The windows a recommendation rule reads, ending with the latest: the
// largest of its levels' `windows` (1 when unset) and `worsening_windows`
// + 1.
uint32_t RecommendationWindowsRead(const Rule& rule);

// Evaluates a recommendation rule (kRecommendationDiversity,
// kRecommendationNovelty, kCatalogueCoverage, kExposureGini) on `inputs`,
// as the overrides make it for the model: no finding when disabled, else
// one, scoped to the model.
// - Each window's change from the baseline: value / baseline - 1 (or value -
//   baseline for exposure_gini), for windows with min_lists lists defining
//   the metric. The finding's value is the latest window's change,
//   baseline the baseline's value (declared, or inputs.baseline's, which
//   needs min_lists too; baseline_source "declared" or its description),
//   threshold the level's change.
// - A level holds when its value is reached (<= for comparison below, >=
//   for above) in each of its `windows` latest windows, or when it sets
//   worsening_windows N and the metric worsened strictly in each of the N
//   latest windows; a window missing or short of the sample breaks either
//   run, and the message says which.
// - The latest window short of the sample, or no baseline (no reference
//   window frozen yet, or one without the sample or a zero baseline for a
//   relative change) is insufficient_data, saying why.
// The message lists the windows' values and says that the referential has
// no recommender-specific element (the rule cites the nearest ones).
std::vector<Finding> EvaluateRecommendationRule(
    const Rule& base, const Policy& policy, const std::string& model_id,
    const RecommendationInputs& inputs);

}  // namespace vigie::rules
