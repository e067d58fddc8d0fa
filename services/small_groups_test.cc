#include "services/small_groups.h"

#include "gtest/gtest.h"

namespace vigie::services {
namespace {

vigie::v1::GroupMetrics Group(const std::string& label, uint64_t predictions,
                              uint64_t labeled) {
  vigie::v1::GroupMetrics g;
  g.set_group(label);
  g.set_predictions(predictions);
  g.set_selected(predictions / 2);
  g.set_selection_rate(0.5);
  g.set_labeled(labeled);
  g.set_true_positives(labeled / 2);
  g.set_false_negatives(labeled - labeled / 2);
  if (labeled > 0) g.set_true_positive_rate(0.5);
  g.set_included_in_gaps(true);
  (*g.mutable_intervals())["selection_rate"].set_lower(0.4);
  (*g.mutable_intervals())["true_positive_rate"].set_lower(0.3);
  return g;
}

vigie::v1::GetMetricsReply Reply() {
  vigie::v1::GetMetricsReply reply;
  vigie::v1::AttributeFairness& a = *reply.add_fairness();
  a.set_attribute("race");
  *a.add_groups() = Group("big", 500, 200);
  *a.add_groups() = Group("few-labels", 50, 4);
  *a.add_groups() = Group("tiny", 9, 9);
  *a.mutable_overall() = Group("", 559, 213);
  a.mutable_demographic_parity_difference()->set_value(0.1);
  a.mutable_demographic_parity_difference()->set_high_group("big");
  a.mutable_demographic_parity_difference()->set_low_group("few-labels");
  a.mutable_true_positive_rate_difference()->set_value(0.2);
  a.mutable_true_positive_rate_difference()->set_high_group("big");
  a.mutable_true_positive_rate_difference()->set_low_group("few-labels");
  vigie::v1::Criterion& tpr = *a.add_criteria();
  tpr.set_name("equal_opportunity");
  tpr.add_by_group()->set_group("big");
  tpr.add_by_group()->set_group("few-labels");
  vigie::v1::Criterion& dp = *a.add_criteria();
  dp.set_name("demographic_parity");
  dp.add_by_group()->set_group("big");
  dp.add_by_group()->set_group("few-labels");
  dp.mutable_difference()->set_high_group("big");
  dp.mutable_difference()->set_low_group("few-labels");
  dp.mutable_difference()->set_value(0.1);
  vigie::v1::GroupCalibration& c = *reply.add_calibration_by_group();
  c.set_group("tiny");
  c.mutable_calibration()->set_count(9);
  c.mutable_calibration()->set_ece(0.3);
  vigie::v1::GroupCalibration& c2 = *reply.add_calibration_by_group();
  c2.set_group("big");
  c2.mutable_calibration()->set_count(10);
  vigie::v1::AttributeConformal& k =
      *reply.mutable_conformal()->add_by_attribute();
  k.add_groups()->set_group("tiny");
  k.mutable_groups(0)->set_count(3);
  k.mutable_groups(0)->set_covered(3);
  k.add_groups()->set_group("big");
  k.mutable_groups(1)->set_count(300);
  k.set_coverage_gap(0.2);
  k.set_max_coverage_group("tiny");
  k.set_min_coverage_group("big");
  return reply;
}

TEST(SmallGroupsTest, WithholdsGroupsBelowKAndTheGapsTheyDefine) {
  vigie::v1::GetMetricsReply reply = Reply();
  SuppressSmallGroups(10, reply);
  EXPECT_EQ(reply.min_reported_group_size(), 10u);
  const vigie::v1::AttributeFairness& a = reply.fairness(0);

  // 500 predictions, 200 labelled: shown whole.
  EXPECT_FALSE(a.groups(0).suppressed());
  EXPECT_FALSE(a.groups(0).outcomes_suppressed());
  EXPECT_EQ(a.groups(0).true_positives(), 100u);

  // 50 predictions, 4 labelled: selection shown, outcomes withheld.
  const vigie::v1::GroupMetrics& few = a.groups(1);
  EXPECT_TRUE(few.outcomes_suppressed());
  EXPECT_EQ(few.predictions(), 50u);
  EXPECT_EQ(few.selected(), 25u);
  EXPECT_EQ(few.selection_rate(), 0.5);
  EXPECT_EQ(few.labeled(), 0u);
  EXPECT_EQ(few.true_positives(), 0u);
  EXPECT_FALSE(few.has_true_positive_rate());
  EXPECT_EQ(few.intervals().size(), 1u);
  EXPECT_TRUE(few.intervals().contains("selection_rate"));

  // 9 predictions: nothing but its label.
  const vigie::v1::GroupMetrics& tiny = a.groups(2);
  EXPECT_TRUE(tiny.suppressed());
  EXPECT_EQ(tiny.group(), "tiny");
  EXPECT_EQ(tiny.predictions(), 0u);
  EXPECT_FALSE(tiny.has_selection_rate());
  EXPECT_TRUE(tiny.intervals().empty());

  // The overall row keeps every group.
  EXPECT_EQ(a.overall().predictions(), 559u);

  // The selection gap with "few-labels" stays; its TPR gap goes.
  EXPECT_EQ(a.demographic_parity_difference().value(), 0.1);
  EXPECT_FALSE(a.true_positive_rate_difference().has_value());
  EXPECT_TRUE(a.true_positive_rate_difference().low_group().empty());
  EXPECT_EQ(a.criteria(0).by_group_size(), 1);
  EXPECT_EQ(a.criteria(0).by_group(0).group(), "big");
  EXPECT_EQ(a.criteria(1).by_group_size(), 2);
  EXPECT_EQ(a.criteria(1).difference().value(), 0.1);

  // Calibration: 9 < 10 withheld, 10 shown.
  EXPECT_TRUE(reply.calibration_by_group(0).suppressed());
  EXPECT_FALSE(reply.calibration_by_group(0).has_calibration());
  EXPECT_FALSE(reply.calibration_by_group(1).suppressed());
  EXPECT_EQ(reply.calibration_by_group(1).calibration().count(), 10u);

  // Conformal: the small group, and the gap it defines, withheld.
  const vigie::v1::AttributeConformal& k = reply.conformal().by_attribute(0);
  EXPECT_TRUE(k.groups(0).suppressed());
  EXPECT_EQ(k.groups(0).covered(), 0u);
  EXPECT_FALSE(k.groups(1).suppressed());
  EXPECT_FALSE(k.has_coverage_gap());
  EXPECT_TRUE(k.max_coverage_group().empty());
}

// With join_time: outcome a window may hold a group's outcomes without
// its predictions: the outcomes are shown, the few predictions withheld.
TEST(SmallGroupsTest, FewPredictionsButManyOutcomesWithholdsTheSelection) {
  vigie::v1::GetMetricsReply reply;
  *reply.add_fairness()->add_groups() = Group("late", 3, 40);
  SuppressSmallGroups(10, reply);
  const vigie::v1::GroupMetrics& late = reply.fairness(0).groups(0);
  EXPECT_FALSE(late.suppressed());
  EXPECT_TRUE(late.selection_suppressed());
  EXPECT_FALSE(late.outcomes_suppressed());
  EXPECT_EQ(late.predictions(), 0u);
  EXPECT_FALSE(late.has_selection_rate());
  EXPECT_FALSE(late.intervals().contains("selection_rate"));
  EXPECT_EQ(late.labeled(), 40u);
  EXPECT_EQ(late.true_positives(), 20u);
  EXPECT_TRUE(late.intervals().contains("true_positive_rate"));
}

TEST(SmallGroupsTest, PerformanceEstimatesOfSmallGroupsAreWithheld) {
  vigie::v1::GetMetricsReply reply;
  vigie::v1::PerformanceEstimate& estimate =
      *reply.mutable_performance_estimate();
  estimate.mutable_model()->set_predictions(5);
  vigie::v1::PerformanceScope& tiny = *estimate.add_groups();
  tiny.set_attribute("sex");
  tiny.set_group("x");
  tiny.set_predictions(4);
  tiny.set_labelled(2);
  tiny.mutable_estimated()->mutable_accuracy()->set_value(0.5);
  vigie::v1::PerformanceScope& unlabelled = *estimate.add_groups();
  unlabelled.set_group("y");
  unlabelled.set_predictions(400);
  unlabelled.set_labelled(3);
  unlabelled.set_true_positives(3);
  unlabelled.mutable_estimated()->mutable_accuracy()->set_value(0.8);
  unlabelled.mutable_realised()->mutable_accuracy()->set_value(1.0);
  SuppressSmallGroups(10, reply);
  const vigie::v1::PerformanceScope& x = estimate.groups(0);
  EXPECT_TRUE(x.suppressed());
  EXPECT_EQ(x.attribute(), "sex");
  EXPECT_EQ(x.predictions(), 0u);
  EXPECT_FALSE(x.has_estimated());
  const vigie::v1::PerformanceScope& y = estimate.groups(1);
  EXPECT_TRUE(y.outcomes_suppressed());
  EXPECT_FALSE(y.estimate_suppressed());
  EXPECT_EQ(y.predictions(), 400u);
  EXPECT_EQ(y.estimated().accuracy().value(), 0.8);
  EXPECT_EQ(y.true_positives(), 0u);
  EXPECT_FALSE(y.has_realised());
  // The model's own figures are never withheld.
  EXPECT_EQ(estimate.model().predictions(), 5u);
}

TEST(SmallGroupsTest, KOfOneShowsEveryGroup) {
  vigie::v1::GetMetricsReply reply = Reply();
  const std::string before = reply.SerializeAsString();
  SuppressSmallGroups(1, reply);
  reply.clear_min_reported_group_size();
  EXPECT_EQ(reply.SerializeAsString(), before);
}

TEST(SmallGroupsTest, AlertSamplesBelowKAreWithheld) {
  vigie::v1::Alert alert;
  vigie::v1::GroupSample& small = *alert.add_samples();
  small.set_group("tiny");
  small.set_predictions(3);
  small.set_positives(1);
  vigie::v1::GroupSample& big = *alert.add_samples();
  big.set_group("big");
  big.set_predictions(600);
  SuppressSmallGroups(10, alert);
  EXPECT_EQ(alert.min_reported_group_size(), 10u);
  EXPECT_TRUE(alert.samples(0).suppressed());
  EXPECT_EQ(alert.samples(0).predictions(), 0u);
  EXPECT_EQ(alert.samples(0).positives(), 0u);
  EXPECT_EQ(alert.samples(0).group(), "tiny");
  EXPECT_FALSE(alert.samples(1).suppressed());
  EXPECT_EQ(alert.samples(1).predictions(), 600u);
}

}  // namespace
}  // namespace vigie::services
