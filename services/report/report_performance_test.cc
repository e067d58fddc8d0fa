#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/report/report_data.h"
#include "services/report/report_page.h"

namespace vigie::report {
namespace {

using ::testing::HasSubstr;

void Set(v1::PerformanceValue* v, double value, double lower, double upper) {
  v->set_value(value);
  v->set_lower_95(lower);
  v->set_upper_95(upper);
}

TEST(PerformanceSectionTest, ShowsEstimatedBesideRealised) {
  ReportData data;
  data.model_id = "credit";
  data.current_length = absl::Hours(24);
  data.period_length = absl::Hours(1);
  v1::PerformanceEstimate* pe = data.current.mutable_performance_estimate();
  pe->set_calibration("isotonic");
  pe->set_bins(20);
  pe->set_reference_labelled(20000);
  v1::PerformanceScope* model = pe->mutable_model();
  model->set_predictions(4000);
  model->set_labelled(1200);
  Set(model->mutable_estimated()->mutable_accuracy(), 0.70, 0.68, 0.72);
  Set(model->mutable_realised()->mutable_accuracy(), 0.69, 0.665, 0.715);
  Set(model->mutable_estimated()->mutable_f1(), 0.61, 0.58, 0.64);
  v1::PerformanceScope* group = pe->add_groups();
  group->set_attribute("sex");
  group->set_group("f<");
  group->set_predictions(1600);
  Set(group->mutable_estimated()->mutable_accuracy(), 0.66, 0.63, 0.69);

  const std::string page = RenderReportPage(data);
  EXPECT_THAT(page, HasSubstr("<h2>Performance</h2>"));
  EXPECT_THAT(page, HasSubstr("href=\"#performance\""));
  EXPECT_THAT(page, HasSubstr("<td>accuracy</td><td>70.0% <small>(68.0% – "
                              "72.0%)</small></td><td>69.0% <small>(66.5% – "
                              "71.5%)</small></td>"));
  EXPECT_THAT(page, HasSubstr("<td>precision</td><td>—</td><td>—</td>"));
  EXPECT_THAT(page, HasSubstr("isotonic, 20 score bins"));
  EXPECT_THAT(page, HasSubstr("20,000 labelled predictions"));
  // Group labels are escaped, and the group's map was the model's.
  EXPECT_THAT(page, HasSubstr("sex = f&lt;*"));
}

TEST(PerformanceSectionTest, SaysWhenThereIsNothingToEstimate) {
  ReportData data;
  data.model_id = "credit";
  EXPECT_THAT(RenderReportPage(data), HasSubstr("nothing to estimate"));
  data.current.mutable_performance_estimate()->mutable_model()->set_labelled(
      10);
  EXPECT_THAT(RenderReportPage(data), HasSubstr("Nothing is estimated yet"));
}

}  // namespace
}  // namespace vigie::report
