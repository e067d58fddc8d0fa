#include "rules/policy.h"

#include <cmath>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace vigie::rules {
namespace {

constexpr const char* kMetrics[] = {
    kEqualizedOddsDifference,     kDemographicParityDifference,
    kDemographicParityRatio,      kTruePositiveRateDifference,
    kFalsePositiveRateDifference, kExpectedCalibrationError};

bool IsKnownMetric(absl::string_view metric) {
  for (absl::string_view known : kMetrics) {
    if (metric == known) return true;
  }
  return false;
}

absl::Status RuleError(absl::string_view id, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("rule ", id, ": ", what));
}

// Every metric is a rate difference or ratio, so its thresholds live in
// [0, 1]; the interval bound is of a difference of rates, so in [-1, 1].
absl::Status ValidateThreshold(absl::string_view id, absl::string_view level,
                               const Threshold& threshold) {
  if (!std::isfinite(threshold.value) || threshold.value < 0 ||
      threshold.value > 1) {
    return RuleError(id, absl::StrCat(level, ".value must be in [0, 1], got ",
                                      threshold.value));
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

}  // namespace

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
    if (!(baseline >= 0 && baseline <= 1)) {
      return RuleError(
          id, absl::StrCat("baseline must be in [0, 1], got ", baseline));
    }
  } else if (baseline != 0 || min_labelled != 0) {
    return RuleError(id,
                     absl::StrCat("baseline and min_sample.labelled are for ",
                                  kExpectedCalibrationError));
  }
  if (warning.has_value()) {
    RETURN_IF_ERROR(ValidateThreshold(id, "warning", *warning));
  }
  if (critical.has_value()) {
    RETURN_IF_ERROR(ValidateThreshold(id, "critical", *critical));
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
  return absl::OkStatus();
}

}  // namespace vigie::rules
