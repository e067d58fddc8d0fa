#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/ingest/ingest_load.h"
#include "bench/ingest/scratch_dir.h"

namespace vigie::bench {

// The key and value of one point write per prediction of the stream of
// `options`, in the simulator's order (whatever the connections): the
// storage layer's model + prediction id key (storage::ModelIdKey) and the
// serialized vigie.v1.Prediction, as a store that kept each prediction
// would write.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
PredictionRecords(const IngestLoadOptions& options);

struct PutBaseline {
  uint64_t puts = 0;
  uint64_t key_bytes = 0;    // Summed over the puts.
  uint64_t value_bytes = 0;  // Summed over the puts.
  absl::Duration elapsed;    // Of the Put() calls alone, not open or close.
  DiskUsage disk;            // The folder once the database closed.
};

// Opens a new RocksDB at `path` with default options (create_if_missing
// aside), writes `records` one db->Put() each from one thread with the WAL
// on and sync off (the server's write options), and closes it.
absl::StatusOr<PutBaseline> RunPutBaseline(
    const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& records);

}  // namespace vigie::bench
