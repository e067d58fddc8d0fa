#include "services/event_bytes.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

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
// accepted value (or none), each given once. Sets `*name` to its name.
bool AcceptedFeature(absl::string_view entry, absl::string_view* name) {
  monitors::FeatureView value;
  if (monitors::ReadUsualFeatureEntry(entry, name, &value)) {
    return !name->empty() && Ascii(*name) && Accepted(value);
  }
  FieldReader reader(entry);
  bool named = false;
  bool valued = false;
  while (reader.Next()) {
    if (reader.wire_type() != FieldReader::kLengthDelimited) return false;
    if (reader.number() == kEntryKey && !named) {
      named = true;
      *name = reader.bytes();
      if (name->empty() || !Ascii(*name)) return false;
    } else if (reader.number() == kEntryValue && !valued) {
      valued = true;
      if (!AcceptedValue(reader.bytes())) return false;
    } else {
      return false;
    }
  }
  return named && !reader.malformed();
}

// A features entry of a prediction: its field (header included) and name.
struct NamedEntry {
  absl::string_view field;
  absl::string_view name;
};

// What WithoutFeatures saw of an event's prediction.
struct PredictionFields {
  absl::string_view header;  // The event's bytes before the prediction's.
  absl::string_view prediction;
  // The runs of fields other than features, as (start, end) in
  // `prediction`.
  absl::InlinedVector<std::pair<size_t, size_t>, 8> kept;
  absl::InlinedVector<NamedEntry, 32> entries;  // In wire order.
  bool sorted = true;                           // `entries` by name.
};

// Sets `*out` to the event `bytes` without its prediction's features, if
// it is exactly one prediction with features, all of them accepted; `*seen`
// to what it found of them then.
bool WithoutFeatures(absl::string_view bytes, std::string* out,
                     PredictionFields* seen) {
  FieldReader event(bytes);
  if (!event.Next() || event.number() != kPrediction ||
      event.wire_type() != FieldReader::kLengthDelimited) {
    return false;
  }
  const absl::string_view prediction = event.bytes();
  if (event.Next() || event.malformed()) return false;
  seen->header =
      bytes.substr(0, static_cast<size_t>(prediction.data() - bytes.data()));
  seen->prediction = prediction;
  seen->kept.clear();
  seen->entries.clear();
  seen->sorted = true;
  auto& kept = seen->kept;
  size_t start = 0;
  FieldReader fields(prediction);
  while (fields.Next()) {
    if (fields.number() == kFeatures) {
      NamedEntry entry;
      if (fields.wire_type() != FieldReader::kLengthDelimited ||
          !AcceptedFeature(fields.bytes(), &entry.name)) {
        return false;
      }
      entry.field = prediction.substr(start, fields.end() - start);
      if (!seen->entries.empty() && entry.name < seen->entries.back().name) {
        seen->sorted = false;
      }
      seen->entries.push_back(entry);
    } else if (!kept.empty() && kept.back().second == start) {
      kept.back().second = fields.end();
    } else {
      kept.emplace_back(start, fields.end());
    }
    start = fields.end();
  }
  if (fields.malformed() || seen->entries.empty()) return false;
  size_t length = 0;
  for (const auto& [from, to] : kept) length += to - from;
  out->clear();
  storage::AppendFieldHeader(out, kPrediction, length);
  for (const auto& [from, to] : kept) {
    out->append(prediction.data() + from, to - from);
  }
  return true;
}

// Appends to `out` the event WithoutFeatures saw, its prediction's features
// entries sorted by name after its other fields; those of one name keep
// their wire order, so that the last still wins.
void AppendSorted(const PredictionFields& seen, std::string* out) {
  const auto& entries = seen.entries;
  absl::InlinedVector<uint32_t, 32> order(entries.size());
  monitors::StableNameOrder(
      entries.size(),
      [&entries](size_t i) -> absl::string_view { return entries[i].name; },
      order.data());
  const size_t base = out->size();
  out->resize(base + seen.header.size() + seen.prediction.size());
  char* to = out->data() + base;
  const auto copy = [&to](const char* from, size_t size) {
    std::memcpy(to, from, size);
    to += size;
  };
  copy(seen.header.data(), seen.header.size());
  for (const auto& [from, until] : seen.kept) {
    copy(seen.prediction.data() + from, until - from);
  }
  for (const uint32_t at : order) {
    copy(entries[at].field.data(), entries[at].field.size());
  }
}

}  // namespace

bool ParseEvent(absl::string_view bytes, vigie::v1::Event* event,
                bool* without_features, std::string* scratch) {
  PredictionFields seen;
  *without_features = WithoutFeatures(bytes, scratch, &seen);
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
  arrived->sorted.clear();
  // At most the request's size: one allocation, however many are moved.
  arrived->sorted.reserve(bytes.size());
  // Events copied with their features sorted: (index, offset in `sorted`).
  std::vector<std::pair<size_t, size_t>> moved;
  std::string scratch;
  PredictionFields seen;
  for (size_t i = 0; i < arrived->bytes.size(); ++i) {
    const absl::string_view event = arrived->bytes[i];
    const bool without = WithoutFeatures(event, &scratch, &seen);
    const absl::string_view parsed = without ? scratch : event;
    if (!request->add_events()->ParseFromArray(
            parsed.data(), static_cast<int>(parsed.size()))) {
      return false;
    }
    arrived->without_features[i] = without;
    if (without && !seen.sorted) {
      moved.emplace_back(i, arrived->sorted.size());
      AppendSorted(seen, &arrived->sorted);
    }
  }
  // Views into `sorted` once it no longer grows. An event keeps its length.
  for (const auto& [i, offset] : moved) {
    arrived->bytes[i] = absl::string_view(arrived->sorted)
                            .substr(offset, arrived->bytes[i].size());
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
