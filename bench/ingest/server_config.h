#pragma once

#include <string>

#include "absl/status/status.h"
#include "bench/ingest/ingest_load.h"

namespace vigie::bench {

// True when the stream of `options` needs more than the server's embedded
// defaults: outcomes left out (predictions that must stay pending), the
// segment attributes' groups, or a multiclass task.
bool NeedsServerConfig(const IngestLoadOptions& options);

// The server configuration such a run gets: the embedded defaults, except
// that default_model (the settings of the undeclared model "loadgen")
//  - keeps at least `options.groups` groups per attribute (max_groups, never
//    below its default of 1,000), so that no segment falls into "(other)";
//  - waits 30 days of wall-clock time for an outcome (label_delay), so that
//    no pending prediction expires during the run, however long.
// A multiclass load also sets task and classes.
// group_attributes stays [] (every attribute, up to max_attributes = 32):
// the segments, and the simulator's sex and age_band if kept.
std::string PendingJoinsConfigYaml(const IngestLoadOptions& options);

// Its keys in one line, for the report: "default_model: max_groups 1000,
// label_delay 30d".
std::string PendingJoinsConfigSummary(const IngestLoadOptions& options);

// Writes `text` to `path`, replacing it.
absl::Status WriteTextFile(const std::string& path, const std::string& text);

}  // namespace vigie::bench
