#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "absl/time/time.h"
#include "bench/ingest/ingest_load.h"
#include "bench/ingest/ingest_stream.h"
#include "bench/ingest/memory_sampler.h"
#include "bench/ingest/rocksdb_baseline.h"
#include "bench/ingest/scratch_dir.h"
#include "bench/ingest/server_child.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::bench {

// The server's configuration in a run.
struct ServerConfigUsed {
  enum class Kind { kEmbeddedDefaults, kGenerated, kUserFile };
  Kind kind = Kind::kEmbeddedDefaults;
  // Of the file passed with --config; empty for kEmbeddedDefaults.
  std::string path;
  std::string summary;  // What a kGenerated file sets.
};

// What --kill_and_restart measured: the server SIGKILLed once the stream
// had ended, then started again on the same data folder.
struct RestartReport {
  // From just before the new process was forked to its port file.
  absl::Duration until_port;
  // From the same moment to the answer of its first GetMetrics.
  absl::Duration until_serving;
  v1::ModelCounters counters;  // From that GetMetrics.
  ProcessMemory memory;        // Once it had answered.
};

// The decode-only server (bare_ingest_server) fed the same requests in the
// same run: the rate the real server is read against.
struct BareReport {
  StreamStats stream;
  absl::Duration server_cpu;  // During the stream, all threads.
  ProcessMemory memory;       // Once the stream had ended.
};

// The latency run: a fresh server fed at an offered rate while a second
// connection queries its window (MeasureLatency).
struct LatencyReport {
  LatencyStats stats;
  // "50% of the 412,345 events/s measured above", or "--rate".
  std::string rate_source;
  // Quantiles of stats.latencies (nearest rank); zero without any.
  absl::Duration p50;
  absl::Duration p99;
  absl::Duration max;
};

// Fills p50, p99 and max of `report` from its latencies.
void SummarizeLatency(LatencyReport& report);

// Every figure of one ingest_loadgen run.
struct LoadgenReport {
  IngestLoadOptions options;
  ServerConfigUsed server_config;
  StreamStats stream;    // What the server acknowledged, and how fast.
  ProcessMemory server;  // The server's, once the stream had ended.
  // CPU time the server used during the stream, all threads: steadier than
  // events/s on a machine whose cores the client shares.
  absl::Duration server_cpu;
  // Bytes the server wrote to storage during the stream (ingest log,
  // checkpoints, compactions): Vigie's own footprint, as its /metrics
  // vigie_written_bytes_per_million_events reports it.
  uint64_t server_written_bytes = 0;
  // From the server's start until its counters were read.
  MemorySamples server_samples;
  absl::Duration sample_interval;
  // GetMetrics on the load's model once the stream had ended, and how long
  // it took (connecting included).
  v1::ModelCounters counters;
  absl::Duration metrics_elapsed;
  // Groups the fairness monitor kept per attribute in that reply ("(other)"
  // included): shows that --groups segments did not overflow max_groups.
  std::map<std::string, int> groups_per_attribute;
  // The window's conformal coverage in that reply, for --task=multiclass:
  // shows that the monitor ran on the prediction sets.
  std::optional<v1::ConformalCoverage> conformal;
  DiskUsage data_running;  // Its data folder, still running.
  // Its data folder after SIGTERM (of the restarted server, if any).
  DiskUsage data_stopped;
  // The same folder once every column family was compacted fully
  // (CompactDatabase): the state itself, without WAL or overwritten values.
  DiskUsage data_compacted;
  // The reference uploaded before the stream (none with
  // --reference_predictions=0): what the server profiled.
  std::optional<v1::ReferenceInfo> reference;
  std::optional<BareReport> bare;        // Without --nobare.
  std::optional<LatencyReport> latency;  // With --latency_seconds > 0.
  std::optional<RestartReport> restart;  // With --kill_and_restart.
  std::optional<PutBaseline> baseline;   // Empty with --nobaseline.

  double events_per_second() const;
  // Server CPU microseconds per event sent.
  double server_cpu_us_per_event() const;
  // 0 without a baseline.
  double puts_per_second() const;
  // 0 without the bare server.
  double bare_events_per_second() const;
};

// How the counters a restart must keep differ ("pending_predictions 5 -> 4,
// ..."); empty when they are equal: predictions, outcomes, joined and
// pending predictions.
std::string CounterDifferences(const v1::ModelCounters& before,
                               const v1::ModelCounters& after);

// A table for people: the server's figures, then the baseline's and the
// ratio of the two rates.
void PrintReportTable(const LoadgenReport& report, std::ostream& out);

// The same figures as one line of JSON, for scripts.
std::string ReportJson(const LoadgenReport& report);

}  // namespace vigie::bench
