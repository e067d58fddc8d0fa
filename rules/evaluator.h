#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "monitors/change_episode.h"
#include "monitors/drift_report.h"
#include "monitors/model_monitors.h"
#include "monitors/stats.h"
#include "rules/policy.h"

namespace vigie::rules {

enum class Severity { kInsufficientData, kWarning, kCritical };

// Sample size of one group behind a finding.
struct GroupSample {
  std::string group;
  uint64_t predictions = 0;
  uint64_t positives = 0;  // Labelled positives.
  uint64_t negatives = 0;  // Labelled negatives.
};

// What one rule says of one scope (model, attribute) of one window.
struct Finding {
  std::string rule_id;
  std::string model_id;
  std::string metric;
  std::string attribute;  // The scope: a group attribute,
  std::string feature;    // or a feature (drift rules); both empty: model.
  // Empty: evaluated and healthy. Otherwise the highest severity whose
  // conditions all hold, or kInsufficientData.
  std::optional<Severity> severity;
  // The metric's value over the included groups (empty when insufficient).
  std::optional<double> value;
  // Defining pair of groups, and the comparison of their rates: the
  // difference interval at Rule::confidence and the test's p-value.
  std::string high_group;
  std::string low_group;
  std::optional<monitors::Interval> interval;
  std::optional<double> p_value;
  // When the rule tested m >= 2 attributes in the same evaluation: this
  // test's p-value adjusted for the m tests by Holm's step-down method, and
  // m. A max_p_value condition then compares the adjusted p-value, so that
  // a rule over many attributes does not alert by chance on one of them.
  std::optional<double> adjusted_p_value;
  size_t tests_in_family = 1;
  // Threshold of the severity reported (of the warning level when healthy),
  // baseline included; the baseline when the rule's thresholds are relative.
  double threshold = 0;
  std::optional<double> baseline;
  // Where the baseline comes from: "declared" (the rule's number) unless
  // the caller says otherwise.
  std::string baseline_source = "declared";
  // The model version of the latest prediction, set by the caller.
  std::string model_version;
  Comparison comparison = Comparison::kAbove;
  std::vector<GroupSample> samples;          // Included groups.
  std::vector<std::string> excluded_groups;  // Below the minimum sample.
  // One-paragraph human summary: metric, value, groups, interval, threshold,
  // rule and citation (and the runbook hint when critical).
  std::string message;
};

struct ConformalInputs;       // rules/quality_rules.h
struct RecommendationInputs;  // rules/quality_rules.h

// Evaluates every rule of `policy` that applies to `model_id` on every
// attribute of `metrics` it covers, as the policy's overrides make it for
// that model and attribute (and leaving out those they disable): one
// finding per (rule, attribute), healthy ones included so that callers can
// resolve alerts. The attributes
// one rule tests (those with a p-value) are one family: their p-values are
// adjusted together (HolmAdjusted) before the max_p_value conditions. Pure.
// What drift rules read beyond the window's metrics.
struct DriftInputs {
  // The window's features against the model's reference; null while the
  // model has no reference (the rules are then insufficient_data).
  const monitors::DriftReport* report = nullptr;
  std::string reference_description;
  // Without a report: whether the model will have a reference (then the
  // feature rules are insufficient_data; otherwise they are not evaluated).
  bool reference_expected = false;
  // Changes the error-stream detectors found within the window, and the
  // errors they have observed (since the model's start).
  uint64_t error_changes = 0;
  uint64_t errors_observed = 0;
  std::string change_detail;  // E.g. "ADWIN at ..., Page-Hinkley at ...".
  // error_change_windows: the latest change episode (null before ADWIN's
  // first change), the errors of the windows of length `window` ending at
  // `window_end` (monitors::WindowIndex's numbering; missing: none), and
  // ADWIN's delta, the confidence of the windows' bound.
  const monitors::ChangeEpisode* episode = nullptr;
  absl::Time window_end;
  absl::Duration window;
  std::map<uint64_t, monitors::ErrorTally> errors_by_window;
  double change_delta = 0.002;
};

// What a liveness rule looks at: how long the model has sent nothing, and
// how often it is expected to send (zero: no expectation).
struct ModelActivity {
  absl::Duration silence;
  absl::Duration expected;
};
// A model's frozen reference window: its metrics, for rules whose baseline
// is the reference, and a description for alerts ("reference window
// <start> to <end>").
struct Reference {
  monitors::ModelMetrics metrics;
  std::string description;
};
// Footprint rules (kFootprintPer1000) are left to the caller's
// EvaluateFootprintRule (rules/footprint_rule.h).
// Drift rules are evaluated only with `drift` (EvaluateDriftRule), the
// conformal rules only with `conformal` (EvaluateConformalRule) and the
// recommendation rules only with `recommendation`
// (EvaluateRecommendationRule): pass them for the models that make such
// predictions, whose windows they are of.
// A rule with baseline_from_reference takes its baseline from `reference`
// (the same metric, attribute and minimum samples); without a reference,
// or when the reference lacks the sample, its finding is insufficient_data.
std::vector<Finding> Evaluate(
    const Policy& policy, const std::string& model_id,
    const monitors::ModelMetrics& metrics,
    const ModelActivity* activity = nullptr,
    const Reference* reference = nullptr, const DriftInputs* drift = nullptr,
    const ConformalInputs* conformal = nullptr,
    const RecommendationInputs* recommendation = nullptr);

// The part of a finding's fingerprint that names its scope: the attribute
// (empty for the model, so that fingerprints stored before features existed
// stay the same), or "feature:" and the feature's name.
std::string ScopeKey(const Finding& finding);

// Evaluates a drift rule (policy.h's drift metrics) on `drift`: one finding
// per covered feature for population_stability_index and feature_drift
// (feature_drift's p-values Holm-adjusted across the rule's features), one
// for the model for drifted_feature_share, error_rate_changes and
// error_change_windows (see policy.h).
std::vector<Finding> EvaluateDriftRule(const Rule& base, const Policy& policy,
                                       const std::string& model_id,
                                       const DriftInputs& drift);

// Evaluates a missed_windows rule: the value is the number of whole
// `expected` intervals in `silence`, compared above the levels' values (a
// count). The scope is the model. Call only with activity.expected > 0.
Finding EvaluateLivenessRule(const Rule& rule, const Policy& policy,
                             const std::string& model_id,
                             const ModelActivity& activity);

// Evaluates one rule on one attribute's metrics:
// - Groups below any of the rule's minimum samples (or left out of the gaps
//   by the monitor) are excluded; with fewer than two left, or when the
//   group with the highest selection rate has fewer positive decisions than
//   min_selected_in_reference_group, the finding is kInsufficientData.
// - The metric is computed with monitors::ComputeGaps over the groups kept.
//   Its defining pair (for equalized odds, that of the larger of the TPR and
//   FPR gaps) is compared with monitors::TestProportions (the z-test, or
//   Fisher's exact test when an expected cell is below 5) on the rate it
//   differs in, high group first, at rule.confidence.
// - Ratio metrics get the p-value but no interval (a difference interval
//   says nothing of a ratio), so a min_interval_lower condition on a ratio
//   rule never holds: that level fails closed.
// - Severity: critical if all its conditions hold, else warning if all its
//   conditions hold, else none (healthy).
// - With `family` (Evaluate's second pass), the finding carries the
//   adjusted p-value it gives for this attribute, which max_p_value
//   conditions compare instead of the raw one.
struct TestFamily {
  double adjusted_p_value = 1;
  size_t size = 1;
};
Finding EvaluateRule(const Rule& rule, const Policy& policy,
                     const std::string& model_id, const std::string& attribute,
                     const monitors::FairnessMetrics& metrics,
                     const TestFamily* family = nullptr);

// Holm's step-down adjustment of `p_values` (one family of tests), in their
// order: with p(1) <= ... <= p(m) sorted, the i-th smallest becomes
// min(1, max over j <= i of (m - j + 1) p(j)). Rejecting where the
// adjusted value is below alpha controls the family-wise error at alpha.
std::vector<double> HolmAdjusted(const std::vector<double>& p_values);

// Evaluates an expected_calibration_error rule on the model's calibration
// (empty: nothing joined yet). The finding's attribute is empty (the scope
// is the model) and its value the ECE:
// - fewer labelled predictions than rule.min_labelled (or none) is
//   kInsufficientData;
// - a level holds when ECE - rule.baseline > its value and, if it sets
//   min_null_quantile, the ECE lies above that quantile of the ECE that
//   perfectly calibrated predictions would show with the same bins (the
//   monitor's NullEce): a small sample's ECE is mostly noise.
Finding EvaluateCalibrationRule(
    const Rule& rule, const Policy& policy, const std::string& model_id,
    const std::optional<monitors::CalibrationMetrics>& calibration);

// Shared by the evaluators' messages: a threshold as a policy writes it
// ("0.10"), and the rule's citation (referential, elements, AI Act).
std::string FormatLevel(double value);
std::string Citation(const Rule& rule, const Policy& policy);

// Shared by the evaluators: a finding of `rule` on `model_id` (and
// `attribute`, empty for the model's scope), healthy so far, with the
// threshold of its first level (baseline included) and the baseline when
// the rule has one.
Finding StartFinding(const Rule& rule, const std::string& model_id,
                     const std::string& attribute);

// Shared by the evaluators: sets finding.severity and finding.threshold
// (rule.baseline plus the level's value, or `threshold_of` the level when
// given; the baseline is 0 but for calibration) from the highest level of
// `rule` whose conditions hold, critical first, `fails` saying why a level
// does not hold (empty: it holds); returns the verdict for the message ("is
// above the critical threshold 0.10 of rule F3", or why no level holds).
std::string Grade(
    const Rule& rule, Finding& finding,
    const std::function<std::string(const Threshold&)>& fails,
    const std::function<double(const Threshold&)>& threshold_of = nullptr);

}  // namespace vigie::rules
