#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

// Parsers of the scalar values found in input files and on vigiectl's
// command line. Leading and trailing ASCII whitespace is ignored. Each
// returns kInvalidArgument, naming the value, when it cannot parse it.

namespace vigie::tools {

// A point in time, as one of:
// - all digits, with an optional sign and fraction: unix seconds
//   ("1767571200", "1767571200.25");
// - RFC 3339 ("2026-01-05T00:00:00Z", "2026-01-05T01:00:00.5+01:00");
// - a date and time without zone, taken as UTC ("2013-08-13 06:03:42", also
//   with a 'T');
// - a plain date, taken as UTC midnight ("2013-08-14").
absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text);

// A duration in absl::ParseDuration's syntax ("90s", "1h30m"), which may
// start with a number of days ("730d", "1.5d", "1d12h"): Abseil has no
// day unit because days are not always 24 hours in civil time; here they
// are.
absl::StatusOr<absl::Duration> ParseDurationWithDays(absl::string_view text);

// The inverse of ParseDurationWithDays for display: whole days first, then
// absl::FormatDuration's units ("1d", "1d12h", "2h", "30m"); a negative or
// sub-day duration as absl::FormatDuration writes it.
std::string FormatDurationWithDays(absl::Duration d);

// A boolean written as true/false (any case) or as a number equal to 1 or 0
// ("1", "0", "1.0").
absl::StatusOr<bool> ParseBool(absl::string_view text);

// A finite or non-finite double ("0.72", "7", "1e-3", "nan"); the caller
// decides whether NaN and infinities are acceptable.
absl::StatusOr<double> ParseDouble(absl::string_view text);

// Conversions to and from google.protobuf.Timestamp. Exact for times within
// the Timestamp's range (years 1 to 9999); others are passed on unchecked,
// for the server to reject.
google::protobuf::Timestamp ToTimestampProto(absl::Time t);
absl::Time FromTimestampProto(const google::protobuf::Timestamp& ts);

}  // namespace vigie::tools
