// Rule P1: declared performance, realised or estimated (performance_rule.h).
#include "rules/performance_rule.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "monitors/performance_estimate.h"
#include "monitors/stats.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

absl::Status RuleError(const Rule& rule, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("rule ", rule.id, ": ", what));
}

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

double PerformancePValue(const monitors::PerformanceValue& value,
                         double declared) {
  double difference = value.value - declared;
  double standard_error = value.standard_error;
  if (value.trials > 0) {
    // The score test's standard error is taken at the declared level.
    standard_error = std::sqrt(declared * (1 - declared) /
                               static_cast<double>(value.trials));
  }
  if (!(standard_error > 0)) return difference < 0 ? 0.0 : 1.0;
  return NormalCdf(difference / standard_error);
}

Finding EvaluatePerformanceRule(const Rule& rule, const Policy& policy,
                                const std::string& model_id,
                                const PerformanceInputs& inputs) {
  Finding finding = StartFinding(rule, model_id, "");
  finding.baseline = inputs.declared;
  finding.baseline_source =
      absl::StrCat("declared ", inputs.metric_name, " of the model");
  const auto threshold_of = [&](const Threshold& level) {
    return inputs.declared + level.value;
  };
  finding.threshold =
      threshold_of(rule.warning ? *rule.warning : *rule.critical);
  const std::string what =
      absl::StrCat(inputs.metric_name, " of model ", model_id);
  const monitors::PerformanceValue* value = nullptr;
  std::string how;
  if (inputs.realised != nullptr && inputs.labelled > 0 &&
      inputs.labelled >= rule.min_labelled) {
    value = inputs.realised;
    how =
        absl::StrFormat("realised by %d labelled predictions", inputs.labelled);
  } else if (inputs.estimated != nullptr && inputs.predictions > 0 &&
             inputs.predictions >= rule.min_labelled) {
    value = inputs.estimated;
    how = absl::StrFormat(
        "estimated by CBPE from %d predictions' scores (%s; %d labelled so "
        "far), standard error %.4f",
        inputs.predictions, inputs.calibration, inputs.labelled,
        value->standard_error);
  }
  if (value == nullptr) {
    finding.severity = Severity::kInsufficientData;
    finding.message = absl::StrCat(
        what, ": insufficient data for rule ", rule.id, " — ", inputs.labelled,
        " labelled predictions",
        inputs.realised == nullptr && inputs.labelled > 0 ? " not defining it"
                                                          : "",
        " < ", rule.min_labelled, ", and ",
        inputs.estimated == nullptr
            ? "no estimate (no reference with outcomes to calibrate the "
              "scores on, or no scored prediction defining it)"
            : absl::StrCat(inputs.predictions, " predictions to estimate from"),
        ". ", Citation(rule, policy), ".");
    return finding;
  }
  finding.value = value->value;
  finding.interval = value->interval95;
  finding.p_value = PerformancePValue(*value, inputs.declared);
  const std::string verdict = Grade(
      rule, finding,
      [&](const Threshold& level) -> std::string {
        if (!(value->value < inputs.declared + level.value)) {
          return absl::StrCat("not below ",
                              FormatLevel(inputs.declared + level.value));
        }
        if (level.max_p_value.has_value() &&
            !(*finding.p_value < *level.max_p_value)) {
          return absl::StrFormat(
              "its upper one-sided %g%% bound %.4f is not below the declared "
              "%s",
              (1 - *level.max_p_value) * 100,
              value->UpperBound(1 - *level.max_p_value),
              FormatLevel(inputs.declared));
        }
        return "";
      },
      threshold_of);
  finding.message = absl::StrCat(
      what, " = ",
      absl::StrFormat("%.4f, %s, 95%% interval [%.4f, %.4f], against the "
                      "declared %s (one-sided p = %.3g) ",
                      value->value, how, value->interval95.lower,
                      value->interval95.upper, FormatLevel(inputs.declared),
                      *finding.p_value),
      verdict, " — ", Citation(rule, policy), ".");
  if (finding.severity == Severity::kCritical && !rule.runbook.empty()) {
    absl::StrAppend(&finding.message, " ", rule.runbook);
  }
  return finding;
}

absl::Status ValidatePerformanceRule(const Rule& rule) {
  if (rule.comparison != Comparison::kBelow) {
    return RuleError(rule, absl::StrCat(kDeclaredPerformance,
                                        " breaches below the declared level"));
  }
  if (!rule.attributes.empty()) {
    return RuleError(rule, absl::StrCat(kDeclaredPerformance,
                                        " is the model's: it takes no "
                                        "attributes"));
  }
  if (rule.baseline != 0 || rule.baseline_from_reference) {
    return RuleError(rule, absl::StrCat(kDeclaredPerformance,
                                        " takes no baseline: the model "
                                        "declares its level "
                                        "(declared_performance)"));
  }
  for (const auto& [level, threshold] :
       {std::pair{"warning", &rule.warning},
        std::pair{"critical", &rule.critical}}) {
    if (!threshold->has_value()) continue;
    const Threshold& t = **threshold;
    if (!(t.value >= -1 && t.value <= 0)) {
      return RuleError(
          rule, absl::StrCat(level,
                             ".value is the change from the declared level, "
                             "in [-1, 0], got ",
                             t.value));
    }
    if (t.max_p_value.has_value() &&
        !(*t.max_p_value > 0 && *t.max_p_value < 0.5)) {
      return RuleError(rule, absl::StrCat(level,
                                          ".max_p_value must be in (0, 0.5), "
                                          "got ",
                                          *t.max_p_value));
    }
    if (t.min_interval_lower.has_value() || t.min_null_quantile.has_value()) {
      return RuleError(rule, absl::StrCat(level, ": ", kDeclaredPerformance,
                                          " takes a value and max_p_value"));
    }
  }
  if (rule.warning.has_value() && rule.critical.has_value() &&
      rule.warning->value < rule.critical->value) {
    return RuleError(rule, "warning.value must be >= critical.value");
  }
  return absl::OkStatus();
}

}  // namespace vigie::rules
