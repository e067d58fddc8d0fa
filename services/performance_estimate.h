#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "monitors/model_monitors.h"
#include "monitors/performance_estimate.h"
#include "rules/evaluator.h"
#include "rules/policy.h"
#include "vigie/v1/performance.pb.h"

// Confidence-based performance estimation of a model's window: its
// configuration, the estimate of merged panes against the model's
// reference, and its API form (vigie.v1.PerformanceEstimate).

namespace vigie::services {

// A performance metric of a binary classifier.
enum class PerformanceMetric { kAccuracy, kPrecision, kRecall, kF1 };

// "accuracy", "precision", "recall" or "f1".
absl::string_view PerformanceMetricName(PerformanceMetric metric);
absl::StatusOr<PerformanceMetric> ParsePerformanceMetric(
    absl::string_view name);

// The performance the model's owner declared (its documentation or
// validation run), which rule P1 holds the model to. YAML:
// declared_performance: {metric: accuracy, value: 0.9}.
struct DeclaredPerformance {
  PerformanceMetric metric = PerformanceMetric::kAccuracy;
  double value = 0;  // Range: (0, 1].
};

// The estimate of `window`'s binary predictions with the calibration maps
// learned from `reference`'s labelled pairs (null: no reference, realised
// values only); empty when the window has no scored binary prediction or
// pair. Errors only if the two were built with different bins.
absl::StatusOr<std::optional<monitors::PerformanceEstimateMetrics>>
EstimatePerformance(
    const monitors::ModelMonitors& window,
    const monitors::ModelMonitors* reference,
    const monitors::PerformanceEstimateMonitor::EstimateOptions& options);

// One metric of a scope; null when it is undefined there.
const monitors::PerformanceValue* MetricOf(
    const monitors::PerformanceValues& values, PerformanceMetric metric);

// Rule P1: one finding per declared_performance rule of `policy` that
// applies to `model_id` (with its overrides; not when disabled), on the
// window `window` with `reference`'s calibration map
// (rules/performance_rule.h). None when the model declares no performance.
std::vector<rules::Finding> EvaluatePerformanceRules(
    const rules::Policy& policy, const std::string& model_id,
    const std::optional<DeclaredPerformance>& declared,
    const monitors::PerformanceEstimateMonitor::EstimateOptions& options,
    const monitors::ModelMonitors& window,
    const monitors::ModelMonitors* reference);

void PerformanceEstimateToProto(
    const monitors::PerformanceEstimateMetrics& metrics, int num_bins,
    vigie::v1::PerformanceEstimate* out);

}  // namespace vigie::services
