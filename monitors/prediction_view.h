#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

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

// Sets order[0..n) to the positions 0 to n - 1 sorted by the name
// `name_at(i)` of each, equal names in position order (a stable sort), as
// a prediction's features are ordered. An event has a few dozen at most,
// in any order (a map's serialization order is its hash order): an
// insertion sort on the names' first eight bytes as integers, positions
// breaking ties, costs no allocation and a few integer comparisons each;
// longer lists take std::sort on the same keys. Inline, so that the names
// are read where they lie.
template <typename NameAt>
void StableNameOrder(size_t n, NameAt name_at, uint32_t* order) {
  struct Keyed {
    uint64_t key;  // The name's first 8 bytes, big-endian, zero-padded.
    uint32_t at;
  };
  constexpr size_t kSmall = 64;
  std::array<Keyed, kSmall> small;
  std::vector<Keyed> large(n > kSmall ? n : 0);
  Keyed* keyed = n > kSmall ? large.data() : small.data();
  for (size_t i = 0; i < n; ++i) {
    const absl::string_view name = name_at(i);
    uint64_t key = 0;
    for (size_t b = 0; b < name.size() && b < 8; ++b) {
      key |= uint64_t{static_cast<uint8_t>(name[b])} << (56 - 8 * b);
    }
    keyed[i] = {key, static_cast<uint32_t>(i)};
  }
  // The position breaks ties: a strict order, so that any sort is stable.
  const auto before = [&name_at](const Keyed& a, const Keyed& b) {
    if (a.key != b.key) return a.key < b.key;
    const int by_name = name_at(a.at).compare(name_at(b.at));
    return by_name != 0 ? by_name < 0 : a.at < b.at;
  };
  if (n <= kSmall) {
    for (size_t i = 1; i < n; ++i) {
      const Keyed moving = keyed[i];
      size_t j = i;
      for (; j > 0 && before(moving, keyed[j - 1]); --j) {
        keyed[j] = keyed[j - 1];
      }
      keyed[j] = moving;
    }
  } else {
    std::sort(keyed, keyed + n, before);
  }
  for (size_t i = 0; i < n; ++i) order[i] = keyed[i].at;
}

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
