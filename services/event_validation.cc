#include "services/event_validation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"

namespace vigie::services {
namespace {

using vigie::v1::RejectReason;

EventRejection Reject(RejectReason reason, std::string message) {
  return EventRejection{reason, std::move(message)};
}

// Timestamps within protobuf's documented range (years 1 to 9999).
bool ValidTime(const google::protobuf::Timestamp& time) {
  using google::protobuf::util::TimeUtil;
  return time.seconds() >= TimeUtil::kTimestampMinSeconds &&
         time.seconds() <= TimeUtil::kTimestampMaxSeconds &&
         time.nanos() >= 0 && time.nanos() < 1'000'000'000;
}

// Ids are map keys and log text: no NUL and a sane length.
std::optional<std::string> BadId(absl::string_view what, absl::string_view id) {
  if (id.size() > 512) {
    return absl::StrCat(what, " is longer than 512 bytes");
  }
  if (absl::StrContains(id, absl::string_view("\0", 1))) {
    return absl::StrCat(what, " contains a NUL byte");
  }
  return std::nullopt;
}

std::optional<EventRejection> CheckIds(absl::string_view model_id,
                                       absl::string_view prediction_id) {
  if (std::optional<std::string> bad = BadId("model_id", model_id)) {
    return Reject(vigie::v1::REJECT_REASON_MISSING_MODEL_ID, *bad);
  }
  if (prediction_id.empty()) {
    return Reject(vigie::v1::REJECT_REASON_MISSING_PREDICTION_ID,
                  "prediction_id is empty");
  }
  if (std::optional<std::string> bad = BadId("prediction_id", prediction_id)) {
    return Reject(vigie::v1::REJECT_REASON_MISSING_PREDICTION_ID, *bad);
  }
  return std::nullopt;
}

std::optional<EventRejection> CheckTime(
    bool has_time, const google::protobuf::Timestamp& time) {
  if (!has_time) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_EVENT_TIME,
                  "event_time is missing");
  }
  if (!ValidTime(time)) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_EVENT_TIME,
                  absl::StrCat("event_time is out of range: seconds=",
                               time.seconds(), " nanos=", time.nanos()));
  }
  return std::nullopt;
}

std::optional<EventRejection> CheckAttributes(
    const vigie::v1::Prediction& prediction) {
  for (const auto& [name, value] : prediction.groups()) {
    if (name.empty()) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_ATTRIBUTE,
                    "a group attribute has an empty name");
    }
    if (value.size() > 256) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_ATTRIBUTE,
                    absl::StrCat("group attribute '", name,
                                 "' has a value longer than 256 bytes"));
    }
  }
  for (const auto& [name, value] : prediction.features()) {
    if (name.empty()) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_ATTRIBUTE,
                    "a feature has an empty name");
    }
    if (value.value_case() == vigie::v1::FeatureValue::kNumeric &&
        !std::isfinite(value.numeric())) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_ATTRIBUTE,
                    absl::StrCat("feature '", name,
                                 "' is not finite: ", value.numeric()));
    }
  }
  return std::nullopt;
}

bool IsClass(const ModelConfig& model, absl::string_view label) {
  const std::vector<std::string>& classes = model.classes();
  return std::find(classes.begin(), classes.end(), label) != classes.end();
}

// Probabilities within this of summing to 1 are accepted: clients round
// (float32 softmax outputs, decimal JSON), and a gap this small moves no
// calibration metric measurably.
constexpr double kProbabilitySumTolerance = 1e-3;

// A conformal prediction's nominal miscoverage and calibration set size.
std::optional<EventRejection> CheckConformal(bool has_alpha, double alpha,
                                             bool has_calibration_size,
                                             uint64_t calibration_size) {
  // Written so that NaN fails too.
  if (has_alpha && !(alpha > 0.0 && alpha < 1.0)) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  absl::StrCat("alpha must be in (0, 1), got ", alpha));
  }
  if (has_calibration_size && calibration_size == 0) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  "calibration_size must be positive when given");
  }
  if (has_calibration_size && !has_alpha) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  "calibration_size given without alpha");
  }
  return std::nullopt;
}

// Checks a multiclass output and fills in a missing predicted_class as the
// class of highest probability (the first listed on a tie).
std::optional<EventRejection> CheckMulticlass(
    const ModelConfig& model, vigie::v1::MulticlassPrediction& output) {
  if (output.probabilities().empty() && output.predicted_class().empty()) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  "multiclass prediction has neither probabilities nor "
                  "predicted_class");
  }
  double sum = 0;
  const vigie::v1::ClassProbability* top = nullptr;
  std::vector<absl::string_view> seen;
  for (const vigie::v1::ClassProbability& p : output.probabilities()) {
    if (!IsClass(model, p.label())) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                    absl::StrCat("probability given to '", p.label(),
                                 "', not a class of model '", model.id, "'"));
    }
    if (std::find(seen.begin(), seen.end(), p.label()) != seen.end()) {
      return Reject(
          vigie::v1::REJECT_REASON_INVALID_OUTPUT,
          absl::StrCat("class '", p.label(), "' is given two probabilities"));
    }
    seen.push_back(p.label());
    // Written so that NaN fails too.
    if (!(p.probability() >= 0.0 && p.probability() <= 1.0)) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_SCORE,
                    absl::StrCat("probability of class '", p.label(),
                                 "' must be in [0, 1], got ", p.probability()));
    }
    sum += p.probability();
    if (top == nullptr || p.probability() > top->probability()) top = &p;
  }
  if (top != nullptr && std::abs(sum - 1.0) > kProbabilitySumTolerance) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_SCORE,
        absl::StrCat("class probabilities sum to ", sum, ", not 1 (tolerance ",
                     kProbabilitySumTolerance, ")"));
  }
  if (output.predicted_class().empty()) {
    output.set_predicted_class(top->label());
  } else if (!IsClass(model, output.predicted_class())) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  absl::StrCat("predicted_class '", output.predicted_class(),
                               "' is not a class of model '", model.id,
                               "' (expected one of: ",
                               absl::StrJoin(model.classes(), ", "), ")"));
  }
  std::vector<absl::string_view> in_set;
  for (const std::string& label : output.prediction_set_labels()) {
    if (!IsClass(model, label)) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                    absl::StrCat("prediction set label '", label,
                                 "' is not a class of model '", model.id, "'"));
    }
    if (std::find(in_set.begin(), in_set.end(), label) != in_set.end()) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                    absl::StrCat("prediction set lists '", label, "' twice"));
    }
    in_set.push_back(label);
  }
  // An empty set is a valid conformal set (nothing is plausible enough), so
  // alpha is what says a set was given.
  if (!output.has_alpha() && !output.prediction_set_labels().empty()) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  "prediction set given without its alpha");
  }
  return CheckConformal(output.has_alpha(), output.alpha(),
                        output.has_calibration_size(),
                        output.calibration_size());
}

// A regression's value, and its interval: both ends or neither, lower <=
// upper, each finite or infinite outward (an unbounded side), with alpha.
std::optional<EventRejection> CheckRegression(
    const vigie::v1::RegressionPrediction& output) {
  if (!std::isfinite(output.value())) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_OUTPUT,
        absl::StrCat("regression value is not finite: ", output.value()));
  }
  const bool lower = output.has_interval_lower();
  const bool upper = output.has_interval_upper();
  if (lower != upper) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  "prediction interval needs both interval_lower and "
                  "interval_upper");
  }
  if (lower) {
    const double lo = output.interval_lower();
    const double hi = output.interval_upper();
    constexpr double kInf = std::numeric_limits<double>::infinity();
    // Written so that NaN fails too.
    if (!(lo <= hi) || lo == kInf || hi == -kInf) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                    absl::StrCat("prediction interval [", lo, ", ", hi,
                                 "] is not an interval (lower <= upper, "
                                 "infinite only outward)"));
    }
    if (!output.has_alpha()) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                    "prediction interval given without its alpha");
    }
  } else if (output.has_alpha() || output.has_calibration_size()) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  "alpha or calibration_size given without an interval");
  }
  return CheckConformal(output.has_alpha(), output.alpha(),
                        output.has_calibration_size(),
                        output.calibration_size());
}

constexpr int kMaxListItems = 1000;

std::optional<EventRejection> CheckRecommendation(
    const vigie::v1::RecommendationList& output) {
  if (output.item_ids_size() > kMaxListItems) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_OUTPUT,
        absl::StrCat("recommendation list has ", output.item_ids_size(),
                     " items, more than ", kMaxListItems));
  }
  for (const std::string& item : output.item_ids()) {
    if (item.empty()) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                    "recommendation list has an empty item id");
    }
    if (std::optional<std::string> bad = BadId("item id", item)) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT, *bad);
    }
  }
  if (std::optional<std::string> bad = BadId("user_id", output.user_id())) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT, *bad);
  }
  return std::nullopt;
}

bool TaskTakes(const ModelConfig& model, vigie::v1::Prediction::OutputCase c) {
  using vigie::v1::Prediction;
  return (model.task == "binary" && c == Prediction::kBinary) ||
         (model.task == "multiclass" && c == Prediction::kMulticlass) ||
         (model.task == "regression" && c == Prediction::kRegression) ||
         (model.task == "recommendation" && c == Prediction::kRecommendation);
}

bool TaskTakes(const ModelConfig& model, vigie::v1::Outcome::LabelCase c) {
  using vigie::v1::Outcome;
  return (model.task == "binary" && c == Outcome::kBinary) ||
         (model.task == "multiclass" && c == Outcome::kClassLabel) ||
         (model.task == "regression" && c == Outcome::kRegression) ||
         (model.task == "recommendation" && c == Outcome::kRecommendation);
}

// Fills in a missing decision from the score.
std::optional<EventRejection> CheckBinary(const ModelConfig& model,
                                          vigie::v1::BinaryPrediction& binary) {
  if (!binary.has_score() && !binary.has_decision()) {
    return Reject(vigie::v1::REJECT_REASON_INVALID_OUTPUT,
                  "binary prediction has neither score nor decision");
  }
  if (binary.has_score()) {
    const double score = binary.score();
    // Written so that NaN fails too.
    if (!(score >= 0.0 && score <= 1.0)) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_SCORE,
                    absl::StrCat("score must be in [0, 1], got ", score));
    }
    if (!binary.has_decision()) {
      binary.set_decision(score >= model.decision_threshold);
    }
  }
  return std::nullopt;
}

// The prediction's cost (rule E1): numbers finite and non-negative, and a
// latency without energy only on a hardware class whose power the model
// declares, since otherwise it could not become energy and would be
// silently left out of the footprint.
std::optional<EventRejection> CheckCost(const ModelConfig& model,
                                        const vigie::v1::Prediction& p) {
  for (const auto& [name, has, value] :
       {std::tuple{"energy_joules", p.has_energy_joules(), p.energy_joules()},
        std::tuple{"latency_seconds", p.has_latency_seconds(),
                   p.latency_seconds()}}) {
    if (has && !(std::isfinite(value) && value >= 0)) {
      return Reject(
          vigie::v1::REJECT_REASON_INVALID_COST,
          absl::StrCat(name, " must be finite and >= 0, got ", value));
    }
  }
  if (p.has_latency_seconds() && !p.has_energy_joules() &&
      (model.monitors.footprint == nullptr ||
       !model.monitors.footprint->hardware_power_watts.contains(
           p.hardware_class()))) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_COST,
        p.hardware_class().empty()
            ? absl::StrCat("latency_seconds without energy_joules needs a "
                           "hardware_class whose power model '",
                           model.id,
                           "' declares (footprint.hardware_power_watts)")
            : absl::StrCat("hardware_class '", p.hardware_class(),
                           "' has no power in the footprint."
                           "hardware_power_watts of model '",
                           model.id,
                           "': send energy_joules, or declare its watts"));
  }
  return std::nullopt;
}

}  // namespace

std::optional<EventRejection> ValidatePrediction(
    const ModelConfig& model, vigie::v1::Prediction& prediction,
    vigie::v1::Prediction* normalised) {
  if (auto rejection =
          CheckIds(prediction.model_id(), prediction.prediction_id())) {
    return rejection;
  }
  if (!model.versions.empty()) {
    bool known = false;
    for (const std::string& version : model.versions) {
      known = known || version == prediction.model_version();
    }
    if (!known) {
      return Reject(vigie::v1::REJECT_REASON_UNKNOWN_MODEL_VERSION,
                    absl::StrCat("model_version '", prediction.model_version(),
                                 "' is not a version of model '", model.id,
                                 "' (expected one of: ",
                                 absl::StrJoin(model.versions, ", "), ")"));
    }
  }
  if (auto rejection =
          CheckTime(prediction.has_event_time(), prediction.event_time())) {
    return rejection;
  }
  if (!TaskTakes(model, prediction.output_case())) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_OUTPUT,
        prediction.output_case() == vigie::v1::Prediction::OUTPUT_NOT_SET
            ? std::string("prediction has no output")
            : absl::StrCat("model '", model.id, "' is a ", model.task,
                           " model; this prediction's output is of another "
                           "kind"));
  }
  std::optional<EventRejection> rejection;
  switch (prediction.output_case()) {
    case vigie::v1::Prediction::kMulticlass: {
      vigie::v1::MulticlassPrediction& multiclass =
          *prediction.mutable_multiclass();
      const bool had_class = !multiclass.predicted_class().empty();
      rejection = CheckMulticlass(model, multiclass);
      if (normalised != nullptr && !had_class &&
          !multiclass.predicted_class().empty()) {
        normalised->mutable_multiclass()->set_predicted_class(
            multiclass.predicted_class());
      }
      break;
    }
    case vigie::v1::Prediction::kRegression:
      rejection = CheckRegression(prediction.regression());
      break;
    case vigie::v1::Prediction::kRecommendation:
      rejection = CheckRecommendation(prediction.recommendation());
      break;
    default: {
      vigie::v1::BinaryPrediction& binary = *prediction.mutable_binary();
      const bool had_decision = binary.has_decision();
      rejection = CheckBinary(model, binary);
      if (normalised != nullptr && !had_decision && binary.has_decision()) {
        normalised->mutable_binary()->set_decision(binary.decision());
      }
      break;
    }
  }
  if (rejection.has_value()) return rejection;
  if (auto cost = CheckCost(model, prediction)) return cost;
  return CheckAttributes(prediction);
}

std::optional<EventRejection> ValidateOutcome(
    const ModelConfig& model, const vigie::v1::Outcome& outcome) {
  if (auto rejection = CheckIds(outcome.model_id(), outcome.prediction_id())) {
    return rejection;
  }
  if (auto rejection =
          CheckTime(outcome.has_event_time(), outcome.event_time())) {
    return rejection;
  }
  if (!TaskTakes(model, outcome.label_case())) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_LABEL,
        outcome.label_case() == vigie::v1::Outcome::LABEL_NOT_SET
            ? std::string("outcome has no label")
            : absl::StrCat("model '", model.id, "' is a ", model.task,
                           " model; this outcome's label is of another kind"));
  }
  if (outcome.label_case() == vigie::v1::Outcome::kRegression &&
      !std::isfinite(outcome.regression())) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_LABEL,
        absl::StrCat("regression label is not finite: ", outcome.regression()));
  }
  if (outcome.label_case() == vigie::v1::Outcome::kRecommendation) {
    if (outcome.recommendation().relevant_item_ids_size() > kMaxListItems) {
      return Reject(
          vigie::v1::REJECT_REASON_INVALID_LABEL,
          absl::StrCat("more than ", kMaxListItems, " relevant items"));
    }
    for (const std::string& item :
         outcome.recommendation().relevant_item_ids()) {
      if (std::optional<std::string> bad = BadId("relevant item id", item)) {
        return Reject(vigie::v1::REJECT_REASON_INVALID_LABEL, *bad);
      }
    }
  }
  if (outcome.label_case() == vigie::v1::Outcome::kClassLabel) {
    if (!IsClass(model, outcome.class_label())) {
      return Reject(vigie::v1::REJECT_REASON_INVALID_LABEL,
                    absl::StrCat("class_label '", outcome.class_label(),
                                 "' is not a class of model '", model.id,
                                 "' (expected one of: ",
                                 absl::StrJoin(model.classes(), ", "), ")"));
    }
  }
  return std::nullopt;
}

std::string RejectReasonName(vigie::v1::RejectReason reason) {
  std::string name = vigie::v1::RejectReason_Name(reason);
  constexpr absl::string_view kPrefix = "REJECT_REASON_";
  if (absl::StartsWith(name, kPrefix)) name.erase(0, kPrefix.size());
  return name;
}

}  // namespace vigie::services
