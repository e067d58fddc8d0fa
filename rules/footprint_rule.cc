// Rule E1's kind: energy and carbon per 1,000 predictions against the
// model's baseline (+20% / +50% by default) and budget (80% / 100%).

#include "rules/footprint_rule.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "monitors/footprint.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

absl::Status RuleError(absl::string_view id, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("rule ", id, ": ", what));
}

// Slack of the comparisons, so that a figure exactly at its level (12 J
// against a 10 J baseline and +20%) holds despite the rounding of the
// division.
constexpr double kSlack = 1e-9;

// One quantity's figures, as the finding reads them.
struct Quantity {
  const char* scope;
  const char* name;  // "Energy", "Carbon".
  const char* unit;  // "J", "gCO2e".
  std::optional<double> value;
  std::optional<monitors::Interval> interval;
  uint64_t sample = 0;
  const FootprintTarget* target;
};

// The lowest figure at which `t` holds; infinite when it cannot.
double LevelFigure(const Threshold& t, const FootprintTarget& target) {
  double figure = HUGE_VAL;
  if (target.baseline.has_value() && *target.baseline > 0) {
    figure = *target.baseline * (1 + t.value);
  }
  if (t.budget_share.has_value() && target.budget.has_value()) {
    figure = std::min(figure, *t.budget_share * *target.budget);
  }
  return figure;
}

Finding QuantityFinding(const Rule& rule, const Policy& policy,
                        const std::string& model_id,
                        const FootprintInputs& inputs, const Quantity& q) {
  Finding finding = StartFinding(rule, model_id, "");
  finding.feature = q.scope;
  finding.comparison = Comparison::kAbove;
  const FootprintTarget& target = *q.target;
  // The warning level's figure until Grade says otherwise (0 when it has
  // neither a baseline nor a budget to hold against).
  const double first =
      LevelFigure(rule.warning ? *rule.warning : *rule.critical, target);
  finding.threshold = std::isfinite(first) ? first : 0;
  finding.baseline.reset();
  const std::string what =
      absl::StrCat(q.name, " per 1,000 predictions of model ", model_id);
  const auto insufficient = [&](const std::string& why) {
    finding.severity = Severity::kInsufficientData;
    finding.message =
        absl::StrCat(finding.metric, " (", q.scope, ") of model ", model_id,
                     ": insufficient data for rule ", rule.id, " — ", why, ". ",
                     Citation(rule, policy), ".");
    return finding;
  };
  if (!inputs.full_window) {
    return insufficient(absl::StrCat(
        "the model's data does not cover one full window of ",
        absl::FormatDuration(rule.window), " yet (minimum sample)"));
  }
  if (!q.value.has_value()) {
    return insufficient(absl::StrCat("no prediction in the window carried ",
                                     q.scope == std::string(kEnergyScope)
                                         ? "a cost"
                                         : "a cost with a carbon intensity"));
  }
  const bool has_baseline = target.baseline.has_value() && *target.baseline > 0;
  if (!has_baseline && !target.budget.has_value()) {
    return insufficient(
        "no baseline yet: the model declares none (footprint.baseline_*_"
        "per_1000) and its reference window is not frozen yet, or had no "
        "such cost");
  }
  const double value = *q.value;
  finding.value = value;
  finding.interval = q.interval;
  if (has_baseline) {
    finding.baseline = target.baseline;
    finding.baseline_source = target.baseline_source;
  } else {
    finding.baseline_source.clear();
  }
  finding.samples.push_back({q.scope, q.sample, 0, 0});
  const std::optional<double> change =
      has_baseline ? monitors::RelativeChange(value, target.baseline)
                   : std::nullopt;
  const std::string verdict = Grade(
      rule, finding,
      [&](const Threshold& t) -> std::string {
        if (change.has_value() && *change >= t.value - kSlack) return "";
        if (t.budget_share.has_value() && target.budget.has_value() &&
            value >= *t.budget_share * *target.budget * (1 - kSlack)) {
          return "";
        }
        std::string why =
            change.has_value()
                ? absl::StrFormat("%+.1f%% vs baseline, below %+.1f%%",
                                  *change * 100, t.value * 100)
                : std::string("no baseline");
        if (t.budget_share.has_value() && target.budget.has_value()) {
          absl::StrAppend(
              &why, absl::StrFormat("; %.1f%% of the budget, below %.0f%%",
                                    value / *target.budget * 100,
                                    *t.budget_share * 100));
        }
        return why;
      },
      [&](const Threshold& t) {
        const double figure = LevelFigure(t, target);
        return std::isfinite(figure) ? figure : 0;
      });
  std::string text = absl::StrFormat("%s = %.6g %s over %d predictions", what,
                                     value, q.unit, q.sample);
  if (q.interval.has_value()) {
    absl::StrAppend(
        &text, absl::StrFormat(" (95%% CI %.6g to %.6g)", q.interval->lower,
                               q.interval->upper));
  }
  if (change.has_value()) {
    absl::StrAppend(
        &text,
        absl::StrFormat(", %+.1f%% vs the baseline %.6g %s (%s)", *change * 100,
                        *target.baseline, q.unit, target.baseline_source));
  }
  if (target.budget.has_value()) {
    absl::StrAppend(&text, absl::StrFormat(", %.1f%% of the budget %.6g %s",
                                           value / *target.budget * 100,
                                           *target.budget, q.unit));
  }
  finding.message =
      absl::StrCat(text, " ", verdict, " — ", Citation(rule, policy), ".");
  if (finding.severity == Severity::kCritical && !rule.runbook.empty()) {
    absl::StrAppend(&finding.message, " ", rule.runbook);
  }
  return finding;
}

}  // namespace

bool IsFootprintMetric(absl::string_view metric) {
  return metric == kFootprintPer1000;
}

absl::Status ValidateFootprintRule(const Rule& rule) {
  const std::string& id = rule.id;
  if (rule.comparison != Comparison::kAbove) {
    return RuleError(id, absl::StrCat(rule.metric, " breaches above"));
  }
  if (rule.window <= absl::ZeroDuration()) {
    return RuleError(id, absl::StrCat(rule.metric,
                                      " needs a window: its minimum sample "
                                      "is one full window"));
  }
  if (!rule.attributes.empty() || !rule.features.empty()) {
    return RuleError(id, absl::StrCat(rule.metric,
                                      " is the model's: it takes no "
                                      "attributes or features"));
  }
  if (rule.baseline != 0 || rule.baseline_from_reference) {
    return RuleError(
        id, absl::StrCat(rule.metric,
                         " takes its baselines from the model's footprint "
                         "configuration, else its reference window: it "
                         "takes no baseline"));
  }
  if (rule.min_predictions_per_group || rule.min_positives_per_group ||
      rule.min_negatives_per_group || rule.min_selected_in_reference_group ||
      rule.min_labelled || rule.min_lists || rule.min_current_values ||
      rule.min_reference_values) {
    return RuleError(id, absl::StrCat(rule.metric,
                                      " takes no min_sample: its minimum "
                                      "sample is one full window"));
  }
  for (const auto& [level, threshold] :
       {std::pair{"warning", &rule.warning},
        std::pair{"critical", &rule.critical}}) {
    if (!threshold->has_value()) continue;
    const Threshold& t = **threshold;
    if (!std::isfinite(t.value) || t.value < 0 || t.value > 100) {
      return RuleError(id, absl::StrCat(level,
                                        ".value (a relative change) must be "
                                        "in [0, 100], got ",
                                        t.value));
    }
    if (t.budget_share.has_value() &&
        !(*t.budget_share > 0 && *t.budget_share <= 10)) {
      return RuleError(id, absl::StrCat(level,
                                        ".budget_share must be in (0, 10], "
                                        "got ",
                                        *t.budget_share));
    }
    if (t.max_p_value || t.min_interval_lower || t.min_null_quantile ||
        t.min_shortfall || t.windows || t.worsening_windows) {
      return RuleError(id, absl::StrCat(level, ": ", rule.metric,
                                        " takes value and budget_share only"));
    }
  }
  if (rule.warning.has_value() && rule.critical.has_value() &&
      (rule.warning->value > rule.critical->value ||
       rule.warning->budget_share.value_or(0) >
           rule.critical->budget_share.value_or(HUGE_VAL))) {
    return RuleError(id,
                     "warning's value and budget_share must be <= "
                     "critical's");
  }
  return absl::OkStatus();
}

std::vector<Finding> EvaluateFootprintRule(const Rule& base,
                                           const Policy& policy,
                                           const std::string& model_id,
                                           const FootprintInputs& inputs) {
  const monitors::FootprintMetrics* w = inputs.window;
  const std::vector<Quantity> quantities = {
      {kEnergyScope, "Energy", "J",
       w ? w->energy_joules_per_1000 : std::nullopt,
       w ? w->energy_joules_per_1000_interval : std::nullopt, w ? w->costed : 0,
       &inputs.energy},
      {kCarbonScope, "Carbon", "gCO2e",
       w ? w->carbon_grams_per_1000 : std::nullopt,
       w ? w->carbon_grams_per_1000_interval : std::nullopt,
       w ? w->carbon_costed : 0, &inputs.carbon}};
  std::vector<Finding> findings;
  for (const Quantity& q : quantities) {
    // A quantity with no target, and none to come from a reference
    // window, is not this model's concern.
    const bool targeted =
        q.target->baseline.has_value() || q.target->budget.has_value();
    if (!targeted && !(inputs.reference_expected && q.value.has_value())) {
      continue;
    }
    const Rule rule = policy.Resolve(base, model_id, "", q.scope);
    if (!rule.enabled) continue;
    findings.push_back(QuantityFinding(rule, policy, model_id, inputs, q));
  }
  return findings;
}

}  // namespace vigie::rules
