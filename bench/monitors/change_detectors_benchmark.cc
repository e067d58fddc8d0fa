// ErrorStreamDetectors::Observe per event, on a classifier's 0/1 errors
// (all three detectors fed) and on a regressor's absolute errors (DDM
// stopped), with each detector alone beside it so that a figure can be
// split between them; and the state's Serialize and Deserialize, which the
// service pays at each checkpoint.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "monitors/change_detectors.h"
#include "monitors/change_episode.h"

namespace {

using vigie::monitors::Adwin;
using vigie::monitors::Ddm;
using vigie::monitors::ErrorStreamDetectors;
using vigie::monitors::PageHinkley;

// Misclassifications of a model whose error rate is 0.2, drawn once
// outside the timed loop. Stationary: the detectors' steady-state cost.
std::vector<double> BinaryErrors(int64_t n) {
  std::mt19937_64 rng(1);
  std::bernoulli_distribution wrong(0.2);
  std::vector<double> errors(static_cast<size_t>(n));
  for (double& error : errors) error = wrong(rng) ? 1 : 0;
  return errors;
}

// Absolute errors of a regressor, |N(0, 0.3)|.
std::vector<double> AbsoluteErrors(int64_t n) {
  std::mt19937_64 rng(2);
  std::normal_distribution<double> residual(0, 0.3);
  std::vector<double> errors(static_cast<size_t>(n));
  for (double& error : errors) error = std::abs(residual(rng));
  return errors;
}

void Observe(benchmark::State& state, const std::vector<double>& errors) {
  auto detectors = *ErrorStreamDetectors::Create();
  for (auto _ : state) {
    for (double error : errors) detectors.Observe(error);
    benchmark::DoNotOptimize(detectors);
  }
  state.SetItemsProcessed(state.iterations() *
                          static_cast<int64_t>(errors.size()));
  state.counters["adwin_width"] =
      static_cast<double>(detectors.adwin().width());
}

void BM_ErrorStreamDetectorsObserve(benchmark::State& state) {
  Observe(state, BinaryErrors(state.range(0)));
}
BENCHMARK(BM_ErrorStreamDetectorsObserve)->Arg(1 << 16);

void BM_ErrorStreamDetectorsObserveRegression(benchmark::State& state) {
  Observe(state, AbsoluteErrors(state.range(0)));
}
BENCHMARK(BM_ErrorStreamDetectorsObserveRegression)->Arg(1 << 16);

void BM_AdwinAdd(benchmark::State& state) {
  auto adwin = *Adwin::Create({});
  const std::vector<double> errors = BinaryErrors(state.range(0));
  for (auto _ : state) {
    for (double error : errors) benchmark::DoNotOptimize(adwin.Add(error));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AdwinAdd)->Arg(1 << 16);

// ADWIN testing every split after every addition: the price of clock = 1.
void BM_AdwinAddClock1(benchmark::State& state) {
  Adwin::Options options;
  options.clock = 1;
  auto adwin = *Adwin::Create(options);
  const std::vector<double> errors = BinaryErrors(state.range(0));
  for (auto _ : state) {
    for (double error : errors) benchmark::DoNotOptimize(adwin.Add(error));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AdwinAddClock1)->Arg(1 << 16);

void BM_PageHinkleyAdd(benchmark::State& state) {
  auto detector = *PageHinkley::Create({});
  const std::vector<double> errors = BinaryErrors(state.range(0));
  for (auto _ : state) {
    for (double error : errors) benchmark::DoNotOptimize(detector.Add(error));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PageHinkleyAdd)->Arg(1 << 16);

void BM_DdmAdd(benchmark::State& state) {
  auto ddm = *Ddm::Create({});
  const std::vector<double> errors = BinaryErrors(state.range(0));
  for (auto _ : state) {
    for (double error : errors) benchmark::DoNotOptimize(ddm.Add(error == 1));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DdmAdd)->Arg(1 << 16);

// Serialize and Deserialize after a million errors (a wide window).
void BM_ErrorStreamDetectorsSerialize(benchmark::State& state) {
  auto detectors = *ErrorStreamDetectors::Create();
  for (double error : BinaryErrors(1'000'000)) detectors.Observe(error);
  for (auto _ : state) benchmark::DoNotOptimize(detectors.Serialize());
  state.counters["bytes"] = static_cast<double>(detectors.Serialize().size());
}
BENCHMARK(BM_ErrorStreamDetectorsSerialize);

void BM_ErrorStreamDetectorsDeserialize(benchmark::State& state) {
  auto detectors = *ErrorStreamDetectors::Create();
  for (double error : BinaryErrors(1'000'000)) detectors.Observe(error);
  const std::string bytes = detectors.Serialize();
  const ErrorStreamDetectors::Options options;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ErrorStreamDetectors::Deserialize(bytes, options));
  }
}
BENCHMARK(BM_ErrorStreamDetectorsDeserialize);

// The detectors run per model over the whole error stream in event order
// and do not merge; what a pane keeps for them is an ErrorTally (count,
// sum, sum of squares), which windows merge. Its merge, and the bare
// additions beside it.
void BM_ErrorTallyMerge(benchmark::State& state) {
  vigie::monitors::ErrorTally pane;
  for (double error : BinaryErrors(10'000)) pane.Observe(error);
  vigie::monitors::ErrorTally window;
  for (auto _ : state) {
    window.Merge(pane);
    benchmark::DoNotOptimize(window);
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
}
BENCHMARK(BM_ErrorTallyMerge);

void BM_ErrorTallyMergeBaseline(benchmark::State& state) {
  vigie::monitors::ErrorTally pane;
  for (double error : BinaryErrors(10'000)) pane.Observe(error);
  uint64_t count = 0;
  double sum = 0;
  double sum_squares = 0;
  for (auto _ : state) {
    count += pane.count;
    sum += pane.sum;
    sum_squares += pane.sum_squares;
    benchmark::DoNotOptimize(count);
    benchmark::DoNotOptimize(sum);
    benchmark::DoNotOptimize(sum_squares);
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
}
BENCHMARK(BM_ErrorTallyMergeBaseline);

}  // namespace
