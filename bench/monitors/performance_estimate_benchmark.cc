// The performance estimate's (CBPE) costs: a prediction and a joined pair
// observed, for the model and one group attribute of 8 groups; a window's
// estimate against a reference's calibration maps (isotonic); and a pane's
// merge.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "monitors/performance_estimate.h"

namespace {

using vigie::monitors::PerformanceEstimateMonitor;

struct Scored {
  double score;
  bool outcome;
  int group;
};

std::vector<Scored> Stream(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Scored> out;
  for (int i = 0; i < n; ++i) {
    const double s = u(rng);
    out.push_back({s, u(rng) < s, static_cast<int>(rng() % 8)});
  }
  return out;
}

const std::vector<std::string>& Groups() {
  static const std::vector<std::string> groups = [] {
    std::vector<std::string> g;
    for (int i = 0; i < 8; ++i) g.push_back(absl::StrCat("group-", i));
    return g;
  }();
  return groups;
}

PerformanceEstimateMonitor Filled(int n, uint64_t seed, bool joined) {
  PerformanceEstimateMonitor m = *PerformanceEstimateMonitor::Create({});
  for (const Scored& s : Stream(n, seed)) {
    const bool decision = s.score >= 0.5;
    m.ObservePrediction(s.score, decision);
    m.ObservePrediction("segment", Groups()[s.group], s.score, decision);
    if (joined) {
      m.ObserveJoined(s.score, decision, s.outcome);
      m.ObserveJoined("segment", Groups()[s.group], s.score, decision,
                      s.outcome);
    }
  }
  return m;
}

void BM_ObservePrediction(benchmark::State& state) {
  const std::vector<Scored> stream = Stream(4096, 1);
  PerformanceEstimateMonitor m = *PerformanceEstimateMonitor::Create({});
  size_t i = 0;
  for (auto _ : state) {
    const Scored& s = stream[i++ & 4095];
    m.ObservePrediction(s.score, s.score >= 0.5);
    m.ObservePrediction("segment", Groups()[s.group], s.score, s.score >= 0.5);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ObservePrediction);

void BM_ObserveJoined(benchmark::State& state) {
  const std::vector<Scored> stream = Stream(4096, 2);
  PerformanceEstimateMonitor m = *PerformanceEstimateMonitor::Create({});
  size_t i = 0;
  for (auto _ : state) {
    const Scored& s = stream[i++ & 4095];
    m.ObserveJoined(s.score, s.score >= 0.5, s.outcome);
    m.ObserveJoined("segment", Groups()[s.group], s.score, s.score >= 0.5,
                    s.outcome);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ObserveJoined);

// A window of 10,000 predictions against a reference of 20,000 pairs.
void BM_Estimate(benchmark::State& state) {
  const PerformanceEstimateMonitor reference = Filled(20000, 3, true);
  const PerformanceEstimateMonitor window = Filled(10000, 4, false);
  for (auto _ : state) {
    benchmark::DoNotOptimize(window.Estimate(&reference, {}));
  }
}
BENCHMARK(BM_Estimate);

void BM_Merge(benchmark::State& state) {
  const PerformanceEstimateMonitor pane = Filled(5000, 5, true);
  PerformanceEstimateMonitor total = *PerformanceEstimateMonitor::Create({});
  for (auto _ : state) {
    benchmark::DoNotOptimize(total.Merge(pane));
  }
}
BENCHMARK(BM_Merge);

}  // namespace
