// ModelMonitors::Merge, the combined merge of one model's pane (fairness
// and calibration by race, sex and race&sex, overall calibration, drift of
// 20 features, the error tally) into a window: what a query or a rule pays
// per pane of its window. Beside it, a copy of the pane, the floor of any
// merge (its state read, as much written), so that the figure is also a
// ratio.

#include <cstdint>
#include <vector>

#include "bench/fixtures/model_events.h"
#include "benchmark/benchmark.h"
#include "monitors/model_monitors.h"

namespace {

using vigie::bench::FillPane;
using vigie::bench::MakeLabeledPredictions;
using vigie::monitors::ModelMonitors;

// Four panes of `events` joined predictions each, from differently shifted
// streams (4,096 distinct predictions each, cycled), so that the sketches
// merged do not hold the same values.
std::vector<ModelMonitors> Panes(int64_t events) {
  std::vector<ModelMonitors> panes;
  for (uint64_t p = 0; p < 4; ++p) {
    panes.push_back(FillPane(
        MakeLabeledPredictions(4096, /*seed=*/p + 1,
                               /*shift=*/0.05 * static_cast<double>(p)),
        events));
  }
  return panes;
}

// One pane into a window that already holds the groups and features, as
// from its second pane on.
void BM_ModelMonitorsMerge(benchmark::State& state) {
  const std::vector<ModelMonitors> panes = Panes(state.range(0));
  ModelMonitors window = *ModelMonitors::Create(vigie::bench::MonitorOptions());
  (void)window.Merge(panes[0]);
  size_t p = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(window.Merge(panes[p++ % panes.size()]));
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
}
BENCHMARK(BM_ModelMonitorsMerge)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMicrosecond);

// A day's window from 24 hour panes into an empty monitor, then its
// Snapshot: a rule's evaluation of a 24 h window, per pane.
void BM_ModelMonitorsMergeDayWindow(benchmark::State& state) {
  const std::vector<ModelMonitors> panes = Panes(state.range(0));
  constexpr int kPanes = 24;
  for (auto _ : state) {
    ModelMonitors window =
        *ModelMonitors::Create(vigie::bench::MonitorOptions());
    for (int p = 0; p < kPanes; ++p) {
      benchmark::DoNotOptimize(window.Merge(panes[p % panes.size()]));
    }
    benchmark::DoNotOptimize(window.Snapshot());
  }
  state.SetItemsProcessed(state.iterations() * kPanes);  // Panes merged.
}
BENCHMARK(BM_ModelMonitorsMergeDayWindow)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond);

// The floor: a copy of the pane.
void BM_ModelMonitorsMergeBaselineCopy(benchmark::State& state) {
  const std::vector<ModelMonitors> panes = Panes(state.range(0));
  size_t p = 0;
  for (auto _ : state) {
    ModelMonitors copy = panes[p++ % panes.size()];
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());  // Copies.
}
BENCHMARK(BM_ModelMonitorsMergeBaselineCopy)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMicrosecond);

// The pane's state as a checkpoint writes it (vigie.state.v1.PaneState),
// and its size.
void BM_ModelMonitorsSerialize(benchmark::State& state) {
  const std::vector<ModelMonitors> panes = Panes(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(panes[0].Serialize());
  const auto bytes = static_cast<int64_t>(panes[0].Serialize().size());
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ModelMonitorsSerialize)
    ->Arg(100'000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
