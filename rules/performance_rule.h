#pragma once

// Rule P1: the model's declared performance metric (accuracy, precision,
// recall or F1) over the window against the level its owner declared; read
// from the outcomes joined so far when there are enough of them, else from
// the confidence-based estimate (CBPE, monitors/performance_estimate.h).
// Pure, as the rest of the folder: the caller fills the inputs.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "monitors/performance_estimate.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {

// What rule P1 reads of one window of one model.
struct PerformanceInputs {
  // The declared metric's name ("accuracy", "precision", "recall", "f1")
  // and level, in (0, 1].
  std::string metric_name;
  double declared = 0;
  // The metric realised by the window's joined pairs (null: undefined, or
  // none joined), and the pairs.
  const monitors::PerformanceValue* realised = nullptr;
  uint64_t labelled = 0;
  // The metric estimated from the window's scores (null: no reference with
  // outcomes to calibrate on, or undefined), the predictions it covers, and
  // how it was calibrated ("isotonic calibration on 20000 reference
  // pairs").
  const monitors::PerformanceValue* estimated = nullptr;
  uint64_t predictions = 0;
  std::string calibration;
};

// The one-sided p-value of "the metric is at least `declared`" given
// `value`: for a realised proportion (trials > 0), Wilson's score test,
// Phi((p - p0) / sqrt(p0 (1 - p0) / n)), so that p < alpha exactly when
// the upper one-sided (1 - alpha) Wilson bound lies below p0; otherwise
// the normal one, Phi((value - declared) / standard_error).
double PerformancePValue(const monitors::PerformanceValue& value,
                         double declared);

// Evaluates a declared_performance rule (scope: the model). It reads the
// realised metric when the window has min_labelled joined pairs defining
// it, else the estimate when it covers min_labelled predictions (the
// message then says "estimated by CBPE" with its standard error), else
// the finding is insufficient_data, saying what is missing. The value is
// the metric, the interval its two-sided 95% one, p_value
// PerformancePValue, baseline the declared level ("declared" source with
// the metric's name). A level holds when value < declared + its value and,
// if it sets max_p_value, p_value < it: the upper one-sided (1 -
// max_p_value) bound is below the declared level. Default policy P1:
// warning {value: 0, max_p_value: 0.05}, critical {value: -0.05,
// max_p_value: 0.01}.
Finding EvaluatePerformanceRule(const Rule& rule, const Policy& policy,
                                const std::string& model_id,
                                const PerformanceInputs& inputs);

// What declared_performance rules take (Rule::Validate): comparison below,
// no attributes, no baseline (the declared level is the model's), levels'
// values in [-1, 0], max_p_value in (0, 0.5), no min_interval_lower or
// min_null_quantile.
absl::Status ValidatePerformanceRule(const Rule& rule);

}  // namespace vigie::rules
