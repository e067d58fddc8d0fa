#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

// Vigie's own footprint (referential Q6.1: energy and carbon indicators
// measured regularly; the process's CPU time is their proxy here): what
// /metrics exports as vigie_process_* and per million events.

namespace vigie::services {

struct ProcessFootprint {
  // User and system CPU time of every thread of the process so far.
  double cpu_seconds = 0;
  // Bytes the process caused to be written to storage (the write_bytes of
  // /proc/self/io); unset where that file cannot be read.
  std::optional<uint64_t> written_bytes;
};

ProcessFootprint ReadProcessFootprint();

// The write_bytes field of a /proc/<pid>/io text; unset when absent or
// malformed.
std::optional<uint64_t> ParseWriteBytes(absl::string_view proc_io);

}  // namespace vigie::services
