#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::bench {

struct IngestLoadOptions {
  // Predictions of the simulated stream. Default: 500,000. Range: [1, 1e9].
  int64_t predictions = 500'000;
  // Share of the predictions whose outcome is sent; the others stay pending
  // in the server, which is what a memory bound on pending joins is about.
  // Which ones is drawn from `seed` and the prediction id. Default: 1 (every
  // outcome, as the simulator). Range: [0, 1].
  double outcome_share = 1;
  // When > 0, each prediction also carries the group attribute "segment",
  // "s0000" to "s<groups - 1>", drawn uniformly from `seed` and the
  // prediction id, so that the fairness monitor keeps this many groups for
  // it. Default: 0 (the simulator's attributes only). Range: [0, 100,000]
  // (the server's max_groups range).
  int groups = 0;
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
  // TOO_LATE. An undeclared model takes default_model's settings: the same
  // attributes, panes and policy, with unlimited lateness. Default:
  // "loadgen".
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

// O(predictions) time and memory (about 1 kB per event).
absl::StatusOr<IngestLoad> BuildIngestLoad(const IngestLoadOptions& options);

// Calls `visit` on each event of the simulated stream of `options`, in the
// simulator's order, with options.model_id, outcome_share and groups
// applied: the events BuildIngestLoad splits, before the split. O(1) memory
// besides the simulator's.
absl::Status ForEachEvent(const IngestLoadOptions& options,
                          absl::FunctionRef<void(v1::Event&)> visit);

}  // namespace vigie::bench
