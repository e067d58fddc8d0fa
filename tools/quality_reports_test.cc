// The conformal and recommendation sections of `vigiectl metrics`, from
// hand-made replies.

#include "tools/quality_reports.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigie::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(QualityReportsTest, ConformalSectionShowsCoverageGateGroupsAndAci) {
  v1::GetMetricsReply reply;
  v1::Conformal& c = *reply.mutable_conformal();
  v1::ConformalCoverage& all = *c.mutable_overall();
  all.set_count(4000);
  all.set_covered(2938);
  all.set_coverage(0.7345);
  all.set_coverage_lower(0.7206);
  all.set_coverage_upper(0.7479);
  all.set_mean_size(3.2897);
  v1::ConformalGate& gate = *all.mutable_gate();
  gate.set_alpha(0.1);
  gate.set_calibration_size(1000);
  gate.set_law("beta-binomial");
  gate.set_expected_coverage(0.9001);
  gate.set_quantile_05(0.8822);
  gate.set_quantile_001(0.8648);
  gate.set_p_value(1e-40);
  c.set_score_quantile(2.9);
  c.mutable_adaptive()->set_steps(8000);
  c.mutable_adaptive()->set_misses(1500);
  c.mutable_adaptive()->set_target_alpha(0.1);
  c.mutable_adaptive()->set_next_alpha(-6.9);
  v1::AttributeConformal& region = *c.add_by_attribute();
  region.set_attribute("region");
  region.set_coverage_gap(0.3145);
  region.set_max_coverage_group("north");
  region.set_min_coverage_group("south");
  v1::ConformalCoverage& south = *region.add_groups();
  south.set_group("south");
  south.set_count(2033);
  south.set_coverage(0.5799);
  south.mutable_gate()->set_p_value(1e-90);
  south.mutable_gate()->set_quantile_05(0.88);

  std::ostringstream out;
  PrintConformalText(reply, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("conformal coverage: 0.7345 [0.7206, 0.7479] "
                              "over 4,000 labelled predictions"));
  EXPECT_THAT(text, HasSubstr("nominal 0.9000 (alpha 0.1, n_cal 1000)"));
  EXPECT_THAT(text, HasSubstr("beta-binomial law: expected 0.9001, 5% "
                              "quantile 0.8822, 0.1% quantile 0.8648"));
  EXPECT_THAT(text, HasSubstr("half-width for the nominal coverage in this "
                              "window 2.9000"));
  EXPECT_THAT(text, HasSubstr("next alpha -6.9000 (target 0.1, 1,500 misses "
                              "in 8,000 steps)"));
  EXPECT_THAT(text, HasSubstr("region: coverage gap 0.3145 (north - south)"));
  EXPECT_THAT(text, HasSubstr("south"));
  EXPECT_THAT(text, HasSubstr("p = 1e-90"));

  std::ostringstream none;
  PrintConformalText(v1::GetMetricsReply(), none);
  EXPECT_EQ(none.str(), "");
}

TEST(QualityReportsTest, RecommendationSectionMarksUndefinedMetrics) {
  v1::GetMetricsReply reply;
  v1::Recommendation& r = *reply.mutable_recommendation();
  r.set_lists(1500);
  r.set_items(15000);
  r.set_unknown_items(3);
  r.set_catalogue_size(1000);
  r.set_diversity(0.9004);
  r.set_coverage(0.1);
  r.set_exposure_gini(0.9039);
  std::ostringstream out;
  PrintRecommendationText(reply, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("recommendations: 1,500 lists, 15,000 items (3 "
                              "outside the catalogue of 1,000)"));
  EXPECT_THAT(text, HasSubstr("diversity"));
  EXPECT_THAT(text, HasSubstr("0.9004"));
  EXPECT_THAT(text, HasSubstr("0.1000"));
  EXPECT_THAT(text, HasSubstr("0.9039"));
  // No feedback: hit rate and MRR are undefined, not zero.
  EXPECT_THAT(text, Not(HasSubstr("0.0000")));
  EXPECT_THAT(text, HasSubstr("—"));
  std::ostringstream none;
  PrintRecommendationText(v1::GetMetricsReply(), none);
  EXPECT_EQ(none.str(), "");
}

}  // namespace
}  // namespace vigie::tools
