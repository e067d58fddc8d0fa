#include "rules/policy.h"

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::rules {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Rule ValidRule() {
  Rule rule;
  rule.id = "F3";
  rule.metric = kEqualizedOddsDifference;
  rule.comparison = Comparison::kAbove;
  rule.warning = Threshold{0.05, 0.05, std::nullopt, std::nullopt};
  rule.critical = Threshold{0.10, std::nullopt, 0.05, std::nullopt};
  rule.element = "Q2.4/2.4.d";
  return rule;
}

// The message of `rule`'s validation error (fails the test if it is valid).
std::string ErrorOf(const Rule& rule) {
  absl::Status status = rule.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

TEST(RuleTest, ValidRulePasses) {
  EXPECT_OK(ValidRule().Validate());
  Rule only_critical = ValidRule();
  only_critical.warning.reset();
  EXPECT_OK(only_critical.Validate());
}

TEST(RuleTest, UnknownMetricIsNamed) {
  Rule rule = ValidRule();
  rule.metric = "accuracy";
  EXPECT_THAT(ErrorOf(rule), AllOf(HasSubstr("F3"), HasSubstr("unknown metric"),
                                   HasSubstr("accuracy")));
}

TEST(RuleTest, NeedsAThreshold) {
  Rule rule = ValidRule();
  rule.warning.reset();
  rule.critical.reset();
  EXPECT_THAT(ErrorOf(rule), AllOf(HasSubstr("F3"), HasSubstr("threshold")));
}

TEST(RuleTest, ConfidenceMustBeInOpenRange) {
  for (double confidence : {0.5, 1.0, 0.0, 1.5}) {
    Rule rule = ValidRule();
    rule.confidence = confidence;
    EXPECT_THAT(ErrorOf(rule), AllOf(HasSubstr("F3"), HasSubstr("confidence")))
        << confidence;
  }
  Rule rule = ValidRule();
  rule.confidence = 0.99;
  EXPECT_OK(rule.Validate());
}

TEST(RuleTest, ForAndKeepFiringForAreBounded) {
  Rule rule = ValidRule();
  rule.for_evaluations = 0;
  EXPECT_THAT(ErrorOf(rule), AllOf(HasSubstr("F3"), HasSubstr("for must")));
  rule.for_evaluations = 1001;
  EXPECT_THAT(ErrorOf(rule), HasSubstr("for must"));
  rule.for_evaluations = 1000;
  rule.keep_firing_for = 1001;
  EXPECT_THAT(ErrorOf(rule), HasSubstr("keep_firing_for"));
  rule.keep_firing_for = 1000;
  EXPECT_TRUE(rule.Validate().ok());
}

TEST(RuleTest, NegativeWindowIsRejected) {
  Rule rule = ValidRule();
  rule.window = absl::Hours(-1);
  EXPECT_THAT(ErrorOf(rule), AllOf(HasSubstr("F3"), HasSubstr("window")));
}

TEST(RuleTest, WarningMustComeBeforeCriticalAbove) {
  Rule rule = ValidRule();
  rule.warning->value = 0.2;
  EXPECT_THAT(ErrorOf(rule), AllOf(HasSubstr("F3"), HasSubstr("warning.value"),
                                   HasSubstr("critical.value")));
  rule.warning->value = 0.10;  // Equal values: the conditions may differ.
  EXPECT_OK(rule.Validate());
}

TEST(RuleTest, WarningMustComeBeforeCriticalBelow) {
  Rule rule = ValidRule();
  rule.metric = kDemographicParityRatio;
  rule.comparison = Comparison::kBelow;
  rule.warning = Threshold{0.90, 0.05, std::nullopt, std::nullopt};
  rule.critical = Threshold{0.80, 0.01, std::nullopt, std::nullopt};
  EXPECT_OK(rule.Validate());
  rule.warning->value = 0.70;
  EXPECT_THAT(ErrorOf(rule), AllOf(HasSubstr("F3"), HasSubstr("below")));
}

TEST(RuleTest, ThresholdRangesAreChecked) {
  Rule rule = ValidRule();
  rule.critical->value = 1.5;
  EXPECT_THAT(ErrorOf(rule), HasSubstr("critical.value"));
  rule = ValidRule();
  rule.warning->max_p_value = 0;
  EXPECT_THAT(ErrorOf(rule), HasSubstr("warning.max_p_value"));
  rule = ValidRule();
  rule.critical->min_interval_lower = 2;
  EXPECT_THAT(ErrorOf(rule), HasSubstr("critical.min_interval_lower"));
}

TEST(RuleTest, EmptyIdElementAndNamesAreRejected) {
  Rule rule = ValidRule();
  rule.element.clear();
  EXPECT_THAT(ErrorOf(rule), AllOf(HasSubstr("F3"), HasSubstr("element")));
  rule = ValidRule();
  rule.id.clear();
  EXPECT_THAT(ErrorOf(rule), HasSubstr("id"));
  rule = ValidRule();
  rule.attributes = {"race", ""};
  EXPECT_THAT(ErrorOf(rule), HasSubstr("attributes"));
  rule = ValidRule();
  rule.models = {"m", "m"};
  EXPECT_THAT(ErrorOf(rule), HasSubstr("models"));
}

TEST(PolicyTest, DuplicateIdsAreRejected) {
  Policy policy;
  policy.rules = {ValidRule(), ValidRule()};
  absl::Status status = policy.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("F3"), HasSubstr("twice")));
  policy.rules[1].id = "F4";
  EXPECT_OK(policy.Validate());
}

TEST(PolicyTest, InvalidRuleFailsThePolicy) {
  Policy policy;
  policy.rules = {ValidRule()};
  policy.rules[0].metric = "nope";
  EXPECT_EQ(policy.Validate().code(), absl::StatusCode::kInvalidArgument);
  policy.rules.clear();
  EXPECT_OK(policy.Validate());  // An empty policy is valid: nothing to do.
  policy.referential.clear();
  EXPECT_EQ(policy.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigie::rules
