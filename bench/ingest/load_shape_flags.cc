#include "bench/ingest/load_shape_flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

ABSL_FLAG(double, outcome_rate, 0.1,
          "Share of the predictions whose outcome is sent, in [0, 1]; the "
          "others stay pending in the server. Which ones is drawn from "
          "--seed.");
ABSL_FLAG(int, groups, 8,
          "When > 0, every prediction carries --group_attributes attributes "
          "(segment, segment2, ...), each s0000 to s<groups - 1>, drawn "
          "uniformly from --seed.");
ABSL_FLAG(int, group_attributes, 1, "Attributes of --groups groups each.");
ABSL_FLAG(bool, simulator_groups, false,
          "Keep the simulator's own attributes, sex and age_band, besides "
          "the segments (the shape of the figures before issue 10, with "
          "--groups=0 --features=0 --outcome_rate=1 "
          "--reference_predictions=0).");
ABSL_FLAG(int, features, 20,
          "Numeric input features per prediction (f00, f01, ...), for "
          "drift.");
ABSL_FLAG(std::string, task, "binary",
          "binary (the simulator's scores), or multiclass: --classes "
          "classes with probabilities and a conformal prediction set, so "
          "that conformal coverage runs too.");
ABSL_FLAG(int, classes, 3, "Classes of --task=multiclass.");
ABSL_FLAG(int64_t, reference_predictions, 10'000,
          "Predictions (with outcomes) of the reference uploaded for the "
          "model before the stream, so that drift runs; 0: none.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the simulated stream.");
ABSL_FLAG(absl::Duration, spacing, absl::Seconds(5),
          "Event time between consecutive predictions. The default, the "
          "simulator's, spreads 500,000 predictions over 29 days, so that a "
          "run at full speed replays weeks of history a second (a backfill: "
          "each checkpoint writes hundreds of hour panes); a live "
          "producer's event time keeps pace with its rate (5us at 200,000 "
          "predictions a second). The latency run sets its own.");

namespace vigie::bench {

absl::Status ShapeFromFlags(IngestLoadOptions& options) {
  options.outcome_rate = absl::GetFlag(FLAGS_outcome_rate);
  options.groups = absl::GetFlag(FLAGS_groups);
  options.group_attributes = absl::GetFlag(FLAGS_group_attributes);
  options.simulator_groups = absl::GetFlag(FLAGS_simulator_groups);
  options.features = absl::GetFlag(FLAGS_features);
  if (const std::string task = absl::GetFlag(FLAGS_task);
      task == "multiclass") {
    options.task = IngestLoadOptions::Task::kMulticlass;
  } else if (task != "binary") {
    return absl::InvalidArgumentError(
        absl::StrCat("--task must be binary or multiclass, got ", task));
  }
  options.classes = absl::GetFlag(FLAGS_classes);
  options.reference_predictions = absl::GetFlag(FLAGS_reference_predictions);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.spacing = absl::GetFlag(FLAGS_spacing);
  return absl::OkStatus();
}

}  // namespace vigie::bench
