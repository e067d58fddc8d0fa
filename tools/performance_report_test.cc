// The performance section of `vigiectl metrics`, from a hand-made reply.

#include "tools/performance_report.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigie::tools {
namespace {

using ::testing::HasSubstr;

void Set(v1::PerformanceValue* v, double value, double lower, double upper) {
  v->set_value(value);
  v->set_lower_95(lower);
  v->set_upper_95(upper);
}

TEST(PerformanceReportTest, EstimatedBesideRealisedPerScope) {
  v1::GetMetricsReply reply;
  v1::PerformanceEstimate& pe = *reply.mutable_performance_estimate();
  pe.set_calibration("isotonic");
  pe.set_bins(20);
  pe.set_reference_labelled(20000);
  v1::PerformanceScope& model = *pe.mutable_model();
  model.set_predictions(4000);
  model.set_labelled(1200);
  Set(model.mutable_estimated()->mutable_accuracy(), 0.6857, 0.6691, 0.7023);
  Set(model.mutable_realised()->mutable_accuracy(), 0.69, 0.665, 0.715);
  v1::PerformanceScope& group = *pe.add_groups();
  group.set_attribute("sex");
  group.set_group("f");
  group.set_predictions(1600);

  std::ostringstream out;
  PrintPerformanceText(reply, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("isotonic calibration over 20 score bins, "
                              "learned on 20,000 labelled reference"));
  EXPECT_THAT(text, HasSubstr("model: 4,000 predictions, 1,200 with their "
                              "outcome"));
  EXPECT_THAT(text, HasSubstr("accuracy   0.6857 [0.6691, 0.7023]    0.6900 "
                              "[0.6650, 0.7150]"));
  EXPECT_THAT(text, HasSubstr("precision  —"));
  EXPECT_THAT(text, HasSubstr("sex = f (the model's calibration): 1,600"));

  std::ostringstream none;
  PrintPerformanceText(v1::GetMetricsReply(), none);
  EXPECT_EQ(none.str(), "");
}

}  // namespace
}  // namespace vigie::tools
