#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace vigie::common {

// `text` as the contents of a JSON string (without the quotes): quotes,
// backslashes and control characters escaped; the rest, UTF-8 included, as
// is.
std::string JsonEscape(absl::string_view text);

}  // namespace vigie::common
