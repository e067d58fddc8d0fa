// FairnessMonitor::Observe* against a bare baseline doing the same
// arithmetic on a pre-resolved group index, so that each figure is also a
// ratio: the price of looking the group up from the event's string.

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "monitors/fairness.h"

namespace {

constexpr int kGroups = 8;

struct Event {
  int group;
  bool decision;
  bool label;
};

// A fixed stream: groups, decisions and labels drawn once, outside the
// timed loop.
std::vector<Event> Stream(int64_t n) {
  std::mt19937_64 rng(1);
  std::vector<Event> events(static_cast<size_t>(n));
  for (Event& e : events) {
    const uint64_t bits = rng();
    e.group = static_cast<int>(bits % kGroups);
    e.decision = ((bits >> 8) & 1) != 0;
    e.label = ((bits >> 9) & 1) != 0;
  }
  return events;
}

std::array<std::string, kGroups> Labels() {
  return {"African-American", "Caucasian", "Hispanic", "Asian",
          "Native American",  "Other",     "female",   "male"};
}

void BM_FairnessObservePrediction(benchmark::State& state) {
  auto monitor = *vigie::monitors::FairnessMonitor::Create({});
  const auto labels = Labels();
  const auto stream = Stream(state.range(0));
  for (auto _ : state) {
    for (const Event& e : stream) {
      monitor.ObservePrediction(labels[static_cast<size_t>(e.group)],
                                e.decision);
    }
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FairnessObservePrediction)->Arg(1 << 16);

void BM_FairnessObserveOutcome(benchmark::State& state) {
  auto monitor = *vigie::monitors::FairnessMonitor::Create({});
  const auto labels = Labels();
  const auto stream = Stream(state.range(0));
  for (auto _ : state) {
    for (const Event& e : stream) {
      monitor.ObserveOutcome(labels[static_cast<size_t>(e.group)], e.decision,
                             e.label);
    }
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FairnessObserveOutcome)->Arg(1 << 16);

// The same counting with the group already an index: the floor.
void BM_FairnessObserveBaseline(benchmark::State& state) {
  struct Counts {
    uint64_t predictions, selected, tp, fp, tn, fn;
  };
  std::array<Counts, kGroups> counts{};
  const auto stream = Stream(state.range(0));
  for (auto _ : state) {
    for (const Event& e : stream) {
      Counts& c = counts[static_cast<size_t>(e.group)];
      c.predictions += 1;
      c.selected += e.decision;
      c.tp += e.decision & e.label;
      c.fp += e.decision & !e.label;
      c.tn += !e.decision & !e.label;
      c.fn += !e.decision & e.label;
    }
    benchmark::DoNotOptimize(counts);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FairnessObserveBaseline)->Arg(1 << 16);

void BM_FairnessSnapshot(benchmark::State& state) {
  auto monitor = *vigie::monitors::FairnessMonitor::Create({});
  const auto labels = Labels();
  for (const Event& e : Stream(1 << 12)) {
    monitor.ObserveOutcome(labels[static_cast<size_t>(e.group)], e.decision,
                           e.label);
  }
  for (auto _ : state) benchmark::DoNotOptimize(monitor.Snapshot());
}
BENCHMARK(BM_FairnessSnapshot);

}  // namespace
