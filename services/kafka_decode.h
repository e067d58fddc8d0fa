#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vigie/v1/events.pb.h"

namespace vigie::services {

// How a Kafka message's value encodes its vigie.v1.Event.
enum class PayloadFormat {
  kProtobuf,  // The Event serialized in Protocol Buffers' binary format.
  kJson,      // The Event in Protocol Buffers' JSON mapping.
};

// "protobuf" or "json"; kInvalidArgument for anything else.
absl::StatusOr<PayloadFormat> ParsePayloadFormat(absl::string_view name);
const char* PayloadFormatName(PayloadFormat format);

// The format a message's content-type header names, when it has one:
// application/json, or application/x-protobuf (also application/protobuf
// and application/vnd.google.protobuf); parameters after ';' and case are
// ignored. Empty when there is no header (the topic's format applies);
// kInvalidArgument naming the value for another type.
absl::StatusOr<std::optional<PayloadFormat>> FormatOfContentType(
    std::optional<absl::string_view> content_type);

// Decodes one message value. kInvalidArgument saying why when it is not an
// Event in that format: binary that does not parse, JSON that does not
// parse or names a field the Event does not have, an empty value, or an
// Event with neither a prediction nor an outcome. What the event says is
// validated later, against its model, like any other ingest.
absl::StatusOr<vigie::v1::Event> DecodeEvent(absl::string_view value,
                                             PayloadFormat format);

// The same into `*event` (an arena's, say), a prediction in protobuf's
// binary format parsed without its features where ParseEvent
// (event_bytes.h) can: `*without_features` says whether it was, and then
// the features are read from `value`. `scratch` is ParseEvent's.
absl::Status DecodeEventInto(absl::string_view value, PayloadFormat format,
                             vigie::v1::Event* event, bool* without_features,
                             std::string* scratch);

}  // namespace vigie::services
