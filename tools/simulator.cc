#include "tools/simulator.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "tools/parsing.h"

namespace vigie::tools {
namespace {

constexpr std::array<const char*, 3> kAgeBands = {"18-25", "26-45", "46+"};

// P(Uniform[-h, h] >= c).
double UniformAtLeast(double c, double h) {
  return std::clamp((h - c) / (2 * h), 0.0, 1.0);
}

double SelectionRate(const SimulatorOptions& o, bool label, bool female) {
  if (o.decision_threshold <= 0) return 1.0;
  if (o.decision_threshold > 1) return 0.0;
  const double c = o.decision_threshold - 0.5 -
                   kSimSeparation * (label ? 1.0 : -1.0) +
                   (female ? o.bias : 0.0);
  return UniformAtLeast(c, kSimNoiseHalfWidth);
}

}  // namespace

absl::Status SimulatorOptions::Validate() const {
  if (num_predictions < 0 || num_predictions > 1'000'000'000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_predictions must be in [0, 1e9], got ", num_predictions));
  }
  if (!(bias >= -1 && bias <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bias must be in [-1, 1], got ", bias));
  }
  if (spacing < absl::ZeroDuration() || outcome_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("spacing and outcome_delay must be >= 0");
  }
  if (outcome_lag < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("outcome_lag must be >= 0, got ", outcome_lag));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(
    const SimulatorOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<Simulator>(new Simulator(options));
}

Simulator::Simulator(const SimulatorOptions& options)
    : options_(options), rng_(options.seed) {}

uint64_t Simulator::total_records() const {
  return 2 * static_cast<uint64_t>(options_.num_predictions);
}

double Simulator::Uniform() {
  // The top 53 bits, scaled: exact doubles, the same on every platform.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

void Simulator::MakePrediction(int64_t i, v1::Event* prediction_event,
                               v1::Event* outcome_event) {
  // Draw order is part of the seed's meaning: keep it.
  const bool female = Uniform() < 0.5;
  const auto age_band =
      kAgeBands[std::min<size_t>(static_cast<size_t>(Uniform() * 3), 2)];
  const bool label = Uniform() < kSimLabelRate;
  const double noise = kSimNoiseHalfWidth * (2 * Uniform() - 1);
  double score = 0.5 + kSimSeparation * (label ? 1.0 : -1.0) + noise;
  if (female) score -= options_.bias;
  score = std::clamp(score, 0.0, 1.0);

  const std::string id = absl::StrCat("sim", options_.seed, "-", i + 1);
  const absl::Time time =
      options_.start + options_.spacing * static_cast<double>(i);
  v1::Prediction& p = *prediction_event->mutable_prediction();
  p.set_model_id("demo");
  p.set_model_version("v1");
  p.set_prediction_id(id);
  *p.mutable_event_time() = ToTimestampProto(time);
  p.mutable_binary()->set_score(score);
  (*p.mutable_groups())["sex"] = female ? "female" : "male";
  (*p.mutable_groups())["age_band"] = age_band;

  v1::Outcome& o = *outcome_event->mutable_outcome();
  o.set_model_id("demo");
  o.set_prediction_id(id);
  *o.mutable_event_time() = ToTimestampProto(time + options_.outcome_delay);
  o.set_binary(label);
}

bool Simulator::Next(EventRecord* out) {
  out->events.clear();
  out->error.reset();
  v1::Event event;
  // An outcome is due once outcome_lag predictions have followed its own;
  // after the last prediction, the rest drain in order.
  const bool outcome_due =
      !pending_outcomes_.empty() &&
      (predictions_made_ == options_.num_predictions ||
       static_cast<int64_t>(pending_outcomes_.size()) > options_.outcome_lag);
  if (outcome_due) {
    event = std::move(pending_outcomes_.front());
    pending_outcomes_.pop_front();
  } else if (predictions_made_ < options_.num_predictions) {
    MakePrediction(predictions_made_++, &event,
                   &pending_outcomes_.emplace_back());
  } else {
    return false;
  }
  ++records_read_;
  out->line = static_cast<int64_t>(records_read_);
  out->prediction_id = event.has_prediction()
                           ? event.prediction().prediction_id()
                           : event.outcome().prediction_id();
  out->events.push_back(std::move(event));
  return true;
}

ExpectedRates ComputeExpectedRates(const SimulatorOptions& options) {
  ExpectedRates r;
  r.tpr_female = SelectionRate(options, /*label=*/true, /*female=*/true);
  r.tpr_male = SelectionRate(options, /*label=*/true, /*female=*/false);
  r.fpr_female = SelectionRate(options, /*label=*/false, /*female=*/true);
  r.fpr_male = SelectionRate(options, /*label=*/false, /*female=*/false);
  return r;
}

}  // namespace vigie::tools
