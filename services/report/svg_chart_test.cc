#include "services/report/svg_chart.h"

#include <cmath>
#include <regex>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigie::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ScaleTest, MapsLinearlyAndCentresAnEmptyAxis) {
  // A y axis: 0 at the bottom pixel 200, 1 at the top pixel 0.
  EXPECT_DOUBLE_EQ(Scale(0.25, 0, 1, 200, 0), 150);
  EXPECT_DOUBLE_EQ(Scale(3, 2, 6, 10, 50), 20);
  EXPECT_DOUBLE_EQ(Scale(7, 5, 5, 10, 50), 30);
}

TEST(NiceTicksTest, RoundStepsCoveringTheRange) {
  EXPECT_THAT(NiceTicks(0, 1, 5),
              ::testing::ElementsAre(
                  0, 0.2, 0.4, ::testing::DoubleNear(0.6, 1e-12), 0.8, 1));
  // Range 0.13..0.47 over about 4 ticks: raw step 0.085, rounded to 0.1.
  const std::vector<double> ticks = NiceTicks(0.13, 0.47, 4);
  ASSERT_EQ(ticks.size(), 3u);
  EXPECT_NEAR(ticks[0], 0.2, 1e-12);
  EXPECT_NEAR(ticks[2], 0.4, 1e-12);
  EXPECT_THAT(NiceTicks(2, 2, 4), ::testing::ElementsAre(2));
}

// The numbers an attribute holds in `svg`, e.g. every cy="..." of circles.
std::vector<double> Attributes(const std::string& svg,
                               const std::string& name) {
  std::vector<double> out;
  const std::regex re(" " + name + "=\"([-0-9.]+)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re);
       it != std::sregex_iterator(); ++it) {
    out.push_back(std::stod((*it)[1].str()));
  }
  return out;
}

TEST(LineChartTest, PlacesEachPointByItsValue) {
  LineChartSpec spec;
  spec.title = "rates";
  spec.y_label = "rate";
  spec.y_min = 0;
  spec.y_max = 1;
  spec.lines = {{"a", {{1000, 0.0, ""}, {2000, 0.5, ""}, {3000, 1.0, ""}}}};
  const std::string svg = LineChart(spec);
  const std::vector<double> cy = Attributes(svg, "cy");
  const std::vector<double> cx = Attributes(svg, "cx");
  ASSERT_EQ(cy.size(), 3u);
  // Evenly spaced values, evenly spaced pixels; higher values higher up.
  EXPECT_NEAR(cy[0] - cy[1], cy[1] - cy[2], 0.11);
  EXPECT_GT(cy[0], cy[2]);
  EXPECT_NEAR(cx[1] - cx[0], cx[2] - cx[1], 0.11);
  EXPECT_THAT(svg, HasSubstr("<title>rates</title>"));
  EXPECT_THAT(svg, HasSubstr("<title>a: 0.5</title>"));
}

TEST(LineChartTest, SkipsNonFiniteValuesAndSaysWhenThereIsNoData) {
  LineChartSpec spec;
  spec.lines = {{"a", {{1, NAN, ""}, {2, INFINITY, ""}}}};
  EXPECT_THAT(LineChart(spec), HasSubstr("no data yet"));
  spec.lines[0].points.push_back({3, 0.4, ""});
  const std::string svg = LineChart(spec);
  EXPECT_EQ(Attributes(svg, "cy").size(), 1u);
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
}

TEST(LineChartTest, EscapesNamesFromProducers) {
  LineChartSpec spec;
  spec.title = "<script>alert(1)</script>";
  spec.lines = {{"g\"><script>", {{1, 0.4, ""}}}};
  const std::string svg = LineChart(spec);
  EXPECT_THAT(svg, Not(HasSubstr("<script>")));
  EXPECT_THAT(svg, HasSubstr("&lt;script&gt;"));
}

TEST(BarChartTest, BarLengthsAreProportionalToValues) {
  BarChartSpec spec;
  spec.bars = {{"x", 0.2, false, ""}, {"y", 0.4, true, ""}};
  spec.x_max = 0.8;
  spec.alarm_note = "drifted";
  const std::string svg = BarChart(spec);
  std::vector<double> widths = Attributes(svg, "width");
  // The <svg>'s width="100%" does not match the pattern; bars come in
  // order.
  ASSERT_EQ(widths.size(), 2u);
  EXPECT_NEAR(widths[1], 2 * widths[0], 0.15);
  EXPECT_THAT(svg, HasSubstr("0.4 (drifted)"));
  EXPECT_THAT(svg, HasSubstr("#C0392B"));
}

TEST(ReliabilityDiagramTest, DotsSitAtPredictedAndObserved) {
  const std::string svg = ReliabilityDiagram(
      "calibration", {{0.25, 0.25, 0.2, 0.3, 100}, {0.75, 0.5, 0.4, 0.6, 25}});
  const std::vector<double> cx = Attributes(svg, "cx");
  const std::vector<double> cy = Attributes(svg, "cy");
  const std::vector<double> r = Attributes(svg, "r");
  ASSERT_EQ(cx.size(), 2u);
  // x: 0.25 and 0.75 of a 300-pixel side from 48.
  EXPECT_NEAR(cx[0], 48 + 75, 0.06);
  EXPECT_NEAR(cx[1], 48 + 225, 0.06);
  // y: 0.25 and 0.5 up from the bottom (16 + 300).
  EXPECT_NEAR(cy[0], 316 - 75, 0.06);
  EXPECT_NEAR(cy[1], 316 - 150, 0.06);
  // Radius 3 + 7 sqrt(count / largest count).
  EXPECT_NEAR(r[0], 10, 0.06);
  EXPECT_NEAR(r[1], 3 + 7 * 0.5, 0.06);
}

}  // namespace
}  // namespace vigie::report
