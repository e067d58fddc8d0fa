// The cost of freshness, Vigie's side (README.md, "The cost of freshness"):
// a model sending 1,000,000 events an hour, whose window of W hours is
// evaluated every 10 seconds. Vigie observes each event once into the
// monitors of its 1-hour pane (fairness and calibration by race, sex and
// race&sex, drift of 20 features: monitors::ModelMonitors), and each
// evaluation merges the window's panes and reads them: Snapshot, and the
// drift of every feature against a reference profile.
//
//   BM_FreshnessIngest      one pane's events observed, per event: a fresh
//                           pane fed --events_per_pane events (the first
//                           values of a pane, which the sketches keep
//                           exactly, are the dearest, so the whole pane is
//                           timed).
//   BM_FreshnessEvaluate/N  one evaluation of a window of N panes.
//
// bench/freshness/pandas_window.py measures the same with pandas
// (recomputing the window from its rows at each evaluation) and, given this
// program's JSON output, prints both as CPU seconds per hour.
//
// The panes are four distinct hours cycled: a pane's state is bounded (the
// sketches keep at most about 1,000 values per feature), so what a merge
// costs depends on the number of panes, not on which hours they are.
//
// Flags besides Google Benchmark's: --events_per_pane=N (default
// 1,000,000; the smoke test passes a small one).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/fixtures/model_events.h"
#include "benchmark/benchmark.h"
#include "monitors/drift_report.h"
#include "monitors/model_monitors.h"
#include "monitors/prediction_view.h"

namespace {

using vigie::bench::LabeledPrediction;
using vigie::monitors::ModelMonitors;
using vigie::monitors::PredictionView;

// What every benchmark below reads: four streams of 4,096 predictions with
// their views, the panes built from them, and the reference profile (a
// pane's drift monitor, as a frozen reference period is).
struct Fixture {
  std::vector<std::vector<LabeledPrediction>> streams;
  std::vector<std::vector<PredictionView>> views;
  std::vector<ModelMonitors> panes;
  vigie::monitors::ReferenceProfile reference;
};

// Built once, with the first events_per_pane asked (main passes one).
const Fixture& Shared(int64_t events_per_pane) {
  static const auto* const fixture = [events_per_pane] {
    std::vector<std::vector<LabeledPrediction>> streams;
    std::vector<ModelMonitors> panes;
    for (uint64_t p = 0; p < 4; ++p) {
      streams.push_back(vigie::bench::MakeLabeledPredictions(
          4096, /*seed=*/p + 1, /*shift=*/0.05 * static_cast<double>(p)));
      panes.push_back(vigie::bench::FillPane(streams.back(), events_per_pane));
    }
    std::vector<std::vector<PredictionView>> views;
    for (const auto& stream : streams) {
      auto& out = views.emplace_back();
      for (const LabeledPrediction& e : stream) {
        out.push_back(PredictionView::Of(e.prediction));
      }
    }
    auto reference =
        *vigie::monitors::ReferenceProfile::Build(panes[0].drift(), {});
    return new Fixture{std::move(streams), std::move(views), std::move(panes),
                       std::move(reference)};
  }();
  return *fixture;
}

// A fresh pane fed a whole pane's events, as the pipeline feeds it: each
// prediction, its joined outcome and its error. Per event.
void BM_FreshnessIngest(benchmark::State& state, int64_t events_per_pane) {
  const Fixture& fixture = Shared(events_per_pane);
  const std::vector<LabeledPrediction>& stream = fixture.streams[1];
  const std::vector<PredictionView>& views = fixture.views[1];
  for (auto _ : state) {
    ModelMonitors pane = *ModelMonitors::Create(vigie::bench::MonitorOptions());
    for (int64_t i = 0; i < events_per_pane; ++i) {
      const size_t at = static_cast<size_t>(i) % stream.size();
      pane.ObservePrediction(views[at]);
      pane.ObserveJoined(views[at], stream[at].outcome);
      pane.ObserveError(stream[at].prediction.binary().decision() ==
                                stream[at].outcome.binary()
                            ? 0.0
                            : 1.0);
    }
    benchmark::DoNotOptimize(pane);
  }
  state.SetItemsProcessed(state.iterations() * events_per_pane);  // Events.
}

// One evaluation of a window of `range` panes: merged into an empty
// monitor, then its metrics and its drift against the reference.
void BM_FreshnessEvaluate(benchmark::State& state, int64_t events_per_pane) {
  const Fixture& fixture = Shared(events_per_pane);
  const int64_t panes = state.range(0);
  for (auto _ : state) {
    ModelMonitors window =
        *ModelMonitors::Create(vigie::bench::MonitorOptions());
    for (int64_t p = 0; p < panes; ++p) {
      benchmark::DoNotOptimize(
          window.Merge(fixture.panes[static_cast<size_t>(p) % 4]));
    }
    benchmark::DoNotOptimize(window.Snapshot());
    benchmark::DoNotOptimize(vigie::monitors::CompareWithReference(
        window.drift(), fixture.reference));
  }
  state.SetItemsProcessed(state.iterations());  // Evaluations.
  state.counters["panes"] = static_cast<double>(panes);
  state.counters["window_events"] =
      static_cast<double>(panes) * static_cast<double>(events_per_pane);
}

}  // namespace

int main(int argc, char** argv) {
  // Events a pane holds: one hour at 1,000,000 events an hour.
  int64_t events_per_pane = 1'000'000;
  // Our flag first, removed from argv so that Google Benchmark does not
  // reject it.
  constexpr const char kFlag[] = "--events_per_pane=";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], kFlag, sizeof(kFlag) - 1) == 0) {
      events_per_pane = std::strtoll(argv[i] + sizeof(kFlag) - 1, nullptr, 10);
      if (events_per_pane < 1) return 1;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::RegisterBenchmark("BM_FreshnessIngest", BM_FreshnessIngest,
                               events_per_pane)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_FreshnessEvaluate", BM_FreshnessEvaluate,
                               events_per_pane)
      ->ArgName("panes")
      ->Arg(1)
      ->Arg(6)
      ->Arg(24)
      ->Arg(168)
      ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
