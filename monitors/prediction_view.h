#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {

// One input feature's value: numeric, categorical, or neither (a
// FeatureValue with no member set: the value is missing). Outside
// PredictionView so that it is complete where the view's vector needs it.
struct FeatureView {
  enum class Kind { kMissing, kNumeric, kCategorical };
  Kind kind = Kind::kMissing;
  double numeric = 0;
  absl::string_view categorical;
};

// The first 8 bytes of `name` as a big-endian number, zero-padded: names
// in this order are in name order, so most comparisons of a sort of
// feature names are comparisons of two integers (equal keys fall back to
// the names).
uint64_t NamePrefixKey(absl::string_view name);

// One entry of a prediction's features map (vigie.v1.Prediction field 10)
// as protobuf serializers write it: the name (field 1), then the value
// (field 2) holding a number (field 1), a category (field 2) or nothing,
// each once, lengths under 128 bytes. Reads it without a FieldReader per
// level, which cost most of a view's decoding; false for any other
// encoding of an entry, which the caller reads field by field.
bool ReadUsualFeatureEntry(absl::string_view entry, absl::string_view* name,
                           FeatureView* value);

// What the model monitors read of one prediction: its event time, its
// output, its group attributes and its input features, found once per event and
// shared by every pane it feeds. Built from a parsed Prediction, or straight
// from its serialized bytes, so that a join reads only these fields of the
// stored prediction instead of parsing it whole (its groups map costs a hash
// table per event). Holds views: valid as long as the message or bytes it came
// from.
struct PredictionView {
  enum class Output {
    kOther,  // None.
    kBinary,
    kMulticlass,
    kRegression,
    kRecommendation,
  };
  using Feature = FeatureView;
  absl::Time event_time = absl::UnixEpoch();
  Output output = Output::kOther;
  // Binary.
  std::optional<bool> decision;
  std::optional<double> score;
  // Multiclass: the predicted class, and the probability given to it (the
  // last one listed under its label, if any).
  absl::string_view predicted_class;
  std::optional<double> predicted_probability;
  // Regression: the point prediction.
  std::optional<double> regression_value;
  // A conformal prediction: regression, the interval's ends (each given or
  // not); multiclass, the prediction set's labels. Its nominal miscoverage
  // alpha and calibration set size n_cal, when given.
  std::optional<double> interval_lower;
  std::optional<double> interval_upper;
  absl::InlinedVector<absl::string_view, 4> prediction_set;
  std::optional<double> alpha;
  std::optional<uint64_t> calibration_size;
  // Recommendation: the items, best first, and the user.
  absl::InlinedVector<absl::string_view, 10> items;
  absl::string_view user_id;
  // What the prediction cost, as given (monitors/footprint.h reads it):
  // its energy in joules, its latency in seconds and its hardware class.
  std::optional<double> energy_joules;
  std::optional<double> latency_seconds;
  absl::string_view hardware_class;
  // Group attributes (name, value), sorted by name, one per name: the last
  // given, as a protobuf map keeps it.
  absl::InlinedVector<std::pair<absl::string_view, absl::string_view>, 6>
      groups;
  // Input features (name, value), sorted by name, one per name: the last
  // given, as for groups. Room for 24 in place: a model's events mostly
  // have a few dozen features, and a heap allocation per event would cost
  // as much as decoding several of them.
  absl::InlinedVector<std::pair<absl::string_view, Feature>, 24> features;

  static PredictionView Of(const vigie::v1::Prediction& prediction);
  // The same view as Of(parsed bytes) for any bytes protobuf parses as a
  // Prediction, including repeated and merged fields and oneof switches.
  // kDataLoss for bytes that are not a Prediction's wire format.
  static absl::StatusOr<PredictionView> Decode(absl::string_view bytes);

  // The value of group attribute `name`; null if the prediction has none.
  const absl::string_view* Group(absl::string_view name) const;
};

}  // namespace vigie::monitors
