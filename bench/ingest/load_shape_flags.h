#pragma once

#include "absl/status/status.h"
#include "bench/ingest/ingest_load.h"

// The stream's shape as flags (--outcome_rate, --groups, --group_attributes,
// --simulator_groups, --features, --task, --classes,
// --reference_predictions, --seed), defined once for ingest_loadgen and
// kafka_ingest_bench so that both paths are run on the same events.

namespace vigie::bench {

// Sets `options`' shape from the flags; kInvalidArgument for a --task
// other than binary or multiclass. Validation stays the caller's.
absl::Status ShapeFromFlags(IngestLoadOptions& options);

}  // namespace vigie::bench
