#include "services/minimised_events.h"

#include <cstdint>

#include "common/field_reader.h"

namespace vigie::services {
namespace {

// vigie.v1.Prediction's fields (events.proto) that are dropped or rewritten.
constexpr int kPredictionId = 3;
constexpr int kRecommendation = 8;
constexpr int kFeatures = 10;
// Its cost (energy, latency, hardware class): the footprint monitor counts
// it on arrival.
constexpr int kEnergyJoules = 11;
constexpr int kLatencySeconds = 12;
constexpr int kHardwareClass = 13;
// vigie.v1.RecommendationList's.
constexpr int kUserId = 2;
constexpr int kRequestId = 3;

void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendLengthDelimited(std::string* out, int number,
                           absl::string_view bytes) {
  AppendVarint(out, (static_cast<uint64_t>(number) << 3) |
                        FieldReader::kLengthDelimited);
  AppendVarint(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

// Appends the field `reader` is on, as it was.
void AppendField(std::string* out, const FieldReader& reader) {
  if (reader.wire_type() == FieldReader::kLengthDelimited) {
    AppendLengthDelimited(out, reader.number(), reader.bytes());
    return;
  }
  AppendVarint(out, (static_cast<uint64_t>(reader.number()) << 3) |
                        static_cast<uint64_t>(reader.wire_type()));
  if (reader.wire_type() == FieldReader::kVarint) {
    AppendVarint(out, reader.varint());
  } else {
    out->append(reader.bytes().data(), reader.bytes().size());
  }
}

// The recommendation list without its user and request ids.
bool MinimisedList(absl::string_view list, std::string* out) {
  FieldReader reader(list);
  while (reader.Next()) {
    if ((reader.number() == kUserId || reader.number() == kRequestId) &&
        reader.wire_type() == FieldReader::kLengthDelimited) {
      continue;
    }
    AppendField(out, reader);
  }
  return !reader.malformed();
}

}  // namespace

absl::StatusOr<std::string> MinimisedPrediction(absl::string_view prediction,
                                                absl::string_view pseudonym) {
  std::string out;
  out.reserve(prediction.size());
  FieldReader reader(prediction);
  std::string list;
  while (reader.Next()) {
    const bool delimited = reader.wire_type() == FieldReader::kLengthDelimited;
    if (delimited &&
        (reader.number() == kPredictionId || reader.number() == kFeatures ||
         reader.number() == kHardwareClass)) {
      continue;
    }
    if (reader.wire_type() == FieldReader::kFixed64 &&
        (reader.number() == kEnergyJoules ||
         reader.number() == kLatencySeconds)) {
      continue;
    }
    if (delimited && reader.number() == kRecommendation) {
      list.clear();
      if (!MinimisedList(reader.bytes(), &list)) {
        return absl::DataLossError("a recommendation list does not decode");
      }
      AppendLengthDelimited(&out, kRecommendation, list);
      continue;
    }
    AppendField(&out, reader);
  }
  if (reader.malformed()) {
    return absl::DataLossError("a prediction's bytes do not decode");
  }
  AppendLengthDelimited(&out, kPredictionId, pseudonym);
  return out;
}

}  // namespace vigie::services
