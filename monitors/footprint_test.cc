#include "monitors/footprint.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "monitors/prediction_view.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/footprint.pb.h"

namespace vigie::monitors {
namespace {

// 2026-01-05 00:00 UTC, a Monday.
const absl::Time kMidnight = absl::FromUnixSeconds(1'767'571'200);

PredictionView Costed(std::optional<double> joules,
                      std::optional<double> latency = std::nullopt,
                      absl::string_view hardware = "",
                      absl::Time at = kMidnight) {
  PredictionView view;
  view.event_time = at;
  view.energy_joules = joules;
  view.latency_seconds = latency;
  view.hardware_class = hardware;
  return view;
}

FootprintCost Cost(double joules, std::optional<double> grams = std::nullopt) {
  return FootprintCost{joules, false, grams};
}

TEST(FootprintMonitorTest, EmptyHasNoFigures) {
  const FootprintMonitor monitor;
  EXPECT_TRUE(monitor.empty());
  const FootprintMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.predictions, 0u);
  EXPECT_FALSE(m.cost_coverage.has_value());
  EXPECT_FALSE(m.energy_joules_per_1000.has_value());
  EXPECT_FALSE(m.carbon_grams_per_1000.has_value());
  EXPECT_EQ(m.energy_joules, 0);
}

TEST(FootprintMonitorTest, OneObservation) {
  FootprintMonitor monitor;
  monitor.Observe(Cost(36, 0.005));
  const FootprintMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.predictions, 1u);
  EXPECT_EQ(m.costed, 1u);
  EXPECT_EQ(m.carbon_costed, 1u);
  EXPECT_DOUBLE_EQ(*m.cost_coverage, 1.0);
  EXPECT_DOUBLE_EQ(*m.energy_joules_per_1000, 36'000);
  EXPECT_DOUBLE_EQ(*m.carbon_grams_per_1000, 5);
  EXPECT_DOUBLE_EQ(m.energy_kwh, 36 / 3.6e6);
  // One value has no spread to estimate.
  EXPECT_FALSE(m.energy_joules_per_1000_interval.has_value());
}

TEST(FootprintMonitorTest, CostOfMeasuredEnergyUsesTheIntensityAtEventTime) {
  FootprintCosting costing;
  costing.carbon_intensity.constant = 56;
  // Cleaner at night: 20 g/kWh from 00:00 to 06:00 UTC.
  costing.carbon_intensity.daily = {{0, 6, 20}};
  const FootprintCost night = CostOf(
      Costed(7200, std::nullopt, "", kMidnight + absl::Hours(3)), costing);
  ASSERT_TRUE(night.energy_joules.has_value());
  EXPECT_FALSE(night.estimated);
  // kWh = J / 3.6e6; carbon = kWh x intensity.
  EXPECT_DOUBLE_EQ(*night.carbon_grams, 7200 / 3.6e6 * 20);
  const FootprintCost day = CostOf(
      Costed(7200, std::nullopt, "", kMidnight + absl::Hours(12)), costing);
  EXPECT_DOUBLE_EQ(*day.carbon_grams, 7200 / 3.6e6 * 56);
  // The hour's end is excluded: 06:00 is day.
  const FootprintCost six = CostOf(
      Costed(7200, std::nullopt, "", kMidnight + absl::Hours(6)), costing);
  EXPECT_DOUBLE_EQ(*six.carbon_grams, 7200 / 3.6e6 * 56);
  // A day before 1970 still reads its hour of day.
  const absl::Time old = absl::FromUnixSeconds(-86400 + 2 * 3600);
  EXPECT_DOUBLE_EQ(
      *CostOf(Costed(3600, std::nullopt, "", old), costing).carbon_grams,
      3600 / 3.6e6 * 20);
}

TEST(FootprintMonitorTest, DatedPeriodsComeBeforeDailyHours) {
  CarbonIntensity intensity;
  intensity.daily = {{0, 24, 100}};
  intensity.dated = {{kMidnight, kMidnight + absl::Hours(1), 10}};
  EXPECT_EQ(intensity.At(kMidnight), 10);
  EXPECT_EQ(intensity.At(kMidnight + absl::Hours(1)), 100);
  CarbonIntensity none;
  EXPECT_EQ(none.At(kMidnight), std::nullopt);
}

TEST(FootprintMonitorTest, ALongDatedSeriesIsSearchedAsScanned) {
  // A week of hourly intensities with gaps, against a linear scan.
  CarbonIntensity intensity;
  intensity.constant = 999;
  for (int h = 0; h < 24 * 7; ++h) {
    if (h % 5 == 3) continue;  // A gap: the constant applies.
    intensity.dated.push_back({kMidnight + absl::Hours(h),
                               kMidnight + absl::Hours(h + 1),
                               static_cast<double>(h)});
  }
  ASSERT_OK(intensity.Validate());
  for (int minutes = -90; minutes < 24 * 7 * 60 + 90; minutes += 7) {
    const absl::Time t = kMidnight + absl::Minutes(minutes);
    std::optional<double> scanned = 999;
    for (const CarbonIntensity::Dated& d : intensity.dated) {
      if (t >= d.start && t < d.end) scanned = d.grams_per_kwh;
    }
    EXPECT_EQ(intensity.At(t), scanned) << minutes;
  }
  // Out of order is refused, as is an overlap.
  std::swap(intensity.dated[0], intensity.dated[1]);
  EXPECT_NE(intensity.Validate().message().find("time order"),
            std::string::npos);
  std::swap(intensity.dated[0], intensity.dated[1]);
  intensity.dated[1].start -= absl::Minutes(1);
  EXPECT_NE(intensity.Validate().message().find("overlaps"), std::string::npos);
}

TEST(FootprintMonitorTest, CostOfLatencyIsLatencyTimesDeclaredPower) {
  FootprintCosting costing;
  costing.hardware_power_watts = {{"gpu-a100", 400}, {"cpu-small", 35}};
  const FootprintCost gpu =
      CostOf(Costed(std::nullopt, 0.05, "gpu-a100"), costing);
  ASSERT_TRUE(gpu.energy_joules.has_value());
  EXPECT_DOUBLE_EQ(*gpu.energy_joules, 0.05 * 400);
  EXPECT_TRUE(gpu.estimated);
  // No intensity declared: no carbon.
  EXPECT_FALSE(gpu.carbon_grams.has_value());
  // A measured energy wins over the latency.
  EXPECT_EQ(*CostOf(Costed(3.0, 0.05, "gpu-a100"), costing).energy_joules, 3);
  // An unknown class, or no cost at all: no energy.
  EXPECT_FALSE(
      CostOf(Costed(std::nullopt, 0.05, "tpu"), costing).energy_joules);
  EXPECT_FALSE(CostOf(Costed(std::nullopt), costing).energy_joules);
}

TEST(FootprintMonitorTest, PerThousandIsPerCostedPredictionWithInterval) {
  FootprintMonitor monitor;
  const std::vector<double> joules = {1.0, 2.0, 4.0, 5.0};
  for (double j : joules) monitor.Observe(Cost(j, j / 3.6e6 * 300));
  monitor.Observe(FootprintCost{});  // No cost: counted, not averaged.
  const FootprintMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.predictions, 5u);
  EXPECT_EQ(m.costed, 4u);
  EXPECT_DOUBLE_EQ(*m.cost_coverage, 0.8);
  EXPECT_DOUBLE_EQ(m.energy_joules, 12);
  EXPECT_DOUBLE_EQ(*m.energy_joules_per_1000, 1000 * 12.0 / 4);
  // Sample standard deviation of {1, 2, 4, 5}: sqrt(10 / 3).
  const double half = 1.959963984540054 * std::sqrt(10.0 / 3 / 4);
  EXPECT_NEAR(m.energy_joules_per_1000_interval->lower, 1000 * (3 - half),
              1e-9);
  EXPECT_NEAR(m.energy_joules_per_1000_interval->upper, 1000 * (3 + half),
              1e-9);
  EXPECT_NEAR(*m.carbon_grams_per_1000, 1000 * 3 / 3.6e6 * 300, 1e-12);
}

TEST(FootprintMonitorTest, InvalidCostsAreIgnoredAndCounted) {
  FootprintMonitor monitor;
  monitor.Observe(Cost(-1));
  monitor.Observe(Cost(std::numeric_limits<double>::quiet_NaN()));
  monitor.Observe(Cost(std::numeric_limits<double>::infinity()));
  monitor.Observe(Cost(1, -2));
  const FootprintMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.predictions, 4u);
  EXPECT_EQ(m.ignored, 4u);
  EXPECT_EQ(m.costed, 0u);
  EXPECT_EQ(m.energy_joules, 0);
}

TEST(FootprintMonitorTest, MergeOfSplitStreamEqualsWholeStream) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> energy(0, 50);
  FootprintMonitor whole, low, high;
  for (int i = 0; i < 10'000; ++i) {
    FootprintCost cost;
    if (rng() % 5 != 0) {
      cost.energy_joules = energy(rng);
      cost.estimated = rng() % 3 == 0;
      if (rng() % 2) cost.carbon_grams = *cost.energy_joules / 3.6e6 * 56;
    }
    whole.Observe(cost);
    (i % 3 == 0 ? low : high).Observe(cost);
  }
  low.Merge(high);
  const FootprintMetrics a = low.Snapshot();
  const FootprintMetrics b = whole.Snapshot();
  EXPECT_EQ(a.predictions, b.predictions);
  EXPECT_EQ(a.costed, b.costed);
  EXPECT_EQ(a.estimated, b.estimated);
  EXPECT_EQ(a.carbon_costed, b.carbon_costed);
  EXPECT_NEAR(a.energy_joules, b.energy_joules, 1e-9 * b.energy_joules);
  EXPECT_NEAR(*a.energy_joules_per_1000, *b.energy_joules_per_1000, 1e-6);
  EXPECT_NEAR(*a.carbon_grams_per_1000, *b.carbon_grams_per_1000, 1e-9);
  EXPECT_NEAR(a.energy_joules_per_1000_interval->upper,
              b.energy_joules_per_1000_interval->upper, 1e-6);
}

TEST(FootprintMonitorTest, MergeWithEmptyIsIdentity) {
  FootprintMonitor monitor;
  monitor.Observe(Cost(3, 0.1));
  const std::string before = monitor.Serialize();
  monitor.Merge(FootprintMonitor());
  EXPECT_EQ(monitor.Serialize(), before);
  FootprintMonitor empty;
  empty.Merge(monitor);
  EXPECT_EQ(empty.Serialize(), before);
}

TEST(FootprintMonitorTest, SerializeRoundTrip) {
  FootprintMonitor monitor;
  monitor.Observe(Cost(3, 0.1));
  monitor.Observe(FootprintCost{0.5, true, std::nullopt});
  monitor.Observe(FootprintCost{});
  monitor.Observe(Cost(-1));
  ASSERT_OK_AND_ASSIGN(FootprintMonitor back,
                       FootprintMonitor::Deserialize(monitor.Serialize()));
  EXPECT_EQ(back.Serialize(), monitor.Serialize());
  EXPECT_EQ(back.Snapshot().ignored, 1u);
  EXPECT_EQ(back.Snapshot().estimated, 1u);
}

TEST(FootprintMonitorTest, InconsistentStateIsDataLoss) {
  state::v1::FootprintState state;
  state.set_version(1);
  state.set_predictions(1);
  state.set_costed(2);
  EXPECT_EQ(FootprintMonitor::FromProto(state).status().code(),
            absl::StatusCode::kDataLoss);
  state.set_costed(0);
  state.set_energy_joules(5);  // A sum without observations.
  EXPECT_EQ(FootprintMonitor::FromProto(state).status().code(),
            absl::StatusCode::kDataLoss);
  state.set_costed(1);
  state.set_energy_joules(-5);
  EXPECT_EQ(FootprintMonitor::FromProto(state).status().code(),
            absl::StatusCode::kDataLoss);
  state.set_energy_joules(5);
  state.set_version(2);
  EXPECT_EQ(FootprintMonitor::FromProto(state).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(FootprintMonitorTest, HostileBytesNeverCrash) {
  FootprintMonitor monitor;
  monitor.Observe(Cost(3, 0.1));
  const std::string bytes = monitor.Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    (void)FootprintMonitor::Deserialize(bytes.substr(0, n));
  }
  for (const std::string& flipped : testutil::EachBitFlipped(bytes)) {
    (void)FootprintMonitor::Deserialize(flipped);
  }
  for (const std::string& random :
       testutil::RandomByteStrings(/*seed=*/3, 500, 64)) {
    (void)FootprintMonitor::Deserialize(random);
  }
}

TEST(FootprintMonitorTest, RelativeChange) {
  EXPECT_DOUBLE_EQ(*RelativeChange(12, 10), 0.2);
  EXPECT_FALSE(RelativeChange(12, 0).has_value());
  EXPECT_FALSE(RelativeChange(std::nullopt, 10).has_value());
  EXPECT_FALSE(RelativeChange(12, std::nullopt).has_value());
}

TEST(FootprintMonitorTest, ValidateNamesTheBadPeriod) {
  FootprintCosting costing;
  EXPECT_OK(costing.Validate());
  costing.carbon_intensity.daily = {{0, 8, 20}, {6, 12, 30}};
  EXPECT_EQ(costing.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(costing.Validate().message().find("overlap hours 0 to 8"),
            std::string::npos);
  costing.carbon_intensity.daily = {{5, 5, 20}};
  EXPECT_EQ(costing.Validate().code(), absl::StatusCode::kInvalidArgument);
  costing.carbon_intensity.daily = {{0, 25, 20}};
  EXPECT_EQ(costing.Validate().code(), absl::StatusCode::kInvalidArgument);
  costing.carbon_intensity.daily = {};
  costing.carbon_intensity.constant = -1;
  EXPECT_EQ(costing.Validate().code(), absl::StatusCode::kInvalidArgument);
  costing.carbon_intensity.constant = 56;
  costing.carbon_intensity.dated = {
      {kMidnight + absl::Hours(1), kMidnight, 10}};
  EXPECT_EQ(costing.Validate().code(), absl::StatusCode::kInvalidArgument);
  costing.carbon_intensity.dated = {};
  costing.hardware_power_watts = {{"gpu", -400}};
  EXPECT_EQ(costing.Validate().code(), absl::StatusCode::kInvalidArgument);
  costing.hardware_power_watts = {{"", 400}};
  EXPECT_EQ(costing.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigie::monitors
