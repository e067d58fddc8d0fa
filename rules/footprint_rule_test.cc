// Rule E1 on hand-made footprint metrics: the relative change against the
// baseline and the share of the budget, at and around the default policy's
// levels (+20% / +50%, 80% / 100% of the budget), computed here.

#include "rules/footprint_rule.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "monitors/footprint.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

Threshold Level(double change, double share) {
  Threshold t;
  t.value = change;
  t.budget_share = share;
  return t;
}

Rule E1() {
  Rule rule;
  rule.id = "E1";
  rule.metric = kFootprintPer1000;
  rule.comparison = Comparison::kAbove;
  rule.window = absl::Hours(24);
  rule.warning = Level(0.20, 0.8);
  rule.critical = Level(0.50, 1.0);
  rule.element = "Q6.1/6.1.b";
  rule.related_elements = {"Q6.1/6.1.c", "Q6.1/6.1.e"};
  return rule;
}

// A window whose energy per 1,000 predictions is `joules` (and carbon
// `grams`, when given), over `n` predictions.
monitors::FootprintMetrics Window(double joules,
                                  std::optional<double> grams = std::nullopt,
                                  uint64_t n = 5000) {
  monitors::FootprintMetrics m;
  m.predictions = n;
  m.costed = n;
  m.energy_joules_per_1000 = joules;
  m.energy_joules = joules * static_cast<double>(n) / 1000;
  if (grams.has_value()) {
    m.carbon_costed = n;
    m.carbon_grams_per_1000 = grams;
  }
  return m;
}

FootprintInputs Inputs(const monitors::FootprintMetrics& window,
                       std::optional<double> baseline,
                       std::optional<double> budget = std::nullopt) {
  FootprintInputs inputs{&window};
  inputs.full_window = true;
  inputs.energy.baseline = baseline;
  inputs.energy.baseline_source = "declared";
  inputs.energy.budget = budget;
  return inputs;
}

Finding Energy(const Rule& rule, const FootprintInputs& inputs) {
  const std::vector<Finding> findings =
      EvaluateFootprintRule(rule, Policy(), "m", inputs);
  for (const Finding& f : findings) {
    if (f.feature == kEnergyScope) return f;
  }
  ADD_FAILURE() << "no energy finding";
  return Finding();
}

TEST(FootprintRuleTest, Validates) {
  EXPECT_TRUE(E1().Validate().ok()) << E1().Validate();
  auto error = [](const Rule& rule) {
    return std::string(rule.Validate().message());
  };
  Rule rule = E1();
  rule.window = absl::ZeroDuration();
  EXPECT_THAT(error(rule), HasSubstr("needs a window"));
  rule = E1();
  rule.baseline = 5;
  EXPECT_THAT(error(rule), HasSubstr("takes no baseline"));
  rule = E1();
  rule.comparison = Comparison::kBelow;
  EXPECT_THAT(error(rule), HasSubstr("breaches above"));
  rule = E1();
  rule.critical->budget_share = 0;
  EXPECT_THAT(error(rule), HasSubstr("budget_share must be in (0, 10]"));
  rule = E1();
  rule.warning->budget_share = 1.5;
  EXPECT_THAT(error(rule), HasSubstr("must be <= critical's"));
  rule = E1();
  rule.min_labelled = 10;
  EXPECT_THAT(error(rule), HasSubstr("takes no min_sample"));
  // budget_share on another metric.
  rule = E1();
  rule.metric = kExpectedCalibrationError;
  rule.window = absl::ZeroDuration();
  EXPECT_THAT(error(rule), HasSubstr("budget_share is for"));
}

TEST(FootprintRuleTest, RelativeChangeAtTheEdges) {
  const double baseline = 10;  // J per 1,000 predictions.
  struct Case {
    double joules;
    std::optional<Severity> want;
  };
  // +20% is 12 J, +50% is 15 J (baseline x (1 + level)).
  for (const Case& c :
       {Case{11.99, std::nullopt}, Case{baseline * 1.2, Severity::kWarning},
        Case{14.99, Severity::kWarning},
        Case{baseline * 1.5, Severity::kCritical},
        Case{30, Severity::kCritical}}) {
    const monitors::FootprintMetrics window = Window(c.joules);
    const Finding f = Energy(E1(), Inputs(window, baseline));
    EXPECT_EQ(f.severity, c.want) << c.joules;
    EXPECT_DOUBLE_EQ(*f.value, c.joules);
    EXPECT_DOUBLE_EQ(*f.baseline, baseline);
    EXPECT_EQ(f.feature, "@energy");
  }
  // The threshold reported is the figure of the level found.
  const monitors::FootprintMetrics warm = Window(13);
  EXPECT_DOUBLE_EQ(Energy(E1(), Inputs(warm, baseline)).threshold, 12);
  const monitors::FootprintMetrics hot = Window(16);
  EXPECT_DOUBLE_EQ(Energy(E1(), Inputs(hot, baseline)).threshold, 15);
}

TEST(FootprintRuleTest, BudgetShareAtTheEdges) {
  const double budget = 20;  // No baseline: the budget alone.
  struct Case {
    double joules;
    std::optional<Severity> want;
  };
  // 80% of the budget is 16 J, 100% is 20 J.
  for (const Case& c :
       {Case{15.99, std::nullopt}, Case{0.8 * budget, Severity::kWarning},
        Case{19.99, Severity::kWarning}, Case{budget, Severity::kCritical},
        Case{25, Severity::kCritical}}) {
    const monitors::FootprintMetrics window = Window(c.joules);
    const Finding f = Energy(E1(), Inputs(window, std::nullopt, budget));
    EXPECT_EQ(f.severity, c.want) << c.joules;
    EXPECT_FALSE(f.baseline.has_value());
  }
}

TEST(FootprintRuleTest, EitherConditionIsEnough) {
  // +10% against the baseline (healthy) but 95% of the budget: warning;
  // +60% (critical) at 50% of the budget: critical.
  const monitors::FootprintMetrics near_budget = Window(11);
  EXPECT_EQ(Energy(E1(), Inputs(near_budget, 10, 11.0 / 0.95)).severity,
            Severity::kWarning);
  const monitors::FootprintMetrics grown = Window(16);
  const Finding f = Energy(E1(), Inputs(grown, 10, 32));
  EXPECT_EQ(f.severity, Severity::kCritical);
  EXPECT_THAT(f.message, HasSubstr("+60.0% vs the baseline"));
  EXPECT_THAT(f.message, HasSubstr("50.0% of the budget"));
}

TEST(FootprintRuleTest, CarbonIsItsOwnFinding) {
  const monitors::FootprintMetrics window = Window(10, 0.9);
  FootprintInputs inputs = Inputs(window, 10);
  inputs.carbon.baseline = 0.5;
  inputs.carbon.baseline_source = "reference window 2026-01-01 to 2026-01-08";
  const std::vector<Finding> findings =
      EvaluateFootprintRule(E1(), Policy(), "m", inputs);
  ASSERT_THAT(findings, SizeIs(2));
  EXPECT_EQ(findings[0].feature, "@energy");
  EXPECT_FALSE(findings[0].severity.has_value());
  EXPECT_EQ(findings[1].feature, "@carbon");
  // 0.9 / 0.5 - 1 = +80%.
  EXPECT_EQ(findings[1].severity, Severity::kCritical);
  EXPECT_EQ(findings[1].baseline_source,
            "reference window 2026-01-01 to 2026-01-08");
  EXPECT_THAT(findings[1].message, HasSubstr("gCO2e"));
}

TEST(FootprintRuleTest, InsufficientDataSaysWhy) {
  const monitors::FootprintMetrics window = Window(30);
  FootprintInputs partial = Inputs(window, 10);
  partial.full_window = false;
  Finding f = Energy(E1(), partial);
  EXPECT_EQ(f.severity, Severity::kInsufficientData);
  EXPECT_THAT(f.message, HasSubstr("one full window"));
  FootprintInputs frozen_later = Inputs(window, std::nullopt);
  frozen_later.reference_expected = true;
  f = Energy(E1(), frozen_later);
  EXPECT_EQ(f.severity, Severity::kInsufficientData);
  EXPECT_THAT(f.message, HasSubstr("no baseline yet"));
  // A baseline but no cost in the window.
  FootprintInputs none{nullptr};
  none.full_window = true;
  none.energy.baseline = 10;
  f = Energy(E1(), none);
  EXPECT_EQ(f.severity, Severity::kInsufficientData);
  EXPECT_THAT(f.message, HasSubstr("carried a cost"));
}

TEST(FootprintRuleTest, NoCostNoTargetNoFinding) {
  FootprintInputs inputs;
  inputs.full_window = true;
  inputs.reference_expected = true;
  EXPECT_THAT(EvaluateFootprintRule(E1(), Policy(), "m", inputs), IsEmpty());
  // Costs but no target, and no reference window to give one: none either.
  const monitors::FootprintMetrics window = Window(30, 2);
  EXPECT_THAT(
      EvaluateFootprintRule(E1(), Policy(), "m", Inputs(window, std::nullopt)),
      IsEmpty());
}

TEST(FootprintRuleTest, OverridesPerScope) {
  Policy policy;
  policy.rules = {E1()};
  RuleOverride o;
  o.rules = {"E1"};
  o.features = {"@carbon"};
  o.enabled = false;
  policy.overrides = {o};
  const monitors::FootprintMetrics window = Window(30, 3);
  FootprintInputs inputs = Inputs(window, 10);
  inputs.carbon.baseline = 1;
  const std::vector<Finding> findings =
      EvaluateFootprintRule(policy.rules[0], policy, "m", inputs);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].feature, "@energy");
}

}  // namespace
}  // namespace vigie::rules
