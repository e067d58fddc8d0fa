// ModelMonitors' footprint monitor: energy and carbon of the predictions
// (footprint.h), apart so that the other families' files stay as they are.

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "monitors/footprint.h"
#include "monitors/model_monitors.h"
#include "vigie/state/v1/footprint.pb.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::monitors {

void ModelMonitors::ObserveFootprint(const PredictionView& prediction) {
  const FootprintCosting* costing = options_.footprint.get();
  // Created with the first costed prediction unless the model declares a
  // footprint, so that the panes of models that report no cost carry none
  // (and their predictions cost a test or two here).
  if (!footprint_.has_value() && costing == nullptr &&
      !prediction.energy_joules.has_value()) {
    return;
  }
  const FootprintCost cost = costing != nullptr
                                 ? CostOf(prediction, *costing)
                                 : CostOf(prediction, FootprintCosting());
  if (!footprint_.has_value()) {
    if (costing == nullptr && !cost.energy_joules.has_value()) return;
    footprint_.emplace();
  }
  footprint_->Observe(cost);
}

void ModelMonitors::MergeFootprint(const ModelMonitors& other) {
  if (!other.footprint_.has_value()) return;
  if (!footprint_.has_value()) footprint_.emplace();
  footprint_->Merge(*other.footprint_);
}

void ModelMonitors::FootprintToProto(state::v1::PaneState* state) const {
  if (footprint_.has_value()) footprint_->ToProto(state->mutable_footprint());
}

absl::Status ModelMonitors::FootprintFromProto(
    const state::v1::PaneState& state) {
  if (!state.has_footprint()) return absl::OkStatus();
  absl::StatusOr<FootprintMonitor> monitor =
      FootprintMonitor::FromProto(state.footprint());
  if (!monitor.ok()) {
    return absl::DataLossError(
        absl::StrCat("pane state: ", monitor.status().message()));
  }
  footprint_ = *std::move(monitor);
  return absl::OkStatus();
}

}  // namespace vigie::monitors
