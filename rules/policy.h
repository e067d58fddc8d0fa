#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigie::rules {

// The metrics a rule may watch (gaps of one group attribute).
inline constexpr const char* kEqualizedOddsDifference =
    "equalized_odds_difference";
inline constexpr const char* kDemographicParityDifference =
    "demographic_parity_difference";
inline constexpr const char* kDemographicParityRatio =
    "demographic_parity_ratio";
inline constexpr const char* kTruePositiveRateDifference =
    "true_positive_rate_difference";
inline constexpr const char* kFalsePositiveRateDifference =
    "false_positive_rate_difference";
// The model's expected calibration error (not per attribute): its value is
// compared as the excess over Rule::baseline.
inline constexpr const char* kExpectedCalibrationError =
    "expected_calibration_error";
// Monitor liveness (not per attribute): whole intervals of the model's
// expect_events_every since it last sent an event. Thresholds are counts of
// missed windows (comparison above: warning {value: 0} alerts at the first
// missed window).
inline constexpr const char* kMissedWindows = "missed_windows";
// Drift of a model's features, prediction ("@prediction") and label
// ("@label") against its reference (scope: a feature; comparison above; no
// baseline: the reference is the baseline):
// - the population stability index over the reference's quantile bins
//   (thresholds in [0, 10]);
inline constexpr const char* kPopulationStabilityIndex =
    "population_stability_index";
// - the per-feature verdict of Evidently's default rule: a level's
//   max_p_value is the p-value a test (KS, chi-square, z-test: reference of
//   at most 1,000 values) must fall below, its Holm-adjusted p-value across
//   the rule's features; its value the distance (normed Wasserstein,
//   Jensen-Shannon: larger references) must reach;
inline constexpr const char* kFeatureDrift = "feature_drift";
// - the share of the rule's features that drifted by that verdict
//   (scope: the model).
inline constexpr const char* kDriftedFeatureShare = "drifted_feature_share";
// Concept drift (scope: the model): changes ADWIN found in the model's
// error stream, at joined pairs within the window (Page-Hinkley and DDM are
// reported beside it); thresholds are counts, as missed_windows'.
inline constexpr const char* kErrorRateChanges = "error_rate_changes";
// Concept drift (scope: the model): consecutive windows of the rule's
// length, ending with the latest, over which the latest change ADWIN found
// in the error stream was sustained (monitors::Sustained): 1 in the window
// where it was found, one more for each later window whose mean error is
// still beyond the level before the change by more than a Bernstein bound
// at ADWIN's delta; 0 once a window (of at least min_sample.current
// errors) is back at that level. A level holds when the value reaches
// its threshold (>=, as the other drift metrics): warning {value: 1} at the
// change, critical {value: 3} when it lasted 3 windows. Needs a window.
inline constexpr const char* kErrorChangeWindows = "error_change_windows";

// Conformal prediction (rules/quality_rules.h), comparison below:
// - the coverage of the model's conformal intervals or sets over the
//   window (scope: the model), that of the observations of its dominant
//   (alpha, n_cal) setting, tested against the law their covered count
//   follows under a sound predictor (monitors::ConformalGate). Its levels
//   take no value: a level holds when ANY of its conditions holds (these
//   two metrics only): max_p_value (the gate's p-value, P(count <=
//   observed), is below it: the coverage lies below that quantile of the
//   law) or min_shortfall (1 - alpha - coverage exceeds it). Minimum
//   sample: min_sample.labelled observations of the gate's setting;
inline constexpr const char* kConformalCoverage = "conformal_coverage";
// - the same within each group of a group attribute (scope: the
//   attribute; the overflow group left out, groups short of
//   min_sample.labelled excluded and listed), the groups' p-values
//   Holm-adjusted across the attribute's groups before max_p_value; the
//   finding reports the worst group;
inline constexpr const char* kGroupConformalCoverage =
    "group_conformal_coverage";
// - the relative change of the mean interval width or set size against a
//   baseline (declared, any positive number, or the frozen reference
//   window's: baseline: reference): mean / baseline - 1, comparison above
//   (scope: the model). min_sample.labelled applies to both windows.
inline constexpr const char* kConformalSizeChange = "conformal_size_change";
// Recommendation quality (rules/quality_rules.h; scope: the model), each
// against a baseline (declared, or the frozen reference window's), window
// by window: the rule needs a window, and a level may require its
// condition in several consecutive windows (Threshold::windows) or hold
// when the metric worsened window after window (worsening_windows).
// Minimum sample: min_sample.lists, of the lists that define the metric
// (diversity: lists with two items with features; novelty: lists with a
// reference; coverage and Gini: every list), in each window read and in
// the baseline.
// - relative changes, value / baseline - 1, comparison below: mean
//   intra-list diversity, mean novelty, catalogue coverage;
inline constexpr const char* kRecommendationDiversity =
    "recommendation_diversity";
inline constexpr const char* kRecommendationNovelty = "recommendation_novelty";
inline constexpr const char* kCatalogueCoverage = "catalogue_coverage";
// - the difference value - baseline of the exposure Gini (comparison
//   above).
inline constexpr const char* kExposureGini = "exposure_gini";
// Rule P1 (rules/performance_rule.h; scope: the model): the binary model's
// declared performance metric (its ModelConfig declared_performance:
// accuracy, precision, recall or F1) over the window, realised by its
// outcomes or, while fewer than min_sample.labelled are joined, estimated
// from its scores (CBPE), against the declared level; comparison below.
// A level's value is the change from the declared level (0: below it;
// -0.05: more than 0.05 below), and its max_p_value the one-sided test
// that the metric is below it: the upper (1 - max_p_value) bound lies
// below the declared level.
inline constexpr const char* kDeclaredPerformance = "declared_performance";

// The energy or carbon of the model's predictions per 1,000 of them
// (rule E1, referential Q6.1; rules/footprint_rule.h): one finding per
// quantity measured, scoped to the pseudo-features "@energy" and
// "@carbon", each compared (comparison above) with the model's baseline
// (its configuration's footprint.baseline_*_per_1000, else its frozen
// reference window's) and budget (footprint.*_budget_per_1000). A level
// holds when value / baseline - 1 reaches its value, or when the window
// reaches its budget_share of the budget: either is enough. Needs a
// window, and holds off (insufficient_data) until one full window of the
// model's data; takes no baseline of its own.
inline constexpr const char* kFootprintPer1000 =
    "footprint_per_1000_predictions";

// One of the metric names above.
bool IsKnownMetric(absl::string_view metric);
// kFootprintPer1000.
bool IsFootprintMetric(absl::string_view metric);

// The metrics of rules/quality_rules.h: conformal prediction (K1-K3) and
// recommendation quality (R1-R3); and the two whose levels take no value
// (conformal coverage: see kConformalCoverage).
bool IsConformalMetric(absl::string_view metric);
bool IsConformalCoverageMetric(absl::string_view metric);
bool IsRecommendationMetric(absl::string_view metric);

// How a metric breaches its threshold.
enum class Comparison {
  kAbove,  // Breach when value > threshold (gaps).
  kBelow,  // Breach when value < threshold (ratios).
};

// One severity level of a rule: all conditions must hold for a breach.
struct Threshold {
  // The metric's threshold, compared by Rule::comparison.
  double value = 0;
  // When set, the two-proportion test of the gap between the two groups
  // that define the metric must have a p-value below this.
  std::optional<double> max_p_value;
  // When set, the lower end of the confidence interval (at
  // Rule::confidence) of the difference between those two groups' rates
  // must lie above this: the gap is that large "for sure".
  std::optional<double> min_interval_lower;
  // expected_calibration_error only: when set, the ECE must also lie above
  // this quantile (in [0.5, 1)) of the ECE perfectly calibrated predictions
  // would show with the same sample: above the noise floor.
  std::optional<double> min_null_quantile;
  // conformal_coverage and group_conformal_coverage only: the coverage
  // lies more than this below the nominal 1 - alpha (an alternative to
  // max_p_value: either holding is enough). In [0, 1).
  std::optional<double> min_shortfall = std::nullopt;
  // Recommendation metrics only: the value condition must hold in each of
  // this many consecutive windows ending with the latest (each present,
  // each with the minimum sample). Default 1. Range: [1, 100].
  std::optional<uint32_t> windows = std::nullopt;
  // Recommendation metrics only, an alternative to the value condition
  // (either holding is enough): the metric worsened strictly (fell, for
  // comparison below; rose, for above) in each of the last N windows, so
  // N + 1 consecutive windows with the minimum sample. Range: [1, 100].
  std::optional<uint32_t> worsening_windows = std::nullopt;
  // footprint_per_1000_predictions only, an alternative to the value
  // condition (either holding is enough): the window's figure reaches this
  // share of the model's declared budget (0.8: 80% of it; 1: the budget
  // used up). In (0, 10].
  std::optional<double> budget_share = std::nullopt;
};

// A rule of the policy: a metric, its thresholds, the sample it needs, and
// the commitment of the referential (and the EU AI Act articles) it serves.
struct Rule {
  // Rule id, e.g. "F3" (the default policy's numbering). Required, unique.
  std::string id;
  // One of the metric names above. Required.
  std::string metric;
  Comparison comparison = Comparison::kAbove;
  // Models the rule applies to; empty: all.
  std::vector<std::string> models;
  // Group attributes the rule applies to; empty: all monitored.
  std::vector<std::string> attributes;
  // Drift rules: the features they apply to ("@prediction" and "@label"
  // for the prediction and the label); empty: every one.
  std::vector<std::string> features;
  // At least one of warning and critical is set.
  std::optional<Threshold> warning;
  std::optional<Threshold> critical;
  // Confidence level of the intervals. Default 0.95. Range: (0.5, 1).
  double confidence = 0.95;
  // Event-time window evaluated, ending at the model's latest pane; zero
  // means every pane kept ("since deployment"). Default: zero.
  absl::Duration window = absl::ZeroDuration();
  // Minimum sample per group: groups below any of these are left out of
  // the metric and listed as excluded; with fewer than two groups left the
  // finding is insufficient_data.
  uint64_t min_predictions_per_group = 0;
  uint64_t min_positives_per_group = 0;  // Labelled positives (outcome 1).
  uint64_t min_negatives_per_group = 0;  // Labelled negatives (outcome 0).
  // Positive decisions the group with the highest selection rate (the
  // reference of an impact ratio) must have; else insufficient_data.
  uint64_t min_selected_in_reference_group = 0;
  // Relative thresholds: the metric's value the model declared (its
  // validation run) or had at deployment. Each level's value and
  // min_interval_lower are added to it, so that a rule alerts on the change
  // from the baseline (e.g. ECE - baseline > 0.02; an impact ratio that
  // fell 0.05 below the declared 0.95 with warning.value -0.05). Default 0:
  // absolute thresholds. Range: [0, 1]; conformal_size_change,
  // recommendation_diversity and recommendation_novelty: any number >= 0
  // (widths, sizes, bits). Relative-change metrics (conformal_size_change,
  // recommendation_*, catalogue_coverage) divide by it instead, and
  // exposure_gini subtracts it: their levels' values are the change.
  double baseline = 0;
  // Instead of a declared number, the baseline is the metric's value over
  // the model's frozen reference window (ModelConfig::reference_window: the
  // first days after deployment), with the rule's own minimum samples;
  // until that window is complete and frozen, or when it lacks the sample,
  // the finding is insufficient_data.
  bool baseline_from_reference = false;
  // expected_calibration_error: labelled predictions the window needs;
  // conformal metrics: labelled conformal observations (of the gate's
  // setting, for coverage; in the window and the baseline, for sizes).
  uint64_t min_labelled = 0;
  // Recommendation metrics only: lists each window read, and the baseline,
  // need (see kRecommendationDiversity).
  uint64_t min_lists = 0;
  // Drift rules only: values of a feature the window and the reference
  // need; a feature short of either is insufficient_data.
  uint64_t min_current_values = 0;
  uint64_t min_reference_values = 0;
  // Evaluations in a row a breach must hold before the alert fires (it is
  // PENDING until then), so that a metric that flaps around its threshold
  // does not alert on every crossing. Default 1. Range: [1, 1000].
  uint32_t for_evaluations = 1;
  // Evaluations in a row a FIRING alert stays firing once its condition no
  // longer holds, before it resolves: a metric that dips under its
  // threshold and back does not resolve and re-open. Default 0.
  // Range: [0, 1000].
  uint32_t keep_firing_for = 0;
  // Citation: element and answer item, e.g. "Q2.4/2.4.d". Required.
  std::string element;
  // Further elements concerned, e.g. {"Q2.5"}.
  std::vector<std::string> related_elements;
  // EU AI Act articles, e.g. {"Art. 10", "Art. 15"}.
  std::vector<std::string> ai_act_articles;
  // Where the threshold numbers come from, e.g. "Vigie default policy F3".
  std::string threshold_source;
  // Runbook hint added to critical alerts' messages; may be empty.
  std::string runbook;
  // The alert's one-line summary, with placeholders filled in (see
  // RenderSummary in rules/summary.h); empty: the default summary.
  std::string summary;
  // False: the rule is not evaluated (set by an override, e.g. to turn a
  // rule off for one model). Default true.
  bool enabled = true;

  // kInvalidArgument naming the field for anything out of range.
  absl::Status Validate() const;

 private:
  // What every metric's rules check alike: confidence, for, window,
  // citation, summary, names.
  absl::Status ValidateCommon() const;
  // What the conformal and recommendation metrics take (quality_policy.cc).
  absl::Status ValidateQuality() const;
};

// Changes to some rules for some models, attributes or features: every
// number of a rule can be set per scope. A selector left empty matches
// anything; the overrides that match a finding's (rule, model, attribute,
// feature) apply in the order written, so a later one wins.
struct RuleOverride {
  std::vector<std::string> rules;       // Rule ids.
  std::vector<std::string> models;      // Model ids.
  std::vector<std::string> attributes;  // Group attributes.
  std::vector<std::string> features;    // Features (of feature-scoped rules).
  // A level's fields, merged one by one into the rule's level (a level the
  // rule lacks is added when its value is given).
  struct Level {
    std::optional<double> value;
    std::optional<double> max_p_value;
    std::optional<double> min_interval_lower;
    std::optional<double> min_null_quantile;
    std::optional<double> min_shortfall = std::nullopt;
    std::optional<uint32_t> windows = std::nullopt;
    std::optional<uint32_t> worsening_windows = std::nullopt;
    std::optional<double> budget_share = std::nullopt;
  };
  std::optional<Level> warning;
  std::optional<Level> critical;
  std::optional<bool> enabled;
  std::optional<double> confidence;
  std::optional<double> baseline;  // Clears baseline_from_reference.
  std::optional<bool> baseline_from_reference;
  // Only in overrides that select no attributes or features: one window is
  // evaluated per model.
  std::optional<absl::Duration> window;
  std::optional<uint64_t> min_predictions_per_group;
  std::optional<uint64_t> min_positives_per_group;
  std::optional<uint64_t> min_negatives_per_group;
  std::optional<uint64_t> min_selected_in_reference_group;
  std::optional<uint64_t> min_labelled;
  std::optional<uint64_t> min_lists;
  std::optional<uint64_t> min_current_values;
  std::optional<uint64_t> min_reference_values;
  std::optional<uint32_t> for_evaluations;
  std::optional<uint32_t> keep_firing_for;
  std::optional<std::string> runbook;
  std::optional<std::string> summary;
  std::optional<std::string> threshold_source;

  // Whether it applies to rule `rule_id` of `model_id` on `attribute` and
  // `feature` (empty: the finding has no such scope; a selector of it then
  // does not match).
  bool Matches(absl::string_view rule_id, absl::string_view model_id,
               absl::string_view attribute, absl::string_view feature) const;
  // Sets the fields it gives in `rule`.
  void ApplyTo(Rule& rule) const;
};

// The policy: rules and the referential they cite.
struct Policy {
  // Referential and version cited by every alert.
  // Default: "labelia-dsrc@v202301".
  std::string referential = "labelia-dsrc@v202301";
  std::vector<Rule> rules;
  // How often a model's rules are evaluated in a way that counts towards
  // their `for` and `keep_firing_for` (while new events arrive). Default
  // 1 minute, as Prometheus's evaluation_interval. Range: [100ms, 1h].
  absl::Duration evaluation_interval = absl::Minutes(1);
  // Applied in order to the rules they select.
  std::vector<RuleOverride> overrides;

  // `rule` as it applies to `model_id` on `attribute` and `feature` (empty
  // when the rule's scope is the model): with the matching overrides
  // applied. `rule` must be one of `rules`.
  Rule Resolve(const Rule& rule, absl::string_view model_id,
               absl::string_view attribute = "",
               absl::string_view feature = "") const;

  // Every rule valid, ids unique, and every rule still valid under every
  // combination of overrides some scope would apply; overrides name known
  // rules and set a window only per model.
  absl::Status Validate() const;
};

}  // namespace vigie::rules
