#pragma once

#include <optional>
#include <string>

#include "services/config.h"
#include "vigie/v1/events.pb.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services {

// Why one event is refused.
struct EventRejection {
  vigie::v1::RejectReason reason = vigie::v1::REJECT_REASON_UNSPECIFIED;
  std::string message;  // Names the offending value.
};

// Checks a prediction against its model's configuration (ids, version,
// event time, output kind, score range, attributes, features) and fills in
// a missing binary decision as score >= model.decision_threshold, and a
// missing multiclass predicted class as the most probable. Returns the
// first problem found, or nothing when the prediction is accepted. The
// fields it filled in are also set in `*normalised` when given, so that a
// caller holding the prediction's bytes can append them instead of
// serializing it again.
std::optional<EventRejection> ValidatePrediction(
    const ModelConfig& model, vigie::v1::Prediction& prediction,
    vigie::v1::Prediction* normalised = nullptr);

// Checks an outcome against its model's configuration.
std::optional<EventRejection> ValidateOutcome(
    const ModelConfig& model, const vigie::v1::Outcome& outcome);

// The reason's name without its prefix, e.g. "INVALID_SCORE".
std::string RejectReasonName(vigie::v1::RejectReason reason);

}  // namespace vigie::services
