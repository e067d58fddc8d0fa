#pragma once

// What change_detectors.cc and change_detectors_state.cc share; not part of
// the monitors' interface.

#include "absl/status/status.h"
#include "monitors/change_detectors.h"

namespace vigie::monitors::detectors_internal {

// kInvalidArgument, naming the field, if `options` is out of its range.
absl::Status ValidateAdwinOptions(const Adwin::Options& options);
absl::Status ValidatePageHinkleyOptions(const PageHinkley::Options& options);
absl::Status ValidateDdmOptions(const Ddm::Options& options);

}  // namespace vigie::monitors::detectors_internal
