// The energy and carbon section of `vigiectl metrics`, from a hand-made
// reply.

#include "tools/footprint_text.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigie::tools {
namespace {

using ::testing::HasSubstr;

TEST(FootprintTextTest, ShowsFiguresAgainstBaselineAndBudget) {
  v1::GetMetricsReply reply;
  v1::Footprint& f = *reply.mutable_footprint();
  f.set_predictions(4000);
  f.set_costed(3000);
  f.set_estimated(1000);
  f.set_energy_kwh(0.01);
  f.set_carbon_grams(0.5);
  f.set_energy_joules_per_1000(12000);
  f.set_energy_joules_per_1000_lower(11500);
  f.set_energy_joules_per_1000_upper(12500);
  f.set_baseline_energy_joules_per_1000(10000);
  f.set_energy_baseline_source("declared");
  f.set_energy_change(0.2);
  f.set_energy_budget_joules_per_1000(16000);
  f.set_energy_budget_share(0.75);
  std::ostringstream out;
  PrintFootprintText(reply, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("3,000 of 4,000 predictions with a cost"));
  EXPECT_THAT(text, HasSubstr("[11500, 12500]"));
  EXPECT_THAT(text, HasSubstr("+20.0%"));
  EXPECT_THAT(text, HasSubstr("75.0%"));
  EXPECT_THAT(text, HasSubstr("declared"));
}

TEST(FootprintTextTest, NothingWithoutAFootprint) {
  std::ostringstream out;
  PrintFootprintText(v1::GetMetricsReply(), out);
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace vigie::tools
