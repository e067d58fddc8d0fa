#include "tools/metrics_request.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "tools/parsing.h"

namespace vigie::tools {
namespace {

absl::StatusOr<google::protobuf::Timestamp> ParseTimeFlag(
    absl::string_view flag, const std::string& text) {
  absl::StatusOr<absl::Time> t = ParseTimestamp(text);
  if (!t.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", t.status().message()));
  }
  return ToTimestampProto(*t);
}

absl::StatusOr<google::protobuf::Duration> ParseLastFlag(
    const std::string& text) {
  absl::StatusOr<absl::Duration> last = ParseDurationWithDays(text);
  if (!last.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--last: ", last.status().message()));
  }
  if (*last <= absl::ZeroDuration() || *last == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--last must be a positive duration, got '", text, "'"));
  }
  absl::Duration fraction;
  google::protobuf::Duration proto;
  proto.set_seconds(absl::IDivDuration(*last, absl::Seconds(1), &fraction));
  proto.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(fraction)));
  return proto;
}

}  // namespace

absl::StatusOr<v1::GetMetricsRequest> BuildMetricsRequest(
    const MetricsQuery& query) {
  if (query.model_id.empty()) {
    return absl::InvalidArgumentError("metrics needs --model");
  }
  v1::GetMetricsRequest request;
  request.set_model_id(query.model_id);
  if (query.since_reference) {
    if (!query.from.empty() || !query.to.empty() || !query.last.empty()) {
      return absl::InvalidArgumentError(
          "--since_reference cannot be combined with --from, --to or --last");
    }
    request.set_since_reference(true);
    return request;
  }
  if (!query.last.empty()) {
    // The API takes a window or a sliding `last`, not both.
    if (!query.from.empty() || !query.to.empty()) {
      return absl::InvalidArgumentError(
          "--last cannot be combined with --from or --to");
    }
    ASSIGN_OR_RETURN(*request.mutable_last(), ParseLastFlag(query.last));
    return request;
  }
  if (!query.from.empty()) {
    ASSIGN_OR_RETURN(*request.mutable_window()->mutable_start(),
                     ParseTimeFlag("--from", query.from));
  }
  if (!query.to.empty()) {
    ASSIGN_OR_RETURN(*request.mutable_window()->mutable_end(),
                     ParseTimeFlag("--to", query.to));
  }
  return request;
}

}  // namespace vigie::tools
