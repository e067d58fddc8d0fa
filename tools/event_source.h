#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vigie/v1/events.pb.h"

namespace vigie::tools {

// One input record (a JSON line, a CSV row, a simulated event) and the
// events it gave.
struct EventRecord {
  // 1-based line of the input where the record starts (the header of a CSV
  // file is line 1). For the simulator: the event's 1-based index.
  int64_t line = 0;
  // Empty for an error record; one event; or two for a CSV row with a label
  // column (its prediction, then its outcome).
  std::vector<v1::Event> events;
  // Set when the record could not be turned into events; the client counts
  // it as a MALFORMED rejection and sends nothing for it.
  std::optional<std::string> error;
  // The record's prediction id when known, even for most error records.
  std::string prediction_id;
};

// Where events come from: an input file or the simulator. Sources never
// fail: a bad record comes back as an error record and reading goes on.
// Not thread-safe: one owner reads.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // Replaces *out with the next record. False at the end of the input (then
  // *out is unspecified).
  virtual bool Next(EventRecord* out) = 0;
  // Records returned by Next() so far.
  virtual uint64_t records_read() const = 0;
  // Records the source holds in all, counted up front for progress reports;
  // 0 when unknown.
  virtual uint64_t total_records() const = 0;
};

}  // namespace vigie::tools
