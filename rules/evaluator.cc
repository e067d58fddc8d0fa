#include "rules/evaluator.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "monitors/fairness.h"
#include "monitors/stats.h"
#include "rules/quality_rules.h"

namespace vigie::rules {
namespace {

using monitors::GapValue;
using monitors::GroupRates;

// The per-group rate a metric compares, and how to read its numerator and
// denominator from a group's counts.
enum class Rate { kSelection, kTruePositive, kFalsePositive };

absl::string_view RateName(Rate rate) {
  switch (rate) {
    case Rate::kSelection:
      return "selection rate";
    case Rate::kTruePositive:
      return "true positive rate";
    case Rate::kFalsePositive:
      return "false positive rate";
  }
  return "";
}

struct Proportion {
  uint64_t x = 0;
  uint64_t n = 0;
};

Proportion CountsOf(const GroupRates& group, Rate rate) {
  switch (rate) {
    case Rate::kSelection:
      return {group.selected, group.predictions};
    case Rate::kTruePositive:
      return {group.true_positives, group.positives()};
    case Rate::kFalsePositive:
      return {group.false_positives, group.negatives()};
  }
  return {};
}

const GroupRates* FindGroup(const std::vector<GroupRates>& groups,
                            absl::string_view label) {
  for (const GroupRates& group : groups) {
    if (group.group == label) return &group;
  }
  return nullptr;
}

// The gap of `metric` and the rate it compares. Equalized odds takes the
// rate of the larger of its two gaps (TPR on a tie, as ComputeGaps does).
std::pair<GapValue, Rate> MetricGap(absl::string_view metric,
                                    const monitors::FairnessGaps& gaps) {
  if (metric == kDemographicParityDifference) {
    return {gaps.demographic_parity_difference, Rate::kSelection};
  }
  if (metric == kDemographicParityRatio) {
    return {gaps.demographic_parity_ratio, Rate::kSelection};
  }
  if (metric == kTruePositiveRateDifference) {
    return {gaps.true_positive_rate_difference, Rate::kTruePositive};
  }
  if (metric == kFalsePositiveRateDifference) {
    return {gaps.false_positive_rate_difference, Rate::kFalsePositive};
  }
  const GapValue& tpr = gaps.true_positive_rate_difference;
  const GapValue& fpr = gaps.false_positive_rate_difference;
  const bool fpr_larger = fpr.value.has_value() &&
                          (!tpr.value.has_value() || *fpr.value > *tpr.value);
  return {gaps.equalized_odds_difference,
          fpr_larger ? Rate::kFalsePositive : Rate::kTruePositive};
}

// Why `group` misses the rule's minimum sample; empty if it meets it.
std::vector<std::string> Shortfalls(const Rule& rule, const GroupRates& group) {
  std::vector<std::string> out;
  if (!group.included_in_gaps) {
    out.push_back("below the monitor's min_group_size");
  }
  if (group.predictions < rule.min_predictions_per_group) {
    out.push_back(absl::StrCat(group.predictions, " predictions < ",
                               rule.min_predictions_per_group));
  }
  if (group.positives() < rule.min_positives_per_group) {
    out.push_back(absl::StrCat(group.positives(), " labelled positives < ",
                               rule.min_positives_per_group));
  }
  if (group.negatives() < rule.min_negatives_per_group) {
    out.push_back(absl::StrCat(group.negatives(), " labelled negatives < ",
                               rule.min_negatives_per_group));
  }
  return out;
}

// Why `threshold` does not hold; empty if it holds. A min_interval_lower
// condition fails closed when no interval was computed (ratio metrics).
std::string FailedCondition(const Finding& finding, const Threshold& threshold,
                            double baseline) {
  const bool above = finding.comparison == Comparison::kAbove;
  if (!finding.value.has_value()) return "no value";
  const double level = baseline + threshold.value;
  if (above ? !(*finding.value > level) : !(*finding.value < level)) {
    return absl::StrCat("not ", above ? "above " : "below ",
                        FormatLevel(level));
  }
  // Adjusted for the rule's other tests when there were any.
  const std::optional<double> p = finding.adjusted_p_value.has_value()
                                      ? finding.adjusted_p_value
                                      : finding.p_value;
  if (threshold.max_p_value.has_value() &&
      !(p.has_value() && *p < *threshold.max_p_value)) {
    return absl::StrFormat(
        "%s = %.2g not below %s",
        finding.adjusted_p_value.has_value() ? "Holm-adjusted p" : "p",
        p.value_or(1.0), FormatLevel(*threshold.max_p_value));
  }
  if (threshold.min_interval_lower.has_value()) {
    if (!finding.interval.has_value()) {
      return "no confidence interval for this metric to check "
             "min_interval_lower against";
    }
    const double lower = baseline + *threshold.min_interval_lower;
    if (!(finding.interval->lower > lower)) {
      return absl::StrFormat("CI lower bound %.4f not above %s",
                             finding.interval->lower, FormatLevel(lower));
    }
  }
  return "";
}

Finding Insufficient(Finding finding, const Rule& rule, const Policy& policy,
                     absl::string_view why) {
  finding.severity = Severity::kInsufficientData;
  finding.value.reset();
  finding.interval.reset();
  finding.p_value.reset();
  finding.message = absl::StrCat(finding.metric, " for ", finding.attribute,
                                 ": insufficient data for rule ", rule.id,
                                 " — ", why, ". ", Citation(rule, policy), ".");
  return finding;
}

// The finding of a rule whose baseline is the reference window when that
// gives no value: not frozen yet, or short of the rule's sample there
// (`why_not`, the reference's own finding).
Finding NoReference(const Rule& rule, const Policy& policy,
                    const std::string& model_id, const std::string& attribute,
                    const Reference* reference, absl::string_view why_not) {
  return Insufficient(
      StartFinding(rule, model_id, attribute), rule, policy,
      reference == nullptr
          ? std::string("its baseline is the model's reference window, which "
                        "is not complete and frozen yet (or the model has "
                        "no reference_window)")
          : absl::StrCat("its baseline is the model's ", reference->description,
                         ", which gives no value: ", why_not));
}

}  // namespace

std::string FormatLevel(double value) {
  // Two decimals reads like a policy ("0.10"); more only when needed.
  std::string fixed = absl::StrFormat("%.2f", value);
  double parsed = 0;
  return absl::SimpleAtod(fixed, &parsed) && std::abs(parsed - value) < 1e-12
             ? fixed
             : absl::StrFormat("%g", value);
}

std::string Citation(const Rule& rule, const Policy& policy) {
  std::string out = absl::StrCat(policy.referential, " ", rule.element);
  if (!rule.related_elements.empty()) {
    absl::StrAppend(&out, " (also ", absl::StrJoin(rule.related_elements, ", "),
                    ")");
  }
  if (!rule.ai_act_articles.empty()) {
    absl::StrAppend(&out, "; AI Act ",
                    absl::StrJoin(rule.ai_act_articles, ", "));
  }
  return out;
}

Finding StartFinding(const Rule& rule, const std::string& model_id,
                     const std::string& attribute) {
  Finding finding;
  finding.rule_id = rule.id;
  finding.model_id = model_id;
  finding.metric = rule.metric;
  finding.attribute = attribute;
  finding.comparison = rule.comparison;
  finding.threshold =
      rule.baseline +
      (rule.warning.has_value()
           ? rule.warning->value
           : (rule.critical.has_value() ? rule.critical->value : 0));
  if (rule.baseline != 0) finding.baseline = rule.baseline;
  return finding;
}

std::string Grade(const Rule& rule, Finding& finding,
                  const std::function<std::string(const Threshold&)>& fails,
                  const std::function<double(const Threshold&)>& threshold_of) {
  auto threshold = [&](const Threshold& level) {
    return threshold_of ? threshold_of(level) : rule.baseline + level.value;
  };
  std::string warning_fail, critical_fail;
  if (rule.critical.has_value()) {
    critical_fail = fails(*rule.critical);
    if (critical_fail.empty()) {
      finding.severity = Severity::kCritical;
      finding.threshold = threshold(*rule.critical);
    }
  }
  if (!finding.severity.has_value() && rule.warning.has_value()) {
    warning_fail = fails(*rule.warning);
    if (warning_fail.empty()) {
      finding.severity = Severity::kWarning;
      finding.threshold = threshold(*rule.warning);
    }
  }
  if (!finding.severity.has_value() && threshold_of) {
    finding.threshold =
        threshold(rule.warning.has_value() ? *rule.warning : *rule.critical);
  }
  if (!finding.severity.has_value()) {
    return absl::StrCat("breaches no threshold of rule ", rule.id, " (",
                        rule.warning.has_value()
                            ? absl::StrCat("warning: ", warning_fail)
                            : absl::StrCat("critical: ", critical_fail),
                        ")");
  }
  std::string verdict = absl::StrCat(
      "is ", rule.comparison == Comparison::kAbove ? "above" : "below", " the ",
      finding.severity == Severity::kCritical ? "critical" : "warning",
      " threshold ", FormatLevel(finding.threshold), " of rule ", rule.id);
  // Say why a warning is not critical: for a gap, the interval is usually
  // the reason; for calibration, the noise floor.
  if (finding.severity == Severity::kWarning && rule.critical.has_value()) {
    absl::StrAppend(&verdict, " (not critical: ", critical_fail, ")");
  }
  return verdict;
}

Finding EvaluateRule(const Rule& rule, const Policy& policy,
                     const std::string& model_id, const std::string& attribute,
                     const monitors::FairnessMetrics& metrics,
                     const TestFamily* family) {
  // Healthy and insufficient findings report the first level to breach.
  Finding finding = StartFinding(rule, model_id, attribute);

  std::vector<GroupRates> kept;
  std::vector<std::string> lacking;
  for (const GroupRates& group : metrics.groups) {
    std::vector<std::string> shortfalls = Shortfalls(rule, group);
    if (shortfalls.empty()) {
      kept.push_back(group);
      finding.samples.push_back({group.group, group.predictions,
                                 group.positives(), group.negatives()});
    } else {
      finding.excluded_groups.push_back(group.group);
      lacking.push_back(
          absl::StrCat(group.group, ": ", absl::StrJoin(shortfalls, ", ")));
    }
  }
  if (kept.size() < 2) {
    std::string why = absl::StrCat(kept.size(), " of ", metrics.groups.size(),
                                   " groups meet the minimum sample");
    if (!lacking.empty()) {
      absl::StrAppend(&why, " (", absl::StrJoin(lacking, "; "), ")");
    }
    return Insufficient(std::move(finding), rule, policy, why);
  }

  const monitors::FairnessGaps gaps = monitors::ComputeGaps(kept);
  const auto [gap, rate] = MetricGap(rule.metric, gaps);
  const GroupRates* high = FindGroup(kept, gap.high_group);
  const GroupRates* low = FindGroup(kept, gap.low_group);
  // ComputeGaps breaks ties towards the first group, so equal rates may name
  // one group twice: then compare it with another group with that rate.
  if (high != nullptr && high == low) {
    for (const GroupRates& group : kept) {
      if (&group != high && CountsOf(group, rate).n > 0) {
        low = &group;
        break;
      }
    }
  }
  if (!gap.value.has_value() || high == nullptr || low == nullptr) {
    return Insufficient(
        std::move(finding), rule, policy,
        absl::StrCat("fewer than two groups have a defined ", RateName(rate)));
  }
  if (rule.min_selected_in_reference_group > 0) {
    const GroupRates* reference =
        FindGroup(kept, gaps.demographic_parity_difference.high_group);
    if (reference == nullptr ||
        reference->selected < rule.min_selected_in_reference_group) {
      return Insufficient(
          std::move(finding), rule, policy,
          absl::StrCat("the reference group ",
                       reference == nullptr ? "(none)" : reference->group,
                       " has ", reference == nullptr ? 0 : reference->selected,
                       " positive decisions < ",
                       rule.min_selected_in_reference_group));
    }
  }

  finding.value = *gap.value;
  finding.high_group = high->group;
  finding.low_group = low->group;
  const Proportion hi = CountsOf(*high, rate);
  const Proportion lo = CountsOf(*low, rate);
  // The z-test, or Fisher's exact test when an expected cell is below 5:
  // small groups must not pass for significant on an approximation.
  const monitors::ProportionComparison test =
      monitors::TestProportions(hi.x, hi.n, lo.x, lo.n, rule.confidence);
  finding.p_value = test.p_value;
  if (family != nullptr && family->size >= 2) {
    finding.adjusted_p_value = family->adjusted_p_value;
    finding.tests_in_family = family->size;
  }
  // A difference interval says nothing about a ratio's own uncertainty, so
  // ratio rules carry no interval (and min_interval_lower never holds).
  if (rule.metric != kDemographicParityRatio) {
    finding.interval = test.difference_interval;
  }

  const std::string verdict =
      Grade(rule, finding, [&](const Threshold& threshold) {
        return FailedCondition(finding, threshold, rule.baseline);
      });

  // The message: value, the pair's rates, the test, then the verdict.
  const double high_rate =
      static_cast<double>(hi.x) / static_cast<double>(hi.n);
  const double low_rate = static_cast<double>(lo.x) / static_cast<double>(lo.n);
  std::string detail =
      absl::StrFormat("%s %s %.4f vs %s %.4f", RateName(rate), high->group,
                      high_rate, low->group, low_rate);
  if (finding.interval.has_value()) {
    absl::StrAppend(
        &detail, absl::StrFormat("; %g%% CI of the difference [%.4f, %.4f]",
                                 rule.confidence * 100, finding.interval->lower,
                                 finding.interval->upper));
  }
  absl::StrAppend(
      &detail,
      absl::StrFormat(", p = %.2g (%s)", test.p_value,
                      test.test == monitors::ProportionTest::kFisherExact
                          ? "Fisher's exact test"
                          : "two-proportion z-test"));
  if (finding.adjusted_p_value.has_value()) {
    absl::StrAppend(
        &detail,
        absl::StrFormat(", %.2g adjusted for the rule's %d tests "
                        "(Holm)",
                        *finding.adjusted_p_value, finding.tests_in_family));
  }
  if (rule.baseline != 0) {
    absl::StrAppend(&detail, "; thresholds relative to the baseline ",
                    FormatLevel(rule.baseline));
  }
  finding.message =
      absl::StrCat(finding.metric, " for ", attribute, " = ",
                   absl::StrFormat("%.4f", *finding.value), " (", detail, ") ",
                   verdict, " — ", Citation(rule, policy), ".");
  if (!finding.excluded_groups.empty()) {
    absl::StrAppend(&finding.message, " Left out for lack of data: ",
                    absl::StrJoin(lacking, "; "), ".");
  }
  if (finding.severity == Severity::kCritical && !rule.runbook.empty()) {
    absl::StrAppend(&finding.message, " ", rule.runbook);
  }
  return finding;
}

std::vector<Finding> Evaluate(const Policy& policy, const std::string& model_id,
                              const monitors::ModelMetrics& metrics,
                              const ModelActivity* activity,
                              const Reference* reference,
                              const DriftInputs* drift,
                              const ConformalInputs* conformal,
                              const RecommendationInputs* recommendation) {
  std::vector<Finding> findings;
  for (const Rule& base : policy.rules) {
    if (!base.models.empty() &&
        std::find(base.models.begin(), base.models.end(), model_id) ==
            base.models.end()) {
      continue;
    }
    if (base.metric == kMissedWindows) {
      // Only models expected to send events have a liveness to watch.
      if (activity == nullptr || activity->expected <= absl::ZeroDuration()) {
        continue;
      }
      const Rule rule = policy.Resolve(base, model_id);
      if (rule.enabled) {
        findings.push_back(
            EvaluateLivenessRule(rule, policy, model_id, *activity));
      }
      continue;
    }
    if (base.metric == kPopulationStabilityIndex ||
        base.metric == kFeatureDrift || base.metric == kDriftedFeatureShare ||
        base.metric == kErrorRateChanges ||
        base.metric == kErrorChangeWindows) {
      // Only for a model whose drift is watched (the caller says so).
      if (drift == nullptr) continue;
      for (Finding& finding :
           EvaluateDriftRule(base, policy, model_id, *drift)) {
        findings.push_back(std::move(finding));
      }
      continue;
    }
    // The caller evaluates these with EvaluateFootprintRule (footprint_rule.h).
    if (IsFootprintMetric(base.metric)) continue;
    if (IsConformalMetric(base.metric) || IsRecommendationMetric(base.metric)) {
      // Only for a model that makes such predictions (the caller says so).
      std::vector<Finding> quality;
      if (IsConformalMetric(base.metric) && conformal != nullptr) {
        quality = EvaluateConformalRule(base, policy, model_id, *conformal);
      } else if (IsRecommendationMetric(base.metric) &&
                 recommendation != nullptr) {
        quality =
            EvaluateRecommendationRule(base, policy, model_id, *recommendation);
      }
      for (Finding& finding : quality) findings.push_back(std::move(finding));
      continue;
    }
    // Evaluated by the caller, with the model's declared level and its
    // performance estimate (EvaluatePerformanceRule).
    if (base.metric == kDeclaredPerformance) continue;
    if (base.metric == kExpectedCalibrationError) {
      Rule rule = policy.Resolve(base, model_id);
      if (!rule.enabled) continue;
      if (rule.baseline_from_reference) {
        const Finding baseline = EvaluateCalibrationRule(
            rule, policy, model_id,
            reference != nullptr ? reference->metrics.calibration
                                 : std::nullopt);
        if (!baseline.value.has_value()) {
          findings.push_back(NoReference(rule, policy, model_id, "", reference,
                                         baseline.message));
          continue;
        }
        rule.baseline = *baseline.value;
      }
      Finding finding =
          EvaluateCalibrationRule(rule, policy, model_id, metrics.calibration);
      if (rule.baseline_from_reference) {
        finding.baseline = rule.baseline;
        finding.baseline_source = reference->description;
      }
      findings.push_back(std::move(finding));
      continue;
    }
    // The attributes the rule covers here, each with the rule as its
    // overrides make it, then the family of their tests.
    struct Covered {
      const std::string* attribute;
      const monitors::FairnessMetrics* fairness;
      Rule rule;
    };
    std::vector<Covered> covered;
    for (const auto& [attribute, fairness] : metrics.fairness) {
      if (!base.attributes.empty() &&
          std::find(base.attributes.begin(), base.attributes.end(),
                    attribute) == base.attributes.end()) {
        continue;
      }
      Rule rule = policy.Resolve(base, model_id, attribute);
      if (!rule.enabled) continue;
      if (rule.baseline_from_reference) {
        const monitors::FairnessMetrics* then = nullptr;
        if (reference != nullptr) {
          auto it = reference->metrics.fairness.find(attribute);
          if (it != reference->metrics.fairness.end()) then = &it->second;
        }
        const Finding baseline =
            then != nullptr
                ? EvaluateRule(rule, policy, model_id, attribute, *then)
                : Finding();
        if (!baseline.value.has_value()) {
          findings.push_back(NoReference(rule, policy, model_id, attribute,
                                         reference, baseline.message));
          continue;
        }
        rule.baseline = *baseline.value;
      }
      covered.push_back({&attribute, &fairness, std::move(rule)});
    }
    std::vector<Finding> raw;
    std::vector<double> p_values;
    for (const Covered& c : covered) {
      raw.push_back(
          EvaluateRule(c.rule, policy, model_id, *c.attribute, *c.fairness));
      if (raw.back().p_value.has_value()) {
        p_values.push_back(*raw.back().p_value);
      }
    }
    for (size_t i = 0; i < covered.size(); ++i) {
      if (covered[i].rule.baseline_from_reference) {
        raw[i].baseline_source = reference->description;
      }
    }
    if (p_values.size() < 2) {
      for (Finding& finding : raw) findings.push_back(std::move(finding));
      continue;
    }
    const std::vector<double> adjusted = HolmAdjusted(p_values);
    size_t test = 0;
    for (size_t i = 0; i < covered.size(); ++i) {
      if (!raw[i].p_value.has_value()) {
        findings.push_back(std::move(raw[i]));
        continue;
      }
      const TestFamily family{adjusted[test++], p_values.size()};
      findings.push_back(EvaluateRule(covered[i].rule, policy, model_id,
                                      *covered[i].attribute,
                                      *covered[i].fairness, &family));
      findings.back().baseline_source = raw[i].baseline_source;
    }
  }
  return findings;
}

std::string ScopeKey(const Finding& finding) {
  if (finding.feature.empty()) return finding.attribute;
  return absl::StrCat("feature:", finding.feature);
}

std::vector<double> HolmAdjusted(const std::vector<double>& p_values) {
  const size_t m = p_values.size();
  std::vector<size_t> order(m);
  for (size_t i = 0; i < m; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return p_values[a] < p_values[b];
  });
  std::vector<double> adjusted(m);
  double running = 0;  // Adjusted values never decrease along the order.
  for (size_t rank = 0; rank < m; ++rank) {
    const size_t i = order[rank];
    running = std::max(
        running, std::min(1.0, static_cast<double>(m - rank) * p_values[i]));
    adjusted[i] = running;
  }
  return adjusted;
}

}  // namespace vigie::rules
