#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

// The bytes events arrived as, kept so that an ingest call's log record is
// made by copying them instead of serializing every event again (with 20
// features, serializing cost about as much as parsing).

namespace vigie::services {

// The bytes of each event of a serialized vigie.v1.IngestRequest, in
// order: views into `request`. Empty when it is malformed or holds a field
// 1 that protobuf would not parse as an event (then the events are
// serialized as parsed).
std::vector<absl::string_view> EventBytesOf(absl::string_view request);

// Appends to `body` the serialized vigie.v1.Event whose bytes are `event`
// (one prediction, as a client sent it) as field 1 of an IngestRecord,
// followed, inside the prediction, by `normalised`: the serialized
// vigie.v1.Prediction of the fields validation set (protobuf merges a
// message given twice, so the result parses as the normalised prediction).
// Returns where the prediction's bytes (with `normalised`) start in `body`
// and their length; nullopt, appending nothing, unless `event` is exactly
// one prediction field.
struct PredictionSpan {
  size_t offset = 0;
  size_t length = 0;
};
std::optional<PredictionSpan> AppendPredictionEvent(
    std::string* body, absl::string_view event, absl::string_view normalised);

}  // namespace vigie::services
