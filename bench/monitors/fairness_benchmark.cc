// FairnessMonitor::Observe* against bare baselines doing the same
// arithmetic on a pre-resolved group index, so that each figure is also a
// ratio: the price of looking the group up from the event's string.
//
// Each baseline mirrors one Observe* exactly once the group is found: the
// monitor's six uint64 counters per group in a heap vector, the same
// saturating increments of the same counters, the same branches on the
// decision (and label). An earlier single baseline updated all six counters
// per event without saturation or branches, which is neither method's work.

#include <array>
#include <cstdint>
#include <limits>
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

// Labels of 4 to 16 bytes, as a race or sex attribute carries.
std::array<std::string, kGroups> Labels() {
  return {"African-American", "Caucasian", "Hispanic", "Asian",
          "Native American",  "Other",     "female",   "male"};
}

// Labels past 16 bytes, which take the hash-map path.
std::array<std::string, kGroups> LongLabels() {
  return {"region=north-east/segment=a", "region=north-east/segment=b",
          "region=south-west/segment=a", "region=south-west/segment=b",
          "region=north-west/segment=a", "region=north-west/segment=b",
          "region=south-east/segment=a", "region=south-east/segment=b"};
}

void ObservePredictions(benchmark::State& state,
                        const std::array<std::string, kGroups>& labels) {
  auto monitor = *vigie::monitors::FairnessMonitor::Create({});
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

void BM_FairnessObservePrediction(benchmark::State& state) {
  ObservePredictions(state, Labels());
}
BENCHMARK(BM_FairnessObservePrediction)->Arg(1 << 16);

void BM_FairnessObservePredictionLongLabels(benchmark::State& state) {
  ObservePredictions(state, LongLabels());
}
BENCHMARK(BM_FairnessObservePredictionLongLabels)->Arg(1 << 16);

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

// FairnessMonitor's counters and their update, verbatim.
struct Counts {
  uint64_t predictions = 0;
  uint64_t selected = 0;
  uint64_t true_positives = 0;
  uint64_t false_positives = 0;
  uint64_t true_negatives = 0;
  uint64_t false_negatives = 0;
};

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b
             ? std::numeric_limits<uint64_t>::max()
             : a + b;
}

// ObservePrediction's counting with the group already an index: the floor.
void BM_FairnessObservePredictionBaseline(benchmark::State& state) {
  std::vector<Counts> counts(kGroups);
  const auto stream = Stream(state.range(0));
  for (auto _ : state) {
    for (const Event& e : stream) {
      Counts& c = counts[static_cast<size_t>(e.group)];
      c.predictions = SaturatingAdd(c.predictions, 1);
      if (e.decision) c.selected = SaturatingAdd(c.selected, 1);
    }
    benchmark::DoNotOptimize(counts.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FairnessObservePredictionBaseline)->Arg(1 << 16);

// ObserveOutcome's counting with the group already an index.
void BM_FairnessObserveOutcomeBaseline(benchmark::State& state) {
  std::vector<Counts> counts(kGroups);
  const auto stream = Stream(state.range(0));
  for (auto _ : state) {
    for (const Event& e : stream) {
      Counts& c = counts[static_cast<size_t>(e.group)];
      uint64_t& cell = e.decision
                           ? (e.label ? c.true_positives : c.false_positives)
                           : (e.label ? c.false_negatives : c.true_negatives);
      cell = SaturatingAdd(cell, 1);
    }
    benchmark::DoNotOptimize(counts.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FairnessObserveOutcomeBaseline)->Arg(1 << 16);

void BM_FairnessSnapshot(benchmark::State& state) {
  auto monitor = *vigie::monitors::FairnessMonitor::Create({});
  const auto labels = Labels();
  for (const Event& e : Stream(1 << 12)) {
    monitor.ObservePrediction(labels[static_cast<size_t>(e.group)], e.decision);
    monitor.ObserveOutcome(labels[static_cast<size_t>(e.group)], e.decision,
                           e.label);
  }
  for (auto _ : state) benchmark::DoNotOptimize(monitor.Snapshot());
}
BENCHMARK(BM_FairnessSnapshot);

}  // namespace
