#include "rules/performance_rule.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "monitors/performance_estimate.h"
#include "monitors/stats.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

using ::testing::HasSubstr;

// The default policy's P1.
Rule P1() {
  Rule rule;
  rule.id = "P1";
  rule.metric = kDeclaredPerformance;
  rule.comparison = Comparison::kBelow;
  rule.warning = Threshold{0, 0.05, std::nullopt, std::nullopt};
  rule.critical = Threshold{-0.05, 0.01, std::nullopt, std::nullopt};
  rule.min_labelled = 500;
  rule.element = "Q3.5/3.5.d";
  rule.related_elements = {"Q3.4/3.4.a", "Q3.5/3.5.b", "Q4.2"};
  rule.ai_act_articles = {"Art. 15"};
  rule.threshold_source = "Vigie default policy P1";
  return rule;
}

double Phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// A realised proportion, as the monitor reports it.
monitors::PerformanceValue Realised(uint64_t successes, uint64_t trials) {
  monitors::PerformanceValue v;
  v.successes = successes;
  v.trials = trials;
  v.value = static_cast<double>(successes) / static_cast<double>(trials);
  v.standard_error =
      std::sqrt(v.value * (1 - v.value) / static_cast<double>(trials));
  v.interval95 = monitors::WilsonInterval(successes, trials, 0.95);
  return v;
}

monitors::PerformanceValue Estimated(double value, double se) {
  monitors::PerformanceValue v;
  v.value = value;
  v.standard_error = se;
  v.sampling_error = se;
  v.interval95 = {value - 1.96 * se, value + 1.96 * se};
  return v;
}

// The upper one-sided bound of Wilson's interval at confidence c, from
// its formula: (p + z^2/2n + z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
double WilsonUpper(double p, double n, double z) {
  return (p + z * z / (2 * n) +
          z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n))) /
         (1 + z * z / n);
}

TEST(PerformanceRuleTest, DefaultP1Validates) {
  Policy policy;
  policy.rules = {P1()};
  EXPECT_TRUE(policy.Validate().ok());
  Rule rule = P1();
  rule.comparison = Comparison::kAbove;
  EXPECT_FALSE(rule.Validate().ok());
  rule = P1();
  rule.attributes = {"sex"};
  EXPECT_FALSE(rule.Validate().ok());
  rule = P1();
  rule.baseline = 0.9;
  EXPECT_FALSE(rule.Validate().ok());
  rule = P1();
  rule.warning->value = 0.1;
  EXPECT_FALSE(rule.Validate().ok());
  rule = P1();
  rule.critical->max_p_value = 0.7;
  EXPECT_FALSE(rule.Validate().ok());
  rule = P1();
  rule.warning->min_interval_lower = 0.1;
  EXPECT_FALSE(rule.Validate().ok());
}

TEST(PerformanceRuleTest, PValueMatchesTheOneSidedBounds) {
  // Realised: the score test against p0 = 0.85, 820 / 1000.
  const monitors::PerformanceValue r = Realised(820, 1000);
  const double z = (0.82 - 0.85) / std::sqrt(0.85 * 0.15 / 1000);
  EXPECT_NEAR(PerformancePValue(r, 0.85), Phi(z), 1e-12);
  // p < alpha exactly when the upper one-sided (1 - alpha) Wilson bound is
  // below p0.
  for (double declared : {0.83, 0.84, 0.845, 0.85, 0.86}) {
    for (double alpha : {0.05, 0.01}) {
      const double z_alpha =
          alpha == 0.05 ? 1.6448536269514722 : 2.3263478740408408;
      const double upper = WilsonUpper(0.82, 1000, z_alpha);
      EXPECT_NEAR(r.UpperBound(1 - alpha), upper, 1e-9);
      EXPECT_EQ(PerformancePValue(r, declared) < alpha, upper < declared)
          << declared << " " << alpha;
    }
  }
  // Estimated: normal.
  const monitors::PerformanceValue e = Estimated(0.80, 0.02);
  EXPECT_NEAR(PerformancePValue(e, 0.85), Phi(-2.5), 1e-12);
}

TEST(PerformanceRuleTest, RealisedWhenEnoughLabels) {
  // 820 / 1000 against 0.85: z = -2.657, p = 0.0039 < 0.01; but 0.82 is
  // not below 0.85 - 0.05, so warning, not critical.
  const monitors::PerformanceValue r = Realised(820, 1000);
  const monitors::PerformanceValue e = Estimated(0.5, 0.01);
  PerformanceInputs in{"accuracy", 0.85, &r, 1000, &e, 5000, "isotonic"};
  Policy policy;
  const Finding f = EvaluatePerformanceRule(P1(), policy, "credit", in);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kWarning);
  EXPECT_DOUBLE_EQ(*f.value, 0.82);
  EXPECT_DOUBLE_EQ(*f.baseline, 0.85);
  EXPECT_DOUBLE_EQ(f.threshold, 0.85);
  EXPECT_EQ(f.comparison, Comparison::kBelow);
  EXPECT_THAT(f.message, HasSubstr("realised by 1000 labelled"));
  EXPECT_THAT(f.message, HasSubstr("not below 0.80"));
  EXPECT_THAT(f.message, HasSubstr("labelia-dsrc@v202301"));
}

TEST(PerformanceRuleTest, EstimateWhileLabelsAreMissing) {
  // 300 labelled (< 500): the estimate, 0.78 with standard error 0.01 on
  // 4000 predictions: 0.78 < 0.80 and p = Phi(-7) < 0.01: critical.
  const monitors::PerformanceValue r = Realised(290, 300);
  const monitors::PerformanceValue e = Estimated(0.78, 0.01);
  PerformanceInputs in{"recall",
                       0.85,
                       &r,
                       300,
                       &e,
                       4000,
                       "isotonic calibration on 20000 reference pairs"};
  Policy policy;
  const Finding f = EvaluatePerformanceRule(P1(), policy, "credit", in);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kCritical);
  EXPECT_DOUBLE_EQ(*f.value, 0.78);
  EXPECT_NEAR(*f.p_value, Phi(-7), 1e-15);
  EXPECT_DOUBLE_EQ(f.threshold, 0.80);
  EXPECT_THAT(f.message, HasSubstr("estimated by CBPE"));
  EXPECT_THAT(f.message, HasSubstr("standard error 0.0100"));
  EXPECT_THAT(f.message, HasSubstr("isotonic calibration on 20000"));
  EXPECT_EQ(f.baseline_source, "declared recall of the model");

  // Within noise: 0.84 with standard error 0.01 has p = Phi(-1) = 0.16:
  // healthy though below the declared level.
  const monitors::PerformanceValue near = Estimated(0.84, 0.01);
  in.estimated = &near;
  const Finding healthy = EvaluatePerformanceRule(P1(), policy, "credit", in);
  EXPECT_FALSE(healthy.severity.has_value());
  EXPECT_THAT(healthy.message, HasSubstr("upper one-sided 95% bound"));
}

TEST(PerformanceRuleTest, InsufficientDataSaysWhatIsMissing) {
  Policy policy;
  const monitors::PerformanceValue e = Estimated(0.5, 0.05);
  PerformanceInputs in{"f1", 0.9, nullptr, 0, &e, 499, "histogram"};
  Finding f = EvaluatePerformanceRule(P1(), policy, "credit", in);
  ASSERT_TRUE(f.severity.has_value());
  EXPECT_EQ(*f.severity, Severity::kInsufficientData);
  EXPECT_THAT(f.message, HasSubstr("499 predictions to estimate from"));
  in.estimated = nullptr;
  f = EvaluatePerformanceRule(P1(), policy, "credit", in);
  EXPECT_EQ(*f.severity, Severity::kInsufficientData);
  EXPECT_THAT(f.message, HasSubstr("no estimate"));
}

TEST(PerformanceRuleTest, EvaluateLeavesItToTheCaller) {
  Policy policy;
  policy.rules = {P1()};
  EXPECT_TRUE(Evaluate(policy, "credit", monitors::ModelMetrics()).empty());
}

}  // namespace
}  // namespace vigie::rules
