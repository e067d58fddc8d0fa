// Rules K1-K3 on hand-made conformal metrics: the gate's law recomputed
// here from its formula, the levels' either-condition semantics, Holm's
// adjustment across an attribute's groups, and sizes against a baseline.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "monitors/conformal_metrics.h"
#include "rules/evaluator.h"
#include "rules/policy.h"
#include "rules/quality_rules.h"

namespace vigie::rules {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

double LogBeta(double x, double y) {
  return std::lgamma(x) + std::lgamma(y) - std::lgamma(x + y);
}

// The gate of `covered` of m test points sharing one calibration set of
// n_cal points at level alpha, from the law's formula: l = floor((n_cal +
// 1) alpha), count ~ Beta-Binomial(m, n_cal + 1 - l, l), P(X = k) = C(m, k)
// B(k + a, m - k + b) / B(a, b), summed term by term.
monitors::ConformalGate BetaBinomialGate(uint64_t m, uint64_t n_cal,
                                         double alpha, uint64_t covered) {
  const uint64_t l = static_cast<uint64_t>(
      std::floor(static_cast<double>(n_cal + 1) * alpha + 1e-9));
  const double a = static_cast<double>(n_cal + 1 - l);
  const double b = static_cast<double>(l);
  monitors::ConformalGate gate;
  gate.alpha = alpha;
  gate.calibration_size = n_cal;
  gate.beta_binomial = true;
  gate.rank = l;
  gate.count = m;
  gate.covered = covered;
  gate.share = 1;
  gate.coverage = static_cast<double>(covered) / static_cast<double>(m);
  gate.expected_coverage = a / (a + b);
  double cdf = 0;
  bool q05 = false, q001 = false;
  for (uint64_t k = 0; k <= m; ++k) {
    const double md = static_cast<double>(m), kd = static_cast<double>(k);
    cdf += std::exp(std::lgamma(md + 1) - std::lgamma(kd + 1) -
                    std::lgamma(md - kd + 1) + LogBeta(kd + a, md - kd + b) -
                    LogBeta(a, b));
    if (!q001 && cdf >= 0.001) {
      gate.quantile_001 = kd / md;
      q001 = true;
    }
    if (!q05 && cdf >= 0.05) {
      gate.quantile_05 = kd / md;
      q05 = true;
    }
    if (k == covered) gate.p_value = cdf;
  }
  return gate;
}

// A hand-made gate, for the group tests: only what the rule reads.
monitors::ConformalGate Gate(uint64_t count, double coverage, double p_value,
                             double alpha = 0.1) {
  monitors::ConformalGate gate;
  gate.alpha = alpha;
  gate.count = count;
  gate.covered = static_cast<uint64_t>(
      std::llround(coverage * static_cast<double>(count)));
  gate.share = 1;
  gate.coverage = coverage;
  gate.expected_coverage = 1 - alpha;
  gate.quantile_05 = 1 - alpha - 0.03;
  gate.quantile_001 = 1 - alpha - 0.055;
  gate.p_value = p_value;
  return gate;
}

// Wilson's 95% interval, from its formula.
monitors::Interval Wilson(uint64_t covered, uint64_t n) {
  const double z = 1.959963984540054, nd = static_cast<double>(n);
  const double x = static_cast<double>(covered);
  const double centre = (x + z * z / 2) / (nd + z * z);
  const double half =
      z / (nd + z * z) * std::sqrt(x * (nd - x) / nd + z * z / 4);
  return {centre - half, centre + half};
}

monitors::ConformalScopeMetrics Scope(std::string group,
                                      const monitors::ConformalGate& gate,
                                      std::optional<double> mean_size = 1.0) {
  monitors::ConformalScopeMetrics scope;
  scope.group = std::move(group);
  scope.count = gate.count;
  scope.covered = gate.covered;
  scope.coverage = gate.coverage;
  scope.coverage_interval = Wilson(gate.covered, gate.count);
  scope.mean_size = mean_size;
  scope.gate = gate;
  return scope;
}

monitors::ConformalMetrics Overall(const monitors::ConformalGate& gate,
                                   std::optional<double> mean_size = 1.0) {
  monitors::ConformalMetrics metrics;
  metrics.overall = Scope("(overall)", gate, mean_size);
  return metrics;
}

Threshold Change(double value) {
  Threshold t;
  t.value = value;
  return t;
}

Threshold P(double max_p_value, std::optional<double> min_shortfall = {}) {
  Threshold t;
  t.max_p_value = max_p_value;
  t.min_shortfall = min_shortfall;
  return t;
}

// The default policy's K1, K3 and K2.
Rule K1() {
  Rule rule;
  rule.id = "K1";
  rule.metric = kConformalCoverage;
  rule.comparison = Comparison::kBelow;
  rule.warning = P(0.05);
  rule.critical = P(0.001, 0.05);
  rule.min_labelled = 500;
  rule.element = "Q5.4/5.4.c";
  rule.related_elements = {"Q5.3/5.3.d", "Q3.5"};
  rule.ai_act_articles = {"Art. 15"};
  rule.runbook = "Runbook: recalibrate.";
  return rule;
}

Rule K3() {
  Rule rule = K1();
  rule.id = "K3";
  rule.metric = kGroupConformalCoverage;
  rule.element = "Q2.4/2.4.c";
  rule.related_elements = {"Q5.4"};
  rule.ai_act_articles.clear();
  return rule;
}

Rule K2() {
  Rule rule;
  rule.id = "K2";
  rule.metric = kConformalSizeChange;
  rule.comparison = Comparison::kAbove;
  rule.baseline_from_reference = true;
  rule.warning = Change(0.25);
  rule.critical = Change(0.50);
  rule.min_labelled = 500;
  rule.element = "Q5.3";
  rule.related_elements = {"Q3.6"};
  return rule;
}

Finding One(const Rule& rule, const ConformalInputs& inputs) {
  const std::vector<Finding> findings =
      EvaluateConformalRule(rule, Policy(), "m", inputs);
  EXPECT_THAT(findings, SizeIs(1));
  return findings.empty() ? Finding() : findings[0];
}

TEST(ConformalRuleTest, ValidatesItsOwnFields) {
  EXPECT_TRUE(K1().Validate().ok()) << K1().Validate();
  EXPECT_TRUE(K3().Validate().ok()) << K3().Validate();
  EXPECT_TRUE(K2().Validate().ok()) << K2().Validate();
  auto error = [](const Rule& rule) {
    return std::string(rule.Validate().message());
  };
  Rule rule = K1();
  rule.warning->value = 0.9;
  EXPECT_THAT(error(rule), HasSubstr("takes no value"));
  rule = K1();
  rule.warning->max_p_value.reset();
  EXPECT_THAT(error(rule), HasSubstr("needs max_p_value or min_shortfall"));
  rule = K1();
  rule.critical->min_shortfall = 1.0;
  EXPECT_THAT(error(rule), HasSubstr("min_shortfall must be in [0, 1)"));
  rule = K1();
  rule.comparison = Comparison::kAbove;
  EXPECT_THAT(error(rule), HasSubstr("breaches below"));
  rule = K1();
  rule.attributes = {"sex"};
  EXPECT_THAT(error(rule), HasSubstr("takes no attributes"));
  rule = K1();
  rule.baseline_from_reference = true;
  EXPECT_THAT(error(rule), HasSubstr("takes no baseline"));
  rule = K1();
  rule.warning->windows = 3;
  EXPECT_THAT(error(rule), HasSubstr("are for recommendation metrics"));
  rule = K1();
  rule.min_predictions_per_group = 10;
  EXPECT_THAT(error(rule), HasSubstr("takes min_sample.labelled only"));
  rule = K3();
  rule.attributes = {"sex"};
  EXPECT_TRUE(rule.Validate().ok());

  // K2: a baseline, any positive size; levels are changes.
  rule = K2();
  rule.baseline_from_reference = false;
  EXPECT_THAT(error(rule), HasSubstr("give a baseline"));
  rule.baseline = 3.5;  // A width, not a share.
  EXPECT_TRUE(rule.Validate().ok()) << rule.Validate();
  rule.baseline = -1;
  EXPECT_THAT(error(rule), HasSubstr("baseline must be in [0, inf)"));
  rule = K2();
  rule.warning->max_p_value = 0.05;
  EXPECT_THAT(error(rule), HasSubstr("takes a value only"));
  rule = K2();
  rule.warning->value = 0.6;
  EXPECT_THAT(error(rule), HasSubstr("must be <= critical.value"));

  // The new fields on other metrics.
  rule = K2();
  rule.metric = kDemographicParityDifference;
  rule.baseline_from_reference = false;
  rule.related_elements.clear();
  rule.min_labelled = 0;
  rule.warning = Change(0.05);
  rule.critical = Change(0.10);
  EXPECT_TRUE(rule.Validate().ok()) << rule.Validate();
  rule.critical->min_shortfall = 0.05;
  EXPECT_THAT(error(rule), HasSubstr("min_shortfall is for"));
}

TEST(ConformalRuleTest, TheLawOfTheReferentialsExample) {
  // REFERENTIAL.md: alpha 0.1, n_cal 1,000, m = 500: the 5% and 0.1%
  // quantiles of the window's coverage are 0.872 and 0.844.
  const monitors::ConformalGate gate = BetaBinomialGate(500, 1000, 0.1, 450);
  EXPECT_EQ(gate.rank, 100u);
  EXPECT_NEAR(gate.quantile_05, 0.872, 0.002);
  EXPECT_NEAR(gate.quantile_001, 0.844, 0.002);
}

TEST(ConformalRuleTest, CoverageLevels) {
  // 450 of 500 covered: at the nominal 0.90, healthy.
  monitors::ConformalGate gate = BetaBinomialGate(500, 1000, 0.1, 450);
  ASSERT_GT(gate.p_value, 0.05);
  monitors::ConformalMetrics metrics = Overall(gate);
  Finding healthy = One(K1(), {&metrics});
  EXPECT_FALSE(healthy.severity.has_value()) << healthy.message;
  EXPECT_DOUBLE_EQ(*healthy.value, 0.9);
  EXPECT_EQ(healthy.comparison, Comparison::kBelow);
  // The warning's coverage floor: the law's 5% quantile.
  EXPECT_DOUBLE_EQ(healthy.threshold, gate.quantile_05);

  // Just below the 5% quantile, above the 0.1% one and 1 - alpha - 0.05:
  // a warning.
  const uint64_t below_05 =
      static_cast<uint64_t>(std::llround(gate.quantile_05 * 500)) - 1;
  gate = BetaBinomialGate(500, 1000, 0.1, below_05);
  ASSERT_LT(gate.p_value, 0.05);
  ASSERT_GE(gate.p_value, 0.001);
  ASSERT_GE(gate.coverage, 0.85);
  metrics = Overall(gate);
  Finding warning = One(K1(), {&metrics});
  EXPECT_EQ(warning.severity, Severity::kWarning) << warning.message;
  EXPECT_DOUBLE_EQ(*warning.value, static_cast<double>(below_05) / 500);
  EXPECT_DOUBLE_EQ(*warning.p_value, gate.p_value);
  EXPECT_DOUBLE_EQ(warning.threshold, gate.quantile_05);
  const monitors::Interval wilson = Wilson(below_05, 500);
  EXPECT_DOUBLE_EQ(warning.interval->lower, wilson.lower);
  EXPECT_THAT(
      warning.message,
      AllOf(HasSubstr("Beta-Binomial(m = 500, n_cal + 1 - l = 901, "
                      "l = 100)"),
            HasSubstr("alpha 0.1, n_cal 1000 (nominal 0.9000)"),
            HasSubstr(absl::StrFormat("5%% quantile %.4f", gate.quantile_05)),
            HasSubstr(
                absl::StrFormat("[%.4f, %.4f]", wilson.lower, wilson.upper)),
            HasSubstr(absl::StrFormat("P(count <= %d)", below_05)),
            HasSubstr("not critical"),
            HasSubstr("labelia-dsrc@v202301 Q5.4/5.4.c (also "
                      "Q5.3/5.3.d, Q3.5); AI Act Art. 15"),
            Not(HasSubstr("Runbook"))));

  // Below the 0.1% quantile: critical, by the law's tail.
  const uint64_t below_001 =
      static_cast<uint64_t>(std::llround(gate.quantile_001 * 500)) - 1;
  gate = BetaBinomialGate(500, 1000, 0.1, below_001);
  ASSERT_LT(gate.p_value, 0.001);
  metrics = Overall(gate);
  Finding critical = One(K1(), {&metrics});
  EXPECT_EQ(critical.severity, Severity::kCritical);
  EXPECT_DOUBLE_EQ(critical.threshold, gate.quantile_001);
  EXPECT_THAT(critical.message, HasSubstr("Runbook: recalibrate."));
}

TEST(ConformalRuleTest, ShortfallUnderTheNominalIsCriticalOnItsOwn) {
  // A small calibration set makes a wide law: n_cal 19 at alpha 0.1 gives
  // l = 2, Beta(18, 2), whose 5% quantile lies far below 0.85. A coverage
  // of 0.84 is then no surprise for the law, but more than 0.05 below the
  // nominal 0.90: critical by min_shortfall alone.
  const monitors::ConformalGate gate = BetaBinomialGate(1000, 19, 0.1, 840);
  ASSERT_EQ(gate.rank, 2u);
  ASSERT_GT(gate.p_value, 0.05);
  const monitors::ConformalMetrics metrics = Overall(gate);
  Finding finding = One(K1(), {&metrics});
  EXPECT_EQ(finding.severity, Severity::kCritical) << finding.message;
  EXPECT_DOUBLE_EQ(finding.threshold, 1 - 0.1 - 0.05);
  EXPECT_THAT(finding.message, HasSubstr("more than 0.05 below the nominal"));
  // Without the shortfall condition, the same window is healthy.
  Rule rule = K1();
  rule.critical->min_shortfall.reset();
  EXPECT_FALSE(One(rule, {&metrics}).severity.has_value());
}

TEST(ConformalRuleTest, BinomialLawWhenNCalIsUnknown) {
  monitors::ConformalGate gate = Gate(800, 0.86, 0.004);
  gate.calibration_size = 0;
  const monitors::ConformalMetrics metrics = Overall(gate);
  Finding finding = One(K1(), {&metrics});
  EXPECT_EQ(finding.severity, Severity::kWarning);
  EXPECT_THAT(finding.message,
              AllOf(HasSubstr("alpha 0.1, n_cal unknown (nominal 0.9000)"),
                    HasSubstr("Binomial(m = 800, 1 - alpha)")));
}

TEST(ConformalRuleTest, TooFewLabelledIsInsufficientData) {
  Finding none = One(K1(), {});
  EXPECT_EQ(none.severity, Severity::kInsufficientData);
  EXPECT_THAT(none.message, HasSubstr("no labelled conformal prediction"));
  const monitors::ConformalMetrics metrics = Overall(Gate(499, 0.5, 1e-9));
  Finding few = One(K1(), {&metrics});
  EXPECT_EQ(few.severity, Severity::kInsufficientData);
  EXPECT_FALSE(few.value.has_value());
  EXPECT_THAT(few.message, HasSubstr("499 labelled observations"));
}

TEST(ConformalRuleTest, OnlyWithConformalInputs) {
  Policy policy;
  policy.rules = {K1()};
  EXPECT_THAT(Evaluate(policy, "m", {}), IsEmpty());
  const monitors::ConformalMetrics metrics = Overall(Gate(800, 0.9, 0.5));
  const ConformalInputs inputs{&metrics};
  const std::vector<Finding> findings =
      Evaluate(policy, "m", {}, nullptr, nullptr, nullptr, &inputs);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].rule_id, "K1");
  EXPECT_FALSE(findings[0].severity.has_value());
}

TEST(ConformalRuleTest, OverridesChangeTheConditions) {
  Policy policy;
  policy.rules = {K1()};
  policy.rules[0].warning.reset();
  RuleOverride o;
  o.models = {"m"};
  o.critical = RuleOverride::Level{};
  o.critical->min_shortfall = 0.02;
  // A level the rule lacks, made of a condition alone.
  o.warning = RuleOverride::Level{};
  o.warning->max_p_value = 0.10;
  policy.overrides = {o};
  ASSERT_TRUE(policy.Validate().ok()) << policy.Validate();
  const Rule resolved = policy.Resolve(policy.rules[0], "m");
  ASSERT_TRUE(resolved.warning.has_value());
  EXPECT_EQ(resolved.warning->max_p_value, 0.10);
  // 0.87 < 1 - 0.1 - 0.02: critical for m, healthy for another model.
  const monitors::ConformalMetrics metrics = Overall(Gate(800, 0.87, 0.2));
  const std::vector<Finding> m =
      EvaluateConformalRule(policy.rules[0], policy, "m", {&metrics});
  ASSERT_THAT(m, SizeIs(1));
  EXPECT_EQ(m[0].severity, Severity::kCritical);
  EXPECT_DOUBLE_EQ(m[0].threshold, 1 - 0.1 - 0.02);
  const std::vector<Finding> other =
      EvaluateConformalRule(policy.rules[0], policy, "other", {&metrics});
  ASSERT_THAT(other, SizeIs(1));
  EXPECT_FALSE(other[0].severity.has_value());
}

monitors::ConformalMetrics Groups(
    std::vector<monitors::ConformalScopeMetrics> groups) {
  monitors::ConformalMetrics metrics;
  metrics.groups = std::move(groups);
  return metrics;
}

TEST(ConformalRuleTest, GroupsAreOneFamilyAdjustedByHolm) {
  // Three groups with the sample, one short, and the overflow group (left
  // out whatever its coverage).
  monitors::ConformalMetrics metrics = Groups(
      {Scope("a", Gate(600, 0.87, 0.02)), Scope("b", Gate(700, 0.88, 0.03)),
       Scope("c", Gate(900, 0.90, 0.40)), Scope("d", Gate(100, 0.50, 1e-9)),
       Scope("(other)", Gate(5000, 0.40, 1e-12))});
  metrics.coverage_gap = 0.40;
  metrics.max_coverage_group = "c";
  metrics.min_coverage_group = "d";
  ConformalInputs inputs;
  inputs.by_attribute["sex"] = metrics;
  // Holm over 3: sorted 0.02, 0.03, 0.40 give 3 x 0.02 = 0.06,
  // max(0.06, 2 x 0.03) = 0.06, max(0.06, 0.40) = 0.40.
  const double adjusted_a = 3 * 0.02;
  const double adjusted_b = std::max(adjusted_a, 2 * 0.03);
  const double adjusted_c = std::max(adjusted_b, 0.40);
  Finding finding = One(K3(), inputs);
  EXPECT_EQ(finding.attribute, "sex");
  // Raw p-values below 0.05 but not once adjusted: healthy.
  EXPECT_FALSE(finding.severity.has_value()) << finding.message;
  EXPECT_EQ(finding.low_group, "a");
  EXPECT_DOUBLE_EQ(*finding.value, 0.87);
  EXPECT_DOUBLE_EQ(*finding.p_value, 0.02);
  EXPECT_DOUBLE_EQ(*finding.adjusted_p_value, adjusted_a);
  EXPECT_EQ(finding.tests_in_family, 3u);
  EXPECT_THAT(finding.excluded_groups, ElementsAre("d"));
  EXPECT_THAT(finding.message,
              AllOf(HasSubstr(absl::StrFormat("adjusted %.3g", adjusted_b)),
                    HasSubstr(absl::StrFormat("adjusted %.3g", adjusted_c)),
                    HasSubstr("coverage gap 0.4000 (c - d)"),
                    HasSubstr("d: 100 labelled observations < 500"),
                    Not(HasSubstr("(other) 0.4"))));

  // A smaller p in a: 3 x 0.01 = 0.03 < 0.05, a warning for a.
  metrics.groups[0] = Scope("a", Gate(600, 0.87, 0.01));
  inputs.by_attribute["sex"] = metrics;
  finding = One(K3(), inputs);
  EXPECT_EQ(finding.severity, Severity::kWarning) << finding.message;
  EXPECT_EQ(finding.low_group, "a");
  EXPECT_DOUBLE_EQ(*finding.adjusted_p_value, 3 * 0.01);
  // An adjusted p-value has no coverage quantile: the bound compared.
  EXPECT_DOUBLE_EQ(finding.threshold, 0.05);

  // c falls more than 0.05 below its nominal: c is critical and the worst.
  metrics.groups[2] = Scope("c", Gate(900, 0.84, 0.40));
  inputs.by_attribute["sex"] = metrics;
  finding = One(K3(), inputs);
  EXPECT_EQ(finding.severity, Severity::kCritical);
  EXPECT_EQ(finding.low_group, "c");
  EXPECT_DOUBLE_EQ(*finding.value, 0.84);
  EXPECT_DOUBLE_EQ(finding.threshold, 1 - 0.1 - 0.05);
}

TEST(ConformalRuleTest, GroupRuleScopesAndSamples) {
  ConformalInputs inputs;
  inputs.by_attribute["sex"] = Groups(
      {Scope("f", Gate(400, 0.7, 1e-9)), Scope("m", Gate(300, 0.7, 1e-9))});
  inputs.by_attribute["age"] = Groups({Scope("young", Gate(600, 0.8, 1e-6))});
  // No group of sex has the sample.
  std::vector<Finding> findings =
      EvaluateConformalRule(K3(), Policy(), "m", inputs);
  ASSERT_THAT(findings, SizeIs(2));
  EXPECT_EQ(findings[0].attribute, "age");
  // One group: a family of one, unadjusted.
  EXPECT_EQ(findings[0].severity, Severity::kCritical);
  EXPECT_FALSE(findings[0].adjusted_p_value.has_value());
  EXPECT_EQ(findings[1].attribute, "sex");
  EXPECT_EQ(findings[1].severity, Severity::kInsufficientData);
  EXPECT_THAT(findings[1].message, HasSubstr("no group has the minimum"));
  EXPECT_THAT(findings[1].excluded_groups, ElementsAre("f", "m"));
  // The rule's attributes select.
  Rule rule = K3();
  rule.attributes = {"sex"};
  findings = EvaluateConformalRule(rule, Policy(), "m", inputs);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].attribute, "sex");
}

TEST(ConformalRuleTest, SizeChangeAgainstTheReferenceWindow) {
  const monitors::ConformalMetrics reference =
      Overall(Gate(600, 0.9, 0.5), 2.0);
  monitors::ConformalMetrics window = Overall(Gate(800, 0.93, 0.9), 2.6);
  ConformalInputs inputs{&window};
  inputs.baseline = &reference;
  inputs.baseline_description = "reference window a to b";
  // 2.6 / 2.0 - 1 = +30%: a warning.
  Finding finding = One(K2(), inputs);
  EXPECT_EQ(finding.severity, Severity::kWarning) << finding.message;
  EXPECT_DOUBLE_EQ(*finding.value, 2.6 / 2.0 - 1);
  EXPECT_DOUBLE_EQ(*finding.baseline, 2.0);
  EXPECT_EQ(finding.baseline_source, "reference window a to b");
  EXPECT_DOUBLE_EQ(finding.threshold, 0.25);
  EXPECT_THAT(finding.message, AllOf(HasSubstr("+30.0%"), HasSubstr("Q5.3")));
  // 3.1 / 2.0 - 1 = +55%: critical.
  window = Overall(Gate(800, 0.95, 0.99), 3.1);
  finding = One(K2(), inputs);
  EXPECT_EQ(finding.severity, Severity::kCritical);
  EXPECT_DOUBLE_EQ(finding.threshold, 0.50);
  // Narrower: healthy.
  window = Overall(Gate(800, 0.9, 0.5), 1.5);
  finding = One(K2(), inputs);
  EXPECT_FALSE(finding.severity.has_value());
  EXPECT_DOUBLE_EQ(*finding.value, 1.5 / 2.0 - 1);
  EXPECT_DOUBLE_EQ(finding.threshold, 0.25);
}

TEST(ConformalRuleTest, SizeChangeNeedsBothSamples) {
  const monitors::ConformalMetrics small_reference =
      Overall(Gate(400, 0.9, 0.5), 2.0);
  const monitors::ConformalMetrics window = Overall(Gate(800, 0.9, 0.5), 4.0);
  // No reference frozen yet.
  Finding finding = One(K2(), {&window});
  EXPECT_EQ(finding.severity, Severity::kInsufficientData);
  EXPECT_THAT(finding.message, HasSubstr("not complete and frozen yet"));
  // A reference short of the sample.
  ConformalInputs inputs{&window};
  inputs.baseline = &small_reference;
  inputs.baseline_description = "reference window a to b";
  finding = One(K2(), inputs);
  EXPECT_EQ(finding.severity, Severity::kInsufficientData);
  EXPECT_THAT(finding.message, HasSubstr("400 labelled observations < 500"));
  // A window short of it, against a declared baseline.
  Rule declared = K2();
  declared.baseline_from_reference = false;
  declared.baseline = 2.0;
  const monitors::ConformalMetrics small = Overall(Gate(499, 0.9, 0.5), 4.0);
  finding = One(declared, {&small});
  EXPECT_EQ(finding.severity, Severity::kInsufficientData);
  EXPECT_DOUBLE_EQ(finding.threshold, 0.25);
  // Declared: 4.0 / 2.0 - 1 = +100%.
  finding = One(declared, {&window});
  EXPECT_EQ(finding.severity, Severity::kCritical);
  EXPECT_DOUBLE_EQ(*finding.value, 1.0);
  EXPECT_EQ(finding.baseline_source, "declared");
  // No finite size in the window.
  const monitors::ConformalMetrics unbounded =
      Overall(Gate(800, 1.0, 1.0), std::nullopt);
  finding = One(declared, {&unbounded});
  EXPECT_EQ(finding.severity, Severity::kInsufficientData);
  EXPECT_THAT(finding.message, HasSubstr("no finite interval or set size"));
}

}  // namespace
}  // namespace vigie::rules
