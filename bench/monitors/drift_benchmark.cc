// DriftMonitor::ObservePrediction on events of 20 features (15 numeric, 5
// categorical) and a binary score, and the comparison of a window with a
// reference profile, which rules run once per evaluation.
//
// A pane's first values cost the most: the quantile sketch keeps its first
// 1,024 values exactly and sorts every block until it starts sampling, so
// the figure depends on how many events a pane has seen. Observe is
// measured on a fresh pane of 10,000 events (a busy hour of a small
// model), and on a pane fed without bound (the long-run cost).

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "monitors/drift.h"
#include "monitors/drift_report.h"
#include "monitors/prediction_view.h"
#include "vigie/v1/events.pb.h"

namespace {

using vigie::monitors::DriftMonitor;
using vigie::monitors::PredictionView;

constexpr int kNumeric = 15;
constexpr int kCategorical = 5;
constexpr int kEvents = 4096;

// Fixed events, drawn once outside the timed loops, and their views.
struct Events {
  std::vector<vigie::v1::Prediction> predictions;
  std::vector<PredictionView> views;
};

Events MakeEvents(double shift) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  Events events;
  events.predictions.resize(kEvents);
  for (vigie::v1::Prediction& p : events.predictions) {
    p.mutable_binary()->set_score(uniform(rng));
    p.mutable_binary()->set_decision(true);
    auto& features = *p.mutable_features();
    for (int f = 0; f < kNumeric; ++f) {
      features[absl::StrCat("n", f)].set_numeric(shift + normal(rng));
    }
    for (int f = 0; f < kCategorical; ++f) {
      features[absl::StrCat("c", f)].set_categorical(
          std::string(1, static_cast<char>('a' + rng() % 12)));
    }
  }
  for (const vigie::v1::Prediction& p : events.predictions) {
    events.views.push_back(PredictionView::Of(p));
  }
  return events;
}

// The events' wire bytes, one after the other, as an ingest request holds
// them: decoding reads them from cache, as the pipeline does.
std::vector<std::string> Wire(const Events& events) {
  std::vector<std::string> wire;
  for (const vigie::v1::Prediction& p : events.predictions) {
    wire.push_back(p.SerializeAsString());
  }
  return wire;
}

// A fresh pane per iteration, fed 10,000 events.
void BM_DriftObserveFreshPane(benchmark::State& state) {
  const Events events = MakeEvents(0);
  const int64_t n = state.range(0);
  for (auto _ : state) {
    auto monitor = *DriftMonitor::Create({});
    for (int64_t i = 0; i < n; ++i) {
      monitor.ObservePrediction(events.views[static_cast<size_t>(i) % kEvents]);
    }
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_DriftObserveFreshPane)->Arg(10'000)->Unit(benchmark::kMillisecond);

// One pane fed across every iteration: the cost once the sketches sample.
// The views point into 4,096 parsed messages whose map entries lie all over
// the heap, so part of this is cache misses on the feature names that an
// ingest call, which decodes each event just before, does not pay: see
// BM_DriftDecodeAndObserve.
void BM_DriftObserveLongRun(benchmark::State& state) {
  const Events events = MakeEvents(0);
  auto monitor = *DriftMonitor::Create({});
  size_t i = 0;
  for (auto _ : state) {
    monitor.ObservePrediction(events.views[i++ % kEvents]);
  }
  benchmark::DoNotOptimize(monitor);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DriftObserveLongRun)->MinTime(2.0);

// The long-run cost on views decoded from 256 events' bytes, which stay in
// cache as an ingest call's just-decoded event does: the figure the
// target of 5 million events per second per core is read against.
void BM_DriftObserveDecoded(benchmark::State& state) {
  const std::vector<std::string> wire = Wire(MakeEvents(0));
  constexpr size_t kHot = 256;
  std::vector<PredictionView> views;
  for (size_t i = 0; i < kHot; ++i) {
    views.push_back(*PredictionView::Decode(wire[i]));
  }
  // Past the sketches' exact phase before timing, so that the figure is
  // the long-run one whatever the number of iterations.
  auto monitor = *DriftMonitor::Create({});
  for (size_t i = 0; i < 1'000'000; ++i) {
    monitor.ObservePrediction(views[i % kHot]);
  }
  size_t i = 0;
  for (auto _ : state) {
    monitor.ObservePrediction(views[i++ % kHot]);
  }
  benchmark::DoNotOptimize(monitor);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DriftObserveDecoded)->MinTime(2.0);

// What the pipeline does per prediction for drift: decode the view from
// the event's bytes (PredictionView::Decode, shared with the other
// monitors), then observe it; long run.
void BM_DriftDecodeAndObserve(benchmark::State& state) {
  const std::vector<std::string> wire = Wire(MakeEvents(0));
  auto monitor = *DriftMonitor::Create({});
  size_t i = 0;
  for (auto _ : state) {
    const auto view = PredictionView::Decode(wire[i++ % kEvents]);
    monitor.ObservePrediction(*view);
  }
  benchmark::DoNotOptimize(monitor);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DriftDecodeAndObserve)->MinTime(2.0);

// The decoding alone, to read the line above as a difference.
void BM_DecodeOnly(benchmark::State& state) {
  const std::vector<std::string> wire = Wire(MakeEvents(0));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(PredictionView::Decode(wire[i++ % kEvents]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeOnly)->MinTime(1.0);

// Merging a pane of `range` events into a window, as a query or a rule
// does for each pane of its window.
void BM_DriftMerge(benchmark::State& state) {
  const Events events = MakeEvents(0);
  auto pane = *DriftMonitor::Create({});
  for (int64_t i = 0; i < state.range(0); ++i) {
    pane.ObservePrediction(events.views[static_cast<size_t>(i) % kEvents]);
  }
  auto window = *DriftMonitor::Create({});
  (void)window.Merge(pane);
  for (auto _ : state) {
    benchmark::DoNotOptimize(window.Merge(pane));
  }
  state.SetItemsProcessed(state.iterations());  // Merges.
}
BENCHMARK(BM_DriftMerge)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Unit(benchmark::kMicrosecond);

// Hour panes past their sketches' exact phase: `range` events of 20
// features each, from four differently shifted streams, so that the
// sketches merged do not hold the same values.
std::vector<DriftMonitor> HourPanes(int64_t events) {
  std::vector<DriftMonitor> panes;
  for (int p = 0; p < 4; ++p) {
    const Events stream = MakeEvents(0.05 * p);
    auto pane = *DriftMonitor::Create({});
    for (int64_t i = 0; i < events; ++i) {
      pane.ObservePrediction(stream.views[static_cast<size_t>(i) % kEvents]);
    }
    panes.push_back(std::move(pane));
  }
  return panes;
}

// A day's window built from 24 hour panes (the four above, cycled) into an
// empty monitor, as a rule over a 24 h window does at each evaluation: the
// figure per pane is what a window's length costs.
void BM_DriftMergeDayWindow(benchmark::State& state) {
  const std::vector<DriftMonitor> panes = HourPanes(state.range(0));
  constexpr int kPanes = 24;
  for (auto _ : state) {
    auto window = *DriftMonitor::Create({});
    for (int p = 0; p < kPanes; ++p) {
      benchmark::DoNotOptimize(window.Merge(panes[p % panes.size()]));
    }
    benchmark::DoNotOptimize(window);
  }
  state.SetItemsProcessed(state.iterations() * kPanes);  // Panes merged.
}
BENCHMARK(BM_DriftMergeDayWindow)->Arg(100'000)->Unit(benchmark::kMillisecond);

// The floor any merge of a pane pays: reading its state and writing as
// much (a copy of the monitor, sketches and category tables included).
void BM_DriftMergeBaselineCopy(benchmark::State& state) {
  const std::vector<DriftMonitor> panes = HourPanes(state.range(0));
  size_t p = 0;
  for (auto _ : state) {
    DriftMonitor copy = panes[p++ % panes.size()];
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());  // Panes copied.
}
BENCHMARK(BM_DriftMergeBaselineCopy)
    ->Arg(100'000)
    ->Unit(benchmark::kMicrosecond);

// A window of `range` events against a reference of 100,000, every
// feature compared.
void BM_CompareWithReference(benchmark::State& state) {
  const Events base = MakeEvents(0);
  const Events moved = MakeEvents(0.3);
  auto reference = *DriftMonitor::Create({});
  for (int i = 0; i < 100'000; ++i) {
    reference.ObservePrediction(base.views[static_cast<size_t>(i) % kEvents]);
  }
  const auto profile = *vigie::monitors::ReferenceProfile::Build(reference, {});
  auto window = *DriftMonitor::Create({});
  for (int64_t i = 0; i < state.range(0); ++i) {
    window.ObservePrediction(moved.views[static_cast<size_t>(i) % kEvents]);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        vigie::monitors::CompareWithReference(window, profile));
  }
}
BENCHMARK(BM_CompareWithReference)
    ->Arg(1'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
