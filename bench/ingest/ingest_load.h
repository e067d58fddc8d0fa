#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::bench {

// The shape of the synthetic stream. The defaults are the realistic shape of
// issue 10: 8 groups of one attribute, 20 numeric features, an outcome for
// one prediction in ten, a reference uploaded so that drift runs. The
// simulator's stream of the earlier figures (bench/README.md, "Durable
// ingest") is --groups=0 --features=0 --outcome_rate=1
// --reference_predictions=0 --simulator_groups.
struct IngestLoadOptions {
  // Predictions of the simulated stream. Default: 500,000. Range: [1, 1e9].
  int64_t predictions = 500'000;
  // Share of the predictions whose outcome is sent; the others stay pending
  // in the server, as most do in production, where labels come for a
  // sample only. Which ones is drawn from `seed` and the prediction id.
  // Default: 0.1. Range: [0, 1].
  double outcome_rate = 0.1;
  // When > 0, each prediction carries `group_attributes` attributes
  // ("segment", then "segment2", ...), each drawn uniformly and
  // independently among "s0000" to "s<groups - 1>" from `seed` and the
  // prediction id, so that the fairness and calibration monitors keep this
  // many groups per attribute. Default: 8. Range: [0, 100,000] (the
  // server's max_groups range).
  int groups = 8;
  // Attributes of `groups` groups each. Default: 1. Range: [1, 16] (the
  // server keeps up to max_attributes = 32).
  int group_attributes = 1;
  // Keep the simulator's own attributes, sex and age_band (with its bias
  // against female subjects), besides the segments. Default: false.
  bool simulator_groups = false;
  // Numeric input features per prediction, "f00" to "f<features - 1>", for
  // drift: feature j is j + logit(u), u uniform from `seed`, j and the
  // prediction id (a logistic distribution, so that quantile bins are
  // unequal in width). Default: 20. Range: [0, 100] (the server's default
  // drift_max_features).
  int features = 20;
  // The model's task. kBinary: the simulator's score, so calibration runs
  // on probabilities. kMulticlass: `classes` classes "c0", "c1", ..., each
  // prediction with its probabilities and a conformal prediction set
  // (alpha 0.1, calibration_size 1,000), so that conformal coverage runs
  // too (a binary prediction has no set or interval); fairness is then
  // per class. Default: kBinary.
  enum class Task { kBinary, kMulticlass };
  Task task = Task::kBinary;
  // Classes of a multiclass model. Default: 3. Range: [2, 100].
  int classes = 3;
  // Predictions (each with its outcome) of the reference uploaded for the
  // model before the stream, from the same distribution under another seed,
  // so that every window's drift against it is computed. 0: none (drift
  // then stays idle). Default: 10,000. Range: [0, 1,000,000].
  int64_t reference_predictions = 10'000;
  // Event time between consecutive predictions. Default: 5 s (the
  // simulator's). The latency run sets it so that event time keeps pace
  // with its offered rate, as a live producer's does.
  absl::Duration spacing = absl::Seconds(5);
  // Parallel connections the load is split across. Default: 2.
  // Range: [1, 64].
  int connections = 2;
  // Events per IngestRequest. Default: 1,000. Range: [1, 100,000].
  int batch_size = 1'000;
  // Seed of the simulator. Default: 1.
  uint64_t seed = 1;
  // Model id the events are sent under, in place of the simulator's "demo".
  // The shipped configuration gives "demo" a 2 h allowed lateness with late
  // events dropped, and parallel connections drift apart by more than 2 h of
  // event time (1,440 predictions), so some events would be rejected as
  // TOO_LATE. An undeclared model takes default_model's settings: panes of
  // 1 h, policy F1-F3, unlimited lateness, every attribute monitored.
  // Default: "loadgen".
  std::string model_id = "loadgen";

  absl::Status Validate() const;
};

// The simulator's stream, built before any timing, split across
// connections by prediction id (a prediction and its outcome go over the
// same connection, in the simulator's order) and cut into requests.
struct IngestLoad {
  // connections[c]: the requests of connection c, in order.
  std::vector<std::vector<v1::IngestRequest>> connections;
  uint64_t events = 0;
  uint64_t predictions = 0;
  uint64_t outcomes = 0;
};

// O(predictions) time and memory (about 1 kB per event, 3 kB with 20
// features).
absl::StatusOr<IngestLoad> BuildIngestLoad(const IngestLoadOptions& options);

// Calls `visit` on each event of the simulated stream of `options`, in the
// simulator's order, shaped by `options` (model id, outcome rate, groups,
// features, spacing): the events BuildIngestLoad splits, before the split.
// O(1) memory besides the simulator's.
absl::Status ForEachEvent(const IngestLoadOptions& options,
                          absl::FunctionRef<void(v1::Event&)> visit);

// The reference sample uploaded before the stream: options.reference_
// predictions predictions of the same shape, each with its outcome, drawn
// under another seed so that no prediction id is shared with the stream.
// kFailedPrecondition when reference_predictions is 0.
absl::StatusOr<v1::UploadReferenceRequest> BuildReference(
    const IngestLoadOptions& options);

// "8 groups x 1 attribute, 20 features, outcome rate 0.1, reference of
// 10000, binary": the shape in one line, for reports.
std::string ShapeSummary(const IngestLoadOptions& options);

// "binary" or "multiclass", as the server's configuration names the task.
absl::string_view TaskName(IngestLoadOptions::Task task);

// The class labels of a multiclass load: "c0", "c1", ...
std::vector<std::string> ClassLabels(const IngestLoadOptions& options);

}  // namespace vigie::bench
