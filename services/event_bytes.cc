#include "services/event_bytes.h"

#include <cmath>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "common/field_reader.h"
#include "monitors/prediction_view.h"
#include "storage/record_codec.h"

namespace vigie::services {
namespace {

// vigie.v1.IngestRequest.events and vigie.v1.Event.prediction.
constexpr int kEvents = 1;
constexpr int kPrediction = 1;
// vigie.v1.Prediction.features, its map entries' key and value, and
// vigie.v1.FeatureValue's members.
constexpr int kFeatures = 10;
constexpr int kEntryKey = 1;
constexpr int kEntryValue = 2;
constexpr int kNumeric = 1;
constexpr int kCategorical = 2;

// Protobuf checks a proto3 string's UTF-8 when it parses it; ASCII needs no
// check, and anything else is left to protobuf.
bool Ascii(absl::string_view text) {
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0x80) != 0) return false;
  }
  return true;
}

// A feature value validation accepts: a finite number, a category (in
// ASCII, see above), or none (a missing value).
bool Accepted(const monitors::FeatureView& value) {
  switch (value.kind) {
    case monitors::FeatureView::Kind::kNumeric:
      return std::isfinite(value.numeric);
    case monitors::FeatureView::Kind::kCategorical:
      return Ascii(value.categorical);
    case monitors::FeatureView::Kind::kMissing:
      return true;
  }
  return false;
}

// A vigie.v1.FeatureValue validation accepts, read as protobuf would, with
// at most one member: a second would switch or merge the oneof, which is
// left to protobuf.
bool AcceptedValue(absl::string_view bytes) {
  FieldReader reader(bytes);
  monitors::FeatureView value;
  if (reader.Next()) {
    if (reader.number() == kNumeric &&
        reader.wire_type() == FieldReader::kFixed64) {
      value.kind = monitors::FeatureView::Kind::kNumeric;
      value.numeric = reader.fixed64_double();
    } else if (reader.number() == kCategorical &&
               reader.wire_type() == FieldReader::kLengthDelimited) {
      value.kind = monitors::FeatureView::Kind::kCategorical;
      value.categorical = reader.bytes();
    } else {
      return false;
    }
    if (reader.Next()) return false;
  }
  return !reader.malformed() && Accepted(value);
}

// One features map entry validation accepts: a non-empty name and an
// accepted value (or none), each given once.
bool AcceptedFeature(absl::string_view entry) {
  absl::string_view name;
  monitors::FeatureView value;
  if (monitors::ReadUsualFeatureEntry(entry, &name, &value)) {
    return !name.empty() && Ascii(name) && Accepted(value);
  }
  FieldReader reader(entry);
  bool named = false;
  bool valued = false;
  while (reader.Next()) {
    if (reader.wire_type() != FieldReader::kLengthDelimited) return false;
    if (reader.number() == kEntryKey && !named) {
      named = true;
      if (reader.bytes().empty() || !Ascii(reader.bytes())) return false;
    } else if (reader.number() == kEntryValue && !valued) {
      valued = true;
      if (!AcceptedValue(reader.bytes())) return false;
    } else {
      return false;
    }
  }
  return named && !reader.malformed();
}

// Sets `*out` to the event `bytes` without its prediction's features, if
// it is exactly one prediction with features, all of them accepted.
bool WithoutFeatures(absl::string_view bytes, std::string* out) {
  FieldReader event(bytes);
  if (!event.Next() || event.number() != kPrediction ||
      event.wire_type() != FieldReader::kLengthDelimited) {
    return false;
  }
  const absl::string_view prediction = event.bytes();
  if (event.Next() || event.malformed()) return false;
  // The runs of fields kept, as (start, end) in `prediction`.
  absl::InlinedVector<std::pair<size_t, size_t>, 8> kept;
  bool any = false;
  size_t start = 0;
  FieldReader fields(prediction);
  while (fields.Next()) {
    if (fields.number() == kFeatures) {
      if (fields.wire_type() != FieldReader::kLengthDelimited ||
          !AcceptedFeature(fields.bytes())) {
        return false;
      }
      any = true;
    } else if (!kept.empty() && kept.back().second == start) {
      kept.back().second = fields.end();
    } else {
      kept.emplace_back(start, fields.end());
    }
    start = fields.end();
  }
  if (fields.malformed() || !any) return false;
  size_t length = 0;
  for (const auto& [from, to] : kept) length += to - from;
  out->clear();
  storage::AppendFieldHeader(out, kPrediction, length);
  for (const auto& [from, to] : kept) {
    out->append(prediction.data() + from, to - from);
  }
  return true;
}

}  // namespace

bool ParseEvent(absl::string_view bytes, vigie::v1::Event* event,
                bool* without_features, std::string* scratch) {
  *without_features = WithoutFeatures(bytes, scratch);
  if (*without_features) bytes = *scratch;
  return event->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

bool ParseIngestRequest(absl::string_view bytes,
                        vigie::v1::IngestRequest* request,
                        ArrivedEvents* arrived) {
  arrived->bytes = EventBytesOf(bytes);
  arrived->without_features.clear();
  if (arrived->bytes.empty()) {
    return request->ParseFromArray(bytes.data(),
                                   static_cast<int>(bytes.size()));
  }
  request->Clear();
  request->mutable_events()->Reserve(static_cast<int>(arrived->bytes.size()));
  arrived->without_features.resize(arrived->bytes.size());
  std::string scratch;
  for (size_t i = 0; i < arrived->bytes.size(); ++i) {
    bool without = false;
    if (!ParseEvent(arrived->bytes[i], request->add_events(), &without,
                    &scratch)) {
      return false;
    }
    arrived->without_features[i] = without;
  }
  return true;
}

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
