#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "vigie/v1/events.pb.h"
#include "vigie/v1/vigie.pb.h"

// The bytes events arrived as, kept so that an ingest call's log record is
// made by copying them instead of serializing every event again (with 20
// features, serializing cost about as much as parsing).

namespace vigie::services {

// The bytes of each event of a serialized vigie.v1.IngestRequest, in
// order: views into `request`. Empty when it is malformed or holds a field
// 1 that protobuf would not parse as an event (then the events are
// serialized as parsed).
std::vector<absl::string_view> EventBytesOf(absl::string_view request);

// An ingest call's events as they arrived, beside the request parsed from
// them (Pipeline::Receive).
struct ArrivedEvents {
  // The bytes of each event, in order, as EventBytesOf finds them or a
  // Kafka message holds them: views, valid while the call is. An empty view
  // for an event whose bytes are not its protobuf encoding (JSON); no views
  // at all when they are not known.
  std::vector<absl::string_view> bytes;
  // By event, whether its prediction was parsed without its input features
  // (ParseEvent); empty when none was.
  std::vector<bool> without_features;
  // The events parsed without their features whose features did not come
  // sorted by name, copied with them sorted after the prediction's other
  // fields (ParseIngestRequest): their `bytes` are views into this. The
  // same message to protobuf (a map's entries come in any order, and those
  // of one name keep theirs, so the last still wins); the log record is
  // made of these bytes, and the monitors then find the features sorted
  // (monitors::PredictionView::Decode) instead of sorting them on the
  // pipeline's one applying thread. A serializer writes a map in its hash
  // order. Not to be copied: the views would point into the original.
  std::string sorted;
};

// Parses the serialized vigie.v1.Event `bytes` into `*event` (cleared
// first), leaving out the input features of a prediction when each of them
// is one validation accepts: a non-empty name, and a finite number, a
// category or no value, all in ASCII, one key and at most one value per
// entry. Parsing the features map is most of a prediction's parse (a map
// entry and two strings allocated per feature) and the monitors read them
// from the bytes instead (monitors::PredictionView::Decode). Anything else
// is parsed whole, so that validation finds what is wrong with it. Returns
// whether the features were left out; false with `*event` cleared when the
// bytes do not parse. `scratch` is working space, reused across calls.
bool ParseEvent(absl::string_view bytes, vigie::v1::Event* event,
                bool* without_features, std::string* scratch);

// Parses the serialized vigie.v1.IngestRequest `bytes` into `*request`
// (empty, on an arena, say) event by event with ParseEvent, and sets
// `*arrived` to each event's bytes and whether its features were left out;
// the bytes of an event whose features were left out are its copy in
// `arrived->sorted` if they were not sorted by name.
// A request EventBytesOf does not split is parsed whole (no views then).
// False if the bytes do not parse.
bool ParseIngestRequest(absl::string_view bytes,
                        vigie::v1::IngestRequest* request,
                        ArrivedEvents* arrived);

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
