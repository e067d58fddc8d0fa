#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "bench/ingest/ingest_load.h"
#include "bench/ingest/ingest_stream.h"
#include "bench/ingest/rocksdb_baseline.h"
#include "bench/ingest/scratch_dir.h"
#include "bench/ingest/server_child.h"

namespace vigie::bench {

// Every figure of one ingest_loadgen run.
struct LoadgenReport {
  IngestLoadOptions options;
  StreamStats stream;      // What the server acknowledged, and how fast.
  ProcessMemory server;    // The server's, once the stream had ended.
  DiskUsage data_running;  // Its data folder, still running.
  DiskUsage data_stopped;  // Its data folder after SIGTERM.
  std::optional<PutBaseline> baseline;  // Empty with --nobaseline.

  double events_per_second() const;
  // 0 without a baseline.
  double puts_per_second() const;
};

// A table for people: the server's figures, then the baseline's and the
// ratio of the two rates.
void PrintReportTable(const LoadgenReport& report, std::ostream& out);

// The same figures as one line of JSON, for scripts.
std::string ReportJson(const LoadgenReport& report);

}  // namespace vigie::bench
