#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/ingest/ingest_load.h"
#include "bench/ingest/ingest_stream.h"
#include "bench/ingest/loadgen_report.h"
#include "bench/ingest/server_child.h"
#include "vigie/v1/vigie.pb.h"

// The parts of an ingest_loadgen run that start a server child and feed
// it: the decode-only baseline, the reference upload and the latency run.
// ingest_loadgen.cc keeps the real server's measurement and the flags.

namespace vigie::bench {

// Of a server's start and stop, of GetMetrics and of UploadReference.
inline constexpr absl::Duration kServerTimeout = absl::Minutes(1);

// Writes "ingest_loadgen: <message>" to stderr.
void Progress(absl::string_view message);

// How a server child is started: the same every time it is (the real
// server twice with --kill_and_restart).
struct ServerCommand {
  std::string binary;
  std::string data_dir;
  std::string port_file;
  std::string log_path;
  std::vector<std::string> args;

  absl::StatusOr<ServerChild> Start(absl::Duration timeout) const;
};

// Uploads the reference of `options` (BuildReference) for its model, so
// that drift runs from the first window on. An error if the server rejects
// any of its events.
absl::StatusOr<v1::ReferenceInfo> UploadReference(
    const std::string& address, const IngestLoadOptions& options);

// Streams `load` to `server` (StreamLoad, with progress lines) and returns
// what it acknowledged; `cpu` gets the server's CPU time during the stream,
// and `written`, when given, the bytes it wrote to storage meanwhile.
absl::StatusOr<StreamStats> TimedStream(const ServerChild& server,
                                        const IngestLoad& load,
                                        absl::Duration timeout,
                                        absl::Duration& cpu,
                                        uint64_t* written = nullptr);

// Starts the decode-only server with `command`, streams `load` to it,
// reads its memory and stops it: the rate the real server's is read
// against. An error if it did not count every event.
absl::StatusOr<BareReport> MeasureBare(const ServerCommand& command,
                                       const IngestLoad& load,
                                       absl::Duration timeout);

// How the latency run offers its load.
struct LatencyRunOptions {
  double rate = 0;          // Events per second offered. > 0.
  std::string rate_source;  // For the report: "--rate", "0.5 of ...".
  absl::Duration duration = absl::Seconds(20);  // Of the offered stream.
  absl::Duration query_interval = absl::Milliseconds(50);
  absl::Duration timeout = absl::Minutes(10);
};

// The latency run: `duration` x `rate` events of the shape of `shape`,
// event time keeping pace with the rate, over one connection to a fresh
// server started by `command` (the reference uploaded first), while a
// second connection queries its window (MeasureLatency).
absl::StatusOr<LatencyReport> MeasureLatencyRun(
    const ServerCommand& command, const IngestLoadOptions& shape,
    const LatencyRunOptions& options);

// An error naming the first rejection unless `reply` accepted all `sent`
// events; `what` names the run.
absl::Status CheckAccepted(absl::string_view what, const v1::IngestReply& reply,
                           uint64_t sent);

}  // namespace vigie::bench
