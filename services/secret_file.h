#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigie::services {

// The contents of a file the configuration names (a TLS key, a bearer
// token, the privacy secret), named in errors as `what` (its key, such as
// "tls.key_file"). kInvalidArgument if it cannot be read or is empty.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path,
                                           absl::string_view what);

}  // namespace vigie::services
