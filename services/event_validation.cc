#include "services/event_validation.h"

#include <cmath>
#include <string>

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

}  // namespace

std::optional<EventRejection> ValidatePrediction(
    const ModelConfig& model, vigie::v1::Prediction& prediction) {
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
  if (prediction.output_case() != vigie::v1::Prediction::kBinary) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_OUTPUT,
        prediction.output_case() == vigie::v1::Prediction::OUTPUT_NOT_SET
            ? std::string("prediction has no output")
            : absl::StrCat("model '", model.id, "' is a ", model.task,
                           " model; this prediction's output is of another "
                           "kind"));
  }
  vigie::v1::BinaryPrediction& binary = *prediction.mutable_binary();
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
  if (outcome.label_case() != vigie::v1::Outcome::kBinary) {
    return Reject(
        vigie::v1::REJECT_REASON_INVALID_LABEL,
        outcome.label_case() == vigie::v1::Outcome::LABEL_NOT_SET
            ? std::string("outcome has no label")
            : absl::StrCat("model '", model.id, "' is a ", model.task,
                           " model; this outcome's label is of another kind"));
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
