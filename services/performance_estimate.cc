#include "services/performance_estimate.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/model_monitors.h"
#include "monitors/performance_estimate.h"
#include "monitors/score_calibration.h"
#include "rules/performance_rule.h"
#include "services/rule_inputs.h"
#include "vigie/v1/performance.pb.h"

namespace vigie::services {
namespace {

void ValueToProto(
    const std::optional<monitors::PerformanceValue>& value,
    vigie::v1::PerformanceValue* (*mutable_of)(vigie::v1::PerformanceValues*),
    vigie::v1::PerformanceValues* out) {
  if (!value.has_value()) return;
  vigie::v1::PerformanceValue* v = mutable_of(out);
  v->set_value(value->value);
  v->set_standard_error(value->standard_error);
  v->set_sampling_error(value->sampling_error);
  v->set_calibration_error(value->calibration_error);
  v->set_lower_95(value->interval95.lower);
  v->set_upper_95(value->interval95.upper);
  v->set_successes(value->successes);
  v->set_trials(value->trials);
}

void ValuesToProto(const monitors::PerformanceValues& values,
                   vigie::v1::PerformanceValues* out) {
  ValueToProto(
      values.accuracy,
      [](vigie::v1::PerformanceValues* v) { return v->mutable_accuracy(); },
      out);
  ValueToProto(
      values.precision,
      [](vigie::v1::PerformanceValues* v) { return v->mutable_precision(); },
      out);
  ValueToProto(
      values.recall,
      [](vigie::v1::PerformanceValues* v) { return v->mutable_recall(); }, out);
  ValueToProto(
      values.f1,
      [](vigie::v1::PerformanceValues* v) { return v->mutable_f1(); }, out);
}

void ScopeToProto(const monitors::PerformanceEstimate& e,
                  vigie::v1::PerformanceScope* out) {
  out->set_predictions(e.predictions);
  out->set_positive_decisions(e.positive_decisions);
  out->set_extrapolated(e.extrapolated);
  out->set_own_calibration(e.own_calibration);
  out->set_expected_true_positives(e.expected_true_positives);
  out->set_expected_false_positives(e.expected_false_positives);
  out->set_expected_true_negatives(e.expected_true_negatives);
  out->set_expected_false_negatives(e.expected_false_negatives);
  if (e.estimated.accuracy.has_value()) {
    ValuesToProto(e.estimated, out->mutable_estimated());
  }
  out->set_labelled(e.labelled);
  out->set_true_positives(e.true_positives);
  out->set_false_positives(e.false_positives);
  out->set_true_negatives(e.true_negatives);
  out->set_false_negatives(e.false_negatives);
  ValuesToProto(e.realised, out->mutable_realised());
}

}  // namespace

absl::string_view PerformanceMetricName(PerformanceMetric metric) {
  switch (metric) {
    case PerformanceMetric::kAccuracy:
      return "accuracy";
    case PerformanceMetric::kPrecision:
      return "precision";
    case PerformanceMetric::kRecall:
      return "recall";
    case PerformanceMetric::kF1:
      return "f1";
  }
  return "accuracy";
}

absl::StatusOr<PerformanceMetric> ParsePerformanceMetric(
    absl::string_view name) {
  for (PerformanceMetric metric :
       {PerformanceMetric::kAccuracy, PerformanceMetric::kPrecision,
        PerformanceMetric::kRecall, PerformanceMetric::kF1}) {
    if (name == PerformanceMetricName(metric)) return metric;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "metric must be accuracy, precision, recall or f1, got '", name, "'"));
}

absl::StatusOr<std::optional<monitors::PerformanceEstimateMetrics>>
EstimatePerformance(
    const monitors::ModelMonitors& window,
    const monitors::ModelMonitors* reference,
    const monitors::PerformanceEstimateMonitor::EstimateOptions& options) {
  const monitors::PerformanceEstimateMonitor* counts =
      window.performance_estimate();
  if (counts == nullptr) return std::nullopt;
  absl::StatusOr<monitors::PerformanceEstimateMetrics> metrics =
      counts->Estimate(
          reference == nullptr ? nullptr : reference->performance_estimate(),
          options);
  if (!metrics.ok()) return metrics.status();
  return std::optional<monitors::PerformanceEstimateMetrics>(
      *std::move(metrics));
}

const monitors::PerformanceValue* MetricOf(
    const monitors::PerformanceValues& values, PerformanceMetric metric) {
  const std::optional<monitors::PerformanceValue>* v = &values.accuracy;
  switch (metric) {
    case PerformanceMetric::kAccuracy:
      v = &values.accuracy;
      break;
    case PerformanceMetric::kPrecision:
      v = &values.precision;
      break;
    case PerformanceMetric::kRecall:
      v = &values.recall;
      break;
    case PerformanceMetric::kF1:
      v = &values.f1;
      break;
  }
  return v->has_value() ? &**v : nullptr;
}

std::vector<rules::Finding> EvaluatePerformanceRules(
    const rules::Policy& policy, const std::string& model_id,
    const std::optional<DeclaredPerformance>& declared,
    const monitors::PerformanceEstimateMonitor::EstimateOptions& options,
    const monitors::ModelMonitors& window,
    const monitors::ModelMonitors* reference) {
  std::vector<rules::Finding> findings;
  if (!declared.has_value()) return findings;
  std::optional<monitors::PerformanceEstimateMetrics> metrics;
  bool estimated = false;
  for (const rules::Rule& base : policy.rules) {
    if (base.metric != rules::kDeclaredPerformance ||
        !Applies(base, model_id)) {
      continue;
    }
    const rules::Rule rule = policy.Resolve(base, model_id);
    if (!rule.enabled) continue;
    if (!estimated) {
      estimated = true;
      // Errors only when the bins differ, which loading the reference
      // excludes: then there is nothing to read, and the rule says so.
      absl::StatusOr<std::optional<monitors::PerformanceEstimateMetrics>>
          estimate = EstimatePerformance(window, reference, options);
      if (estimate.ok()) metrics = *std::move(estimate);
    }
    rules::PerformanceInputs inputs;
    inputs.metric_name = std::string(PerformanceMetricName(declared->metric));
    inputs.declared = declared->value;
    if (metrics.has_value()) {
      const monitors::PerformanceEstimate& model = metrics->model;
      inputs.realised = MetricOf(model.realised, declared->metric);
      inputs.labelled = model.labelled;
      inputs.estimated = MetricOf(model.estimated, declared->metric);
      inputs.predictions = model.predictions;
      inputs.calibration = absl::StrCat(
          monitors::CalibrationMethodName(metrics->method), " calibration on ",
          metrics->reference_labelled, " labelled reference pairs");
    }
    findings.push_back(
        rules::EvaluatePerformanceRule(rule, policy, model_id, inputs));
  }
  return findings;
}

void PerformanceEstimateToProto(
    const monitors::PerformanceEstimateMetrics& metrics, int num_bins,
    vigie::v1::PerformanceEstimate* out) {
  out->set_calibration(
      std::string(monitors::CalibrationMethodName(metrics.method)));
  out->set_bins(static_cast<uint32_t>(num_bins));
  out->set_reference_labelled(metrics.reference_labelled);
  out->set_ignored(metrics.ignored);
  ScopeToProto(metrics.model, out->mutable_model());
  for (const auto& [attribute, groups] : metrics.groups) {
    for (const auto& [group, e] : groups) {
      vigie::v1::PerformanceScope* scope = out->add_groups();
      scope->set_attribute(attribute);
      scope->set_group(group);
      ScopeToProto(e, scope);
    }
  }
}

}  // namespace vigie::services
