#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

// How MeasureLatency offers its load and watches its effect.
struct LatencyOptions {
  // Events per second offered: request i is sent at start + (events before
  // it) / rate, whatever the server's pace (an open loop). > 0.
  double rate = 0;
  // GetMetrics of `model_id` on a second connection, one after the other,
  // one every `query_interval` at most. Default: 50 ms.
  absl::Duration query_interval = absl::Milliseconds(50);
  std::string model_id;
  // Deadline of the stream, and of the wait for its last batch to show in
  // the window afterwards. Default: 10 min.
  absl::Duration timeout = absl::Minutes(10);
};

// What MeasureLatency saw.
struct LatencyStats {
  StreamStats stream;  // The Ingest call's reply; elapsed to its end.
  double offered_rate = 0;
  // Events over the seconds from the first request's send to the last's.
  double achieved_rate = 0;
  // Per request holding predictions: from its scheduled send time to the
  // answer of the first GetMetrics whose window counted its predictions.
  std::vector<absl::Duration> latencies;
  // Requests sent more than 1 ms behind their schedule (the client could
  // not keep up; their latency still counts from the schedule).
  uint64_t late_sends = 0;
  uint64_t queries = 0;
  absl::Duration query_time;  // Summed over the queries.
  // What was counted: the window's fairness overall + missing predictions
  // of its first attribute (of its first class, for a multiclass model), or
  // "counters.predictions (not windowed)" when the predictions carry no
  // group attribute.
  std::string counted;
};

// The latency from ingest to a queried window: sends `requests` over one
// client-streaming Ingest call to `address`, paced at options.rate, while a
// second connection queries GetMetrics of options.model_id over its whole
// window (every pane kept), and counts the window's predictions: the
// predictions of every attribute's "overall" group plus those missing the
// attribute, which is every prediction applied to the window. One
// connection, so the server applies the requests in order, and a request
// has reached the window once the count reaches the predictions sent up to
// and including it. An error if the stream breaks, a query fails, or the
// window does not count every prediction within options.timeout.
absl::StatusOr<LatencyStats> MeasureLatency(
    const std::string& address, const std::vector<v1::IngestRequest>& requests,
    const LatencyOptions& options);

}  // namespace vigie::bench
