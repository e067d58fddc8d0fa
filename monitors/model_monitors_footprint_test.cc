// ModelMonitors' routing of predictions' costs to the footprint monitor,
// through merge and state. Expected values are computed in the test from
// the events it made: kWh = J / 3.6e6, carbon = kWh x intensity.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "monitors/model_monitors.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

v1::Prediction Scored(double score, int64_t seconds) {
  v1::Prediction p;
  p.mutable_binary()->set_score(score);
  p.mutable_binary()->set_decision(score >= 0.5);
  p.mutable_event_time()->set_seconds(seconds);
  (*p.mutable_groups())["sex"] = "F";
  return p;
}

ModelMonitors::Options Costing() {
  FootprintCosting costing;
  costing.carbon_intensity.constant = 300;
  costing.hardware_power_watts = {{"gpu", 250}};
  ModelMonitors::Options options;
  options.footprint = std::make_shared<const FootprintCosting>(costing);
  return options;
}

TEST(ModelMonitorsFootprintTest, NoCostNoFootprint) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create({}));
  monitors.ObservePrediction(Scored(0.7, 0));
  // A latency without a declared power is no cost either.
  v1::Prediction slow = Scored(0.7, 1);
  slow.set_latency_seconds(0.5);
  slow.set_hardware_class("gpu");
  monitors.ObservePrediction(slow);
  EXPECT_EQ(monitors.footprint(), nullptr);
  EXPECT_FALSE(monitors.Snapshot().footprint.has_value());
  // Without a declared footprint, counting starts at the first energy.
  v1::Prediction costed = Scored(0.7, 2);
  costed.set_energy_joules(4);
  monitors.ObservePrediction(costed);
  monitors.ObservePrediction(Scored(0.7, 3));
  const FootprintMetrics m = *monitors.Snapshot().footprint;
  EXPECT_EQ(m.predictions, 2u);
  EXPECT_EQ(m.costed, 1u);
  EXPECT_EQ(m.carbon_costed, 0u);  // No intensity declared.
}

TEST(ModelMonitorsFootprintTest, DeclaredFootprintCountsEveryPrediction) {
  const ModelMonitors::Options options = Costing();
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  monitors.ObservePrediction(Scored(0.7, 0));
  v1::Prediction costed = Scored(0.2, 10);
  costed.set_energy_joules(90);
  monitors.ObservePrediction(costed);
  const FootprintMetrics m = *monitors.Snapshot().footprint;
  EXPECT_EQ(m.predictions, 2u);
  EXPECT_EQ(m.costed, 1u);
  EXPECT_DOUBLE_EQ(*m.cost_coverage, 0.5);
}

TEST(ModelMonitorsFootprintTest, CostsAreRoutedMergedAndKept) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors first, ModelMonitors::Create(Costing()));
  ModelMonitors second = first;
  double joules = 0;
  for (int i = 0; i < 100; ++i) {
    v1::Prediction p = Scored(0.01 * i, i);
    if (i % 2 == 0) {
      p.set_energy_joules(i);
      joules += i;
    } else {
      p.set_latency_seconds(0.001 * i);
      p.set_hardware_class("gpu");
      joules += 0.001 * i * 250;
    }
    (i < 40 ? first : second).ObservePrediction(p);
  }
  ASSERT_OK(first.Merge(second));
  ASSERT_OK_AND_ASSIGN(ModelMonitors back, ModelMonitors::Deserialize(
                                               first.Serialize(), Costing()));
  for (const ModelMonitors* monitors : {&first, &back}) {
    const FootprintMetrics m = *monitors->Snapshot().footprint;
    EXPECT_EQ(m.predictions, 100u);
    EXPECT_EQ(m.costed, 100u);
    EXPECT_EQ(m.estimated, 50u);
    EXPECT_EQ(m.carbon_costed, 100u);
    EXPECT_NEAR(m.energy_joules, joules, 1e-9);
    EXPECT_NEAR(m.carbon_grams, joules / 3.6e6 * 300, 1e-12);
    EXPECT_NEAR(*m.energy_joules_per_1000, 1000 * joules / 100, 1e-9);
  }
  // The fairness monitors saw the same predictions.
  EXPECT_EQ(back.Snapshot().fairness.at("sex").overall.predictions, 100u);
}

}  // namespace
}  // namespace vigie::monitors
