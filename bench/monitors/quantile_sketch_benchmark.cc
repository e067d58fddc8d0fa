// QuantileSketch::Add at the start of a stream (every value sorted) and on
// a long one (values sampled in blocks before sorting), beside a bare
// append loop, the floor any buffered Add pays; Merge of pane sketches into
// a window; and the KS test on two sketches.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "monitors/drift_stats.h"
#include "monitors/quantile_sketch.h"

namespace {

using vigie::monitors::QuantileSketch;

// A fixed stream of normal values, drawn once outside the timed loop.
std::vector<double> Stream(uint64_t seed, int64_t n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> values(static_cast<size_t>(n));
  for (double& v : values) v = normal(rng);
  return values;
}

QuantileSketch Filled(uint64_t seed, int64_t n) {
  QuantileSketch sketch;
  for (double v : Stream(seed, n)) sketch.Add(v);
  return sketch;
}

// A new sketch per iteration: the exact phase (1,024 values), then every
// value sorted into the levels, the costliest part of any stream.
void BM_QuantileSketchAddNewStream(benchmark::State& state) {
  const std::vector<double> stream = Stream(1, state.range(0));
  for (auto _ : state) {
    QuantileSketch sketch;
    for (double v : stream) sketch.Add(v);
    benchmark::DoNotOptimize(sketch);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_QuantileSketchAddNewStream)->Arg(1 << 16);

// Past 2^24 values (k = 200), a full buffer of 256 values is one sampled
// block: the steady state of a busy feature.
void BM_QuantileSketchAddLongStream(benchmark::State& state) {
  QuantileSketch sketch = Filled(2, int64_t{1} << 24);
  const std::vector<double> stream = Stream(3, state.range(0));
  for (auto _ : state) {
    for (double v : stream) sketch.Add(v);
    benchmark::DoNotOptimize(sketch);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_QuantileSketchAddLongStream)->Arg(1 << 16);

// The floor: the finiteness check and append of Add, with a buffer of 256
// that is only emptied when full.
void BM_QuantileSketchAddBaseline(benchmark::State& state) {
  std::vector<double> buffer;
  buffer.reserve(256);
  uint64_t ignored = 0;
  const std::vector<double> stream = Stream(3, state.range(0));
  for (auto _ : state) {
    for (double v : stream) {
      if (!std::isfinite(v)) {
        ++ignored;
        continue;
      }
      if (buffer.size() >= 256) {
        benchmark::DoNotOptimize(buffer.data());
        buffer.clear();
      }
      buffer.push_back(v);
    }
    benchmark::DoNotOptimize(buffer);
    benchmark::DoNotOptimize(ignored);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_QuantileSketchAddBaseline)->Arg(1 << 16);

// Merging a pane's sketch into a growing window: a compacted pane of 10^6
// values, or one still exact (1,000 values).
void BM_QuantileSketchMerge(benchmark::State& state) {
  const QuantileSketch pane = Filled(4, state.range(0));
  QuantileSketch window = Filled(5, 1'000'000);
  for (auto _ : state) {
    benchmark::DoNotOptimize(window.Merge(pane));
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
  state.counters["retained"] = static_cast<double>(pane.Sorted().size());
}
BENCHMARK(BM_QuantileSketchMerge)->Arg(1000)->Arg(1'000'000);

// The floor of a merge: one pass of std::merge over as many sorted values
// as the two sketches retain, into a buffer kept between iterations.
void BM_QuantileSketchMergeBaseline(benchmark::State& state) {
  const QuantileSketch pane_sketch = Filled(4, state.range(0));
  const QuantileSketch window_sketch = Filled(5, 1'000'000);
  std::vector<double> pane, window;
  for (const auto& v : pane_sketch.Sorted()) pane.push_back(v.value);
  for (const auto& v : window_sketch.Sorted()) window.push_back(v.value);
  std::vector<double> out(pane.size() + window.size());
  for (auto _ : state) {
    std::merge(pane.begin(), pane.end(), window.begin(), window.end(),
               out.begin());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
  state.counters["retained"] = static_cast<double>(pane.size());
}
BENCHMARK(BM_QuantileSketchMergeBaseline)->Arg(1000)->Arg(1'000'000);

// KS test between two sketches, Sorted() included: compacted ones of 10^6
// values (asymptotic p-value), and exact ones of 100 values (exact p-value,
// a walk over 101 x 101 lattice points).
void BM_QuantileSketchKolmogorovSmirnovTest(benchmark::State& state) {
  const QuantileSketch reference = Filled(6, state.range(0));
  const QuantileSketch current = Filled(7, state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(vigie::monitors::KolmogorovSmirnovTest(
        reference.Sorted(), current.Sorted()));
  }
}
BENCHMARK(BM_QuantileSketchKolmogorovSmirnovTest)->Arg(100)->Arg(1'000'000);

}  // namespace
