// The report page's footprint section, on figures the test sets.

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/report/report_data.h"
#include "services/report/report_page.h"

namespace vigie::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ReportData CostedReport() {
  ReportData data;
  data.model_id = "credit";
  data.generated_at = absl::FromUnixSeconds(1'767'225'600);
  data.current_length = absl::Hours(24);
  data.period_length = absl::Hours(1);
  data.all.set_panes(1);
  v1::Footprint* f = data.current.mutable_footprint();
  f->set_predictions(4000);
  f->set_costed(3000);
  f->set_estimated(1000);
  f->set_carbon_costed(3000);
  f->set_cost_coverage(0.75);
  f->set_energy_joules(36'000);
  f->set_energy_kwh(36'000 / 3.6e6);
  f->set_carbon_grams(0.5);
  f->set_energy_joules_per_1000(12'000);
  f->set_baseline_energy_joules_per_1000(10'000);
  f->set_energy_baseline_source("declared");
  f->set_energy_budget_joules_per_1000(16'000);
  f->set_carbon_grams_per_1000(0.25);
  Period p;
  p.start = data.generated_at - absl::Hours(1);
  p.end = data.generated_at;
  *p.metrics.mutable_footprint() = *f;
  data.series.push_back(p);
  data.all.mutable_footprint()->set_predictions(4000);
  return data;
}

TEST(FootprintSectionTest, FiguresAgainstBaselineAndBudget) {
  ReportData data = CostedReport();
  v1::Alert* alert = data.alerts.add_alerts();
  alert->set_rule_id("E1");
  alert->set_metric("footprint_per_1000_predictions");
  (*alert->mutable_scope())["feature"] = "@energy";
  alert->set_severity(v1::SEVERITY_WARNING);
  alert->set_state(v1::ALERT_STATE_FIRING);
  alert->set_element("Q6.1/6.1.b");
  const std::string page = RenderReportPage(data);
  const size_t section = page.find("id=\"footprint\"");
  ASSERT_NE(section, std::string::npos);
  EXPECT_THAT(page, HasSubstr("3,000 of 4,000 predictions reported their "
                              "cost (75.0%; 1,000 estimated"));
  // 12,000 J against 10,000: +20.0%, and 75.0% of the 16,000 J budget.
  EXPECT_THAT(page, HasSubstr("+20.0%"));
  EXPECT_THAT(page, HasSubstr("75.0%</td></tr>"));
  EXPECT_THAT(page, HasSubstr("(declared)"));
  EXPECT_NE(page.find("<b>E1</b>", section), std::string::npos);
  EXPECT_THAT(page, HasSubstr("energy per 1,000 predictions over time"));
  EXPECT_THAT(page, HasSubstr("<a href=\"#footprint\">energy</a>"));
}

TEST(FootprintSectionTest, AbsentForAModelWithoutCosts) {
  ReportData data;
  data.model_id = "plain";
  const std::string page = RenderReportPage(data);
  EXPECT_THAT(page, Not(HasSubstr("id=\"footprint\"")));
  EXPECT_THAT(page, Not(HasSubstr("href=\"#footprint\"")));
}

}  // namespace
}  // namespace vigie::report
