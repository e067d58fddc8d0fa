#include "monitors/adaptive_conformal.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "vigie/state/v1/conformal.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;

double ToDouble(uint64_t n) { return static_cast<double>(n); }

// Empty if the three parameters are in range, else what is wrong.
std::string CheckParameters(double target_alpha, double gamma,
                            double initial_alpha) {
  if (!(target_alpha > 0 && target_alpha < 1)) {
    return absl::StrCat("target_alpha must be in (0, 1), got ", target_alpha);
  }
  if (!(gamma > 0 && gamma <= 1)) {
    return absl::StrCat("gamma must be in (0, 1], got ", gamma);
  }
  if (!(initial_alpha > 0 && initial_alpha < 1)) {
    return absl::StrCat("initial_alpha must be in (0, 1), got ", initial_alpha);
  }
  return "";
}

}  // namespace

absl::StatusOr<AdaptiveConformal> AdaptiveConformal::Create(
    const Options& options) {
  const double initial = options.initial_alpha.value_or(options.target_alpha);
  if (std::string error =
          CheckParameters(options.target_alpha, options.gamma, initial);
      !error.empty()) {
    return absl::InvalidArgumentError(error);
  }
  return AdaptiveConformal(options.target_alpha, options.gamma, initial);
}

void AdaptiveConformal::Observe(bool covered) {
  // Both saturate together so that misses <= steps holds.
  if (steps_ == ~uint64_t{0}) return;
  ++steps_;
  misses_ += covered ? 0 : 1;
}

double AdaptiveConformal::alpha() const {
  return initial_alpha_ +
         gamma_ * (ToDouble(steps_) * target_alpha_ - ToDouble(misses_));
}

std::optional<double> AdaptiveConformal::miss_rate() const {
  if (steps_ == 0) return std::nullopt;
  return ToDouble(misses_) / ToDouble(steps_);
}

std::optional<double> AdaptiveConformal::MissRateBound() const {
  if (steps_ == 0) return std::nullopt;
  return (std::max(initial_alpha_, 1 - initial_alpha_) + gamma_) /
         (gamma_ * ToDouble(steps_));
}

void AdaptiveConformal::ToProto(
    state::v1::AdaptiveConformalState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  state->set_steps(steps_);
  state->set_misses(misses_);
  state->set_target_alpha(target_alpha_);
  state->set_gamma(gamma_);
  state->set_initial_alpha(initial_alpha_);
}

std::string AdaptiveConformal::Serialize() const {
  state::v1::AdaptiveConformalState state;
  ToProto(&state);
  return state.SerializeAsString();
}

absl::StatusOr<AdaptiveConformal> AdaptiveConformal::Deserialize(
    absl::string_view bytes) {
  state::v1::AdaptiveConformalState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        "adaptive conformal state is not a valid AdaptiveConformalState");
  }
  return FromProto(state);
}

absl::StatusOr<AdaptiveConformal> AdaptiveConformal::FromProto(
    const state::v1::AdaptiveConformalState& state) {
  if (state.version() != kStateVersion) {
    return absl::DataLossError(
        absl::StrCat("adaptive conformal state has version ", state.version(),
                     ", expected ", kStateVersion));
  }
  if (std::string error = CheckParameters(state.target_alpha(), state.gamma(),
                                          state.initial_alpha());
      !error.empty()) {
    return absl::DataLossError(
        absl::StrCat("adaptive conformal state: ", error));
  }
  if (state.misses() > state.steps()) {
    return absl::DataLossError(
        absl::StrCat("adaptive conformal state: ", state.misses(),
                     " misses in ", state.steps(), " steps"));
  }
  AdaptiveConformal tracker(state.target_alpha(), state.gamma(),
                            state.initial_alpha());
  tracker.steps_ = state.steps();
  tracker.misses_ = state.misses();
  return tracker;
}

}  // namespace vigie::monitors
