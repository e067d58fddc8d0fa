#pragma once

#include <optional>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {

// What the model monitors read of one prediction: its event time, its
// output and its group attributes, found once per event and shared by every
// pane it feeds. Built from a parsed Prediction, or straight from its
// serialized bytes, so that a join reads only these fields of the stored
// prediction instead of parsing it whole (its groups map costs a hash table
// per event). Holds views: valid as long as the message or bytes it came
// from.
struct PredictionView {
  enum class Output { kOther, kBinary, kMulticlass };

  absl::Time event_time = absl::UnixEpoch();
  Output output = Output::kOther;  // kOther: regression, recommendation, none.
  // Binary.
  std::optional<bool> decision;
  std::optional<double> score;
  // Multiclass: the predicted class, and the probability given to it (the
  // last one listed under its label, if any).
  absl::string_view predicted_class;
  std::optional<double> predicted_probability;
  // Group attributes (name, value), sorted by name, one per name: the last
  // given, as a protobuf map keeps it.
  absl::InlinedVector<std::pair<absl::string_view, absl::string_view>, 6>
      groups;

  static PredictionView Of(const vigie::v1::Prediction& prediction);
  // The same view as Of(parsed bytes) for any bytes protobuf parses as a
  // Prediction, including repeated and merged fields and oneof switches.
  // kDataLoss for bytes that are not a Prediction's wire format.
  static absl::StatusOr<PredictionView> Decode(absl::string_view bytes);

  // The value of group attribute `name`; null if the prediction has none.
  const absl::string_view* Group(absl::string_view name) const;
};

}  // namespace vigie::monitors
