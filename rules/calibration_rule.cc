// Rule C1's kind: the model's expected calibration error against its
// baseline and against the noise floor of its sample.

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "monitors/calibration.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

// Why `threshold` does not hold for this ECE; empty if it holds.
std::string Fails(const Rule& rule, const Threshold& threshold, double ece,
                  const monitors::NullEce& null) {
  if (!(ece - rule.baseline > threshold.value)) {
    return absl::StrCat("ECE - baseline not above ",
                        FormatLevel(threshold.value));
  }
  if (threshold.min_null_quantile.has_value()) {
    const double floor = null.Quantile(*threshold.min_null_quantile);
    if (!(ece > floor)) {
      return absl::StrFormat(
          "not above %.4f, the %g%% quantile of a perfectly calibrated "
          "model's ECE at this sample",
          floor, *threshold.min_null_quantile * 100);
    }
  }
  return "";
}

}  // namespace

Finding EvaluateCalibrationRule(
    const Rule& rule, const Policy& policy, const std::string& model_id,
    const std::optional<monitors::CalibrationMetrics>& calibration) {
  Finding finding = StartFinding(rule, model_id, "");
  const uint64_t count = calibration.has_value() ? calibration->count : 0;
  if (count == 0 || count < rule.min_labelled || !calibration->ece ||
      !calibration->null_ece) {
    finding.severity = Severity::kInsufficientData;
    finding.message = absl::StrCat(
        finding.metric, " of model ", model_id, ": insufficient data for rule ",
        rule.id, " — ", count, " labelled predictions with a probability < ",
        rule.min_labelled, ". ", Citation(rule, policy), ".");
    return finding;
  }
  const double ece = *calibration->ece;
  const monitors::NullEce& null = *calibration->null_ece;
  finding.value = ece;
  const std::string verdict =
      Grade(rule, finding, [&](const Threshold& threshold) {
        return Fails(rule, threshold, ece, null);
      });
  finding.message = absl::StrCat(
      finding.metric, " of model ", model_id, " = ",
      absl::StrFormat(
          "%.4f (baseline %s, %llu labelled predictions; a perfectly "
          "calibrated model would show %.4f on average, %.4f at the 95th "
          "and %.4f at the 99th percentile) ",
          ece, FormatLevel(rule.baseline),
          static_cast<unsigned long long>(count), null.mean, null.p95,
          null.p99),
      verdict, " — ", Citation(rule, policy), ".");
  if (finding.severity == Severity::kCritical && !rule.runbook.empty()) {
    absl::StrAppend(&finding.message, " ", rule.runbook);
  }
  return finding;
}

}  // namespace vigie::rules
