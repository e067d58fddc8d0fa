#include "services/event_bytes.h"

#include "common/field_reader.h"
#include "storage/record_codec.h"

namespace vigie::services {
namespace {

// vigie.v1.IngestRequest.events and vigie.v1.Event.prediction.
constexpr int kEvents = 1;
constexpr int kPrediction = 1;

}  // namespace

std::vector<absl::string_view> EventBytesOf(absl::string_view request) {
  std::vector<absl::string_view> events;
  FieldReader reader(request);
  while (reader.Next()) {
    if (reader.number() != kEvents) continue;  // Unknown: protobuf skips it.
    // Another wire type would be an unknown field to protobuf, not an
    // event: the views would not line up with the parsed events.
    if (reader.wire_type() != FieldReader::kLengthDelimited) return {};
    events.push_back(reader.bytes());
  }
  if (reader.malformed()) return {};
  return events;
}

std::optional<PredictionSpan> AppendPredictionEvent(
    std::string* body, absl::string_view event, absl::string_view normalised) {
  FieldReader reader(event);
  if (!reader.Next() || reader.number() != kPrediction ||
      reader.wire_type() != FieldReader::kLengthDelimited) {
    return std::nullopt;
  }
  const absl::string_view prediction = reader.bytes();
  if (reader.Next() || reader.malformed()) return std::nullopt;
  const size_t length = prediction.size() + normalised.size();
  storage::AppendFieldHeader(
      body, kEvents, storage::FieldSize(length));  // The event: its one field.
  storage::AppendFieldHeader(body, kPrediction, length);
  PredictionSpan span{body->size(), length};
  body->append(prediction.data(), prediction.size());
  body->append(normalised.data(), normalised.size());
  return span;
}

}  // namespace vigie::services
