#include "monitors/prediction_view.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/field_reader.h"

namespace vigie::monitors {
namespace {

using NamedGroup = std::pair<absl::string_view, absl::string_view>;
using NamedFeature = std::pair<absl::string_view, PredictionView::Feature>;

// Sorts `pairs` by name and keeps the last of each name (as a protobuf map
// parsed from the same bytes would).
template <typename Pairs>
void SortKeepingLast(Pairs& pairs) {
  using Pair = typename Pairs::value_type;
  const size_t n = pairs.size();
  bool sorted = true;  // And distinct.
  for (size_t i = 1; i < n && sorted; ++i) {
    sorted = pairs[i - 1].first < pairs[i].first;
  }
  if (sorted) return;
  absl::InlinedVector<uint32_t, 64> order(n);
  StableNameOrder(
      n, [&pairs](size_t i) -> absl::string_view { return pairs[i].first; },
      order.data());
  const absl::InlinedVector<Pair, 64> wire(pairs.begin(), pairs.end());
  for (size_t i = 0; i < n; ++i) pairs[i] = wire[order[i]];
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i + 1 < n && pairs[i + 1].first == pairs[i].first) continue;
    pairs[kept++] = pairs[i];
  }
  pairs.resize(kept);
}

// Field numbers of vigie.v1.Prediction and the messages inside it.
constexpr int kEventTime = 4;
constexpr int kBinary = 5;
constexpr int kRegression = 6;
constexpr int kMulticlass = 7;
constexpr int kRecommendation = 8;
constexpr int kGroups = 9;
constexpr int kFeatures = 10;
constexpr int kEnergyJoules = 11;
constexpr int kLatencySeconds = 12;
constexpr int kHardwareClass = 13;

absl::Status Malformed(absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("bytes are not a serialized Prediction: malformed ", what));
}

bool Is(const FieldReader& field, int number, FieldReader::WireType type) {
  return field.number() == number && field.wire_type() == type;
}

}  // namespace

bool ReadUsualFeatureEntry(absl::string_view entry, absl::string_view* name,
                           FeatureView* value) {
  const auto* p = reinterpret_cast<const uint8_t*>(entry.data());
  const size_t n = entry.size();
  // Key: tag 0x0a (field 1, length-delimited), a one-byte length.
  if (n < 4 || p[0] != 0x0a || p[1] >= 0x80) return false;
  const size_t key = 2 + p[1];
  // Value: tag 0x12 (field 2, length-delimited), a one-byte length, and
  // nothing after it.
  if (key + 2 > n || p[key] != 0x12 || p[key + 1] >= 0x80 ||
      key + 2 + p[key + 1] != n) {
    return false;
  }
  const uint8_t* v = p + key + 2;
  const size_t length = p[key + 1];
  if (length == 9 && v[0] == 0x09) {  // numeric: field 1, fixed64.
    value->kind = FeatureView::Kind::kNumeric;
    std::memcpy(&value->numeric, v + 1, sizeof(double));
    value->categorical = {};
  } else if (length >= 2 && v[0] == 0x12 && v[1] < 0x80 &&
             2 + size_t{v[1]} == length) {  // categorical: field 2.
    value->kind = FeatureView::Kind::kCategorical;
    value->numeric = 0;
    value->categorical = entry.substr(key + 4, v[1]);
  } else if (length == 0) {
    *value = FeatureView();
  } else {
    return false;
  }
  *name = entry.substr(2, p[1]);
  return true;
}

PredictionView PredictionView::Of(const vigie::v1::Prediction& prediction) {
  PredictionView view;
  view.event_time = absl::FromUnixSeconds(prediction.event_time().seconds()) +
                    absl::Nanoseconds(prediction.event_time().nanos());
  switch (prediction.output_case()) {
    case vigie::v1::Prediction::kBinary:
      view.output = Output::kBinary;
      if (prediction.binary().has_decision()) {
        view.decision = prediction.binary().decision();
      }
      if (prediction.binary().has_score()) {
        view.score = prediction.binary().score();
      }
      break;
    case vigie::v1::Prediction::kMulticlass: {
      const vigie::v1::MulticlassPrediction& multiclass =
          prediction.multiclass();
      view.output = Output::kMulticlass;
      view.predicted_class = multiclass.predicted_class();
      for (const vigie::v1::ClassProbability& p : multiclass.probabilities()) {
        if (p.label() == multiclass.predicted_class()) {
          view.predicted_probability = p.probability();
        }
      }
      for (const std::string& label : multiclass.prediction_set_labels()) {
        view.prediction_set.push_back(label);
      }
      if (multiclass.has_alpha()) view.alpha = multiclass.alpha();
      if (multiclass.has_calibration_size()) {
        view.calibration_size = multiclass.calibration_size();
      }
      break;
    }
    case vigie::v1::Prediction::kRegression: {
      const vigie::v1::RegressionPrediction& regression =
          prediction.regression();
      view.output = Output::kRegression;
      view.regression_value = regression.value();
      if (regression.has_interval_lower()) {
        view.interval_lower = regression.interval_lower();
      }
      if (regression.has_interval_upper()) {
        view.interval_upper = regression.interval_upper();
      }
      if (regression.has_alpha()) view.alpha = regression.alpha();
      if (regression.has_calibration_size()) {
        view.calibration_size = regression.calibration_size();
      }
      break;
    }
    case vigie::v1::Prediction::kRecommendation:
      view.output = Output::kRecommendation;
      for (const std::string& item : prediction.recommendation().item_ids()) {
        view.items.push_back(item);
      }
      view.user_id = prediction.recommendation().user_id();
      break;
    default:
      break;
  }
  if (prediction.has_energy_joules()) {
    view.energy_joules = prediction.energy_joules();
  }
  if (prediction.has_latency_seconds()) {
    view.latency_seconds = prediction.latency_seconds();
  }
  view.hardware_class = prediction.hardware_class();
  for (const auto& [name, value] : prediction.groups()) {
    view.groups.emplace_back(name, value);
  }
  for (const auto& [name, value] : prediction.features()) {
    auto& feature = view.features.emplace_back(name, PredictionView::Feature{});
    if (value.value_case() == vigie::v1::FeatureValue::kNumeric) {
      feature.second.kind = PredictionView::Feature::Kind::kNumeric;
      feature.second.numeric = value.numeric();
    } else if (value.value_case() == vigie::v1::FeatureValue::kCategorical) {
      feature.second.kind = PredictionView::Feature::Kind::kCategorical;
      feature.second.categorical = value.categorical();
    }
  }
  // A map's names are distinct already, in hash order: the insertion sort
  // on prefix keys is cheaper than std::sort's string comparisons.
  SortKeepingLast(view.groups);
  SortKeepingLast(view.features);
  return view;
}

// Follows protobuf's parsing rules for the fields read: a singular field
// given twice keeps the last value, a message field given twice is merged,
// a oneof member clears the others, a field of an unexpected wire type is
// an unknown field (skipped), and so is every field not read here.
absl::StatusOr<PredictionView> PredictionView::Decode(absl::string_view bytes) {
  PredictionView view;
  int64_t seconds = 0;
  int32_t nanos = 0;
  absl::InlinedVector<std::pair<absl::string_view, double>, 4> probabilities;
  const auto switch_output = [&](Output output) {
    if (view.output == output) return;  // Merged into the same member.
    view.output = output;
    view.decision.reset();
    view.score.reset();
    view.regression_value.reset();
    view.predicted_class = {};
    probabilities.clear();
    view.interval_lower.reset();
    view.interval_upper.reset();
    view.prediction_set.clear();
    view.alpha.reset();
    view.calibration_size.reset();
    view.items.clear();
    view.user_id = {};
  };
  FieldReader field(bytes);
  while (field.Next()) {
    // The cost's numbers are the only fields read that are not
    // length-delimited.
    if (Is(field, kEnergyJoules, FieldReader::kFixed64)) {
      view.energy_joules = field.fixed64_double();
      continue;
    }
    if (Is(field, kLatencySeconds, FieldReader::kFixed64)) {
      view.latency_seconds = field.fixed64_double();
      continue;
    }
    if (field.wire_type() != FieldReader::kLengthDelimited) continue;
    switch (field.number()) {
      case kHardwareClass:
        view.hardware_class = field.bytes();
        break;
      case kEventTime: {
        FieldReader time(field.bytes());
        while (time.Next()) {
          if (Is(time, 1, FieldReader::kVarint)) {
            seconds = static_cast<int64_t>(time.varint());
          } else if (Is(time, 2, FieldReader::kVarint)) {
            nanos = static_cast<int32_t>(time.varint());
          }
        }
        if (time.malformed()) return Malformed("event_time");
        break;
      }
      case kBinary: {
        switch_output(Output::kBinary);
        FieldReader binary(field.bytes());
        while (binary.Next()) {
          if (Is(binary, 1, FieldReader::kFixed64)) {
            view.score = binary.fixed64_double();
          } else if (Is(binary, 2, FieldReader::kVarint)) {
            view.decision = binary.varint() != 0;
          }
        }
        if (binary.malformed()) return Malformed("binary");
        break;
      }
      case kMulticlass: {
        switch_output(Output::kMulticlass);
        FieldReader multiclass(field.bytes());
        while (multiclass.Next()) {
          if (Is(multiclass, 1, FieldReader::kLengthDelimited)) {
            absl::string_view label;
            double probability = 0;
            FieldReader p(multiclass.bytes());
            while (p.Next()) {
              if (Is(p, 1, FieldReader::kLengthDelimited)) {
                label = p.bytes();
              } else if (Is(p, 2, FieldReader::kFixed64)) {
                probability = p.fixed64_double();
              }
            }
            if (p.malformed()) return Malformed("class probability");
            probabilities.emplace_back(label, probability);
          } else if (Is(multiclass, 2, FieldReader::kLengthDelimited)) {
            view.predicted_class = multiclass.bytes();
          } else if (Is(multiclass, 3, FieldReader::kLengthDelimited)) {
            view.prediction_set.push_back(multiclass.bytes());
          } else if (Is(multiclass, 4, FieldReader::kFixed64)) {
            view.alpha = multiclass.fixed64_double();
          } else if (Is(multiclass, 5, FieldReader::kVarint)) {
            view.calibration_size = multiclass.varint();
          }
        }
        if (multiclass.malformed()) return Malformed("multiclass");
        break;
      }
      case kRegression: {
        switch_output(Output::kRegression);
        FieldReader regression(field.bytes());
        while (regression.Next()) {
          if (Is(regression, 1, FieldReader::kFixed64)) {
            view.regression_value = regression.fixed64_double();
          } else if (Is(regression, 2, FieldReader::kFixed64)) {
            view.interval_lower = regression.fixed64_double();
          } else if (Is(regression, 3, FieldReader::kFixed64)) {
            view.interval_upper = regression.fixed64_double();
          } else if (Is(regression, 4, FieldReader::kFixed64)) {
            view.alpha = regression.fixed64_double();
          } else if (Is(regression, 5, FieldReader::kVarint)) {
            view.calibration_size = regression.varint();
          }
        }
        if (regression.malformed()) return Malformed("regression");
        // proto3: a value never given is 0.
        if (!view.regression_value.has_value()) view.regression_value = 0.0;
        break;
      }
      case kRecommendation: {
        switch_output(Output::kRecommendation);
        FieldReader list(field.bytes());
        while (list.Next()) {
          if (Is(list, 1, FieldReader::kLengthDelimited)) {
            view.items.push_back(list.bytes());
          } else if (Is(list, 2, FieldReader::kLengthDelimited)) {
            view.user_id = list.bytes();
          }
        }
        if (list.malformed()) return Malformed("recommendation");
        break;
      }
      case kFeatures: {
        absl::string_view name;
        PredictionView::Feature value;
        if (ReadUsualFeatureEntry(field.bytes(), &name, &value)) {
          view.features.emplace_back(name, value);
          break;
        }
        FieldReader entry(field.bytes());
        while (entry.Next()) {
          if (Is(entry, 1, FieldReader::kLengthDelimited)) {
            name = entry.bytes();
          } else if (Is(entry, 2, FieldReader::kLengthDelimited)) {
            // A message field given twice is merged: its oneof keeps the
            // last member given.
            FieldReader feature(entry.bytes());
            while (feature.Next()) {
              if (Is(feature, 1, FieldReader::kFixed64)) {
                value.kind = PredictionView::Feature::Kind::kNumeric;
                value.numeric = feature.fixed64_double();
                value.categorical = {};
              } else if (Is(feature, 2, FieldReader::kLengthDelimited)) {
                value.kind = PredictionView::Feature::Kind::kCategorical;
                value.categorical = feature.bytes();
                value.numeric = 0;
              }
            }
            if (feature.malformed()) return Malformed("feature value");
          }
        }
        if (entry.malformed()) return Malformed("features entry");
        view.features.emplace_back(name, value);
        break;
      }
      case kGroups: {
        absl::string_view name;
        absl::string_view value;
        FieldReader entry(field.bytes());
        while (entry.Next()) {
          if (Is(entry, 1, FieldReader::kLengthDelimited)) {
            name = entry.bytes();
          } else if (Is(entry, 2, FieldReader::kLengthDelimited)) {
            value = entry.bytes();
          }
        }
        if (entry.malformed()) return Malformed("groups entry");
        view.groups.emplace_back(name, value);
        break;
      }
      default:
        break;
    }
  }
  if (field.malformed()) return Malformed("field");
  view.event_time = absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos);
  for (const auto& [label, probability] : probabilities) {
    if (label == view.predicted_class) view.predicted_probability = probability;
  }
  SortKeepingLast(view.groups);
  SortKeepingLast(view.features);
  return view;
}

const absl::string_view* PredictionView::Group(absl::string_view name) const {
  const auto it =
      std::lower_bound(groups.begin(), groups.end(), name,
                       [](const auto& group, absl::string_view key) {
                         return group.first < key;
                       });
  if (it == groups.end() || it->first != name) return nullptr;
  return &it->second;
}

}  // namespace vigie::monitors
