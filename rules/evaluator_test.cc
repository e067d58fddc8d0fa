#include "rules/evaluator.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "monitors/fairness.h"
#include "monitors/model_monitors.h"

namespace vigie::rules {
namespace {

using monitors::FairnessMetrics;
using monitors::GroupRates;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A group with labelled confusion counts; every prediction is labelled.
GroupRates Labelled(std::string label, uint64_t tn, uint64_t fp, uint64_t fn,
                    uint64_t tp) {
  GroupRates group;
  group.group = std::move(label);
  group.predictions = tn + fp + fn + tp;
  group.selected = fp + tp;
  group.true_negatives = tn;
  group.false_positives = fp;
  group.false_negatives = fn;
  group.true_positives = tp;
  auto rate = [](uint64_t x, uint64_t n) -> std::optional<double> {
    if (n == 0) return std::nullopt;
    return static_cast<double>(x) / static_cast<double>(n);
  };
  group.selection_rate = rate(group.selected, group.predictions);
  group.true_positive_rate = rate(tp, tp + fn);
  group.false_positive_rate = rate(fp, fp + tn);
  group.false_negative_rate = rate(fn, fn + tp);
  group.precision = rate(tp, tp + fp);
  return group;
}

// A group with decisions only (no outcome joined yet).
GroupRates Decisions(std::string label, uint64_t predictions,
                     uint64_t selected) {
  GroupRates group;
  group.group = std::move(label);
  group.predictions = predictions;
  group.selected = selected;
  group.selection_rate =
      static_cast<double>(selected) / static_cast<double>(predictions);
  return group;
}

FairnessMetrics Metrics(std::vector<GroupRates> groups) {
  std::sort(groups.begin(), groups.end(),
            [](const GroupRates& a, const GroupRates& b) {
              return a.group < b.group;
            });
  FairnessMetrics metrics;
  metrics.groups = std::move(groups);
  return metrics;
}

// The two-proportion comparison written from the textbook formulas: pooled
// z test (two-sided), and Newcombe's hybrid score interval (method 10) from
// the two Wilson intervals at 95%.
// Fisher's exact two-sided p-value of [[a, b], [c, d]], from the
// hypergeometric probabilities of every table with the same margins.
double FisherP(int a, int b, int c, int d) {
  const auto choose = [](int n, int k) {
    double r = 1;
    for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
    return r;
  };
  const int row1 = a + b, row2 = c + d, col1 = a + c;
  const auto p = [&](int x) {
    return choose(row1, x) * choose(row2, col1 - x) / choose(row1 + row2, col1);
  };
  const double observed = p(a);
  double total = 0;
  for (int x = std::max(0, col1 - row2); x <= std::min(row1, col1); ++x) {
    if (p(x) <= observed * (1 + 1e-7)) total += p(x);
  }
  return total;
}

struct Comparison2 {
  double difference, p_value, lower, upper;
};
Comparison2 Compare(double x1, double n1, double x2, double n2) {
  const double z = 1.959963984540054;  // Phi^-1(0.975).
  const double p1 = x1 / n1, p2 = x2 / n2, pooled = (x1 + x2) / (n1 + n2);
  const double se = std::sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const double p_value = std::erfc(std::abs((p1 - p2) / se) / std::sqrt(2.0));
  auto wilson = [z](double x, double n) {
    const double center = (x + z * z / 2) / (n + z * z);
    const double half =
        z / (n + z * z) * std::sqrt(x * (n - x) / n + z * z / 4);
    return std::make_pair(center - half, center + half);
  };
  const auto [l1, u1] = wilson(x1, n1);
  const auto [l2, u2] = wilson(x2, n2);
  const double d = p1 - p2;
  return {d, p_value, d - std::hypot(p1 - l1, u2 - p2),
          d + std::hypot(u1 - p1, p2 - l2)};
}

Policy TestPolicy() { return Policy{}; }  // labelia-dsrc@v202301.

// The default policy's F3.
Rule F3() {
  Rule rule;
  rule.id = "F3";
  rule.metric = kEqualizedOddsDifference;
  rule.comparison = Comparison::kAbove;
  rule.warning = Threshold{0.05, 0.05, std::nullopt, std::nullopt};
  rule.critical = Threshold{0.10, std::nullopt, 0.05, std::nullopt};
  rule.min_positives_per_group = 300;
  rule.min_negatives_per_group = 300;
  rule.element = "Q2.4/2.4.d";
  rule.related_elements = {"Q2.5"};
  rule.ai_act_articles = {"Art. 10", "Art. 15"};
  rule.runbook = "Apply the degraded mode (Q5.1/5.1.f).";
  return rule;
}

// The default policy's F1: the impact ratio and the four-fifths rule.
Rule F1() {
  Rule rule;
  rule.id = "F1";
  rule.metric = kDemographicParityRatio;
  rule.comparison = Comparison::kBelow;
  rule.warning = Threshold{0.90, 0.05, std::nullopt, std::nullopt};
  rule.critical = Threshold{0.80, 0.01, std::nullopt, std::nullopt};
  rule.min_predictions_per_group = 500;
  rule.min_selected_in_reference_group = 50;
  rule.element = "Q2.4/2.4.c";
  return rule;
}

// ProPublica's COMPAS two-year recidivism counts (decision: score >= 5).
FairnessMetrics Compas() {
  return Metrics({Labelled("African-American", 990, 805, 532, 1369),
                  Labelled("Caucasian", 1139, 349, 461, 505),
                  Labelled("Asian", 15, 2, 4, 10)});
}

TEST(EvaluateRuleTest, CompasRaceEqualizedOddsIsCritical) {
  const Finding f =
      EvaluateRule(F3(), TestPolicy(), "compas", "race", Compas());
  const double fpr_gap = 805.0 / 1795 - 349.0 / 1488;
  const double tpr_gap = 1369.0 / 1901 - 505.0 / 966;
  ASSERT_GT(fpr_gap, tpr_gap);  // So the FPR pair defines the metric.
  const Comparison2 expected = Compare(805, 1795, 349, 1488);
  ASSERT_GT(expected.lower, 0.05);  // Critical's interval condition holds.

  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kCritical);
  ASSERT_TRUE(f.value.has_value());
  EXPECT_NEAR(*f.value, fpr_gap, 1e-12);
  EXPECT_EQ(f.high_group, "African-American");
  EXPECT_EQ(f.low_group, "Caucasian");
  ASSERT_TRUE(f.p_value.has_value());
  EXPECT_NEAR(*f.p_value, expected.p_value, expected.p_value * 1e-6);
  ASSERT_TRUE(f.interval.has_value());
  EXPECT_NEAR(f.interval->lower, expected.lower, 1e-9);
  EXPECT_NEAR(f.interval->upper, expected.upper, 1e-9);
  EXPECT_EQ(f.threshold, 0.10);
  EXPECT_EQ(f.comparison, Comparison::kAbove);
  EXPECT_THAT(f.excluded_groups, ElementsAre("Asian"));
  ASSERT_EQ(f.samples.size(), 2u);
  EXPECT_EQ(f.samples[0].group, "African-American");
  EXPECT_EQ(f.samples[0].predictions, 3696u);
  EXPECT_EQ(f.samples[0].positives, 1901u);
  EXPECT_EQ(f.samples[0].negatives, 1795u);
  EXPECT_EQ(f.samples[1].group, "Caucasian");
  EXPECT_EQ(f.rule_id, "F3");
  EXPECT_EQ(f.model_id, "compas");
  EXPECT_EQ(f.attribute, "race");
  EXPECT_EQ(f.metric, kEqualizedOddsDifference);
  EXPECT_THAT(f.message,
              HasSubstr("equalized_odds_difference for race = 0.2139"));
  EXPECT_THAT(f.message, HasSubstr("false positive rate African-American "
                                   "0.4485 vs Caucasian 0.2345"));
  EXPECT_THAT(f.message,
              HasSubstr("95% CI of the difference [0.1821, 0.2450]"));
  EXPECT_THAT(f.message,
              HasSubstr("above the critical threshold 0.10 of rule F3"));
  EXPECT_THAT(f.message, HasSubstr("labelia-dsrc@v202301 Q2.4/2.4.d"));
  EXPECT_THAT(f.message, HasSubstr("Art. 10, Art. 15"));
  EXPECT_THAT(f.message, HasSubstr("Asian: 14 labelled positives < 300"));
  EXPECT_THAT(f.message, HasSubstr("degraded mode"));
}

TEST(EvaluateRuleTest, OneQualifyingGroupIsInsufficientData) {
  const FairnessMetrics metrics =
      Metrics({Labelled("African-American", 990, 805, 532, 1369),
               Labelled("Asian", 15, 2, 4, 10)});
  const Finding f = EvaluateRule(F3(), TestPolicy(), "compas", "race", metrics);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kInsufficientData);
  EXPECT_FALSE(f.value.has_value());
  EXPECT_FALSE(f.p_value.has_value());
  EXPECT_THAT(f.excluded_groups, ElementsAre("Asian"));
  ASSERT_EQ(f.samples.size(), 1u);
  EXPECT_EQ(f.threshold, 0.05);
  EXPECT_THAT(f.message, HasSubstr("insufficient data"));
  EXPECT_THAT(f.message, HasSubstr("Asian: 14 labelled positives < 300, "
                                   "17 labelled negatives < 300"));
  EXPECT_THAT(f.message, Not(HasSubstr("degraded mode")));
}

TEST(EvaluateRuleTest, GroupLeftOutByTheMonitorIsExcluded) {
  FairnessMetrics metrics = Compas();
  for (GroupRates& group : metrics.groups) {
    if (group.group == "Caucasian") group.included_in_gaps = false;
  }
  const Finding f = EvaluateRule(F3(), TestPolicy(), "compas", "race", metrics);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kInsufficientData);
  EXPECT_THAT(f.excluded_groups, ElementsAre("Asian", "Caucasian"));
}

TEST(EvaluateRuleTest, LargeGapOnTinyGroupsIsNotSignificant) {
  Rule rule = F3();
  rule.min_positives_per_group = rule.min_negatives_per_group = 0;
  // FPR 2/10 vs 4/10, TPR equal: a gap of 0.2, twice the critical level.
  const FairnessMetrics metrics =
      Metrics({Labelled("A", 8, 2, 2, 8), Labelled("B", 6, 4, 2, 8)});
  const Comparison2 expected = Compare(4, 10, 2, 10);
  ASSERT_LE(expected.lower, 0.05);
  // Expected cells of 3 (6 false positives over 20): Fisher's test, whose
  // p-value is 24,360 / 38,760 (the tables with 0, 1, 2, 4, 5 or 6).
  const double fisher = FisherP(4, 6, 2, 8);
  ASSERT_NEAR(fisher, 24360.0 / 38760, 1e-12);

  const Finding f = EvaluateRule(rule, TestPolicy(), "m", "sex", metrics);
  EXPECT_FALSE(f.severity.has_value());
  ASSERT_TRUE(f.value.has_value());
  EXPECT_NEAR(*f.value, 0.2, 1e-12);
  EXPECT_EQ(f.high_group, "B");
  EXPECT_EQ(f.low_group, "A");
  EXPECT_NEAR(*f.p_value, fisher, 1e-9);
  EXPECT_THAT(f.message, HasSubstr("Fisher's exact test"));
  EXPECT_EQ(f.threshold, 0.05);  // Healthy: the warning's.
  EXPECT_THAT(f.message, HasSubstr("breaches no threshold of rule F3"));
}

TEST(EvaluateRuleTest, SmallGroupsAreTestedExactly) {
  Rule rule = F3();
  rule.metric = kDemographicParityDifference;
  rule.min_positives_per_group = rule.min_negatives_per_group = 0;
  // 7 of 8 selected against 1 of 8: the z-test would give p = 0.0016,
  // Fisher's exact test 130 / 12,870 = 0.0101 (tables with 0, 1, 7, 8).
  const Finding f =
      EvaluateRule(rule, TestPolicy(), "m", "sex",
                   Metrics({Decisions("A", 8, 7), Decisions("B", 8, 1)}));
  ASSERT_TRUE(f.p_value.has_value());
  EXPECT_NEAR(*f.p_value, FisherP(7, 1, 1, 7), 1e-12);
  EXPECT_NEAR(*f.p_value, 130.0 / 12870, 1e-12);
  EXPECT_GT(*f.p_value, Compare(7, 8, 1, 8).p_value);
}

TEST(EvaluateRuleTest, SignificantGapWithWideIntervalIsWarning) {
  // FPR 40/200 vs 64/200: 0.12 > 0.10, but the interval reaches below 0.05.
  const FairnessMetrics metrics = Metrics(
      {Labelled("A", 160, 40, 75, 225), Labelled("B", 136, 64, 75, 225)});
  Rule rule = F3();
  rule.min_positives_per_group = rule.min_negatives_per_group = 200;
  const Comparison2 expected = Compare(64, 200, 40, 200);
  ASSERT_LT(expected.p_value, 0.05);
  ASSERT_LT(expected.lower, 0.05);

  const Finding f = EvaluateRule(rule, TestPolicy(), "m", "sex", metrics);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kWarning);
  EXPECT_NEAR(*f.value, 0.12, 1e-12);
  EXPECT_NEAR(f.interval->lower, expected.lower, 1e-9);
  EXPECT_EQ(f.threshold, 0.05);
  EXPECT_THAT(f.message, HasSubstr("above the warning threshold 0.05"));
  EXPECT_THAT(f.message, HasSubstr("not critical: CI lower bound"));
}

TEST(EvaluateRuleTest, LargerTruePositiveGapDefinesThePair) {
  Rule rule = F3();
  rule.min_positives_per_group = rule.min_negatives_per_group = 0;
  // TPR 80/100 vs 50/100 (gap 0.3); FPR 10/100 vs 12/100 (gap 0.02).
  const FairnessMetrics metrics =
      Metrics({Labelled("A", 90, 10, 20, 80), Labelled("B", 88, 12, 50, 50)});
  const Comparison2 expected = Compare(80, 100, 50, 100);
  const Finding f = EvaluateRule(rule, TestPolicy(), "m", "sex", metrics);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kCritical);
  EXPECT_NEAR(*f.value, 0.3, 1e-12);
  EXPECT_EQ(f.high_group, "A");
  EXPECT_EQ(f.low_group, "B");
  EXPECT_NEAR(*f.p_value, expected.p_value, expected.p_value * 1e-6);
  EXPECT_NEAR(f.interval->lower, expected.lower, 1e-9);
  EXPECT_THAT(f.message, HasSubstr("true positive rate A 0.8000 vs B 0.5000"));
}

TEST(EvaluateRuleTest, ImpactRatioBelowFourFifthsIsCritical) {
  const FairnessMetrics metrics =
      Metrics({Decisions("A", 1000, 500), Decisions("B", 1000, 350),
               Decisions("C", 100, 10)});
  const Comparison2 expected = Compare(500, 1000, 350, 1000);
  ASSERT_LT(expected.p_value, 0.01);
  const Finding f = EvaluateRule(F1(), TestPolicy(), "m", "sex", metrics);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kCritical);
  EXPECT_NEAR(*f.value, 0.35 / 0.5, 1e-12);
  EXPECT_EQ(f.high_group, "A");
  EXPECT_EQ(f.low_group, "B");
  EXPECT_NEAR(*f.p_value, expected.p_value, expected.p_value * 1e-6);
  EXPECT_FALSE(f.interval.has_value());  // No interval for a ratio.
  EXPECT_EQ(f.threshold, 0.80);
  EXPECT_EQ(f.comparison, Comparison::kBelow);
  EXPECT_THAT(f.excluded_groups, ElementsAre("C"));
  EXPECT_THAT(f.message, HasSubstr("below the critical threshold 0.80"));
  EXPECT_THAT(f.message, HasSubstr("selection rate A 0.5000 vs B 0.3500"));
  EXPECT_THAT(f.message, Not(HasSubstr("CI")));
}

TEST(EvaluateRuleTest, RatioIntervalConditionFailsClosed) {
  Rule rule = F1();
  rule.critical->min_interval_lower = 0.0;
  const FairnessMetrics metrics =
      Metrics({Decisions("A", 1000, 500), Decisions("B", 1000, 350)});
  const Finding f = EvaluateRule(rule, TestPolicy(), "m", "sex", metrics);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kWarning);
  EXPECT_EQ(f.threshold, 0.90);
}

TEST(EvaluateRuleTest, FewSelectedInReferenceGroupIsInsufficientData) {
  const FairnessMetrics metrics =
      Metrics({Decisions("A", 600, 40), Decisions("B", 600, 20)});
  const Finding f = EvaluateRule(F1(), TestPolicy(), "m", "sex", metrics);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kInsufficientData);
  EXPECT_THAT(f.message, HasSubstr("A has 40 positive decisions < 50"));
}

TEST(EvaluateRuleTest, ParityDifferenceUsesTheSelectionRateInterval) {
  Rule rule;
  rule.id = "F2";
  rule.metric = kDemographicParityDifference;
  rule.warning = Threshold{0.05, std::nullopt, 0.0, std::nullopt};
  rule.critical = Threshold{0.10, std::nullopt, 0.05, std::nullopt};
  rule.min_predictions_per_group = 500;
  rule.element = "Q2.4/2.4.d";
  const FairnessMetrics metrics =
      Metrics({Decisions("A", 1000, 500), Decisions("B", 1000, 420)});
  const Comparison2 expected = Compare(500, 1000, 420, 1000);
  ASSERT_GT(expected.lower, 0.0);
  const Finding f = EvaluateRule(rule, TestPolicy(), "m", "sex", metrics);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kWarning);
  EXPECT_NEAR(*f.value, 0.08, 1e-12);
  EXPECT_NEAR(f.interval->lower, expected.lower, 1e-9);
  EXPECT_NEAR(f.interval->upper, expected.upper, 1e-9);
  EXPECT_THAT(f.message, HasSubstr("not critical: not above 0.10"));
}

TEST(EvaluateTest, AppliesRulesToTheirModelsAndAttributes) {
  Policy policy;
  Rule only_compas = F3();
  only_compas.models = {"compas"};
  Rule only_sex = F1();
  only_sex.attributes = {"sex", "missing"};
  Rule all = F3();
  all.id = "F3b";
  policy.rules = {only_compas, only_sex, all};
  monitors::ModelMetrics metrics;
  metrics.fairness["race"] = Compas();
  metrics.fairness["sex"] =
      Metrics({Decisions("F", 1000, 500), Decisions("M", 1000, 480)});

  auto scopes = [&](const std::string& model) {
    std::vector<std::string> out;
    for (const Finding& f : Evaluate(policy, model, metrics)) {
      out.push_back(f.rule_id + "/" + f.attribute);
    }
    return out;
  };
  EXPECT_THAT(scopes("compas"), ElementsAre("F3/race", "F3/sex", "F1/sex",
                                            "F3b/race", "F3b/sex"));
  EXPECT_THAT(scopes("other"), ElementsAre("F1/sex", "F3b/race", "F3b/sex"));
}

TEST(EvaluateTest, HealthyFindingsAreReported) {
  Policy policy;
  policy.rules = {F1()};
  monitors::ModelMetrics metrics;
  metrics.fairness["sex"] =
      Metrics({Decisions("F", 1000, 500), Decisions("M", 1000, 490)});
  const std::vector<Finding> findings = Evaluate(policy, "m", metrics);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_FALSE(findings[0].severity.has_value());
  EXPECT_NEAR(*findings[0].value, 0.98, 1e-12);
}

TEST(HolmTest, AdjustsByRankAndKeepsTheOrder) {
  // Worked by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 give
  // 0.02, 0.03, 0.06, 0.04, and a running maximum makes the last 0.06.
  const std::vector<double> adjusted = HolmAdjusted({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(adjusted.size(), 4u);
  EXPECT_DOUBLE_EQ(adjusted[0], 0.03);
  EXPECT_DOUBLE_EQ(adjusted[1], 0.06);
  EXPECT_DOUBLE_EQ(adjusted[2], 0.06);
  EXPECT_DOUBLE_EQ(adjusted[3], 0.02);
  EXPECT_THAT(HolmAdjusted({0.5, 0.6}), ElementsAre(1.0, 1.0));
  EXPECT_THAT(HolmAdjusted({0.2}), ElementsAre(0.2));
  EXPECT_TRUE(HolmAdjusted({}).empty());
}

TEST(EvaluateTest, ARuleOverManyAttributesAdjustsItsPValues) {
  Rule rule;
  rule.id = "T";
  rule.metric = kDemographicParityDifference;
  rule.comparison = Comparison::kAbove;
  rule.warning = Threshold{0.01, 0.05, std::nullopt, std::nullopt};
  rule.element = "Q2.4/2.4.d";
  Policy policy;
  policy.rules = {rule};
  // Selection 0.500 vs 0.455 on 1,000 each: pooled z-test by hand.
  const double pooled = 955.0 / 2000.0;
  const double z =
      0.045 / std::sqrt(pooled * (1 - pooled) * (1.0 / 1000 + 1.0 / 1000));
  const double p = std::erfc(z / std::sqrt(2.0));
  ASSERT_LT(p, 0.05);
  ASSERT_GT(3 * p, 0.05);
  monitors::ModelMetrics metrics;
  metrics.fairness["a"] =
      Metrics({Decisions("F", 1000, 500), Decisions("M", 1000, 455)});
  // Alone, the gap is significant: a warning.
  std::vector<Finding> findings = Evaluate(policy, "m", metrics);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_NEAR(*findings[0].p_value, p, 1e-9);
  EXPECT_FALSE(findings[0].adjusted_p_value.has_value());
  EXPECT_EQ(findings[0].severity, Severity::kWarning);
  // One of three attributes tested: Holm multiplies the smallest p by 3,
  // and the gap no longer passes for significant.
  metrics.fairness["b"] =
      Metrics({Decisions("F", 1000, 500), Decisions("M", 1000, 500)});
  metrics.fairness["c"] =
      Metrics({Decisions("F", 1000, 300), Decisions("M", 1000, 300)});
  findings = Evaluate(policy, "m", metrics);
  ASSERT_EQ(findings.size(), 3u);
  const Finding& a = findings[0];
  ASSERT_EQ(a.attribute, "a");
  EXPECT_NEAR(*a.p_value, p, 1e-9);
  ASSERT_TRUE(a.adjusted_p_value.has_value());
  EXPECT_NEAR(*a.adjusted_p_value, 3 * p, 1e-9);
  EXPECT_EQ(a.tests_in_family, 3u);
  EXPECT_FALSE(a.severity.has_value());
  EXPECT_THAT(a.message, HasSubstr("adjusted for the rule's 3 tests (Holm)"));
  EXPECT_THAT(a.message, HasSubstr("Holm-adjusted p"));
  for (const Finding& other : {findings[1], findings[2]}) {
    EXPECT_DOUBLE_EQ(*other.adjusted_p_value, 1.0) << other.attribute;
  }
}

}  // namespace
}  // namespace vigie::rules

namespace vigie::rules {
namespace {

Rule O2() {
  Rule rule;
  rule.id = "O2";
  rule.metric = kMissedWindows;
  rule.comparison = Comparison::kAbove;
  rule.warning = Threshold{0, std::nullopt, std::nullopt, std::nullopt};
  rule.critical = Threshold{2, std::nullopt, std::nullopt, std::nullopt};
  rule.element = "Q5.1/5.1.e";
  return rule;
}

TEST(LivenessRuleTest, CountsWholeMissedWindows) {
  ASSERT_TRUE(O2().Validate().ok()) << O2().Validate();
  Policy policy;
  policy.rules = {O2()};
  const absl::Duration hour = absl::Hours(1);
  // (silence, expected missed windows, severity)
  const struct {
    absl::Duration silence;
    double missed;
    std::optional<Severity> severity;
  } cases[] = {
      {absl::Minutes(59), 0, std::nullopt},
      {hour, 1, Severity::kWarning},
      {absl::Minutes(179), 2, Severity::kWarning},
      {absl::Hours(3), 3, Severity::kCritical},
  };
  for (const auto& c : cases) {
    const ModelActivity activity{c.silence, hour};
    const std::vector<Finding> findings =
        Evaluate(policy, "credit", {}, &activity);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].value, c.missed) << c.silence;
    EXPECT_EQ(findings[0].severity, c.severity) << findings[0].message;
    EXPECT_EQ(findings[0].attribute, "");
  }
  // No expectation, or no activity given: nothing to say.
  const ModelActivity none{absl::Hours(100), absl::ZeroDuration()};
  EXPECT_TRUE(Evaluate(policy, "credit", {}, &none).empty());
  EXPECT_TRUE(Evaluate(policy, "credit", {}).empty());
}

TEST(LivenessRuleTest, ValidatesAsACount) {
  Rule rule = O2();
  rule.critical->value = 5;
  EXPECT_TRUE(rule.Validate().ok());
  rule.critical->max_p_value = 0.05;
  EXPECT_THAT(std::string(rule.Validate().message()),
              HasSubstr("takes only a value"));
  rule = O2();
  rule.attributes = {"race"};
  EXPECT_THAT(std::string(rule.Validate().message()),
              HasSubstr("is the model's"));
}

}  // namespace
}  // namespace vigie::rules
