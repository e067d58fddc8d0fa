#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/ingest/ingest_load.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::bench {

// What the server acknowledged for a whole load.
struct StreamStats {
  // The replies of every connection, summed (rejections: the first few).
  v1::IngestReply reply;
  uint64_t events_sent = 0;
  // From the moment every connection was open to the last reply.
  absl::Duration elapsed;
};

struct StreamLoadOptions {
  // Deadline of each connection's stream, from the start. Default: 10 min.
  absl::Duration timeout = absl::Minutes(10);
  // Called about every `progress_interval` from the calling thread, with
  // the events written so far. Optional.
  std::function<void(uint64_t sent, absl::Duration elapsed)> on_progress;
  absl::Duration progress_interval = absl::Seconds(1);
};

// Sends load.connections[c] over its own TCP connection to `address` (one
// thread and one client-streaming Ingest call each), all starting together
// once every connection is up. An error if a connection fails or a stream
// breaks; the message names the connection and the events it had sent.
absl::StatusOr<StreamStats> StreamLoad(const std::string& address,
                                       const IngestLoad& load,
                                       const StreamLoadOptions& options);

}  // namespace vigie::bench
