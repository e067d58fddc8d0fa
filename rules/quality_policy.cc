// What rules on the conformal (K1-K3) and recommendation (R1-R3) metrics
// take: Rule::ValidateQuality and the metrics' predicates.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

absl::Status RuleError(absl::string_view id, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("rule ", id, ": ", what));
}

// Bounds of Threshold::windows and worsening_windows.
constexpr uint32_t kMaxWindows = 100;

// The levels' numbers of a conformal coverage rule: conditions, no value.
absl::Status ValidateCoverageLevel(const Rule& rule, absl::string_view level,
                                   const Threshold& t) {
  if (t.value != 0) {
    return RuleError(rule.id,
                     absl::StrCat(level, ": ", rule.metric,
                                  " takes no value: its conditions are "
                                  "max_p_value and min_shortfall, either "
                                  "enough, got value ",
                                  t.value));
  }
  if (!t.max_p_value.has_value() && !t.min_shortfall.has_value()) {
    return RuleError(rule.id, absl::StrCat(level,
                                           " needs max_p_value or "
                                           "min_shortfall"));
  }
  if (t.max_p_value.has_value() &&
      !(*t.max_p_value > 0 && *t.max_p_value <= 1)) {
    return RuleError(rule.id,
                     absl::StrCat(level, ".max_p_value must be in (0, 1], got ",
                                  *t.max_p_value));
  }
  if (t.min_shortfall.has_value() &&
      !(*t.min_shortfall >= 0 && *t.min_shortfall < 1)) {
    return RuleError(
        rule.id, absl::StrCat(level, ".min_shortfall must be in [0, 1), got ",
                              *t.min_shortfall));
  }
  if (t.min_interval_lower || t.min_null_quantile) {
    return RuleError(rule.id,
                     absl::StrCat(level, ": ", rule.metric,
                                  " takes max_p_value and min_shortfall only"));
  }
  return absl::OkStatus();
}

// The levels of the change metrics: a value (the change), and for
// recommendation metrics their windows.
absl::Status ValidateChangeLevel(const Rule& rule, absl::string_view level,
                                 const Threshold& t) {
  const bool sizes = rule.metric == kConformalSizeChange;
  // A relative change is at least -1; sizes may grow without bound, a
  // recommendation metric at most double (a Gini difference is in
  // [-1, 1] anyway).
  const double high = sizes ? 100 : 1;
  if (!std::isfinite(t.value) || t.value < -1 || t.value > high) {
    return RuleError(
        rule.id, absl::StrCat(level, ".value must be in [-1, ", high, "] for ",
                              rule.metric, ", got ", t.value));
  }
  if (t.max_p_value || t.min_interval_lower || t.min_null_quantile ||
      t.min_shortfall) {
    return RuleError(
        rule.id, absl::StrCat(level, ": ", rule.metric, " takes a value",
                              sizes ? "" : " and windows or worsening_windows",
                              " only"));
  }
  for (const auto& [name, count] :
       {std::pair{"windows", t.windows},
        std::pair{"worsening_windows", t.worsening_windows}}) {
    if (count.has_value() && !(*count >= 1 && *count <= kMaxWindows)) {
      return RuleError(rule.id,
                       absl::StrCat(level, ".", name, " must be in [1, ",
                                    kMaxWindows, "], got ", *count));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsConformalCoverageMetric(absl::string_view metric) {
  return metric == kConformalCoverage || metric == kGroupConformalCoverage;
}

bool IsConformalMetric(absl::string_view metric) {
  return IsConformalCoverageMetric(metric) || metric == kConformalSizeChange;
}

bool IsRecommendationMetric(absl::string_view metric) {
  return metric == kRecommendationDiversity ||
         metric == kRecommendationNovelty || metric == kCatalogueCoverage ||
         metric == kExposureGini;
}

absl::Status Rule::ValidateQuality() const {
  const bool coverage = IsConformalCoverageMetric(metric);
  const bool recommendation = IsRecommendationMetric(metric);
  // Gini is the one whose rise is the harm.
  const Comparison direction =
      coverage || (recommendation && metric != kExposureGini)
          ? Comparison::kBelow
          : Comparison::kAbove;
  if (comparison != direction) {
    return RuleError(
        id, absl::StrCat(metric, " breaches ",
                         direction == Comparison::kBelow ? "below" : "above"));
  }
  if (!attributes.empty() && metric != kGroupConformalCoverage) {
    return RuleError(
        id, absl::StrCat(metric, " is the model's: it takes no attributes"));
  }
  if (min_predictions_per_group || min_positives_per_group ||
      min_negatives_per_group || min_selected_in_reference_group) {
    return RuleError(
        id, absl::StrCat(metric, " takes min_sample.",
                         recommendation ? "lists" : "labelled", " only"));
  }
  if (recommendation && min_labelled != 0) {
    return RuleError(id, absl::StrCat(metric, " takes min_sample.lists only"));
  }
  if (coverage) {
    if (baseline != 0 || baseline_from_reference) {
      return RuleError(id, absl::StrCat(metric,
                                        " compares with the law of its own "
                                        "calibration: it takes no baseline"));
    }
  } else {
    // Widths, sizes, diversity and bits have no upper bound here; coverage
    // and Gini are shares.
    const bool share = metric == kCatalogueCoverage || metric == kExposureGini;
    if (!std::isfinite(baseline) || baseline < 0 || (share && baseline > 1)) {
      return RuleError(id, absl::StrCat("baseline must be in ",
                                        share ? "[0, 1]" : "[0, inf)", " for ",
                                        metric, ", got ", baseline));
    }
    if (baseline == 0 && !baseline_from_reference) {
      return RuleError(id, absl::StrCat(metric,
                                        " is a change from a baseline: give "
                                        "a baseline (a number, or "
                                        "\"reference\")"));
    }
  }
  if (recommendation && window <= absl::ZeroDuration()) {
    return RuleError(id, absl::StrCat(metric,
                                      " compares consecutive windows: it "
                                      "needs a window"));
  }
  for (const auto& [level, threshold] :
       {std::pair{"warning", &warning}, std::pair{"critical", &critical}}) {
    if (!threshold->has_value()) continue;
    const Threshold& t = **threshold;
    if (coverage) {
      if (absl::Status s = ValidateCoverageLevel(*this, level, t); !s.ok()) {
        return s;
      }
    } else if (absl::Status s = ValidateChangeLevel(*this, level, t); !s.ok()) {
      return s;
    }
  }
  if (!coverage && warning.has_value() && critical.has_value()) {
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
  return absl::OkStatus();
}

}  // namespace vigie::rules
