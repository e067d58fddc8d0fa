#pragma once

#include <string>

#include "absl/strings/string_view.h"

// Where a model's report page is served (services/http_server.h).

namespace vigie::report {

// The path of `model_id`'s report page: "/models/<model id>", the id
// percent-encoded (RFC 3986: all but unreserved characters).
std::string ModelReportPath(absl::string_view model_id);

// `base_url` (no trailing slash needed) followed by ModelReportPath.
std::string ModelReportUrl(absl::string_view base_url,
                           absl::string_view model_id);

// The inverse of the percent-encoding of ModelReportPath, for a path
// segment: false when `segment` has a malformed escape.
bool DecodePathSegment(absl::string_view segment, std::string* out);

}  // namespace vigie::report
