#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "monitors/calibration.h"
#include "monitors/model_monitors.h"
#include "rules/evaluator.h"
#include "rules/policy.h"
#include "vigie/v1/events.pb.h"

namespace vigie::rules {
namespace {

using ::testing::HasSubstr;

// The default policy's C1.
Rule C1() {
  Rule rule;
  rule.id = "C1";
  rule.metric = kExpectedCalibrationError;
  rule.comparison = Comparison::kAbove;
  rule.baseline = 0.01;
  rule.warning = Threshold{0.02, std::nullopt, std::nullopt, 0.95};
  rule.critical = Threshold{0.05, std::nullopt, std::nullopt, 0.99};
  rule.min_labelled = 2000;
  rule.element = "Q5.4/5.4.c";
  rule.ai_act_articles = {"Art. 15"};
  return rule;
}

// Calibration metrics with a given ECE and null distribution.
monitors::CalibrationMetrics Calibration(uint64_t count, double ece,
                                         double null_mean, double null_sd,
                                         double null_skew) {
  monitors::CalibrationMetrics m;
  m.count = count;
  m.ece = ece;
  monitors::NullEce null;
  null.mean = null_mean;
  null.stddev = null_sd;
  null.skewness = null_skew;
  m.null_ece = null;
  return m;
}

// The Cornish-Fisher quantile the header documents, recomputed here.
double NullQuantile(double mean, double sd, double skew, double z) {
  return mean + sd * (z + (z * z - 1) * skew / 6);
}
constexpr double kZ95 = 1.6448536269514722;
constexpr double kZ99 = 2.3263478740408408;

TEST(CalibrationRuleTest, ValidatesItsOwnFields) {
  EXPECT_TRUE(C1().Validate().ok());
  Rule rule = C1();
  rule.attributes = {"race"};
  EXPECT_THAT(std::string(rule.Validate().message()),
              HasSubstr("takes no attributes"));
  rule = C1();
  rule.comparison = Comparison::kBelow;
  EXPECT_FALSE(rule.Validate().ok());
  rule = C1();
  rule.warning->min_null_quantile = 1.0;
  EXPECT_THAT(std::string(rule.Validate().message()),
              HasSubstr("min_null_quantile must be in [0.5, 1)"));
  rule = C1();
  rule.critical->max_p_value = 0.01;
  EXPECT_THAT(std::string(rule.Validate().message()),
              HasSubstr("takes no max_p_value"));
  rule = C1();
  rule.baseline = -0.1;
  EXPECT_FALSE(rule.Validate().ok());
  // The calibration fields on a fairness rule.
  rule = C1();
  rule.metric = kDemographicParityDifference;
  rule.warning->min_null_quantile.reset();
  rule.critical->min_null_quantile.reset();
  // A fairness rule may have a baseline now, but no labelled minimum.
  EXPECT_THAT(std::string(rule.Validate().message()),
              HasSubstr("min_sample.labelled is for"));
  rule.min_labelled = 0;
  EXPECT_TRUE(rule.Validate().ok());
  rule.baseline = 0;
  EXPECT_TRUE(rule.Validate().ok());
  rule.warning->min_null_quantile = 0.95;
  EXPECT_THAT(std::string(rule.Validate().message()),
              HasSubstr("min_null_quantile is for"));
}

TEST(CalibrationRuleTest, TooFewLabelledIsInsufficientData) {
  const Policy policy;
  Finding none = EvaluateCalibrationRule(C1(), policy, "m", std::nullopt);
  EXPECT_EQ(none.severity, Severity::kInsufficientData);
  EXPECT_EQ(none.attribute, "");
  Finding few = EvaluateCalibrationRule(
      C1(), policy, "m", Calibration(1999, 0.3, 0.02, 0.005, 0.3));
  EXPECT_EQ(few.severity, Severity::kInsufficientData);
  EXPECT_FALSE(few.value.has_value());
  EXPECT_THAT(few.message, HasSubstr("1999 labelled"));
}

TEST(CalibrationRuleTest, LevelsNeedTheExcessAndTheNoiseFloor) {
  const Policy policy;
  // Null: mean 0.025, sd 0.005, skew 0.4, so its 95th percentile is
  // 0.025 + 0.005 (1.645 + (1.645^2 - 1) 0.4 / 6) = 0.0338 and its 99th
  // 0.025 + 0.005 (2.326 + (2.326^2 - 1) 0.4 / 6) = 0.0381.
  const double p95 = NullQuantile(0.025, 0.005, 0.4, kZ95);
  const double p99 = NullQuantile(0.025, 0.005, 0.4, kZ99);
  ASSERT_NEAR(p95, 0.0338, 1e-4);
  ASSERT_NEAR(p99, 0.0381, 1e-4);

  // 0.08 - 0.01 = 0.07 > 0.05, and 0.08 > p99: critical.
  Finding critical = EvaluateCalibrationRule(
      C1(), policy, "m", Calibration(5000, 0.08, 0.025, 0.005, 0.4));
  EXPECT_EQ(critical.severity, Severity::kCritical);
  EXPECT_EQ(critical.value, 0.08);
  EXPECT_NEAR(critical.threshold, 0.06, 1e-12);  // Baseline + 0.05.
  EXPECT_THAT(critical.message, HasSubstr("Q5.4/5.4.c"));

  // With a baseline of 0.04: 0.08 - 0.04 = 0.04, above 0.02 only: warning.
  Rule rule = C1();
  rule.baseline = 0.04;
  Finding warning = EvaluateCalibrationRule(
      rule, policy, "m", Calibration(5000, 0.08, 0.025, 0.005, 0.4));
  EXPECT_EQ(warning.severity, Severity::kWarning);
  EXPECT_THAT(warning.message, HasSubstr("not critical"));

  // A large excess inside the noise floor of a small sample is no breach:
  // 0.06 - 0.01 > 0.05, but the null's 95th percentile is above 0.06.
  Finding noise = EvaluateCalibrationRule(
      C1(), policy, "m", Calibration(2000, 0.06, 0.05, 0.01, 0.4));
  ASSERT_GT(NullQuantile(0.05, 0.01, 0.4, kZ95), 0.06);
  EXPECT_FALSE(noise.severity.has_value());
  EXPECT_THAT(noise.message, HasSubstr("breaches no threshold"));

  // Between the two quantiles: the warning's floor holds, the critical's
  // does not.
  const double between = (p95 + p99) / 2;
  rule = C1();
  rule.baseline = 0;
  Finding middle = EvaluateCalibrationRule(
      rule, policy, "m", Calibration(5000, between, 0.025, 0.005, 0.4));
  ASSERT_LT(between, 0.05);  // So the critical excess fails as well.
  EXPECT_EQ(middle.severity, Severity::kWarning);
}

// The rule on the real monitor: scores drawn uniformly, outcomes drawn
// either from the scores (calibrated) or 0.15 above them.
std::optional<monitors::CalibrationMetrics> Stream(double lean, int n) {
  monitors::ModelMonitors::Options options;
  options.group_attributes = {"sex"};
  auto monitors = monitors::ModelMonitors::Create(options);
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> uniform(0, 1);
  for (int i = 0; i < n; ++i) {
    const double p = uniform(rng);
    v1::Prediction prediction;
    prediction.mutable_binary()->set_score(p);
    prediction.mutable_binary()->set_decision(p >= 0.5);
    (*prediction.mutable_groups())["sex"] = i % 2 == 0 ? "f" : "m";
    v1::Outcome outcome;
    outcome.set_binary(uniform(rng) < std::min(1.0, p + lean));
    monitors->ObserveJoined(prediction, outcome);
  }
  return monitors->Snapshot().calibration;
}

TEST(CalibrationRuleTest, CalibratedStreamIsHealthyAndLeaningOneIsCritical) {
  const Policy policy;
  Rule rule = C1();
  rule.baseline = 0;
  const Finding calibrated =
      EvaluateCalibrationRule(rule, policy, "m", Stream(0, 5000));
  EXPECT_FALSE(calibrated.severity.has_value()) << calibrated.message;
  const Finding leaning =
      EvaluateCalibrationRule(rule, policy, "m", Stream(0.15, 5000));
  EXPECT_EQ(leaning.severity, Severity::kCritical) << leaning.message;
}

}  // namespace
}  // namespace vigie::rules
