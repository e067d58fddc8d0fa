// ModelMonitors' performance estimate (performance_estimate.h): routing,
// merge and state, apart so that the other monitors' files stay as they
// were.

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/model_monitors.h"
#include "monitors/performance_estimate.h"
#include "vigie/state/v1/performance.pb.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::monitors {

void ModelMonitors::ObservePerformance(absl::string_view attribute,
                                       absl::string_view group,
                                       const Output& output,
                                       const std::optional<bool>& outcome) {
  // Binary models with a score only: a multiclass model's top-label
  // confidence says nothing of one class against the rest.
  if (!options_.classes.empty() || !output.probability.has_value()) return;
  if (!performance_.has_value()) {
    // Create validated the options.
    performance_ =
        *PerformanceEstimateMonitor::Create(options_.performance_estimate);
  }
  const double score = *output.probability;
  if (attribute.empty()) {
    if (outcome.has_value()) {
      performance_->ObserveJoined(score, output.decision, *outcome);
    } else {
      performance_->ObservePrediction(score, output.decision);
    }
  } else if (outcome.has_value()) {
    performance_->ObserveJoined(attribute, group, score, output.decision,
                                *outcome);
  } else {
    performance_->ObservePrediction(attribute, group, score, output.decision);
  }
}

void ModelMonitors::MergePerformance(const ModelMonitors& other) {
  if (!other.performance_.has_value()) return;
  if (!performance_.has_value()) {
    performance_ = other.performance_;
    return;
  }
  // Merge compared the options: both were built with the same.
  performance_->Merge(*other.performance_).IgnoreError();
}

void ModelMonitors::PerformanceToProto(state::v1::PaneState* state) const {
  if (performance_.has_value()) {
    performance_->ToProto(state->mutable_performance_estimate());
  }
}

absl::Status ModelMonitors::PerformanceFromProto(
    const state::v1::PaneState& state) {
  if (!state.has_performance_estimate()) return absl::OkStatus();
  absl::StatusOr<PerformanceEstimateMonitor> monitor =
      PerformanceEstimateMonitor::FromProto(state.performance_estimate());
  if (!monitor.ok()) {
    return absl::DataLossError(
        absl::StrCat("pane state: ", monitor.status().message()));
  }
  if (!(monitor->options() == options_.performance_estimate)) {
    return absl::DataLossError(
        absl::StrCat("pane state: the performance estimate has ",
                     monitor->options().num_bins, " score bins and max_groups ",
                     monitor->options().max_groups, ", configured ",
                     options_.performance_estimate.num_bins, " and ",
                     options_.performance_estimate.max_groups,
                     ": state was written under another configuration"));
  }
  // Its groups must be of attributes this configuration monitors, as the
  // other monitors' are (attributes_ entries made here and left empty are
  // dropped by FromProto).
  for (const auto& [name, groups] :
       state.performance_estimate().groups_by_attribute()) {
    if (name.empty() || AttributeFor(name) == nullptr) {
      return absl::DataLossError(absl::StrCat(
          "pane state: the performance estimate has attribute '", name,
          "', which is not monitored: state was written under another "
          "configuration"));
    }
  }
  performance_ = *std::move(monitor);
  return absl::OkStatus();
}

}  // namespace vigie::monitors
