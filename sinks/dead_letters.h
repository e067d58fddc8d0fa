#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::sinks {

// Alerts a sink never took, one JSON object a line appended to a file, so
// that an operator can see (and replay) what a receiver missed:
//   {"at": "<RFC 3339>", "sink": "webhook http://...", "error": "...",
//    "alert": {<vigie.v1.Alert in protobuf's JSON mapping>}}
// Thread-safe.
class DeadLetterFile {
 public:
  explicit DeadLetterFile(std::string path) : path_(std::move(path)) {}

  // Appends one line per alert; an error if the file cannot be written
  // (the caller logs it: the alerts are then in the log only).
  absl::Status Write(absl::string_view sink,
                     absl::Span<const vigie::v1::Alert> alerts,
                     const absl::Status& error, absl::Time at)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  absl::Mutex mu_;
};

}  // namespace vigie::sinks
