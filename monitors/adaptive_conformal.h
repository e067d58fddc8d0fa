#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigie::state::v1 {
class AdaptiveConformalState;
}

namespace vigie::monitors {

// Adaptive conformal inference (ACI; Gibbs and Candès, "Adaptive conformal
// inference under distribution shift", NeurIPS 2021): the miscoverage level
// a producer should use next so that its long-run coverage returns to the
// target 1 - alpha. After each labelled outcome,
//   alpha_{t+1} = alpha_t + gamma (alpha - err_t),
// err_t = 1 when the interval or set missed the outcome, else 0. Hence
// alpha_{T+1} = alpha_1 + gamma (T alpha - misses), which is how alpha() is
// computed: from two counts, with no rounding drift over long streams.
//
// alpha() may leave [0, 1]: at or below 0 the producer should return the
// whole label space (certain coverage), at or above 1 an empty set. If the
// producer does follow it, Gibbs and Candès (Proposition 4.1) prove, for
// any sequence of outcomes, |misses / T - alpha| <=
// (max(alpha_1, 1 - alpha_1) + gamma) / (gamma T): MissRateBound().
//
// Sequential: each step depends on the previous alpha, so two trackers of
// disjoint sub-streams do not merge into one of the whole stream (there is
// no Merge). Keep one per model, fed in event-time order. Deterministic: a
// replay rebuilds it. State: vigie.state.v1.AdaptiveConformalState.
// Thread-compatible.
class AdaptiveConformal {
 public:
  struct Options {
    // Target miscoverage alpha. Default: 0.1. Range: (0, 1).
    double target_alpha = 0.1;
    // Step size gamma: larger adapts faster and oscillates more. Default:
    // 0.005, Gibbs and Candès's choice. Range: (0, 1].
    double gamma = 0.005;
    // alpha_1. Default: empty, target_alpha. Range: (0, 1).
    std::optional<double> initial_alpha;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<AdaptiveConformal> Create(const Options& options);

  // O(1). One labelled outcome, in event-time order.
  void Observe(bool covered);

  // alpha_{T+1}: the miscoverage level to use for the next prediction.
  double alpha() const;
  uint64_t steps() const { return steps_; }
  uint64_t misses() const { return misses_; }
  // misses / steps; empty before the first step.
  std::optional<double> miss_rate() const;
  // Gibbs and Candès's bound on |miss_rate - target_alpha| after steps()
  // steps; empty before the first.
  std::optional<double> MissRateBound() const;

  double target_alpha() const { return target_alpha_; }
  double gamma() const { return gamma_; }
  double initial_alpha() const { return initial_alpha_; }

  std::string Serialize() const;  // A vigie.state.v1.AdaptiveConformalState.
  void ToProto(state::v1::AdaptiveConformalState* state) const;
  // kDataLoss for bytes that are not a valid state (truncated, garbage,
  // parameters out of range, misses > steps).
  static absl::StatusOr<AdaptiveConformal> Deserialize(absl::string_view bytes);
  static absl::StatusOr<AdaptiveConformal> FromProto(
      const state::v1::AdaptiveConformalState& state);

 private:
  AdaptiveConformal(double target_alpha, double gamma, double initial_alpha)
      : target_alpha_(target_alpha),
        gamma_(gamma),
        initial_alpha_(initial_alpha) {}

  double target_alpha_;
  double gamma_;
  double initial_alpha_;
  uint64_t steps_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace vigie::monitors
