// Prometheus's text format as Vigie writes it, against the format's rules
// written out by hand.

#include "services/prometheus_text.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace vigie::services {
namespace {

TEST(PrometheusTextTest, FamiliesThenTheirSamplesEscaped) {
  PrometheusText text(10);
  text.Family("vigie_a_total", PrometheusText::Type::kCounter,
              "Line one\nback\\slash");
  text.Family("vigie_b", PrometheusText::Type::kGauge, "B.");
  EXPECT_TRUE(text.Add("vigie_b", {{"model", "m"}}, 0.5));
  EXPECT_TRUE(text.Add("vigie_a_total", {{"group", "say \"hi\"\n\\"}}, 3));
  EXPECT_TRUE(text.Add("vigie_a_total", {}, 4));
  EXPECT_FALSE(text.Add("vigie_undeclared", {}, 1));
  EXPECT_EQ(text.Render(),
            "# HELP vigie_a_total Line one\\nback\\\\slash\n"
            "# TYPE vigie_a_total counter\n"
            "vigie_a_total{group=\"say \\\"hi\\\"\\n\\\\\"} 3\n"
            "vigie_a_total 4\n"
            "# HELP vigie_b B.\n"
            "# TYPE vigie_b gauge\n"
            "vigie_b{model=\"m\"} 0.5\n");
}

TEST(PrometheusTextTest, ValuesReadBackExactly) {
  EXPECT_EQ(PrometheusText::FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(
      PrometheusText::FormatValue(std::numeric_limits<double>::infinity()),
      "+Inf");
  EXPECT_EQ(
      PrometheusText::FormatValue(-std::numeric_limits<double>::infinity()),
      "-Inf");
  EXPECT_EQ(PrometheusText::FormatValue(0.1), "0.1");
  EXPECT_EQ(PrometheusText::FormatValue(20000), "20000");
  const double third = 1.0 / 3.0;
  EXPECT_EQ(std::stod(PrometheusText::FormatValue(third)), third);
}

TEST(PrometheusTextTest, SeriesPastTheCapAreCountedNotWritten) {
  PrometheusText text(3);
  text.Family("vigie_x", PrometheusText::Type::kGauge, "X.");
  int kept = 0;
  for (int i = 0; i < 10; ++i) {
    kept += text.Add("vigie_x", {{"i", std::to_string(i)}}, i) ? 1 : 0;
  }
  EXPECT_EQ(kept, 3);
  EXPECT_EQ(text.series(), 3u);
  EXPECT_EQ(text.dropped(), 7u);
  EXPECT_EQ(text.Render(),
            "# HELP vigie_x X.\n# TYPE vigie_x gauge\n"
            "vigie_x{i=\"0\"} 0\nvigie_x{i=\"1\"} 1\nvigie_x{i=\"2\"} 2\n");
}

}  // namespace
}  // namespace vigie::services
