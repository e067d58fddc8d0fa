#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigie::services {

// What a pending join keeps of a prediction until its outcome comes
// (referential Q1.5, minimisation): the serialized vigie.v1.Prediction
// `prediction` with its id replaced by `pseudonym` (PrivacyKeys::
// Pseudonym) and without what no label-needing monitor reads: its input
// features (drift measured them on arrival), its cost (energy, latency,
// hardware class: the footprint monitor counted it on arrival) and its
// recommendation list's user and request ids (personalisation measured the
// list on arrival).
// Everything else, fields unknown to this version included, is copied as
// is. Done on the wire format, without parsing the prediction.
// kDataLoss for bytes that are not a Prediction's wire format.
absl::StatusOr<std::string> MinimisedPrediction(absl::string_view prediction,
                                                absl::string_view pseudonym);

}  // namespace vigie::services
