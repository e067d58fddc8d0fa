// Rules D1-D4 on hand-made drift reports: thresholds, minimum samples,
// Holm's adjustment across features, overrides per feature, and what a
// model without a reference gets.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "monitors/change_episode.h"
#include "monitors/drift_report.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

using ::testing::HasSubstr;

Threshold Level(double value, std::optional<double> max_p_value = {}) {
  Threshold threshold;
  threshold.value = value;
  threshold.max_p_value = max_p_value;
  return threshold;
}

monitors::FeatureDrift Feature(std::string name, double psi,
                               uint64_t current = 600,
                               uint64_t reference = 1000) {
  monitors::FeatureDrift f;
  f.feature = std::move(name);
  f.psi = psi;
  f.current_count = current;
  f.reference_count = reference;
  f.method = "wasserstein";
  f.statistic = 0.05;
  return f;
}

monitors::FeatureDrift Tested(std::string name, double p) {
  monitors::FeatureDrift f = Feature(std::move(name), 0.01);
  f.method = "ks";
  f.statistic = 0.2;
  f.p_value = p;
  f.drifted = p < 0.05;
  return f;
}

Rule Psi() {
  Rule rule;
  rule.id = "D1";
  rule.metric = kPopulationStabilityIndex;
  rule.warning = Level(0.10);
  rule.critical = Level(0.25);
  rule.min_current_values = 500;
  rule.min_reference_values = 1000;
  rule.element = "Q3.5/3.5.d";
  return rule;
}

Rule Verdict() {
  Rule rule;
  rule.id = "D2";
  rule.metric = kFeatureDrift;
  rule.warning = Level(0.10, 0.05);
  rule.element = "Q3.5/3.5.d";
  return rule;
}

Policy With(std::vector<Rule> rules) {
  Policy policy;
  policy.rules = std::move(rules);
  return policy;
}

const Finding* Of(const std::vector<Finding>& findings,
                  const std::string& feature) {
  for (const Finding& f : findings) {
    if (f.feature == feature) return &f;
  }
  return nullptr;
}

TEST(DriftRuleTest, PsiLevelsAndMinimumSamples) {
  monitors::DriftReport report;
  report.features = {Feature("calm", 0.05), Feature("moved", 0.12),
                     Feature("gone", 0.30), Feature("young", 0.9, 499),
                     Feature("thin", 0.9, 600, 999)};
  const Policy policy = With({Psi()});
  DriftInputs inputs;
  inputs.report = &report;
  const std::vector<Finding> findings =
      EvaluateDriftRule(policy.rules[0], policy, "m", inputs);
  ASSERT_EQ(findings.size(), 5u);
  EXPECT_FALSE(Of(findings, "calm")->severity.has_value());
  EXPECT_EQ(Of(findings, "moved")->severity, Severity::kWarning);
  EXPECT_EQ(Of(findings, "gone")->severity, Severity::kCritical);
  EXPECT_EQ(Of(findings, "young")->severity, Severity::kInsufficientData);
  EXPECT_THAT(Of(findings, "young")->message,
              HasSubstr("499 values in the window < 500"));
  EXPECT_EQ(Of(findings, "thin")->severity, Severity::kInsufficientData);
  EXPECT_THAT(Of(findings, "gone")->message, HasSubstr("Q3.5/3.5.d"));
  // Fingerprints keep features apart from attributes.
  EXPECT_EQ(ScopeKey(*Of(findings, "gone")), "feature:gone");
}

TEST(DriftRuleTest, FeaturesSelectorAndPerFeatureOverride) {
  monitors::DriftReport report;
  report.features = {Feature("a", 0.12), Feature("b", 0.12)};
  Rule rule = Psi();
  Policy policy = With({rule});
  RuleOverride looser;
  looser.rules = {"D1"};
  looser.features = {"b"};
  looser.warning.emplace();
  looser.warning->value = 0.2;
  policy.overrides = {looser};
  DriftInputs inputs;
  inputs.report = &report;
  std::vector<Finding> findings =
      EvaluateDriftRule(policy.rules[0], policy, "m", inputs);
  EXPECT_EQ(Of(findings, "a")->severity, Severity::kWarning);
  EXPECT_FALSE(Of(findings, "b")->severity.has_value());

  policy.rules[0].features = {"a"};
  findings = EvaluateDriftRule(policy.rules[0], policy, "m", inputs);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].feature, "a");
}

// Three KS p-values 0.01, 0.03, 0.04: Holm multiplies the sorted ones by
// 3, 2, 1 and keeps them non-decreasing: 0.03, 0.06, 0.06. Only the first
// stays below 0.05.
TEST(DriftRuleTest, FeatureDriftAdjustsTestsAcrossFeatures) {
  monitors::DriftReport report;
  report.features = {Tested("x", 0.01), Tested("y", 0.04), Tested("z", 0.03),
                     Feature("w", 0.0)};
  report.features.back().statistic = 0.15;  // A distance above 0.10.
  const Policy policy = With({Verdict()});
  DriftInputs inputs;
  inputs.report = &report;
  const std::vector<Finding> findings =
      EvaluateDriftRule(policy.rules[0], policy, "m", inputs);
  ASSERT_EQ(findings.size(), 4u);
  EXPECT_EQ(Of(findings, "x")->severity, Severity::kWarning);
  EXPECT_DOUBLE_EQ(*Of(findings, "x")->adjusted_p_value, 0.03);
  EXPECT_FALSE(Of(findings, "y")->severity.has_value());
  EXPECT_DOUBLE_EQ(*Of(findings, "y")->adjusted_p_value, 0.06);
  EXPECT_FALSE(Of(findings, "z")->severity.has_value());
  EXPECT_DOUBLE_EQ(*Of(findings, "z")->adjusted_p_value, 0.06);
  EXPECT_EQ(Of(findings, "w")->severity, Severity::kWarning);
  EXPECT_EQ(Of(findings, "x")->tests_in_family, 3u);
}

TEST(DriftRuleTest, ShareOfDriftedFeaturesCountsAdjustedVerdicts) {
  monitors::DriftReport report;
  // x: adjusted 0.03 (drifted); y, z: 0.06 (not); w: a distance of 0.15
  // (drifted); v: too few values (not counted); the prediction is not an
  // input feature (not counted by default).
  report.features = {Tested("x", 0.01),     Tested("y", 0.04),
                     Tested("z", 0.03),     Feature("w", 0.0),
                     Feature("v", 0.0, 10), Feature("@prediction", 0.0)};
  report.features[3].drifted = true;
  report.features[4].drifted = true;
  report.features[5].drifted = true;
  Rule rule;
  rule.id = "D3";
  rule.metric = kDriftedFeatureShare;
  rule.warning = Level(0.25);
  rule.critical = Level(0.5);
  rule.min_current_values = 500;
  rule.element = "Q3.5/3.5.d";
  const Policy policy = With({rule});
  DriftInputs inputs;
  inputs.report = &report;
  const std::vector<Finding> findings =
      EvaluateDriftRule(policy.rules[0], policy, "m", inputs);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_DOUBLE_EQ(*findings[0].value, 2.0 / 4.0);
  EXPECT_EQ(findings[0].severity, Severity::kCritical);
  EXPECT_THAT(findings[0].message, HasSubstr("2 of 4: x, w"));
}

TEST(DriftRuleTest, ErrorRateChangesAreCounts) {
  Rule rule;
  rule.id = "D4";
  rule.metric = kErrorRateChanges;
  rule.warning = Level(0);
  rule.critical = Level(2);
  rule.element = "Q3.5/3.5.d";
  const Policy policy = With({rule});
  DriftInputs inputs;
  for (const auto& [changes, severity] :
       std::vector<std::pair<uint64_t, std::optional<Severity>>>{
           {0, std::nullopt},
           {1, Severity::kWarning},
           {2, Severity::kWarning},
           {3, Severity::kCritical}}) {
    inputs.error_changes = changes;
    const std::vector<Finding> findings =
        EvaluateDriftRule(policy.rules[0], policy, "m", inputs);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].severity, severity) << changes;
  }
}

// Rule D4 as the default policy sets it: 1 window warns, 3 are critical.
Rule ChangeWindows() {
  Rule rule;
  rule.id = "D4";
  rule.metric = kErrorChangeWindows;
  rule.window = absl::Hours(24);
  rule.warning = Level(1);
  rule.critical = Level(3);
  rule.min_current_values = 100;
  rule.element = "Q3.5/3.5.d";
  rule.runbook = "Runbook: degraded mode.";
  return rule;
}

// n errors of which `wrong` are 1.
monitors::ErrorTally Errors(uint64_t n, uint64_t wrong) {
  monitors::ErrorTally tally;
  for (uint64_t i = 0; i < n; ++i) tally.Observe(i < wrong ? 1 : 0);
  return tally;
}

// The bound of the rule's definition, for n 0/1 errors at rate p and
// delta 0.002: sqrt(2 p (1 - p) ln(1000) / n) + 2 ln(1000) / (3 n).
double Bound(double p, double n) {
  const double l = std::log(2 / 0.002);
  return std::sqrt(2 * p * (1 - p) * l / n) + 2 * l / (3 * n);
}

class ChangeWindowsTest : public ::testing::Test {
 protected:
  ChangeWindowsTest() : policy_(With({ChangeWindows()})) {
    // ADWIN found the error going from 0.1 to 0.4 at 06:00 on day 0; the
    // windows are days ending at midnight of day `days`.
    episode_.start = kDay0 + absl::Hours(6);
    episode_.latest_change = episode_.start;
    episode_.last_cut = episode_.start;
    episode_.mean_before = 0.1;
    episode_.mean_after = 0.4;
    episode_.direction = 1;
    episode_.cuts = 3;
    inputs_.episode = &episode_;
    inputs_.window = absl::Hours(24);
    inputs_.change_delta = 0.002;
  }
  // The finding at the end of day `days` - 1, with `per_day` errors each
  // day since day 0 at rate `wrong` / `per_day`, and the day 0 window
  // holding the jump.
  Finding At(int days, uint64_t per_day, uint64_t wrong) {
    inputs_.window_end = kDay0 + days * absl::Hours(24);
    inputs_.errors_by_window.clear();
    for (int d = 1; d < days; ++d) {
      inputs_.errors_by_window[static_cast<uint64_t>(d)] =
          Errors(per_day, wrong);
    }
    inputs_.errors_by_window[static_cast<uint64_t>(days)] = Errors(2000, 500);
    std::vector<Finding> findings =
        EvaluateDriftRule(policy_.rules[0], policy_, "m", inputs_);
    EXPECT_EQ(findings.size(), 1u);
    return findings.empty() ? Finding() : findings[0];
  }

  const absl::Time kDay0 = absl::FromUnixSeconds(1'790'035'200);
  Policy policy_;
  monitors::ChangeEpisode episode_;
  DriftInputs inputs_;
};

TEST_F(ChangeWindowsTest, WarnsAtTheChangeAndIsCriticalAfterThreeWindows) {
  // Day 0 only: the window where ADWIN found it counts 1.
  Finding f = At(1, 2000, 800);
  EXPECT_DOUBLE_EQ(*f.value, 1);
  EXPECT_EQ(f.severity, Severity::kWarning);
  // Days 0 and 1 at 0.4: 2.
  f = At(2, 2000, 800);
  EXPECT_DOUBLE_EQ(*f.value, 2);
  EXPECT_EQ(f.severity, Severity::kWarning);
  // Three windows: critical, with the runbook and both levels.
  f = At(3, 2000, 800);
  EXPECT_DOUBLE_EQ(*f.value, 3);
  EXPECT_EQ(f.severity, Severity::kCritical);
  EXPECT_THAT(f.message, HasSubstr("0.1000 before, 0.4000 after"));
  EXPECT_THAT(f.message, HasSubstr("Runbook: degraded mode."));
  f = At(5, 2000, 800);
  EXPECT_DOUBLE_EQ(*f.value, 5);
}

TEST_F(ChangeWindowsTest, ResolvedWhenTheLevelReturns) {
  // The day after the change back at 0.1: no longer sustained.
  Finding f = At(2, 2000, 200);
  EXPECT_DOUBLE_EQ(*f.value, 0);
  EXPECT_FALSE(f.severity.has_value());
  EXPECT_THAT(f.message, HasSubstr("back"));
  // A cut back to the old level ends the episode at once.
  episode_.reverted_at = kDay0 + absl::Hours(30);
  f = At(3, 2000, 800);
  EXPECT_DOUBLE_EQ(*f.value, 0);
  EXPECT_FALSE(f.severity.has_value());
  // Before any change: 0, healthy.
  inputs_.episode = nullptr;
  f = At(3, 2000, 800);
  EXPECT_DOUBLE_EQ(*f.value, 0);
  EXPECT_THAT(f.message, HasSubstr("No change found"));
}

TEST_F(ChangeWindowsTest, AWindowCountsOnlyBeyondTheBound) {
  // With 1,000 errors a day, the smallest count of wrong ones beyond 0.1
  // by more than the bound, worked out here from its formula.
  uint64_t k = 100;
  const auto rate = [](uint64_t wrong) {
    return static_cast<double>(wrong) / 1000.0;
  };
  while (rate(k) - 0.1 <= Bound(rate(k), 1000)) ++k;
  ASSERT_GT(k, 100u);
  ASSERT_LT(k, 400u);
  EXPECT_DOUBLE_EQ(*At(3, 1000, k).value, 3);
  EXPECT_DOUBLE_EQ(*At(3, 1000, k - 1).value, 0);
}

TEST_F(ChangeWindowsTest, WindowsShortOfTheMinimumNeitherAddNorEnd) {
  // 99 errors a day < min_sample.current 100, even all at 0.1: undecided.
  EXPECT_DOUBLE_EQ(*At(3, 99, 10).value, 1);
  EXPECT_DOUBLE_EQ(*At(3, 99, 99).value, 1);
  // At 100 they are judged.
  EXPECT_DOUBLE_EQ(*At(3, 100, 10).value, 0);
  EXPECT_THAT(At(3, 99, 10).message, HasSubstr("too few errors"));
}

TEST_F(ChangeWindowsTest, AFurtherChangeCountsWhereADWINFoundIt) {
  // The error went back to 0.1 on day 1 without a cut, then rose again on
  // day 3, where ADWIN found it: the run of windows starts there.
  episode_.latest_change = kDay0 + absl::Hours(24 * 3 + 12);
  inputs_.window_end = kDay0 + absl::Hours(24 * 5);
  inputs_.errors_by_window = {{1, Errors(2000, 800)},
                              {2, Errors(2000, 700)},
                              {3, Errors(2000, 200)},
                              {4, Errors(2000, 200)},
                              {5, Errors(2000, 500)}};
  const std::vector<Finding> findings =
      EvaluateDriftRule(policy_.rules[0], policy_, "m", inputs_);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_DOUBLE_EQ(*findings[0].value, 2);
  EXPECT_EQ(findings[0].severity, Severity::kWarning);
}

TEST(DriftRuleTest, ChangeWindowsValidation) {
  Rule rule = ChangeWindows();
  EXPECT_TRUE(rule.Validate().ok()) << rule.Validate();
  rule.window = absl::ZeroDuration();
  EXPECT_THAT(rule.Validate().message(), HasSubstr("needs a window"));
  rule = ChangeWindows();
  rule.features = {"x"};
  EXPECT_THAT(rule.Validate().message(), HasSubstr("takes no features"));
  rule = ChangeWindows();
  rule.min_reference_values = 10;
  EXPECT_THAT(rule.Validate().message(), HasSubstr("min_sample.current only"));
  rule = ChangeWindows();
  rule.critical->value = 2e6;
  EXPECT_THAT(rule.Validate().message(), HasSubstr("must be in [0, 1e+06]"));
}

TEST(DriftRuleTest, WithoutAReferenceOnlyExpectedOnesAreInsufficient) {
  const Policy policy = With({Psi()});
  DriftInputs inputs;
  EXPECT_TRUE(EvaluateDriftRule(policy.rules[0], policy, "m", inputs).empty());
  inputs.reference_expected = true;
  const std::vector<Finding> findings =
      EvaluateDriftRule(policy.rules[0], policy, "m", inputs);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].severity, Severity::kInsufficientData);
  EXPECT_THAT(findings[0].message, HasSubstr("no reference yet"));
  // Evaluate leaves drift rules out when the caller gives no drift inputs.
  EXPECT_TRUE(Evaluate(policy, "m", {}).empty());
}

TEST(DriftRuleTest, ValidationNamesWhatDriftRulesRefuse) {
  Rule rule = Psi();
  EXPECT_TRUE(rule.Validate().ok());
  rule.attributes = {"race"};
  EXPECT_THAT(rule.Validate().message(), HasSubstr("takes no attributes"));
  rule = Psi();
  rule.baseline = 0.1;
  EXPECT_THAT(rule.Validate().message(), HasSubstr("takes no baseline"));
  rule = Psi();
  rule.critical->value = 11;
  EXPECT_THAT(rule.Validate().message(), HasSubstr("must be in [0, 10]"));
  rule = Psi();
  rule.warning->max_p_value = 0.05;
  EXPECT_THAT(rule.Validate().message(),
              HasSubstr("max_p_value is for feature_drift"));
  rule = Psi();
  rule.min_predictions_per_group = 10;
  EXPECT_THAT(rule.Validate().message(), HasSubstr("min_sample.current"));
  Rule fairness;
  fairness.id = "F9";
  fairness.metric = kDemographicParityDifference;
  fairness.warning = Level(0.1);
  fairness.element = "Q2.4";
  fairness.features = {"x"};
  EXPECT_THAT(fairness.Validate().message(),
              HasSubstr("features are for drift metrics"));
}

}  // namespace
}  // namespace vigie::rules
