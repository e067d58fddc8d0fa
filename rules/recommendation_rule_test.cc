// Rules R1-R3 on hand-made recommendation metrics: changes from the
// baseline computed here, runs of windows broken by missing or small ones,
// the worsening condition, and what a model without a baseline gets.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "monitors/recommendation.h"
#include "rules/evaluator.h"
#include "rules/policy.h"
#include "rules/quality_rules.h"

namespace vigie::rules {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

Threshold Change(double value, std::optional<uint32_t> windows = {},
                 std::optional<uint32_t> worsening = {}) {
  Threshold t;
  t.value = value;
  t.windows = windows;
  t.worsening_windows = worsening;
  return t;
}

// The default policy's R1.
Rule R1() {
  Rule rule;
  rule.id = "R1";
  rule.metric = kRecommendationDiversity;
  rule.comparison = Comparison::kBelow;
  rule.window = absl::Hours(24);
  rule.baseline_from_reference = true;
  rule.warning = Change(-0.10, 3);
  rule.critical = Change(-0.20, std::nullopt, 5);
  rule.min_lists = 1000;
  rule.element = "Q6.3";
  rule.related_elements = {"Q3.5"};
  rule.runbook = "Runbook: review the ranking.";
  return rule;
}

// A window whose every metric has `lists` lists.
monitors::RecommendationMetrics Lists(uint64_t lists, double diversity,
                                      double novelty = 8, double coverage = 0.3,
                                      double gini = 0.6) {
  monitors::RecommendationMetrics m;
  m.lists = lists;
  m.diversity_lists = lists;
  m.diversity = diversity;
  m.novelty_lists = lists;
  m.novelty = novelty;
  m.coverage = coverage;
  m.exposure_gini = gini;
  return m;
}

struct Fixture {
  monitors::RecommendationMetrics baseline = Lists(5000, 0.5);
  RecommendationInputs inputs;
  Fixture() {
    inputs.window = absl::Hours(24);
    inputs.window_end = absl::FromUnixSeconds(1'700'000'000);
    inputs.baseline = &baseline;
    inputs.baseline_description = "reference window a to b";
  }
  // Diversity of windows 1 (the latest), 2, ...
  void Diversities(const std::vector<double>& values, uint64_t lists = 1500) {
    inputs.by_window.clear();
    for (size_t i = 0; i < values.size(); ++i) {
      inputs.by_window[i + 1] = Lists(lists, values[i]);
    }
  }
  Finding Evaluate(const Rule& rule) const {
    const std::vector<Finding> findings =
        EvaluateRecommendationRule(rule, Policy(), "rec", inputs);
    EXPECT_THAT(findings, SizeIs(1));
    return findings.empty() ? Finding() : findings[0];
  }
};

TEST(RecommendationRuleTest, ValidatesItsOwnFields) {
  EXPECT_TRUE(R1().Validate().ok()) << R1().Validate();
  auto error = [](const Rule& rule) {
    return std::string(rule.Validate().message());
  };
  Rule rule = R1();
  rule.window = absl::ZeroDuration();
  EXPECT_THAT(error(rule), HasSubstr("needs a window"));
  rule = R1();
  rule.comparison = Comparison::kAbove;
  EXPECT_THAT(error(rule), HasSubstr("breaches below"));
  rule = R1();
  rule.metric = kExposureGini;
  EXPECT_THAT(error(rule), HasSubstr("breaches above"));
  rule = R1();
  rule.warning->windows = 0;
  EXPECT_THAT(error(rule), HasSubstr("warning.windows must be in [1, 100]"));
  rule = R1();
  rule.critical->worsening_windows = 101;
  EXPECT_THAT(error(rule), HasSubstr("critical.worsening_windows"));
  rule = R1();
  rule.baseline_from_reference = false;
  EXPECT_THAT(error(rule), HasSubstr("give a baseline"));
  rule.baseline = 0.5;
  EXPECT_TRUE(rule.Validate().ok());
  rule.metric = kCatalogueCoverage;
  rule.baseline = 1.5;
  EXPECT_THAT(error(rule), HasSubstr("baseline must be in [0, 1]"));
  rule = R1();
  rule.warning->value = -1.5;
  EXPECT_THAT(error(rule), HasSubstr("warning.value must be in [-1, 1]"));
  rule = R1();
  rule.warning->max_p_value = 0.05;
  EXPECT_THAT(error(rule), HasSubstr("takes a value and windows"));
  rule = R1();
  rule.min_labelled = 10;
  EXPECT_THAT(error(rule), HasSubstr("takes min_sample.lists only"));
  rule = R1();
  rule.attributes = {"country"};
  EXPECT_THAT(error(rule), HasSubstr("takes no attributes"));
  // Lists on another metric.
  rule = R1();
  rule.metric = kMissedWindows;
  rule.comparison = Comparison::kAbove;
  EXPECT_THAT(error(rule), HasSubstr("min_sample.lists is for"));
}

TEST(RecommendationRuleTest, WindowsRead) {
  EXPECT_EQ(RecommendationWindowsRead(R1()), 6u);  // 5 falls: 6 windows.
  Rule rule = R1();
  rule.critical->worsening_windows.reset();
  EXPECT_EQ(RecommendationWindowsRead(rule), 3u);
  rule.warning->windows.reset();
  EXPECT_EQ(RecommendationWindowsRead(rule), 1u);
}

TEST(RecommendationRuleTest, WarningNeedsThreeWindowsInARow) {
  Fixture f;
  // -12%, -11%, -14% from 0.5; not falling each window.
  f.Diversities({0.44, 0.445, 0.43, 0.5, 0.5, 0.5});
  Finding finding = f.Evaluate(R1());
  EXPECT_EQ(finding.severity, Severity::kWarning) << finding.message;
  EXPECT_DOUBLE_EQ(*finding.value, 0.44 / 0.5 - 1);
  EXPECT_DOUBLE_EQ(*finding.baseline, 0.5);
  EXPECT_EQ(finding.baseline_source, "reference window a to b");
  EXPECT_DOUBLE_EQ(finding.threshold, -0.10);
  EXPECT_EQ(finding.comparison, Comparison::kBelow);
  EXPECT_EQ(finding.attribute, "");
  EXPECT_THAT(
      finding.message,
      AllOf(HasSubstr("1: 0.4400 (-12.0%, 1500 lists with two items"),
            HasSubstr("2: 0.4450 (-11.0%"), HasSubstr("3: 0.4300 (-14.0%"),
            HasSubstr("windows of 24h ending 2023-11-14T22:13:20+00:00"),
            HasSubstr("not critical"),
            HasSubstr("no element specific to recommender systems"),
            HasSubstr("Q6.3, Q3.5"), Not(HasSubstr("Runbook"))));
  // Exactly -10% reaches the level.
  f.Diversities({0.45, 0.45, 0.45});
  EXPECT_EQ(f.Evaluate(R1()).severity, Severity::kWarning);

  // Two windows only: no warning.
  f.Diversities({0.44, 0.44, 0.47});
  finding = f.Evaluate(R1());
  EXPECT_FALSE(finding.severity.has_value());
  EXPECT_THAT(finding.message, HasSubstr("window 3: -6.0% not at or below"));
}

TEST(RecommendationRuleTest, MissingOrSmallWindowsBreakTheRun) {
  Fixture f;
  f.Diversities({0.44, 0.44, 0.44});
  f.inputs.by_window[2] = Lists(900, 0.44);
  Finding finding = f.Evaluate(R1());
  EXPECT_FALSE(finding.severity.has_value());
  EXPECT_THAT(finding.message,
              AllOf(HasSubstr("window 2 900 lists with two items with "
                              "features < 1000 breaks the run of 3 windows"),
                    HasSubstr("2: 900 lists")));
  f.Diversities({0.44, 0.44, 0.44});
  f.inputs.by_window.erase(3);
  finding = f.Evaluate(R1());
  EXPECT_FALSE(finding.severity.has_value());
  EXPECT_THAT(finding.message, HasSubstr("window 3 missing (no lists)"));
}

TEST(RecommendationRuleTest, CriticalAtMinus20OrFallingFiveWindows) {
  Fixture f;
  // -22% in the latest window alone.
  f.Diversities({0.39, 0.5, 0.5});
  Finding finding = f.Evaluate(R1());
  EXPECT_EQ(finding.severity, Severity::kCritical) << finding.message;
  EXPECT_DOUBLE_EQ(*finding.value, 0.39 / 0.5 - 1);
  EXPECT_DOUBLE_EQ(finding.threshold, -0.20);
  EXPECT_THAT(finding.message, HasSubstr("Runbook: review the ranking."));

  // Still above the baseline, but lower in each of 5 windows than in the
  // one before: 6 windows strictly falling.
  f.Diversities({0.50, 0.51, 0.52, 0.53, 0.54, 0.55});
  finding = f.Evaluate(R1());
  EXPECT_EQ(finding.severity, Severity::kCritical) << finding.message;
  EXPECT_DOUBLE_EQ(*finding.value, 0.50 / 0.5 - 1);
  // A tie breaks it.
  f.Diversities({0.50, 0.51, 0.52, 0.52, 0.54, 0.55});
  finding = f.Evaluate(R1());
  EXPECT_FALSE(finding.severity.has_value());
  EXPECT_THAT(finding.message, HasSubstr("window 3 not below window 4"));
  // So does a missing window.
  f.Diversities({0.50, 0.51, 0.52, 0.53, 0.54, 0.55});
  f.inputs.by_window.erase(6);
  finding = f.Evaluate(R1());
  EXPECT_FALSE(finding.severity.has_value());
  EXPECT_THAT(finding.message, HasSubstr("window 6 missing"));
}

TEST(RecommendationRuleTest, NoBaselineOrLatestWindowIsInsufficient) {
  Fixture f;
  f.Diversities({0.3, 0.3, 0.3});
  f.inputs.baseline = nullptr;
  Finding finding = f.Evaluate(R1());
  EXPECT_EQ(finding.severity, Severity::kInsufficientData);
  EXPECT_FALSE(finding.value.has_value());
  EXPECT_THAT(finding.message,
              AllOf(HasSubstr("not complete and frozen yet"),
                    HasSubstr("no element specific to recommender systems")));
  // A reference short of the sample.
  const monitors::RecommendationMetrics small = Lists(999, 0.5);
  f.inputs.baseline = &small;
  finding = f.Evaluate(R1());
  EXPECT_EQ(finding.severity, Severity::kInsufficientData);
  EXPECT_THAT(finding.message, HasSubstr("has 999 lists with two items"));
  // The latest window short of it.
  Fixture g;
  g.Diversities({0.3, 0.3, 0.3}, 999);
  finding = g.Evaluate(R1());
  EXPECT_EQ(finding.severity, Severity::kInsufficientData);
  EXPECT_THAT(finding.message, HasSubstr("the latest window: 999 lists"));
  // Windows of another length than the rule's.
  g.Diversities({0.3, 0.3, 0.3});
  g.inputs.window = absl::Hours(1);
  finding = g.Evaluate(R1());
  EXPECT_EQ(finding.severity, Severity::kInsufficientData);
  EXPECT_THAT(finding.message, HasSubstr("1h long, the rule's 24h"));
}

TEST(RecommendationRuleTest, NoveltyCoverageAndGini) {
  Fixture f;
  f.baseline = Lists(5000, 0.5, 10.0, 0.40, 0.60);
  f.inputs.by_window[1] = Lists(2000, 0.5, 8.5, 0.37, 0.66);
  Rule novelty = R1();
  novelty.id = "R2";
  novelty.metric = kRecommendationNovelty;
  novelty.warning = Change(-0.10);
  novelty.critical = Change(-0.20);
  novelty.related_elements = {"Q6.2"};
  // 8.5 / 10 - 1 = -15%: a warning.
  Finding finding = f.Evaluate(novelty);
  EXPECT_EQ(finding.severity, Severity::kWarning);
  EXPECT_DOUBLE_EQ(*finding.value, 8.5 / 10.0 - 1);
  EXPECT_THAT(finding.message, HasSubstr("Mean novelty"));
  // 0.37 / 0.40 - 1 = -7.5%: healthy.
  Rule coverage = novelty;
  coverage.id = "R2b";
  coverage.metric = kCatalogueCoverage;
  finding = f.Evaluate(coverage);
  EXPECT_FALSE(finding.severity.has_value());
  EXPECT_DOUBLE_EQ(*finding.value, 0.37 / 0.40 - 1);
  // Gini: 0.66 - 0.60 = +0.06 >= 0.05: a warning; 0.71: critical.
  Rule gini = novelty;
  gini.id = "R3";
  gini.metric = kExposureGini;
  gini.comparison = Comparison::kAbove;
  gini.warning = Change(0.05);
  gini.critical = Change(0.10);
  finding = f.Evaluate(gini);
  EXPECT_EQ(finding.severity, Severity::kWarning) << finding.message;
  EXPECT_DOUBLE_EQ(*finding.value, 0.66 - 0.60);
  EXPECT_DOUBLE_EQ(*finding.baseline, 0.60);
  EXPECT_DOUBLE_EQ(finding.threshold, 0.05);
  EXPECT_THAT(finding.message, HasSubstr("+0.0600"));
  f.inputs.by_window[1] = Lists(2000, 0.5, 8.5, 0.37, 0.71);
  EXPECT_EQ(f.Evaluate(gini).severity, Severity::kCritical);
  // A declared baseline instead of the reference.
  gini.baseline_from_reference = false;
  gini.baseline = 0.50;
  f.inputs.baseline = nullptr;
  finding = f.Evaluate(gini);
  EXPECT_EQ(finding.severity, Severity::kCritical);
  EXPECT_DOUBLE_EQ(*finding.value, 0.71 - 0.50);
  EXPECT_EQ(finding.baseline_source, "declared");
}

TEST(RecommendationRuleTest, EvaluatedOnlyWithRecommendationInputs) {
  Policy policy;
  policy.rules = {R1()};
  EXPECT_THAT(Evaluate(policy, "rec", {}), IsEmpty());
  Fixture f;
  f.Diversities({0.39});
  const std::vector<Finding> findings = Evaluate(
      policy, "rec", {}, nullptr, nullptr, nullptr, nullptr, &f.inputs);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].severity, Severity::kCritical);
}

TEST(RecommendationRuleTest, OverridesSetWindowsAndLists) {
  Policy policy;
  policy.rules = {R1()};
  RuleOverride o;
  o.models = {"rec"};
  o.warning = RuleOverride::Level{};
  o.warning->windows = 1;
  o.min_lists = 100;
  policy.overrides = {o};
  ASSERT_TRUE(policy.Validate().ok()) << policy.Validate();
  Fixture f;
  f.Diversities({0.44}, 500);
  const std::vector<Finding> findings =
      EvaluateRecommendationRule(policy.rules[0], policy, "rec", f.inputs);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].severity, Severity::kWarning) << findings[0].message;
  // An override that breaks the rule is refused.
  o.warning->windows = 0;
  policy.overrides = {o};
  EXPECT_THAT(std::string(policy.Validate().message()),
              HasSubstr("warning.windows must be in [1, 100]"));
}

}  // namespace
}  // namespace vigie::rules
