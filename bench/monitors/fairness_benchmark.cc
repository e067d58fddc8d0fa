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

#include "absl/strings/str_cat.h"
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

// Merging one pane's monitor into a window's, as a query or a rule does for
// each pane of its window: `range` groups (8, as above; 1,000, the default
// max_groups) whose labels the window already holds, so each group is one
// look-up of its label and six saturating additions.
std::vector<std::string> MergeLabels(int64_t groups) {
  std::vector<std::string> labels;
  if (groups == kGroups) {
    for (const std::string& label : Labels()) labels.push_back(label);
    return labels;
  }
  for (int64_t g = 0; g < groups; ++g) {
    labels.push_back(absl::StrCat("group-", g));
  }
  return labels;
}

void BM_FairnessMerge(benchmark::State& state) {
  const std::vector<std::string> labels = MergeLabels(state.range(0));
  auto pane = *vigie::monitors::FairnessMonitor::Create({});
  // 10,000 predictions, every one joined, spread over the groups.
  const auto stream = Stream(10'000);
  for (size_t i = 0; i < stream.size(); ++i) {
    const Event& e = stream[i];
    const std::string& label = labels[i % labels.size()];
    pane.ObservePrediction(label, e.decision);
    pane.ObserveOutcome(label, e.decision, e.label);
  }
  auto window = *vigie::monitors::FairnessMonitor::Create({});
  // The window knows the groups already, as it does from its second pane on.
  (void)window.Merge(pane);
  for (auto _ : state) {
    benchmark::DoNotOptimize(window.Merge(pane));
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
  state.counters["groups"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_FairnessMerge)->Arg(kGroups)->Arg(1000);

// The merge's arithmetic with the groups already aligned by index: six
// saturating additions per group, no label look-up. The floor.
void BM_FairnessMergeBaseline(benchmark::State& state) {
  const size_t groups = static_cast<size_t>(state.range(0));
  std::vector<Counts> pane(groups);
  for (size_t g = 0; g < groups; ++g) {
    pane[g] = {1250, 600, 300, 300, 325, 325};
  }
  std::vector<Counts> window = pane;
  for (auto _ : state) {
    for (size_t g = 0; g < groups; ++g) {
      Counts& to = window[g];
      const Counts& from = pane[g];
      to.predictions = SaturatingAdd(to.predictions, from.predictions);
      to.selected = SaturatingAdd(to.selected, from.selected);
      to.true_positives = SaturatingAdd(to.true_positives, from.true_positives);
      to.false_positives =
          SaturatingAdd(to.false_positives, from.false_positives);
      to.true_negatives = SaturatingAdd(to.true_negatives, from.true_negatives);
      to.false_negatives =
          SaturatingAdd(to.false_negatives, from.false_negatives);
    }
    benchmark::DoNotOptimize(window.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
  state.counters["groups"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_FairnessMergeBaseline)->Arg(kGroups)->Arg(1000);

}  // namespace
