#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::tools {

// What `vigiectl metrics` was asked, as typed on the command line; an empty
// string is a flag not given.
struct MetricsQuery {
  std::string model_id;          // --model; required.
  std::string from;              // --from: a ParseTimestamp() time.
  std::string to;                // --to: a ParseTimestamp() time.
  std::string last;              // --last: a ParseDurationWithDays() duration.
  bool since_reference = false;  // --since_reference.
};

// The GetMetricsRequest of `query`: a window from --from and --to, or a
// sliding `last` from --last ("2h", "1d", "30m"), which the server ends at
// the model's latest pane and resolves to a window. kInvalidArgument, a
// usage error naming the flag, when --model is missing, a value does not
// parse, --last is not positive, or --last comes with --from or --to, or
// --since_reference with any of them. That
// --last is a multiple of the model's pane length only the server can tell.
absl::StatusOr<v1::GetMetricsRequest> BuildMetricsRequest(
    const MetricsQuery& query);

}  // namespace vigie::tools
