// Rules K1-K3's kind: the coverage of a model's conformal intervals or sets
// against the law a sound predictor's coverage follows, overall and per
// group, and the change of their sizes against a baseline.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "monitors/conformal.h"
#include "monitors/conformal_metrics.h"
#include "rules/evaluator.h"
#include "rules/policy.h"
#include "rules/quality_rules.h"

namespace vigie::rules {
namespace {

using monitors::ConformalGate;
using monitors::ConformalMetrics;
using monitors::ConformalScopeMetrics;

// Groups listed in a K3 message; the rest are counted.
constexpr size_t kListedGroups = 10;

Finding Insufficient(Finding finding, const Rule& rule, const Policy& policy,
                     const std::string& what, const std::string& why) {
  finding.severity = Severity::kInsufficientData;
  finding.value.reset();
  finding.p_value.reset();
  finding.interval.reset();
  finding.message = absl::StrCat(finding.metric, " of ", what,
                                 ": insufficient data for rule ", rule.id,
                                 " — ", why, ". ", Citation(rule, policy), ".");
  return finding;
}

// The message: what was measured, the verdict, the citation, the groups
// left out (`lacking`, why each) and, when critical, the runbook.
void Finish(const Rule& rule, const Policy& policy, Finding& finding,
            const std::string& what, const std::string& verdict,
            const std::vector<std::string>& lacking = {}) {
  finding.message =
      absl::StrCat(what, " ", verdict, " — ", Citation(rule, policy), ".");
  if (!lacking.empty()) {
    absl::StrAppend(&finding.message, " Left out for lack of data: ",
                    absl::StrJoin(lacking, "; "), ".");
  }
  if (finding.severity == Severity::kCritical && !rule.runbook.empty()) {
    absl::StrAppend(&finding.message, " ", rule.runbook);
  }
}

bool Is(double value, double level) { return std::abs(value - level) < 1e-12; }

// One level of a coverage rule checked on one gate: whether any of its
// conditions holds, which (or why none), and the threshold to report.
struct LevelCheck {
  bool holds = false;
  std::string why;
  double threshold = 0;
};

// `p` is the gate's p-value, or its Holm-adjusted one when `adjusted`.
LevelCheck CheckCoverage(const Threshold& level, const ConformalGate& gate,
                         double p, bool adjusted) {
  // The coverage the law's tail condition amounts to, when the gate has it.
  std::optional<double> quantile;
  if (level.max_p_value.has_value() && !adjusted) {
    if (Is(*level.max_p_value, 0.05)) quantile = gate.quantile_05;
    if (Is(*level.max_p_value, 0.001)) quantile = gate.quantile_001;
  }
  const std::string p_name = adjusted ? "Holm-adjusted p" : "p";
  std::optional<double> floor;
  if (level.min_shortfall.has_value()) {
    floor = 1 - gate.alpha - *level.min_shortfall;
  }
  const bool tail = level.max_p_value.has_value() && p < *level.max_p_value;
  const bool short_of = floor.has_value() && gate.coverage < *floor;
  LevelCheck check;
  check.holds = tail || short_of;
  // Prefer reporting a threshold in coverage.
  if (tail && (quantile.has_value() || !short_of)) {
    check.threshold = quantile.value_or(*level.max_p_value);
    check.why = absl::StrFormat("%s = %.3g below %s", p_name, p,
                                FormatLevel(*level.max_p_value));
    if (quantile.has_value()) {
      absl::StrAppend(&check.why,
                      absl::StrFormat(": coverage below the law's %g%% "
                                      "quantile %.4f",
                                      *level.max_p_value * 100, *quantile));
    }
    return check;
  }
  if (short_of) {
    check.threshold = *floor;
    check.why = absl::StrFormat(
        "coverage more than %s below the nominal %.4f: below %.4f",
        FormatLevel(*level.min_shortfall), 1 - gate.alpha, *floor);
    return check;
  }
  // Neither: the threshold a coverage would have to fall below, if known.
  check.threshold = quantile.has_value() && floor.has_value()
                        ? std::max(*quantile, *floor)
                    : quantile.has_value() ? *quantile
                    : floor.has_value()    ? *floor
                                           : level.max_p_value.value_or(0);
  std::vector<std::string> why;
  if (level.max_p_value.has_value()) {
    why.push_back(absl::StrFormat("%s = %.3g not below %s", p_name, p,
                                  FormatLevel(*level.max_p_value)));
  }
  if (floor.has_value()) {
    why.push_back(absl::StrFormat(
        "coverage %.4f not below 1 - alpha - %s = %.4f", gate.coverage,
        FormatLevel(*level.min_shortfall), *floor));
  }
  check.why = absl::StrJoin(why, ", and ");
  return check;
}

// The severity of `rule` on one gate, critical first.
std::optional<Severity> SeverityOf(const Rule& rule, const ConformalGate& gate,
                                   double p, bool adjusted) {
  if (rule.critical && CheckCoverage(*rule.critical, gate, p, adjusted).holds) {
    return Severity::kCritical;
  }
  if (rule.warning && CheckCoverage(*rule.warning, gate, p, adjusted).holds) {
    return Severity::kWarning;
  }
  return std::nullopt;
}

// Sets the finding's severity and threshold; returns the verdict.
std::string GradeCoverage(const Rule& rule, Finding& finding,
                          const ConformalGate& gate, double p, bool adjusted) {
  std::optional<LevelCheck> critical, warning;
  if (rule.critical) {
    critical = CheckCoverage(*rule.critical, gate, p, adjusted);
  }
  if (rule.warning) warning = CheckCoverage(*rule.warning, gate, p, adjusted);
  if (critical && critical->holds) {
    finding.severity = Severity::kCritical;
    finding.threshold = critical->threshold;
    return absl::StrCat("breaches the critical level of rule ", rule.id, " (",
                        critical->why, ")");
  }
  if (warning && warning->holds) {
    finding.severity = Severity::kWarning;
    finding.threshold = warning->threshold;
    std::string verdict = absl::StrCat("breaches the warning level of rule ",
                                       rule.id, " (", warning->why, ")");
    if (critical) {
      absl::StrAppend(&verdict, " (not critical: ", critical->why, ")");
    }
    return verdict;
  }
  const LevelCheck& first = warning ? *warning : *critical;
  finding.threshold = first.threshold;
  return absl::StrCat("breaches no level of rule ", rule.id, " (",
                      warning ? "warning: " : "critical: ", first.why, ")");
}

// The gate's evidence: the setting, its law, its quantiles and p-value.
std::string GateText(const ConformalGate& g) {
  const std::string law =
      g.beta_binomial
          ? absl::StrFormat("Beta-Binomial(m = %d, n_cal + 1 - l = %d, l = %d)",
                            g.count, g.calibration_size + 1 - g.rank, g.rank)
          : absl::StrFormat("Binomial(m = %d, 1 - alpha)", g.count);
  std::string out = absl::StrFormat(
      "%d of %d covered at alpha %g, %s (nominal %.4f)", g.covered, g.count,
      g.alpha,
      g.calibration_size == 0 ? std::string("n_cal unknown")
                              : absl::StrCat("n_cal ", g.calibration_size),
      1 - g.alpha);
  if (g.share < 1) {
    absl::StrAppend(&out, absl::StrFormat(", %.1f%% of the scope's "
                                          "observations, its dominant setting",
                                          g.share * 100));
  }
  absl::StrAppend(
      &out, absl::StrFormat("; law %s: expected %.4f, 5%% quantile %.4f, "
                            "0.1%% quantile %.4f; p = P(count <= %d) = %.3g",
                            law, g.expected_coverage, g.quantile_05,
                            g.quantile_001, g.covered, g.p_value));
  return out;
}

// All settings of a scope: coverage and its Wilson interval.
std::string ScopeText(const ConformalScopeMetrics& s) {
  std::string out = absl::StrFormat("all settings: %d observations", s.count);
  if (s.coverage.has_value()) {
    absl::StrAppend(&out, absl::StrFormat(", coverage %.4f", *s.coverage));
  }
  if (s.coverage_interval.has_value()) {
    absl::StrAppend(&out, absl::StrFormat(" (95%% Wilson interval [%.4f, "
                                          "%.4f])",
                                          s.coverage_interval->lower,
                                          s.coverage_interval->upper));
  }
  return out;
}

Finding CoverageFinding(const Rule& rule, const Policy& policy,
                        const std::string& model_id,
                        const ConformalInputs& inputs) {
  Finding finding = StartFinding(rule, model_id, "");
  const std::string what = absl::StrCat("model ", model_id);
  if (inputs.overall == nullptr || !inputs.overall->overall.gate.has_value()) {
    return Insufficient(std::move(finding), rule, policy, what,
                        "no labelled conformal prediction in the window");
  }
  const ConformalScopeMetrics& scope = inputs.overall->overall;
  const ConformalGate& gate = *scope.gate;
  if (gate.count < rule.min_labelled) {
    return Insufficient(
        std::move(finding), rule, policy, what,
        absl::StrFormat("%d labelled observations at alpha %g, n_cal %d "
                        "(the gate's setting) < %d",
                        gate.count, gate.alpha, gate.calibration_size,
                        rule.min_labelled));
  }
  finding.value = gate.coverage;
  finding.p_value = gate.p_value;
  finding.interval = scope.coverage_interval;
  finding.samples.push_back({scope.group, scope.count, 0, 0});
  const std::string verdict =
      GradeCoverage(rule, finding, gate, gate.p_value, false);
  Finish(rule, policy, finding,
         absl::StrFormat("Conformal coverage of model %s = %.4f (%s; %s)",
                         model_id, gate.coverage, GateText(gate),
                         ScopeText(scope)),
         verdict);
  return finding;
}

// K3 on one attribute's groups.
Finding GroupCoverageFinding(const Rule& rule, const Policy& policy,
                             const std::string& model_id,
                             const std::string& attribute,
                             const ConformalMetrics& metrics) {
  Finding finding = StartFinding(rule, model_id, attribute);
  std::vector<const ConformalScopeMetrics*> kept;
  std::vector<std::string> lacking;
  for (const ConformalScopeMetrics& group : metrics.groups) {
    if (group.group == monitors::ConformalMonitor::kOverflowGroup) continue;
    const uint64_t count = group.gate.has_value() ? group.gate->count : 0;
    if (!group.gate.has_value() || count < rule.min_labelled) {
      finding.excluded_groups.push_back(group.group);
      lacking.push_back(absl::StrCat(group.group, ": ", count,
                                     " labelled observations < ",
                                     rule.min_labelled));
      continue;
    }
    kept.push_back(&group);
    finding.samples.push_back({group.group, group.count, 0, 0});
  }
  const std::string what =
      absl::StrCat("model ", model_id, " for attribute ", attribute);
  if (kept.empty()) {
    std::string why = "no group has the minimum sample";
    if (!lacking.empty()) {
      absl::StrAppend(&why, " (", absl::StrJoin(lacking, "; "), ")");
    }
    return Insufficient(std::move(finding), rule, policy, what, why);
  }
  // The groups of one attribute are one family.
  std::vector<double> p_values;
  for (const ConformalScopeMetrics* group : kept) {
    p_values.push_back(group->gate->p_value);
  }
  const bool family = kept.size() >= 2;
  const std::vector<double> adjusted =
      family ? HolmAdjusted(p_values) : p_values;
  // The worst group: highest severity, smallest adjusted p, lowest coverage.
  std::vector<std::tuple<int, double, double>> rank;
  for (size_t i = 0; i < kept.size(); ++i) {
    const std::optional<Severity> severity =
        SeverityOf(rule, *kept[i]->gate, adjusted[i], family);
    const int level = !severity.has_value()            ? 0
                      : severity == Severity::kWarning ? 1
                                                       : 2;
    rank.emplace_back(-level, adjusted[i], kept[i]->gate->coverage);
  }
  std::vector<size_t> order(kept.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rank[a] < rank[b]; });
  const size_t worst = order.front();
  const ConformalGate& gate = *kept[worst]->gate;
  finding.low_group = kept[worst]->group;
  finding.value = gate.coverage;
  finding.p_value = gate.p_value;
  finding.interval = kept[worst]->coverage_interval;
  if (family) {
    finding.adjusted_p_value = adjusted[worst];
    finding.tests_in_family = kept.size();
  }
  const std::string verdict =
      GradeCoverage(rule, finding, gate, adjusted[worst], family);

  std::string text = absl::StrFormat(
      "Conformal coverage of model %s for attribute %s: worst group %s = "
      "%.4f (%s",
      model_id, attribute, finding.low_group, gate.coverage, GateText(gate));
  if (family) {
    absl::StrAppend(
        &text, absl::StrFormat(", %.3g Holm-adjusted over the "
                               "attribute's %d groups",
                               adjusted[worst], static_cast<int>(kept.size())));
  }
  absl::StrAppend(&text, "; ", ScopeText(*kept[worst]), ")");
  std::vector<std::string> groups;
  for (size_t k = 0; k < order.size() && k < kListedGroups; ++k) {
    const size_t i = order[k];
    groups.push_back(absl::StrFormat(
        "%s %.4f over %d (p %.3g%s)", kept[i]->group, kept[i]->gate->coverage,
        kept[i]->gate->count, kept[i]->gate->p_value,
        family ? absl::StrFormat(", adjusted %.3g", adjusted[i]) : ""));
  }
  absl::StrAppend(&text,
                  "; groups, worst first: ", absl::StrJoin(groups, ", "));
  if (order.size() > kListedGroups) {
    absl::StrAppend(&text, " and ", order.size() - kListedGroups, " more");
  }
  if (metrics.coverage_gap.has_value()) {
    absl::StrAppend(&text, absl::StrFormat("; coverage gap %.4f (%s - %s)",
                                           *metrics.coverage_gap,
                                           metrics.max_coverage_group,
                                           metrics.min_coverage_group));
  }
  Finish(rule, policy, finding, text, verdict, lacking);
  return finding;
}

// The mean size of a scope and why it gives none; `whose` names it.
std::optional<double> MeanSize(const Rule& rule, const ConformalMetrics* m,
                               const std::string& whose, std::string* why) {
  if (m == nullptr || m->overall.count == 0) {
    *why = absl::StrCat(whose, " has no labelled conformal prediction");
    return std::nullopt;
  }
  if (m->overall.count < rule.min_labelled) {
    *why = absl::StrCat(whose, " has ", m->overall.count,
                        " labelled observations < ", rule.min_labelled);
    return std::nullopt;
  }
  if (!m->overall.mean_size.has_value()) {
    *why = absl::StrCat(whose, " has no finite interval or set size");
    return std::nullopt;
  }
  return *m->overall.mean_size;
}

Finding SizeChangeFinding(const Rule& rule, const Policy& policy,
                          const std::string& model_id,
                          const ConformalInputs& inputs) {
  Finding finding = StartFinding(rule, model_id, "");
  // Levels are changes, not added to the baseline.
  finding.threshold = rule.warning ? rule.warning->value : rule.critical->value;
  const std::string what = absl::StrCat("model ", model_id);
  std::string why;
  const std::optional<double> mean =
      MeanSize(rule, inputs.overall, "the window", &why);
  if (!mean.has_value()) {
    return Insufficient(std::move(finding), rule, policy, what, why);
  }
  double baseline = rule.baseline;
  if (rule.baseline_from_reference) {
    if (inputs.baseline == nullptr) {
      return Insufficient(
          std::move(finding), rule, policy, what,
          "its baseline is the model's reference window, which is not "
          "complete and frozen yet (or the model has no reference_window)");
    }
    const std::optional<double> then = MeanSize(
        rule, inputs.baseline,
        absl::StrCat("its baseline, the model's ", inputs.baseline_description),
        &why);
    if (!then.has_value()) {
      return Insufficient(std::move(finding), rule, policy, what, why);
    }
    baseline = *then;
    finding.baseline_source = inputs.baseline_description;
  }
  if (!(baseline > 0)) {
    return Insufficient(std::move(finding), rule, policy, what,
                        "the baseline mean size is 0: no relative change");
  }
  const double change = *mean / baseline - 1;
  finding.value = change;
  finding.baseline = baseline;
  finding.samples.push_back(
      {inputs.overall->overall.group, inputs.overall->overall.count, 0, 0});
  const std::string verdict = Grade(
      rule, finding,
      [&](const Threshold& t) {
        return change >= t.value ? std::string()
                                 : absl::StrFormat("%+.1f%% below %+.1f%%",
                                                   change * 100, t.value * 100);
      },
      [](const Threshold& t) { return t.value; });
  const ConformalScopeMetrics& s = inputs.overall->overall;
  std::string text = absl::StrFormat(
      "Mean conformal interval width or set size of model %s = %.4g, %+.1f%% "
      "vs the baseline %.4g (%s) over %d labelled observations",
      model_id, *mean, change * 100, baseline, finding.baseline_source,
      s.count);
  if (s.coverage.has_value()) {
    absl::StrAppend(&text, absl::StrFormat(", coverage %.4f", *s.coverage));
  }
  absl::StrAppend(
      &text, absl::StrFormat(" (empty %d, full or unbounded %d, infinite %d)",
                             s.empty, s.full, s.infinite));
  Finish(rule, policy, finding, text, verdict);
  return finding;
}

}  // namespace

std::vector<Finding> EvaluateConformalRule(const Rule& base,
                                           const Policy& policy,
                                           const std::string& model_id,
                                           const ConformalInputs& inputs) {
  std::vector<Finding> findings;
  if (base.metric == kGroupConformalCoverage) {
    for (const auto& [attribute, metrics] : inputs.by_attribute) {
      if (!base.attributes.empty() &&
          std::find(base.attributes.begin(), base.attributes.end(),
                    attribute) == base.attributes.end()) {
        continue;
      }
      const Rule rule = policy.Resolve(base, model_id, attribute);
      if (!rule.enabled) continue;
      findings.push_back(
          GroupCoverageFinding(rule, policy, model_id, attribute, metrics));
    }
    return findings;
  }
  const Rule rule = policy.Resolve(base, model_id);
  if (!rule.enabled) return findings;
  if (base.metric == kConformalCoverage) {
    findings.push_back(CoverageFinding(rule, policy, model_id, inputs));
  } else if (base.metric == kConformalSizeChange) {
    findings.push_back(SizeChangeFinding(rule, policy, model_id, inputs));
  }
  return findings;
}

}  // namespace vigie::rules
