// Rules D1-D4's kind: a model's features, prediction and label against its
// reference (population stability index, Evidently's per-feature verdict
// and the share of drifted features), and the changes its error-stream
// detectors found.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "monitors/change_episode.h"
#include "monitors/drift.h"
#include "monitors/drift_report.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

bool Covers(const Rule& rule, const std::string& feature) {
  if (rule.features.empty()) return true;
  return std::find(rule.features.begin(), rule.features.end(), feature) !=
         rule.features.end();
}

bool IsInput(const std::string& feature) {
  return feature != monitors::kPredictionFeature &&
         feature != monitors::kLabelFeature;
}

// Why a feature lacks the sample the rule needs; empty if it has it.
std::string ShortOf(const Rule& rule, const monitors::FeatureDrift& f) {
  if (f.current_count < rule.min_current_values) {
    return absl::StrCat(f.current_count, " values in the window < ",
                        rule.min_current_values);
  }
  if (f.reference_count < rule.min_reference_values) {
    return absl::StrCat(f.reference_count, " values in the reference < ",
                        rule.min_reference_values);
  }
  return "";
}

Finding Insufficient(const Rule& rule, const Policy& policy,
                     const std::string& model_id, const std::string& feature,
                     const std::string& why) {
  Finding finding = StartFinding(rule, model_id, "");
  finding.feature = feature;
  finding.severity = Severity::kInsufficientData;
  finding.message =
      absl::StrCat(finding.metric, " of model ", model_id,
                   feature.empty() ? "" : absl::StrCat(", feature ", feature),
                   ": insufficient data for rule ", rule.id, " — ", why, ". ",
                   Citation(rule, policy), ".");
  return finding;
}

void Finish(const Rule& rule, const Policy& policy, Finding& finding,
            const std::string& what, const std::string& verdict) {
  finding.message =
      absl::StrCat(what, " ", verdict, " — ", Citation(rule, policy), ".");
  if (finding.severity == Severity::kCritical && !rule.runbook.empty()) {
    absl::StrAppend(&finding.message, " ", rule.runbook);
  }
}

std::string Samples(const monitors::FeatureDrift& f) {
  return absl::StrCat(f.current_count, " values in the window, ",
                      f.reference_count, " in the reference");
}

Finding PsiFinding(const Rule& rule, const Policy& policy,
                   const std::string& model_id, const DriftInputs& drift,
                   const monitors::FeatureDrift& f) {
  Finding finding = StartFinding(rule, model_id, "");
  finding.feature = f.feature;
  finding.value = f.psi;
  finding.baseline_source = drift.reference_description;
  const std::string verdict = Grade(rule, finding, [&](const Threshold& t) {
    return f.psi >= t.value ? "" : absl::StrCat("below ", FormatLevel(t.value));
  });
  Finish(rule, policy, finding,
         absl::StrFormat("PSI of feature %s of model %s = %.4f over %d bins "
                         "(%s; out of the reference's range %.1f%%, missing "
                         "%.1f%% vs %.1f%% in the reference)",
                         f.feature, model_id, f.psi,
                         static_cast<int>(f.current_proportions.size()),
                         Samples(f), f.out_of_range_rate * 100,
                         f.missing_rate * 100, f.reference_missing_rate * 100),
         verdict);
  return finding;
}

bool IsTest(const monitors::FeatureDrift& f) { return f.p_value.has_value(); }

Finding VerdictFinding(const Rule& rule, const Policy& policy,
                       const std::string& model_id, const DriftInputs& drift,
                       const monitors::FeatureDrift& f,
                       const TestFamily* family) {
  Finding finding = StartFinding(rule, model_id, "");
  finding.feature = f.feature;
  finding.value = f.statistic;
  finding.p_value = f.p_value;
  finding.baseline_source = drift.reference_description;
  if (family != nullptr) {
    finding.adjusted_p_value = family->adjusted_p_value;
    finding.tests_in_family = family->size;
  }
  const double p =
      family != nullptr ? family->adjusted_p_value : f.p_value.value_or(1);
  const std::string verdict = Grade(rule, finding, [&](const Threshold& t) {
    if (IsTest(f)) {
      if (!t.max_p_value.has_value()) return std::string("no max_p_value");
      return p < *t.max_p_value
                 ? std::string()
                 : absl::StrFormat("p = %.3g not below %g", p, *t.max_p_value);
    }
    return f.statistic >= t.value
               ? std::string()
               : absl::StrCat("distance below ", FormatLevel(t.value));
  });
  if (IsTest(f) && finding.severity.has_value()) {
    // A test's level is its p-value; say so rather than the value's.
    const Threshold& level = finding.severity == Severity::kCritical
                                 ? *rule.critical
                                 : *rule.warning;
    finding.threshold = level.max_p_value.value_or(0);
  }
  std::string what =
      absl::StrFormat("Drift of feature %s of model %s by %s: statistic %.4f",
                      f.feature, model_id, f.method, f.statistic);
  if (f.p_value.has_value()) {
    absl::StrAppend(&what, absl::StrFormat(", p = %.3g", *f.p_value));
    if (family != nullptr) {
      absl::StrAppend(&what,
                      absl::StrFormat(" (Holm-adjusted over %d features: %.3g)",
                                      static_cast<int>(family->size),
                                      family->adjusted_p_value));
    }
  }
  absl::StrAppend(&what, " (", Samples(f), ")");
  Finish(rule, policy, finding, what, verdict);
  return finding;
}

const char* VerdictName(monitors::WindowVerdict verdict) {
  switch (verdict) {
    case monitors::WindowVerdict::kChangeFound:
      return "change found";
    case monitors::WindowVerdict::kChanged:
      return "changed";
    case monitors::WindowVerdict::kUndecided:
      return "too few errors";
    case monitors::WindowVerdict::kBack:
      return "back";
  }
  return "";
}

// error_change_windows: the windows over which the latest change lasted.
Finding ChangeWindowsFinding(const Rule& rule, const Policy& policy,
                             const std::string& model_id,
                             const DriftInputs& drift) {
  Finding finding = StartFinding(rule, model_id, "");
  monitors::SustainedChange sustained;
  std::string what;
  if (drift.episode == nullptr) {
    what = absl::StrCat(
        "No change found by ADWIN in the error stream of model ", model_id,
        " (", drift.errors_observed, " errors observed)");
  } else {
    const monitors::ChangeEpisode& e = *drift.episode;
    sustained = monitors::Sustained(
        e, drift.window_end, drift.window, drift.errors_by_window,
        rule.min_current_values, drift.change_delta);
    std::vector<std::string> windows;
    for (const monitors::WindowJudgement& w : sustained.judged) {
      const std::optional<double> mean = w.errors.mean();
      windows.push_back(
          mean.has_value()
              ? absl::StrFormat("%d: %.4f over %d errors, bound %.4f, %s",
                                static_cast<int64_t>(w.index), *mean,
                                static_cast<int64_t>(w.errors.count), w.bound,
                                VerdictName(w.verdict))
              : absl::StrFormat("%d: no errors, %s",
                                static_cast<int64_t>(w.index),
                                VerdictName(w.verdict)));
    }
    what = absl::StrFormat(
        "Change in the error stream of model %s (ADWIN, from %s: mean error "
        "%.4f before, %.4f after, %s; %d cuts%s) sustained over %d %s of "
        "%s (window 1 ending %s; %s)",
        model_id, absl::FormatTime(e.start, absl::UTCTimeZone()), e.mean_before,
        e.mean_after, e.direction > 0 ? "up" : "down",
        static_cast<int64_t>(e.cuts),
        e.reverted_at.has_value()
            ? absl::StrCat(
                  "; back to its level before at ",
                  absl::FormatTime(*e.reverted_at, absl::UTCTimeZone()))
            : "",
        static_cast<int64_t>(sustained.windows),
        sustained.windows == 1 ? "window" : "windows",
        absl::FormatDuration(drift.window),
        absl::FormatTime(drift.window_end, absl::UTCTimeZone()),
        windows.empty() ? "no window judged" : absl::StrJoin(windows, "; "));
  }
  finding.value = static_cast<double>(sustained.windows);
  const std::string verdict = Grade(rule, finding, [&](const Threshold& t) {
    return *finding.value >= t.value
               ? std::string()
               : absl::StrCat("below ", FormatLevel(t.value));
  });
  Finish(rule, policy, finding, what, verdict);
  return finding;
}

}  // namespace

std::vector<Finding> EvaluateDriftRule(const Rule& base, const Policy& policy,
                                       const std::string& model_id,
                                       const DriftInputs& drift) {
  std::vector<Finding> findings;
  if (base.metric == kErrorRateChanges) {
    const Rule rule = policy.Resolve(base, model_id);
    if (!rule.enabled) return findings;
    Finding finding = StartFinding(rule, model_id, "");
    finding.value = static_cast<double>(drift.error_changes);
    const std::string verdict = Grade(rule, finding, [&](const Threshold& t) {
      return finding.value > t.value
                 ? std::string()
                 : absl::StrCat("not above ", FormatLevel(t.value));
    });
    Finish(rule, policy, finding,
           absl::StrCat("Changes in the error stream of model ", model_id,
                        " within the window: ", drift.error_changes, " (",
                        drift.errors_observed, " errors observed",
                        drift.change_detail.empty()
                            ? ""
                            : absl::StrCat("; ", drift.change_detail),
                        ")"),
           verdict);
    findings.push_back(std::move(finding));
    return findings;
  }
  if (base.metric == kErrorChangeWindows) {
    const Rule rule = policy.Resolve(base, model_id);
    if (rule.enabled) {
      findings.push_back(ChangeWindowsFinding(rule, policy, model_id, drift));
    }
    return findings;
  }
  if (drift.report == nullptr) {
    if (!drift.reference_expected) return findings;
    const Rule rule = policy.Resolve(base, model_id);
    if (rule.enabled) {
      findings.push_back(Insufficient(
          rule, policy, model_id, "",
          "the model has no reference yet (upload one, or wait for its "
          "reference window to be complete)"));
    }
    return findings;
  }
  if (base.metric == kDriftedFeatureShare) {
    const Rule rule = policy.Resolve(base, model_id);
    if (!rule.enabled) return findings;
    // Evidently's verdicts, but with the tests' p-values Holm-adjusted
    // across the features counted, so that many features do not make a
    // share by chance.
    std::vector<const monitors::FeatureDrift*> counted;
    std::vector<double> p_values;
    for (const monitors::FeatureDrift& f : drift.report->features) {
      // By default the input features, as Evidently's share of drifted
      // columns; listed ones may add the prediction or the label.
      const bool in =
          rule.features.empty() ? IsInput(f.feature) : Covers(rule, f.feature);
      if (!in || !ShortOf(rule, f).empty()) continue;
      counted.push_back(&f);
      if (IsTest(f)) p_values.push_back(*f.p_value);
    }
    const std::vector<double> adjusted = HolmAdjusted(p_values);
    const uint64_t evaluated = counted.size();
    std::vector<std::string> drifted;
    size_t test = 0;
    for (const monitors::FeatureDrift* f : counted) {
      const bool yes = IsTest(*f)
                           ? adjusted[test++] < drift.report->p_value_threshold
                           : f->drifted;
      if (yes) drifted.push_back(f->feature);
    }
    if (evaluated == 0) {
      findings.push_back(
          Insufficient(rule, policy, model_id, "",
                       "no feature has the minimum sample in both the window "
                       "and the reference"));
      return findings;
    }
    Finding finding = StartFinding(rule, model_id, "");
    const double share =
        static_cast<double>(drifted.size()) / static_cast<double>(evaluated);
    finding.value = share;
    finding.baseline_source = drift.reference_description;
    const std::string verdict = Grade(rule, finding, [&](const Threshold& t) {
      return share >= t.value ? std::string()
                              : absl::StrCat("below ", FormatLevel(t.value));
    });
    Finish(rule, policy, finding,
           absl::StrFormat(
               "Share of drifted features of model %s = %.3f "
               "(%d of %d: %s)",
               model_id, share, static_cast<int>(drifted.size()),
               static_cast<int>(evaluated),
               drifted.empty() ? "none" : absl::StrJoin(drifted, ", ")),
           verdict);
    findings.push_back(std::move(finding));
    return findings;
  }
  // Per feature: population_stability_index and feature_drift.
  struct Covered {
    const monitors::FeatureDrift* feature;
    Rule rule;
  };
  std::vector<Covered> covered;
  for (const monitors::FeatureDrift& f : drift.report->features) {
    if (!Covers(base, f.feature)) continue;
    Rule rule = policy.Resolve(base, model_id, "", f.feature);
    if (!rule.enabled) continue;
    if (const std::string why = ShortOf(rule, f); !why.empty()) {
      findings.push_back(Insufficient(rule, policy, model_id, f.feature, why));
      continue;
    }
    covered.push_back({&f, std::move(rule)});
  }
  if (base.metric == kPopulationStabilityIndex) {
    for (const Covered& c : covered) {
      findings.push_back(
          PsiFinding(c.rule, policy, model_id, drift, *c.feature));
    }
    return findings;
  }
  // feature_drift: the tests' p-values are one family (Holm).
  std::vector<double> p_values;
  for (const Covered& c : covered) {
    if (IsTest(*c.feature)) p_values.push_back(*c.feature->p_value);
  }
  const std::vector<double> adjusted =
      p_values.size() >= 2 ? HolmAdjusted(p_values) : std::vector<double>();
  size_t test = 0;
  for (const Covered& c : covered) {
    if (IsTest(*c.feature) && !adjusted.empty()) {
      const TestFamily family{adjusted[test++], p_values.size()};
      findings.push_back(
          VerdictFinding(c.rule, policy, model_id, drift, *c.feature, &family));
    } else {
      findings.push_back(
          VerdictFinding(c.rule, policy, model_id, drift, *c.feature, nullptr));
    }
  }
  return findings;
}

}  // namespace vigie::rules
