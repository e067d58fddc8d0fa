// Overrides per model, attribute and feature, and thresholds relative to a
// baseline: what rule applies where, and what it finds.

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "monitors/fairness.h"
#include "monitors/model_monitors.h"
#include "rules/alert_tracker.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

using ::testing::HasSubstr;

// Decisions only: `selected` of `predictions` chosen.
monitors::GroupRates Decisions(std::string label, uint64_t predictions,
                               uint64_t selected) {
  monitors::GroupRates group;
  group.group = std::move(label);
  group.predictions = predictions;
  group.selected = selected;
  group.selection_rate =
      static_cast<double>(selected) / static_cast<double>(predictions);
  return group;
}

// Two attributes with the same split: selection rates 0.50 and 0.40 in
// groups of 1,000, so a demographic parity difference of 0.10 and a ratio
// of 0.80.
monitors::ModelMetrics TwoAttributes() {
  monitors::ModelMetrics metrics;
  for (const char* attribute : {"race", "sex"}) {
    monitors::FairnessMetrics& fairness = metrics.fairness[attribute];
    fairness.groups = {Decisions("a", 1000, 500), Decisions("b", 1000, 400)};
  }
  return metrics;
}

// F2 with a warning at 0.05 and no significance condition.
Rule F2() {
  Rule rule;
  rule.id = "F2";
  rule.metric = kDemographicParityDifference;
  rule.comparison = Comparison::kAbove;
  rule.warning = Threshold{0.05, std::nullopt, std::nullopt, std::nullopt};
  rule.critical = Threshold{0.20, std::nullopt, std::nullopt, std::nullopt};
  rule.element = "Q2.4/2.4.d";
  return rule;
}

const Finding* Find(const std::vector<Finding>& findings,
                    const std::string& attribute) {
  for (const Finding& f : findings) {
    if (f.attribute == attribute) return &f;
  }
  return nullptr;
}

TEST(OverridesTest, ApplyInOrderToTheScopesTheySelect) {
  Policy policy;
  policy.rules = {F2()};
  RuleOverride model_b;
  model_b.models = {"b"};
  model_b.warning = RuleOverride::Level{0.15, {}, {}, {}};
  model_b.for_evaluations = 3;
  RuleOverride race_in_b;
  race_in_b.models = {"b"};
  race_in_b.attributes = {"race"};
  race_in_b.warning = RuleOverride::Level{0.08, {}, {}, {}};
  RuleOverride other_rule;
  other_rule.rules = {"F1"};
  other_rule.for_evaluations = 9;
  policy.overrides = {model_b, race_in_b, other_rule};

  const Rule& f2 = policy.rules[0];
  EXPECT_DOUBLE_EQ(policy.Resolve(f2, "a", "race").warning->value, 0.05);
  EXPECT_EQ(policy.Resolve(f2, "a", "race").for_evaluations, 1u);
  EXPECT_DOUBLE_EQ(policy.Resolve(f2, "b", "sex").warning->value, 0.15);
  EXPECT_EQ(policy.Resolve(f2, "b", "sex").for_evaluations, 3u);
  // The later, narrower override wins; the fields it leaves alone stay.
  const Rule race = policy.Resolve(f2, "b", "race");
  EXPECT_DOUBLE_EQ(race.warning->value, 0.08);
  EXPECT_EQ(race.for_evaluations, 3u);
  EXPECT_DOUBLE_EQ(race.critical->value, 0.20);
  // A selector of features does not match a finding without one.
  RuleOverride feature;
  feature.features = {"income"};
  feature.enabled = false;
  policy.overrides = {feature};
  EXPECT_TRUE(policy.Resolve(f2, "a", "race").enabled);
  EXPECT_FALSE(policy.Resolve(f2, "a", "", "income").enabled);
}

TEST(OverridesTest, EvaluatePerModelAndAttribute) {
  Policy policy;
  policy.rules = {F2()};
  RuleOverride lenient_b;
  lenient_b.models = {"b"};
  lenient_b.warning = RuleOverride::Level{0.15, {}, {}, {}};
  RuleOverride strict_sex_b;
  strict_sex_b.models = {"b"};
  strict_sex_b.attributes = {"sex"};
  strict_sex_b.warning = RuleOverride::Level{0.09, {}, {}, {}};
  policy.overrides = {lenient_b, strict_sex_b};
  ASSERT_TRUE(policy.Validate().ok()) << policy.Validate();

  // Model a: the gap 0.10 is above 0.05 on both attributes.
  const std::vector<Finding> a = Evaluate(policy, "a", TwoAttributes());
  ASSERT_EQ(a.size(), 2u);
  for (const Finding& f : a) {
    EXPECT_EQ(f.severity, Severity::kWarning) << f.message;
    EXPECT_NEAR(*f.value, 0.10, 1e-12);
  }
  // Model b: not above 0.15 on race; above 0.09 on sex.
  const std::vector<Finding> b = Evaluate(policy, "b", TwoAttributes());
  ASSERT_EQ(b.size(), 2u);
  EXPECT_FALSE(Find(b, "race")->severity.has_value());
  EXPECT_DOUBLE_EQ(Find(b, "race")->threshold, 0.15);
  EXPECT_EQ(Find(b, "sex")->severity, Severity::kWarning);
  EXPECT_DOUBLE_EQ(Find(b, "sex")->threshold, 0.09);
}

TEST(OverridesTest, DisabledRulesAreNotEvaluatedThere) {
  Policy policy;
  policy.rules = {F2()};
  RuleOverride off;
  off.models = {"b"};
  off.attributes = {"race"};
  off.enabled = false;
  policy.overrides = {off};
  EXPECT_EQ(Evaluate(policy, "a", TwoAttributes()).size(), 2u);
  const std::vector<Finding> b = Evaluate(policy, "b", TwoAttributes());
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].attribute, "sex");
}

TEST(OverridesTest, ForIsTheOverriddenOne) {
  Policy policy;
  policy.rules = {F2()};
  RuleOverride slow;
  slow.models = {"b"};
  slow.for_evaluations = 2;
  policy.overrides = {slow};
  const absl::flat_hash_map<std::string, vigie::v1::Alert> none;
  const vigie::v1::TimeWindow window;
  const absl::Time now = absl::FromUnixSeconds(1'000'000);
  for (const auto& [model, state] :
       {std::pair{"a", vigie::v1::ALERT_STATE_FIRING},
        std::pair{"b", vigie::v1::ALERT_STATE_PENDING}}) {
    std::vector<Finding> findings = Evaluate(policy, model, TwoAttributes());
    const std::vector<AlertChange> changes =
        TrackAlerts(findings, policy, none, window, now);
    ASSERT_EQ(changes.size(), 2u);
    for (const AlertChange& change : changes) {
      EXPECT_EQ(change.alert.state(), state) << model;
    }
  }
}

TEST(OverridesTest, RelativeToADeclaredBaseline) {
  // An impact ratio declared at 0.95 at validation; a warning when it falls
  // more than 0.05 below it, critical past 0.15 below.
  Rule f1;
  f1.id = "F1";
  f1.metric = kDemographicParityRatio;
  f1.comparison = Comparison::kBelow;
  f1.baseline = 0.95;
  f1.warning = Threshold{-0.05, std::nullopt, std::nullopt, std::nullopt};
  f1.critical = Threshold{-0.15, std::nullopt, std::nullopt, std::nullopt};
  f1.element = "Q2.4/2.4.c";
  ASSERT_TRUE(f1.Validate().ok()) << f1.Validate();
  Policy policy;
  policy.rules = {f1};
  // 0.40 / 0.50 = 0.80 < 0.95 - 0.05 = 0.90 (warning) but not < 0.95 - 0.15
  // = 0.80 (critical).
  const std::vector<Finding> findings = Evaluate(policy, "a", TwoAttributes());
  ASSERT_EQ(findings.size(), 2u);
  const Finding& race = *Find(findings, "race");
  EXPECT_NEAR(*race.value, 0.80, 1e-12);
  EXPECT_EQ(race.severity, Severity::kWarning) << race.message;
  EXPECT_NEAR(race.threshold, 0.90, 1e-12);
  EXPECT_EQ(race.baseline, 0.95);
  EXPECT_THAT(race.message, HasSubstr("relative to the baseline 0.95"));
  // Declared at 0.85 instead (an override for model b): 0.80 is above 0.80
  // and not below 0.85 - 0.05 = 0.80 either: healthy.
  RuleOverride declared;
  declared.models = {"b"};
  declared.baseline = 0.85;
  policy.overrides = {declared};
  ASSERT_TRUE(policy.Validate().ok()) << policy.Validate();
  for (const Finding& f : Evaluate(policy, "b", TwoAttributes())) {
    EXPECT_FALSE(f.severity.has_value()) << f.message;
    EXPECT_NEAR(f.threshold, 0.80, 1e-12);
  }
  // The alert carries the baseline and where it comes from.
  const absl::flat_hash_map<std::string, vigie::v1::Alert> none;
  Policy plain;
  plain.rules = {f1};
  const std::vector<AlertChange> changes =
      TrackAlerts(findings, plain, none, {}, absl::FromUnixSeconds(1'000'000));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_DOUBLE_EQ(changes[0].alert.baseline(), 0.95);
  EXPECT_EQ(changes[0].alert.baseline_source(), "declared");
  EXPECT_NEAR(changes[0].alert.threshold(), 0.90, 1e-12);
}

TEST(OverridesTest, ValidationNamesTheOverrideAndTheScope) {
  Policy policy;
  policy.rules = {F2()};
  RuleOverride unknown;
  unknown.rules = {"F9"};
  unknown.for_evaluations = 2;
  policy.overrides = {unknown};
  EXPECT_THAT(std::string(policy.Validate().message()),
              HasSubstr("overrides[0]: no rule \"F9\""));

  // Warning above critical, but only for model b's race.
  RuleOverride inverted;
  inverted.models = {"b"};
  inverted.attributes = {"race"};
  inverted.warning = RuleOverride::Level{0.30, {}, {}, {}};
  policy.overrides = {inverted};
  const std::string message(policy.Validate().message());
  EXPECT_THAT(message, HasSubstr("warning.value 0.3 must be <="));
  EXPECT_THAT(message, HasSubstr("model \"b\", attribute \"race\""));
  // Raising critical in a later override for the same scope mends it.
  RuleOverride mend;
  mend.attributes = {"race"};
  mend.critical = RuleOverride::Level{0.40, {}, {}, {}};
  policy.overrides = {inverted, mend};
  EXPECT_TRUE(policy.Validate().ok()) << policy.Validate();

  RuleOverride window;
  window.attributes = {"race"};
  window.window = absl::Hours(24);
  policy.overrides = {window};
  EXPECT_THAT(std::string(policy.Validate().message()),
              HasSubstr("window is evaluated per model"));
}

}  // namespace
}  // namespace vigie::rules
