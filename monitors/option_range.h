#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace vigie::monitors {

// kInvalidArgument naming option `name` unless low <= value <= high: what
// the monitors' Create functions say of an option out of range.
inline absl::Status CheckRange(absl::string_view name, uint64_t value,
                               uint64_t low, uint64_t high) {
  if (value < low || value > high) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be in [", low, ", ", high, "], got ", value));
  }
  return absl::OkStatus();
}

}  // namespace vigie::monitors
