#include "rules/policy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "rules/footprint_rule.h"
#include "rules/performance_rule.h"
#include "rules/summary.h"

namespace vigie::rules {
namespace {

constexpr const char* kMetrics[] = {kEqualizedOddsDifference,
                                    kDemographicParityDifference,
                                    kDemographicParityRatio,
                                    kTruePositiveRateDifference,
                                    kFalsePositiveRateDifference,
                                    kExpectedCalibrationError,
                                    kMissedWindows,
                                    kPopulationStabilityIndex,
                                    kFeatureDrift,
                                    kDriftedFeatureShare,
                                    kErrorRateChanges,
                                    kErrorChangeWindows,
                                    kConformalCoverage,
                                    kGroupConformalCoverage,
                                    kConformalSizeChange,
                                    kRecommendationDiversity,
                                    kRecommendationNovelty,
                                    kCatalogueCoverage,
                                    kExposureGini,
                                    kDeclaredPerformance,
                                    kFootprintPer1000};

absl::Status RuleError(absl::string_view id, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("rule ", id, ": ", what));
}

bool IsDriftMetric(absl::string_view metric) {
  return metric == kPopulationStabilityIndex || metric == kFeatureDrift ||
         metric == kDriftedFeatureShare || metric == kErrorRateChanges ||
         metric == kErrorChangeWindows;
}

bool IsErrorStreamMetric(absl::string_view metric) {
  return metric == kErrorRateChanges || metric == kErrorChangeWindows;
}

// What the drift metrics take beyond the common fields: comparison above,
// no attributes, no baseline (the reference is theirs), their own minimum
// samples, and for feature_drift a max_p_value (tests) beside the value
// (distances).
absl::Status ValidateDriftRule(const Rule& rule) {
  const std::string& id = rule.id;
  if (rule.comparison != Comparison::kAbove) {
    return RuleError(id, absl::StrCat(rule.metric, " breaches above"));
  }
  if (!rule.attributes.empty()) {
    return RuleError(id, absl::StrCat(rule.metric,
                                      " is measured per feature: it takes no "
                                      "attributes"));
  }
  if (rule.baseline != 0 || rule.baseline_from_reference) {
    return RuleError(id, absl::StrCat(rule.metric,
                                      " compares with the model's reference "
                                      "already: it takes no baseline"));
  }
  if (IsErrorStreamMetric(rule.metric) && !rule.features.empty()) {
    return RuleError(
        id, absl::StrCat(rule.metric, " is the model's: it takes no features"));
  }
  if (rule.metric == kErrorChangeWindows &&
      rule.window <= absl::ZeroDuration()) {
    return RuleError(id, absl::StrCat(kErrorChangeWindows,
                                      " counts windows: it needs a window"));
  }
  if (rule.metric == kErrorChangeWindows && rule.min_reference_values != 0) {
    return RuleError(id, absl::StrCat(kErrorChangeWindows,
                                      " has no reference: it takes "
                                      "min_sample.current only"));
  }
  if (rule.min_predictions_per_group || rule.min_positives_per_group ||
      rule.min_negatives_per_group || rule.min_selected_in_reference_group ||
      rule.min_labelled) {
    return RuleError(id, absl::StrCat(rule.metric,
                                      " takes min_sample.current and "
                                      "min_sample.reference only"));
  }
  // PSI is unbounded; a share is in [0, 1]; a distance in [0, 1]; a count
  // of changes or of windows up to 1e6.
  const double high = rule.metric == kPopulationStabilityIndex ? 10
                      : IsErrorStreamMetric(rule.metric)       ? 1e6
                                                               : 1;
  for (const auto& [level, threshold] :
       {std::pair{"warning", &rule.warning},
        std::pair{"critical", &rule.critical}}) {
    if (!threshold->has_value()) continue;
    const Threshold& t = **threshold;
    if (!std::isfinite(t.value) || t.value < 0 || t.value > high) {
      return RuleError(
          id, absl::StrCat(level, ".value must be in [0, ", high, "] for ",
                           rule.metric, ", got ", t.value));
    }
    if (t.min_interval_lower || t.min_null_quantile) {
      return RuleError(id, absl::StrCat(level, ": ", rule.metric,
                                        " takes a value (and feature_drift "
                                        "a max_p_value) only"));
    }
    if (t.max_p_value.has_value()) {
      if (rule.metric != kFeatureDrift) {
        return RuleError(
            id, absl::StrCat(level, ".max_p_value is for ", kFeatureDrift));
      }
      if (!(*t.max_p_value > 0 && *t.max_p_value <= 1)) {
        return RuleError(
            id, absl::StrCat(level, ".max_p_value must be in (0, 1], got ",
                             *t.max_p_value));
      }
    }
  }
  return absl::OkStatus();
}

// Every metric is a rate difference or ratio, so its thresholds live in
// [0, 1] ([-1, 1] relative to a baseline); the interval bound is of a
// difference of rates, so in [-1, 1].
absl::Status ValidateThreshold(absl::string_view id, absl::string_view level,
                               const Threshold& threshold, bool relative,
                               bool count) {
  if (count) {
    if (!std::isfinite(threshold.value) || threshold.value < 0 ||
        threshold.value > 1e6) {
      return RuleError(id, absl::StrCat(level,
                                        ".value is a count of missed windows "
                                        "in [0, 1e6], got ",
                                        threshold.value));
    }
    if (threshold.max_p_value || threshold.min_interval_lower ||
        threshold.min_null_quantile) {
      return RuleError(
          id, absl::StrCat(level, ": ", kMissedWindows, " takes only a value"));
    }
    return absl::OkStatus();
  }
  const double low = relative ? -1 : 0;
  if (!std::isfinite(threshold.value) || threshold.value < low ||
      threshold.value > 1) {
    return RuleError(
        id, absl::StrCat(level, ".value must be in [", relative ? "-1" : "0",
                         ", 1], got ", threshold.value));
  }
  if (threshold.max_p_value.has_value() &&
      !(*threshold.max_p_value > 0 && *threshold.max_p_value <= 1)) {
    return RuleError(id,
                     absl::StrCat(level, ".max_p_value must be in (0, 1], got ",
                                  *threshold.max_p_value));
  }
  if (threshold.min_interval_lower.has_value() &&
      !(*threshold.min_interval_lower >= -1 &&
        *threshold.min_interval_lower < 1)) {
    return RuleError(
        id, absl::StrCat(level, ".min_interval_lower must be in [-1, 1), got ",
                         *threshold.min_interval_lower));
  }
  return absl::OkStatus();
}

absl::Status ValidateNames(absl::string_view id, absl::string_view field,
                           const std::vector<std::string>& names) {
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& name : names) {
    if (name.empty()) {
      return RuleError(id, absl::StrCat(field, " has an empty entry"));
    }
    if (!seen.insert(name).second) {
      return RuleError(id, absl::StrCat(field, " lists \"", name, "\" twice"));
    }
  }
  return absl::OkStatus();
}

// Which overrides apply to a scope depends only on which of the names the
// overrides select it matches; so trying every named value (and one named
// by none) of each selector tries every combination a scope can meet.
absl::Status ValidateOverrides(
    const Policy& policy, const absl::flat_hash_set<absl::string_view>& ids) {
  std::vector<std::string> models = {""}, attributes = {""}, features = {""};
  auto add = [](const std::vector<std::string>& names,
                std::vector<std::string>& into) {
    for (const std::string& name : names) {
      if (std::find(into.begin(), into.end(), name) == into.end()) {
        into.push_back(name);
      }
    }
  };
  for (size_t i = 0; i < policy.overrides.size(); ++i) {
    const RuleOverride& o = policy.overrides[i];
    const std::string where = absl::StrCat("overrides[", i, "]");
    for (const std::string& id : o.rules) {
      if (!ids.contains(id)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": no rule \"", id, "\" in the policy"));
      }
    }
    if (o.window.has_value() && !(o.attributes.empty() && o.features.empty())) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          ": window is evaluated per model: an override that sets it "
          "selects no attributes or features"));
    }
    add(o.models, models);
    add(o.attributes, attributes);
    add(o.features, features);
  }
  if (policy.overrides.empty()) return absl::OkStatus();
  for (const Rule& rule : policy.rules) {
    for (const std::string& model : models) {
      for (const std::string& attribute : attributes) {
        for (const std::string& feature : features) {
          const Rule resolved = policy.Resolve(rule, model, attribute, feature);
          if (absl::Status status = resolved.Validate(); !status.ok()) {
            return absl::InvalidArgumentError(absl::StrCat(
                status.message(), " (with the overrides for model \"", model,
                "\", attribute \"", attribute, "\", feature \"", feature,
                "\")"));
          }
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsKnownMetric(absl::string_view metric) {
  for (absl::string_view known : kMetrics) {
    if (metric == known) return true;
  }
  return false;
}

// Bound of `for` and `keep_firing_for`: at one evaluation a minute, about
// 16 hours.
constexpr uint32_t kMaxEvaluations = 1000;

absl::Status Rule::Validate() const {
  if (id.empty()) return absl::InvalidArgumentError("rule id is required");
  if (!IsKnownMetric(metric)) {
    return RuleError(
        id, absl::StrCat("unknown metric \"", metric, "\"; expected one of ",
                         absl::StrJoin(kMetrics, ", ")));
  }
  if (!warning.has_value() && !critical.has_value()) {
    return RuleError(id, "needs a warning or a critical threshold");
  }
  if (!IsDriftMetric(metric) &&
      (min_current_values != 0 || min_reference_values != 0)) {
    return RuleError(id,
                     "min_sample.current and min_sample.reference are for "
                     "drift metrics");
  }
  if (!IsDriftMetric(metric) && !features.empty()) {
    return RuleError(id, "features are for drift metrics");
  }
  if (!IsRecommendationMetric(metric) && min_lists != 0) {
    return RuleError(id, "min_sample.lists is for recommendation metrics");
  }
  for (const auto& [level, threshold] :
       {std::pair{"warning", &warning}, std::pair{"critical", &critical}}) {
    if (!threshold->has_value()) continue;
    if ((*threshold)->min_shortfall.has_value() &&
        !IsConformalCoverageMetric(metric)) {
      return RuleError(
          id, absl::StrCat(level, ".min_shortfall is for ", kConformalCoverage,
                           " and ", kGroupConformalCoverage));
    }
    if ((*threshold)->budget_share.has_value() && !IsFootprintMetric(metric)) {
      return RuleError(
          id, absl::StrCat(level, ".budget_share is for ", kFootprintPer1000));
    }
    if (((*threshold)->windows.has_value() ||
         (*threshold)->worsening_windows.has_value()) &&
        !IsRecommendationMetric(metric)) {
      return RuleError(id, absl::StrCat(level,
                                        ": windows and worsening_windows are "
                                        "for recommendation metrics"));
    }
  }
  if (IsConformalMetric(metric) || IsRecommendationMetric(metric)) {
    RETURN_IF_ERROR(ValidateQuality());
    return ValidateCommon();
  }
  if (metric == kDeclaredPerformance) {
    RETURN_IF_ERROR(ValidatePerformanceRule(*this));
    return ValidateCommon();
  }
  if (IsFootprintMetric(metric)) {
    RETURN_IF_ERROR(ValidateFootprintRule(*this));
    return ValidateCommon();
  }
  if (IsDriftMetric(metric)) {
    RETURN_IF_ERROR(ValidateDriftRule(*this));
    RETURN_IF_ERROR(ValidateNames(id, "features", features));
    return ValidateCommon();
  }
  const bool calibration = metric == kExpectedCalibrationError;
  for (const auto& [level, threshold] :
       {std::pair{"warning", &warning}, std::pair{"critical", &critical}}) {
    if (!threshold->has_value()) continue;
    const auto& quantile = (*threshold)->min_null_quantile;
    if (quantile.has_value() && !calibration) {
      return RuleError(id, absl::StrCat(level, ".min_null_quantile is for ",
                                        kExpectedCalibrationError));
    }
    if (quantile.has_value() && !(*quantile >= 0.5 && *quantile < 1)) {
      return RuleError(id, absl::StrCat(level,
                                        ".min_null_quantile must be in "
                                        "[0.5, 1), got ",
                                        *quantile));
    }
    if (calibration && ((*threshold)->max_p_value.has_value() ||
                        (*threshold)->min_interval_lower.has_value())) {
      return RuleError(id, absl::StrCat(level, ": ", kExpectedCalibrationError,
                                        " takes no max_p_value or "
                                        "min_interval_lower (compares no "
                                        "groups); use min_null_quantile"));
    }
  }
  if (calibration) {
    if (comparison != Comparison::kAbove) {
      return RuleError(id, absl::StrCat(kExpectedCalibrationError,
                                        " breaches above its threshold"));
    }
    if (!attributes.empty()) {
      return RuleError(id, absl::StrCat(kExpectedCalibrationError,
                                        " is the model's: it takes no "
                                        "attributes"));
    }
  } else if (min_labelled != 0) {
    return RuleError(id, absl::StrCat("min_sample.labelled is for ",
                                      kExpectedCalibrationError,
                                      " and the conformal metrics"));
  }
  if (!(baseline >= 0 && baseline <= 1)) {
    return RuleError(
        id, absl::StrCat("baseline must be in [0, 1], got ", baseline));
  }
  if (baseline != 0 && !(baseline + (warning ? warning->value : 0) >= 0 &&
                         baseline + (critical ? critical->value : 0) >= 0)) {
    return RuleError(id, "baseline plus a level's value must be >= 0");
  }
  // Relative to a baseline, a level may be a fall as well as a rise.
  const bool relative = baseline != 0 || baseline_from_reference;
  const bool count = metric == kMissedWindows;
  if (count &&
      (comparison != Comparison::kAbove || !attributes.empty() || relative)) {
    return RuleError(id, absl::StrCat(kMissedWindows,
                                      " is the model's: comparison above, "
                                      "no attributes, no baseline"));
  }
  if (warning.has_value()) {
    RETURN_IF_ERROR(
        ValidateThreshold(id, "warning", *warning, relative, count));
  }
  if (critical.has_value()) {
    RETURN_IF_ERROR(
        ValidateThreshold(id, "critical", *critical, relative, count));
  }
  // A warning must be reached before the critical level, whichever way the
  // metric breaches; equal values are allowed (the conditions may differ).
  if (warning.has_value() && critical.has_value()) {
    const bool above = comparison == Comparison::kAbove;
    if (above ? warning->value > critical->value
              : warning->value < critical->value) {
      return RuleError(
          id,
          absl::StrCat("warning.value ", warning->value, " must be ",
                       above ? "<=" : ">=", " critical.value ", critical->value,
                       " for comparison ", above ? "above" : "below"));
    }
  }
  return ValidateCommon();
}

absl::Status Rule::ValidateCommon() const {
  if (!(confidence > 0.5 && confidence < 1)) {
    return RuleError(
        id, absl::StrCat("confidence must be in (0.5, 1), got ", confidence));
  }
  if (for_evaluations < 1 || for_evaluations > kMaxEvaluations) {
    return RuleError(id, absl::StrCat("for must be in [1, ", kMaxEvaluations,
                                      "] evaluations, got ", for_evaluations));
  }
  if (keep_firing_for > kMaxEvaluations) {
    return RuleError(
        id, absl::StrCat("keep_firing_for must be in [0, ", kMaxEvaluations,
                         "] evaluations, got ", keep_firing_for));
  }
  if (window < absl::ZeroDuration() || window == absl::InfiniteDuration()) {
    return RuleError(id, absl::StrCat("window must be finite and >= 0, got ",
                                      absl::FormatDuration(window)));
  }
  if (element.empty()) return RuleError(id, "element is required");
  if (absl::Status status = ValidateSummary(summary); !status.ok()) {
    return RuleError(id, absl::StrCat("summary: ", status.message()));
  }
  RETURN_IF_ERROR(ValidateNames(id, "models", models));
  RETURN_IF_ERROR(ValidateNames(id, "attributes", attributes));
  for (const std::string& related : related_elements) {
    if (related.empty()) {
      return RuleError(id, "related_elements has an empty entry");
    }
  }
  for (const std::string& article : ai_act_articles) {
    if (article.empty()) {
      return RuleError(id, "ai_act_articles has an empty entry");
    }
  }
  return absl::OkStatus();
}

bool RuleOverride::Matches(absl::string_view rule_id,
                           absl::string_view model_id,
                           absl::string_view attribute,
                           absl::string_view feature) const {
  auto selects = [](const std::vector<std::string>& names,
                    absl::string_view name) {
    return names.empty() ||
           std::find(names.begin(), names.end(), name) != names.end();
  };
  return selects(rules, rule_id) && selects(models, model_id) &&
         selects(attributes, attribute) && selects(features, feature);
}

void RuleOverride::ApplyTo(Rule& rule) const {
  // Conformal coverage levels take no value: any of their conditions
  // makes one.
  const bool valueless = IsConformalCoverageMetric(rule.metric);
  auto merge = [valueless](const std::optional<Level>& level,
                           std::optional<Threshold>& into) {
    if (!level.has_value()) return;
    if (!into.has_value()) {
      const bool condition =
          level->value.has_value() ||
          (valueless && (level->max_p_value || level->min_shortfall));
      if (!condition) return;  // Nothing to compare with.
      into.emplace();
    }
    if (level->value) into->value = *level->value;
    if (level->max_p_value) into->max_p_value = level->max_p_value;
    if (level->min_interval_lower) {
      into->min_interval_lower = level->min_interval_lower;
    }
    if (level->min_null_quantile) {
      into->min_null_quantile = level->min_null_quantile;
    }
    if (level->min_shortfall) into->min_shortfall = level->min_shortfall;
    if (level->windows) into->windows = level->windows;
    if (level->worsening_windows) {
      into->worsening_windows = level->worsening_windows;
    }
    if (level->budget_share) into->budget_share = level->budget_share;
  };
  merge(warning, rule.warning);
  merge(critical, rule.critical);
  auto set = [](const auto& from, auto& to) {
    if (from.has_value()) to = *from;
  };
  set(enabled, rule.enabled);
  set(confidence, rule.confidence);
  if (baseline.has_value()) {
    rule.baseline = *baseline;
    rule.baseline_from_reference = false;
  }
  set(baseline_from_reference, rule.baseline_from_reference);
  set(window, rule.window);
  set(min_predictions_per_group, rule.min_predictions_per_group);
  set(min_positives_per_group, rule.min_positives_per_group);
  set(min_negatives_per_group, rule.min_negatives_per_group);
  set(min_selected_in_reference_group, rule.min_selected_in_reference_group);
  set(min_labelled, rule.min_labelled);
  set(min_lists, rule.min_lists);
  set(min_current_values, rule.min_current_values);
  set(min_reference_values, rule.min_reference_values);
  set(for_evaluations, rule.for_evaluations);
  set(keep_firing_for, rule.keep_firing_for);
  set(runbook, rule.runbook);
  set(summary, rule.summary);
  set(threshold_source, rule.threshold_source);
}

Rule Policy::Resolve(const Rule& rule, absl::string_view model_id,
                     absl::string_view attribute,
                     absl::string_view feature) const {
  Rule resolved = rule;
  for (const RuleOverride& o : overrides) {
    if (o.Matches(rule.id, model_id, attribute, feature)) o.ApplyTo(resolved);
  }
  return resolved;
}

absl::Status Policy::Validate() const {
  if (referential.empty()) {
    return absl::InvalidArgumentError("policy referential is required");
  }
  if (evaluation_interval < absl::Milliseconds(100) ||
      evaluation_interval > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy evaluation_interval must be in [100ms, 1h], got ",
                     absl::FormatDuration(evaluation_interval)));
  }
  absl::flat_hash_set<absl::string_view> ids;
  for (const Rule& rule : rules) {
    RETURN_IF_ERROR(rule.Validate());
    if (!ids.insert(rule.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("rule id \"", rule.id, "\" is used twice"));
    }
  }
  return ValidateOverrides(*this, ids);
}

}  // namespace vigie::rules
