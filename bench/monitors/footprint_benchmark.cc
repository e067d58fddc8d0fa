// The footprint's cost per prediction: CostOf (energy, or latency x power,
// and the intensity at the event time, from a year of hourly dated
// periods: a binary search) and FootprintMonitor::Observe.

#include <cstdint>
#include <random>
#include <vector>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "monitors/footprint.h"
#include "monitors/prediction_view.h"

namespace {

using vigie::monitors::CostOf;
using vigie::monitors::FootprintCost;
using vigie::monitors::FootprintCosting;
using vigie::monitors::FootprintMonitor;
using vigie::monitors::PredictionView;

const absl::Time kStart = absl::FromUnixSeconds(1'767'571'200);

// A costing with `dated_hours` hourly intensities from kStart, a daily
// profile and two hardware classes.
FootprintCosting Costing(int dated_hours) {
  FootprintCosting costing;
  costing.carbon_intensity.constant = 56;
  costing.carbon_intensity.daily = {{0, 6, 30}, {18, 22, 90}};
  for (int h = 0; h < dated_hours; ++h) {
    costing.carbon_intensity.dated.push_back(
        {kStart + absl::Hours(h), kStart + absl::Hours(h + 1), 40.0 + h % 50});
  }
  costing.hardware_power_watts = {{"cpu-small", 35}, {"gpu-a100", 400}};
  return costing;
}

// Predictions spread over a year, half with an energy, half a latency.
std::vector<PredictionView> Stream(int64_t n) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> second(0, 365 * 24 * 3600 - 1);
  std::vector<PredictionView> stream(static_cast<size_t>(n));
  for (size_t i = 0; i < stream.size(); ++i) {
    PredictionView& p = stream[i];
    p.event_time = kStart + absl::Seconds(second(rng));
    if (i % 2 == 0) {
      p.energy_joules = 12.5;
    } else {
      p.latency_seconds = 0.02;
      p.hardware_class = "gpu-a100";
    }
  }
  return stream;
}

void BM_FootprintCostOfAndObserve(benchmark::State& state) {
  const FootprintCosting costing = Costing(static_cast<int>(state.range(1)));
  const std::vector<PredictionView> stream = Stream(state.range(0));
  FootprintMonitor monitor;
  for (auto _ : state) {
    for (const PredictionView& p : stream) monitor.Observe(CostOf(p, costing));
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
// No dated periods, then a year of hourly ones.
BENCHMARK(BM_FootprintCostOfAndObserve)
    ->Args({1 << 16, 0})
    ->Args({1 << 16, 365 * 24});

}  // namespace
