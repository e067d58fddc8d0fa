// ConformalMonitor::Observe per event (target: 20 million events a second
// per core), for intervals and for sets, with groups resolved to indices
// once as a caller would; and Snapshot, whose K1 gates sum their law, and
// Merge, for a window.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "monitors/adaptive_conformal.h"
#include "monitors/conformal.h"

namespace {

using vigie::monitors::AdaptiveConformal;
using vigie::monitors::ConformalKind;
using vigie::monitors::ConformalMonitor;
using vigie::monitors::ConformalObservation;

constexpr int kGroups = 8;

// A fixed stream drawn once outside the timed loop: residuals N(0, 1),
// intervals of half-width 1.645 scaled by group, alpha 0.1 from n_cal =
// 1,000; sets of 0 to 4 labels.
std::vector<ConformalObservation> Stream(ConformalMonitor& monitor, int64_t n,
                                         bool grouped) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0, 1);
  std::uniform_int_distribution<int> group(0, kGroups - 1);
  std::vector<uint32_t> indices;
  for (int g = 0; g < kGroups; ++g) {
    indices.push_back(
        monitor.ResolveGroup(std::string(1, static_cast<char>('a' + g))));
  }
  const bool sets = monitor.options().kind == ConformalKind::kSet;
  std::vector<ConformalObservation> stream(static_cast<size_t>(n));
  for (ConformalObservation& o : stream) {
    const int g = group(rng);
    const double residual = std::abs(noise(rng));
    const double half = 1.645 * (1 + 0.05 * g);
    o.covered = residual <= half;
    o.size = sets ? std::floor(residual * 2) : 2 * half;
    o.full = sets && o.size >= 4;
    o.alpha = 0.1;
    o.calibration_size = 1000;
    o.score = residual;
    o.group = grouped ? indices[static_cast<size_t>(g)]
                      : ConformalObservation::kNoGroup;
  }
  return stream;
}

void Observe(benchmark::State& state, ConformalKind kind, bool grouped) {
  ConformalMonitor::Options options;
  options.kind = kind;
  auto monitor = *ConformalMonitor::Create(options);
  const auto stream = Stream(monitor, state.range(0), grouped);
  for (auto _ : state) {
    for (const ConformalObservation& o : stream) monitor.Observe(o);
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_ConformalObserveIntervals(benchmark::State& state) {
  Observe(state, ConformalKind::kInterval, /*grouped=*/true);
}
BENCHMARK(BM_ConformalObserveIntervals)->Arg(1 << 16);

void BM_ConformalObserveIntervalsNoGroup(benchmark::State& state) {
  Observe(state, ConformalKind::kInterval, /*grouped=*/false);
}
BENCHMARK(BM_ConformalObserveIntervalsNoGroup)->Arg(1 << 16);

void BM_ConformalObserveSets(benchmark::State& state) {
  Observe(state, ConformalKind::kSet, /*grouped=*/true);
}
BENCHMARK(BM_ConformalObserveSets)->Arg(1 << 16);

// A fresh monitor per window of n events: the first events of a window pay
// for the histograms' buckets.
void BM_ConformalObserveFreshWindow(benchmark::State& state) {
  auto prototype = *ConformalMonitor::Create({});
  const auto stream = Stream(prototype, state.range(0), true);
  for (auto _ : state) {
    ConformalMonitor monitor = prototype;
    for (const ConformalObservation& o : stream) monitor.Observe(o);
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ConformalObserveFreshWindow)->Arg(1000)->Arg(100000);

// Snapshot of a window: per scope, coverage, sizes and the Beta-Binomial
// gate, whose sum grows with the window.
void BM_ConformalSnapshot(benchmark::State& state) {
  auto monitor = *ConformalMonitor::Create({});
  for (const ConformalObservation& o : Stream(monitor, state.range(0), true)) {
    monitor.Observe(o);
  }
  for (auto _ : state) benchmark::DoNotOptimize(monitor.Snapshot());
}
BENCHMARK(BM_ConformalSnapshot)->Arg(10000)->Arg(1000000);

void BM_ConformalMerge(benchmark::State& state) {
  auto monitor = *ConformalMonitor::Create({});
  for (const ConformalObservation& o : Stream(monitor, 100000, true)) {
    monitor.Observe(o);
  }
  auto total = *ConformalMonitor::Create({});
  for (auto _ : state) benchmark::DoNotOptimize(total.Merge(monitor));
  state.SetItemsProcessed(state.iterations());  // Merges.
}
BENCHMARK(BM_ConformalMerge);

// The floor of a merge: reading the pane's state and writing as much (a
// copy of the monitor, its 8 groups' histograms included).
void BM_ConformalMergeBaselineCopy(benchmark::State& state) {
  auto monitor = *ConformalMonitor::Create({});
  for (const ConformalObservation& o : Stream(monitor, 100000, true)) {
    monitor.Observe(o);
  }
  for (auto _ : state) {
    ConformalMonitor copy = monitor;
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());  // Copies.
}
BENCHMARK(BM_ConformalMergeBaselineCopy);

void BM_AdaptiveConformalObserve(benchmark::State& state) {
  auto aci = *AdaptiveConformal::Create({});
  std::mt19937_64 rng(2);
  std::vector<bool> covered(1 << 16);
  for (size_t i = 0; i < covered.size(); ++i) covered[i] = rng() % 10 != 0;
  for (auto _ : state) {
    for (const bool c : covered) aci.Observe(c);
    benchmark::DoNotOptimize(aci.alpha());
  }
  state.SetItemsProcessed(state.iterations() *
                          static_cast<int64_t>(covered.size()));
}
BENCHMARK(BM_AdaptiveConformalObserve);

}  // namespace
