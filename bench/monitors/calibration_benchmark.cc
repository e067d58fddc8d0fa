// CalibrationMonitor::Observe against a bare loop doing the same arithmetic
// on a fixed-size array, so that each figure is also a ratio: the price of
// the monitor's validity check, exact edge handling, saturating counts and
// out-of-line call.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "monitors/calibration.h"

namespace {

constexpr int kBins = 15;
constexpr double kEpsilon = 1e-15;

struct Pair {
  double predicted;
  bool outcome;
};

// A fixed stream of calibrated predictions: scores uniform, outcomes
// Bernoulli(score), drawn once outside the timed loop.
std::vector<Pair> Stream(int64_t n) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<Pair> pairs(static_cast<size_t>(n));
  for (Pair& pair : pairs) {
    pair.predicted = uniform(rng);
    pair.outcome = uniform(rng) < pair.predicted;
  }
  return pairs;
}

void BM_CalibrationObserve(benchmark::State& state) {
  auto monitor = *vigie::monitors::CalibrationMonitor::Create({});
  const auto stream = Stream(state.range(0));
  for (auto _ : state) {
    for (const Pair& pair : stream) {
      monitor.Observe(pair.predicted, pair.outcome);
    }
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CalibrationObserve)->Arg(1 << 16);

// The same sums in a plain loop: bin from the score, count and positives,
// p and p^2, squared error and clipped log loss. The floor.
void BM_CalibrationObserveBaseline(benchmark::State& state) {
  struct Bin {
    uint64_t count, positives;
    double sum_predicted, sum_squared_predicted;
  };
  std::array<Bin, kBins> bins{};
  double sum_squared_error = 0;
  double sum_log_loss = 0;
  const auto stream = Stream(state.range(0));
  for (auto _ : state) {
    for (const Pair& pair : stream) {
      const double p = pair.predicted;
      Bin& bin = bins[static_cast<size_t>(
          std::min(static_cast<int>(p * kBins), kBins - 1))];
      bin.count += 1;
      bin.positives += pair.outcome ? 1 : 0;
      bin.sum_predicted += p;
      bin.sum_squared_predicted += p * p;
      const double error = p - (pair.outcome ? 1.0 : 0.0);
      sum_squared_error += error * error;
      const double clipped = std::clamp(p, kEpsilon, 1 - kEpsilon);
      sum_log_loss -= std::log(pair.outcome ? clipped : 1 - clipped);
    }
    benchmark::DoNotOptimize(bins);
    benchmark::DoNotOptimize(sum_squared_error);
    benchmark::DoNotOptimize(sum_log_loss);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CalibrationObserveBaseline)->Arg(1 << 16);

// Snapshot, noise floor included, for a window of 2,000 predictions and
// for 100 times as many (the latter's bins take the half-normal limit).
void BM_CalibrationSnapshot(benchmark::State& state) {
  auto monitor = *vigie::monitors::CalibrationMonitor::Create({});
  for (const Pair& pair : Stream(state.range(0))) {
    monitor.Observe(pair.predicted, pair.outcome);
  }
  for (auto _ : state) benchmark::DoNotOptimize(monitor.Snapshot());
}
BENCHMARK(BM_CalibrationSnapshot)->Arg(2000)->Arg(200000);

// A pane's monitor merged into a window's: O(num_bins), whatever the
// pane's count.
void BM_CalibrationMerge(benchmark::State& state) {
  auto monitor = *vigie::monitors::CalibrationMonitor::Create({});
  for (const Pair& pair : Stream(2000)) {
    monitor.Observe(pair.predicted, pair.outcome);
  }
  auto total = *vigie::monitors::CalibrationMonitor::Create({});
  for (auto _ : state) {
    benchmark::DoNotOptimize(total.Merge(monitor));
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
}
BENCHMARK(BM_CalibrationMerge);

// The same additions on a plain array: two saturating counts and two sums
// per bin, then the monitor's three totals. The floor.
void BM_CalibrationMergeBaseline(benchmark::State& state) {
  struct Bin {
    uint64_t count, positives;
    double sum_predicted, sum_squared_predicted;
  };
  const auto saturating_add = [](uint64_t a, uint64_t b) {
    return a + b < a ? ~uint64_t{0} : a + b;
  };
  std::array<Bin, kBins> pane{};
  for (const Pair& pair : Stream(2000)) {
    Bin& bin = pane[static_cast<size_t>(
        std::min(static_cast<int>(pair.predicted * kBins), kBins - 1))];
    bin.count += 1;
    bin.positives += pair.outcome ? 1 : 0;
    bin.sum_predicted += pair.predicted;
    bin.sum_squared_predicted += pair.predicted * pair.predicted;
  }
  std::array<Bin, kBins> total{};
  uint64_t ignored = 0;
  double sum_squared_error = 0;
  double sum_log_loss = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBins; ++i) {
      total[i].count = saturating_add(total[i].count, pane[i].count);
      total[i].positives =
          saturating_add(total[i].positives, pane[i].positives);
      total[i].sum_predicted += pane[i].sum_predicted;
      total[i].sum_squared_predicted += pane[i].sum_squared_predicted;
    }
    ignored = saturating_add(ignored, 0);
    sum_squared_error += 1;
    sum_log_loss += 1;
    benchmark::DoNotOptimize(total);
    benchmark::DoNotOptimize(ignored);
    benchmark::DoNotOptimize(sum_squared_error);
    benchmark::DoNotOptimize(sum_log_loss);
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
}
BENCHMARK(BM_CalibrationMergeBaseline);

}  // namespace
