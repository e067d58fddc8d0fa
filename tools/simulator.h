#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <random>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/event_source.h"

namespace vigie::tools {

// The simulated stream's settings. The defaults give the demo of vigiectl's
// README: model "demo" version "v1", 20,000 predictions, female scores
// shifted down by 0.15.
struct SimulatorOptions {
  // Seed of the std::mt19937_64 behind every draw. Default: 1.
  uint64_t seed = 1;
  // Predictions to make; the stream also carries one outcome for each.
  // Default: 20,000. Range: [0, 1e9].
  int64_t num_predictions = 20'000;
  // Subtracted from the score of every female subject: the injected bias.
  // Default: 0.15. Range: [-1, 1].
  double bias = 0.15;
  // Event time of the first prediction. Default: 2026-01-05T00:00:00Z.
  absl::Time start = absl::FromUnixSeconds(1'767'571'200);
  // Event time between consecutive predictions. Default: 5 s. Must be >= 0.
  absl::Duration spacing = absl::Seconds(5);
  // Outcome event time = prediction event time + outcome_delay. Default: 1 h.
  absl::Duration outcome_delay = absl::Hours(1);
  // An outcome is sent right after the prediction made `outcome_lag`
  // predictions after its own, so that outcomes arrive late, as in
  // production. Default: 1,000. Must be >= 0.
  int64_t outcome_lag = 1'000;
  // The decision threshold the server applies (the demo model's); used only
  // by ExpectedRates(). Default: 0.5.
  double decision_threshold = 0.5;

  absl::Status Validate() const;
};

// A stream of binary-classifier predictions and outcomes with a known,
// injected bias, deterministic for a seed (on any platform: draws use raw
// mt19937_64 output, not the standard library's distributions).
//
// Each subject has sex in {female, male} (1/2 each), age_band in {"18-25",
// "26-45", "46+"} (1/3 each) and label ~ Bernoulli(0.3). Its score is
//   clamp(0.5 + 0.25 * (label ? +1 : -1) + noise - (female ? bias : 0), 0, 1)
// with noise ~ Uniform[-0.35, 0.35]. Decisions are left to the server. The
// stream sends 2 * num_predictions events, one per record.
//
// O(1) per event, O(outcome_lag) memory. Not thread-safe.
class Simulator final : public EventSource {
 public:
  static absl::StatusOr<std::unique_ptr<Simulator>> Create(
      const SimulatorOptions& options);

  bool Next(EventRecord* out) override;
  uint64_t records_read() const override { return records_read_; }
  uint64_t total_records() const override;

 private:
  explicit Simulator(const SimulatorOptions& options);
  double Uniform();  // In [0, 1).
  void MakePrediction(int64_t i, v1::Event* prediction, v1::Event* outcome);

  SimulatorOptions options_;
  std::mt19937_64 rng_;
  int64_t predictions_made_ = 0;
  std::deque<v1::Event> pending_outcomes_;  // In prediction order.
  uint64_t records_read_ = 0;
};

// Population rates the simulator's subjects have under `options`, given the
// server decides score >= options.decision_threshold.
struct ExpectedRates {
  double tpr_female = 0;  // P(decision | label, female)
  double tpr_male = 0;    // P(decision | label, male)
  double fpr_female = 0;  // P(decision | !label, female)
  double fpr_male = 0;    // P(decision | !label, male)
};

// Exact, from the uniform noise: a subject is selected when noise >= c with
// c = threshold - 0.5 - 0.25 * (label ? +1 : -1) + (female ? bias : 0), so
// the rate is clamp((0.35 - c) / 0.7, 0, 1) (for a threshold in (0, 1]: the
// clamp of the score to [0, 1] does not move it across the threshold). With
// the defaults: TPR female 0.45/0.7 ≈ 0.643, male 0.6/0.7 ≈ 0.857; FPR
// female 0, male 0.1/0.7 ≈ 0.143.
ExpectedRates ComputeExpectedRates(const SimulatorOptions& options);

// The simulator's constants, for tests and messages.
inline constexpr double kSimLabelRate = 0.3;
inline constexpr double kSimSeparation = 0.25;
inline constexpr double kSimNoiseHalfWidth = 0.35;

}  // namespace vigie::tools
