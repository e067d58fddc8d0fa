// Rules R1-R3's kind: the diversity, novelty, catalogue coverage and
// exposure concentration of a recommender's lists against a frozen
// baseline, window after window.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "monitors/recommendation.h"
#include "rules/evaluator.h"
#include "rules/policy.h"
#include "rules/quality_rules.h"

namespace vigie::rules {
namespace {

using monitors::RecommendationMetrics;

// A change this close to a level reaches it: 0.45 / 0.5 - 1 is a hair
// above -0.1 in doubles.
constexpr double kTolerance = 1e-12;

// What a metric reads from a window: its value and the lists defining it.
struct Reading {
  std::optional<double> value;
  uint64_t lists = 0;
};

Reading Read(const std::string& metric, const RecommendationMetrics& m) {
  if (metric == kRecommendationDiversity)
    return {m.diversity, m.diversity_lists};
  if (metric == kRecommendationNovelty) return {m.novelty, m.novelty_lists};
  if (metric == kCatalogueCoverage) return {m.coverage, m.lists};
  return {m.exposure_gini, m.lists};
}

const char* Name(const std::string& metric) {
  if (metric == kRecommendationDiversity) return "Mean intra-list diversity";
  if (metric == kRecommendationNovelty) return "Mean novelty";
  if (metric == kCatalogueCoverage) return "Catalogue coverage";
  return "Exposure Gini";
}

const char* ListsName(const std::string& metric) {
  if (metric == kRecommendationDiversity) {
    return "lists with two items with features";
  }
  if (metric == kRecommendationNovelty) return "lists with a reference";
  return "lists";
}

// Gini moves by differences; the others by relative changes.
bool Relative(const std::string& metric) { return metric != kExposureGini; }

std::string FormatChange(const std::string& metric, double change) {
  return Relative(metric) ? absl::StrFormat("%+.1f%%", change * 100)
                          : absl::StrFormat("%+.4f", change);
}

// One window of a run: its value, and why it has none.
struct Window {
  uint64_t index = 0;
  std::optional<double> value;
  double change = 0;
  uint64_t lists = 0;
  std::string why_not;  // Empty when it has a value.
};

Window ReadWindow(const Rule& rule, const RecommendationInputs& inputs,
                  uint64_t index, double baseline) {
  Window w;
  w.index = index;
  auto it = inputs.by_window.find(index);
  if (it == inputs.by_window.end() || it->second.lists == 0) {
    w.why_not = "missing (no lists)";
    return w;
  }
  const Reading r = Read(rule.metric, it->second);
  w.lists = r.lists;
  if (r.lists < rule.min_lists || !r.value.has_value()) {
    w.why_not = absl::StrCat(r.lists, " ", ListsName(rule.metric), " < ",
                             std::max<uint64_t>(rule.min_lists, 1));
    return w;
  }
  w.value = r.value;
  w.change =
      Relative(rule.metric) ? *r.value / baseline - 1 : *r.value - baseline;
  return w;
}

std::string WindowText(const std::string& metric, const Window& w) {
  if (!w.value.has_value()) return absl::StrCat(w.index, ": ", w.why_not);
  return absl::StrFormat("%d: %.4f (%s, %d %s)", w.index, *w.value,
                         FormatChange(metric, w.change), w.lists,
                         ListsName(metric));
}

// Why `level` does not hold on `windows` (latest first); empty if it does.
std::string Fails(const Rule& rule, const Threshold& level,
                  const std::vector<Window>& windows) {
  const bool above = rule.comparison == Comparison::kAbove;
  auto reaches = [&](double change) {
    return above ? change >= level.value - kTolerance
                 : change <= level.value + kTolerance;
  };
  // The value condition, in each of the `windows` latest windows.
  std::string value_fails;
  const uint32_t run = level.windows.value_or(1);
  for (uint32_t i = 0; i < run && value_fails.empty(); ++i) {
    const Window& w = windows[i];
    if (!w.value.has_value()) {
      value_fails = absl::StrCat("window ", w.index, " ", w.why_not,
                                 " breaks the run of ", run, " windows");
    } else if (!reaches(w.change)) {
      value_fails =
          absl::StrCat(run == 1 ? "" : absl::StrCat("window ", w.index, ": "),
                       FormatChange(rule.metric, w.change), " not ",
                       above ? "at or above " : "at or below ",
                       FormatChange(rule.metric, level.value));
    }
  }
  if (value_fails.empty()) return "";
  if (!level.worsening_windows.has_value()) return value_fails;
  // Or worse in each of the N latest windows than in the one before.
  const uint32_t n = *level.worsening_windows;
  std::string trend_fails;
  for (uint32_t i = 0; i < n && trend_fails.empty(); ++i) {
    const Window& now = windows[i];
    const Window& before = windows[i + 1];
    if (!now.value.has_value() || !before.value.has_value()) {
      const Window& gap = now.value.has_value() ? before : now;
      trend_fails = absl::StrCat("window ", gap.index, " ", gap.why_not);
    } else if (above ? !(*now.value > *before.value)
                     : !(*now.value < *before.value)) {
      trend_fails =
          absl::StrCat("window ", now.index, " not ", above ? "above" : "below",
                       " window ", before.index);
    }
  }
  if (trend_fails.empty()) return "";
  return absl::StrCat(value_fails, "; nor ", above ? "rising" : "falling",
                      " in each of the last ", n, " windows: ", trend_fails);
}

Finding Insufficient(Finding finding, const Rule& rule, const Policy& policy,
                     const std::string& why) {
  finding.severity = Severity::kInsufficientData;
  finding.value.reset();
  finding.message =
      absl::StrCat(Name(rule.metric), " of model ", finding.model_id,
                   ": insufficient data for rule ", rule.id, " — ", why, ". ",
                   Citation(rule, policy), ".");
  return finding;
}

// The referential has no element on recommender systems: say so, and
// which the rule cites instead.
std::string NoRecommenderElement(const Rule& rule) {
  std::vector<std::string> elements = {rule.element};
  elements.insert(elements.end(), rule.related_elements.begin(),
                  rule.related_elements.end());
  return absl::StrCat(
      " The referential has no element specific to recommender systems: "
      "rule ",
      rule.id, " cites the nearest, ", absl::StrJoin(elements, ", "), ".");
}

}  // namespace

uint32_t RecommendationWindowsRead(const Rule& rule) {
  uint32_t n = 1;
  for (const std::optional<Threshold>* level :
       {&rule.warning, &rule.critical}) {
    if (!level->has_value()) continue;
    n = std::max(n, (*level)->windows.value_or(1));
    if ((*level)->worsening_windows.has_value()) {
      n = std::max(n, *(*level)->worsening_windows + 1);
    }
  }
  return n;
}

std::vector<Finding> EvaluateRecommendationRule(
    const Rule& base, const Policy& policy, const std::string& model_id,
    const RecommendationInputs& inputs) {
  std::vector<Finding> findings;
  const Rule rule = policy.Resolve(base, model_id);
  if (!rule.enabled) return findings;
  Finding finding = StartFinding(rule, model_id, "");
  // Levels are changes, not added to the baseline.
  finding.threshold = rule.warning ? rule.warning->value : rule.critical->value;
  auto insufficient = [&](const std::string& why) {
    Finding out = Insufficient(std::move(finding), rule, policy, why);
    out.message += NoRecommenderElement(rule);
    findings.push_back(std::move(out));
    return findings;
  };
  if (inputs.window != rule.window) {
    return insufficient(absl::StrCat(
        "the windows given are ", absl::FormatDuration(inputs.window),
        " long, the rule's ", absl::FormatDuration(rule.window)));
  }
  double baseline = rule.baseline;
  if (rule.baseline_from_reference) {
    if (inputs.baseline == nullptr) {
      return insufficient(
          "no baseline: its baseline is the model's reference window, which "
          "is not complete and frozen yet (or the model has no "
          "reference_window)");
    }
    const Reading then = Read(rule.metric, *inputs.baseline);
    if (then.lists < rule.min_lists || !then.value.has_value()) {
      return insufficient(absl::StrCat(
          "no baseline: the model's ", inputs.baseline_description, " has ",
          then.lists, " ", ListsName(rule.metric), " (at least ",
          std::max<uint64_t>(rule.min_lists, 1), " needed)"));
    }
    baseline = *then.value;
    finding.baseline_source = inputs.baseline_description;
  }
  if (Relative(rule.metric) && !(baseline > 0)) {
    return insufficient("no baseline: it is 0, so no relative change");
  }
  finding.baseline = baseline;

  std::vector<Window> windows;
  const uint32_t read = RecommendationWindowsRead(rule);
  for (uint64_t i = 1; i <= read; ++i) {
    windows.push_back(ReadWindow(rule, inputs, i, baseline));
  }
  if (!windows[0].value.has_value()) {
    return insufficient(
        absl::StrCat("the latest window: ", windows[0].why_not));
  }
  finding.value = windows[0].change;
  std::string verdict = Grade(
      rule, finding,
      [&](const Threshold& level) { return Fails(rule, level, windows); },
      [](const Threshold& level) { return level.value; });
  // Healthy: say why the critical level does not hold either (its
  // conditions differ from the warning's, e.g. worsening_windows).
  if (!finding.severity.has_value() && rule.warning && rule.critical) {
    absl::StrAppend(&verdict,
                    " (critical: ", Fails(rule, *rule.critical, windows), ")");
  }

  std::vector<std::string> listed;
  for (const Window& w : windows) listed.push_back(WindowText(rule.metric, w));
  finding.message = absl::StrFormat(
      "%s of model %s = %.4f, %s vs the baseline %.4f (%s); windows of %s "
      "ending %s, latest first: %s; %s — %s.",
      Name(rule.metric), model_id, *windows[0].value,
      FormatChange(rule.metric, windows[0].change), baseline,
      finding.baseline_source, absl::FormatDuration(inputs.window),
      absl::FormatTime(inputs.window_end, absl::UTCTimeZone()),
      absl::StrJoin(listed, "; "), verdict, Citation(rule, policy));
  finding.message += NoRecommenderElement(rule);
  if (finding.severity == Severity::kCritical && !rule.runbook.empty()) {
    absl::StrAppend(&finding.message, " ", rule.runbook);
  }
  findings.push_back(std::move(finding));
  return findings;
}

}  // namespace vigie::rules
