// Rule O2's kind: a model expected to send events at least every interval
// that has sent none for whole intervals (monitor liveness).

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {

Finding EvaluateLivenessRule(const Rule& rule, const Policy& policy,
                             const std::string& model_id,
                             const ModelActivity& activity) {
  Finding finding = StartFinding(rule, model_id, "");
  // Whole intervals only: a model between two events is not late.
  const double missed = std::floor(absl::FDivDuration(
      std::max(activity.silence, absl::ZeroDuration()), activity.expected));
  finding.value = missed;
  const std::string verdict =
      Grade(rule, finding, [&](const Threshold& threshold) -> std::string {
        if (missed > threshold.value) return "";
        return absl::StrCat(missed, " missed windows, not above ",
                            FormatLevel(threshold.value));
      });
  finding.message = absl::StrCat(
      "model ", model_id, " has sent no event for ",
      absl::FormatDuration(absl::Trunc(activity.silence, absl::Seconds(1))),
      " (it is expected to send some every ",
      absl::FormatDuration(activity.expected), ": ", missed,
      " missed windows) and ", verdict, " — ", Citation(rule, policy), ".");
  if (finding.severity == Severity::kCritical && !rule.runbook.empty()) {
    absl::StrAppend(&finding.message, " ", rule.runbook);
  }
  return finding;
}

}  // namespace vigie::rules
