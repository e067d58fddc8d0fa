#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/event_source.h"
#include "vigie/v1/vigie.pb.h"

// `vigiectl reference upload`: a sample file read into one
// UploadReferenceRequest.

namespace vigie::tools {

// The largest request `reference upload` sends, in bytes: the server accepts
// messages of up to 64 MiB, and the margin covers gRPC's framing and a
// server whose limit was lowered a little.
inline constexpr uint64_t kMaxReferenceRequestBytes = uint64_t{60} << 20;

// A reference sample ready to send.
struct ReferenceUpload {
  v1::UploadReferenceRequest request;
  // event_lines[i]: the input line of request.events(i), so that the
  // server's "event i: ..." rejections can name the line.
  std::vector<int64_t> event_lines;
};

// Reads every record of `source` into one request for `model_id` with
// `description`. Stops at the first record that could not be parsed:
// kInvalidArgument, "line 12: invalid JSON event: ...". kInvalidArgument
// when `source` holds no event, kResourceExhausted as soon as the request
// would exceed `max_bytes` (its serialized size; the message gives the line
// reached). Events for another model are sent all the same: the server
// rejects them with their reason.
absl::StatusOr<ReferenceUpload> ReadReferenceUpload(
    EventSource& source, const std::string& model_id,
    const std::string& description,
    uint64_t max_bytes = kMaxReferenceRequestBytes);

// A rejection of the reply ("event 7: INVALID_SCORE: ...") with the event's
// index replaced by its input line ("line 9: INVALID_SCORE: ..."); unchanged
// when it names no event of `event_lines`.
std::string LocateReferenceRejection(const std::string& rejection,
                                     const std::vector<int64_t>& event_lines);

}  // namespace vigie::tools
