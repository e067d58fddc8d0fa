// ModelMonitors' state: vigie.state.v1.PaneState, and its checks on the
// way back.

#include <climits>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/model_monitors.h"
#include "proto/proto_bytes.h"
#include "vigie/state/v1/calibration.pb.h"
#include "vigie/state/v1/drift.pb.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;

absl::Status WrittenElsewhere(absl::string_view what) {
  return absl::DataLossError(absl::StrCat(
      "pane state ", what, ": state was written under another configuration"));
}

absl::StatusOr<FairnessMonitor> ReadFairness(
    const state::v1::FairnessState& state,
    const FairnessMonitor::Options& options, absl::string_view where) {
  absl::StatusOr<FairnessMonitor> monitor = FairnessMonitor::FromProto(state);
  if (!monitor.ok()) {
    return absl::DataLossError(
        absl::StrCat("pane state, ", where, ": ", monitor.status().message()));
  }
  const FairnessMonitor::Options& got = monitor->options();
  if (got.max_groups != options.max_groups ||
      got.min_group_size != options.min_group_size) {
    return WrittenElsewhere(
        absl::StrCat(where, ": fairness options (max_groups ", got.max_groups,
                     ", min_group_size ", got.min_group_size,
                     ") differ from the configured ones (", options.max_groups,
                     ", ", options.min_group_size, ")"));
  }
  return monitor;
}

absl::StatusOr<CalibrationMonitor> ReadCalibration(
    const state::v1::CalibrationState& state,
    const CalibrationMonitor::Options& options, absl::string_view where) {
  absl::StatusOr<CalibrationMonitor> monitor =
      CalibrationMonitor::FromProto(state);
  if (!monitor.ok()) {
    return absl::DataLossError(
        absl::StrCat("pane state, ", where, ": ", monitor.status().message()));
  }
  if (monitor->options().num_bins != options.num_bins) {
    return WrittenElsewhere(
        absl::StrCat(where, ": ", monitor->options().num_bins,
                     " calibration bins, configured ", options.num_bins));
  }
  return monitor;
}

}  // namespace

void ModelMonitors::ToProto(state::v1::PaneState* state) const {
  state->set_version(kStateVersion);
  for (const auto& [name, attribute] : attributes_) {
    if (options_.classes.empty()) {
      attribute.fairness[0].ToProto(
          &(*state->mutable_fairness_by_attribute())[name]);
    } else {
      for (size_t c = 0; c < attribute.fairness.size(); ++c) {
        attribute.fairness[c].ToProto(
            &(*(*state->mutable_fairness_by_class())[options_.classes[c]]
                   .mutable_fairness_by_attribute())[name]);
      }
    }
    if (!attribute.calibration.empty()) {
      auto& groups = *(*state->mutable_calibration_by_attribute())[name]
                          .mutable_by_group();
      for (const auto& [group, monitor] : attribute.calibration) {
        monitor.ToProto(&groups[group]);
      }
    }
  }
  if (calibration_.has_value()) {
    calibration_->ToProto(state->mutable_calibration());
  }
  for (const auto& [attribute, count] : missing_) {
    (*state->mutable_missing_by_attribute())[attribute] = count;
  }
  if (!drift_.empty()) drift_.ToProto(state->mutable_drift());
  if (errors_.count > 0) errors_.ToProto(state->mutable_errors());
  QualityToProto(state);
  PerformanceToProto(state);
  FootprintToProto(state);
}

std::string ModelMonitors::Serialize() const {
  state::v1::PaneState state;
  ToProto(&state);
  return DeterministicBytes(state);
}

absl::Status ModelMonitors::FromProto(const state::v1::PaneState& state) {
  if (state.version() != kStateVersion) {
    return absl::DataLossError(absl::StrCat("pane state has version ",
                                            state.version(), ", expected ",
                                            kStateVersion));
  }
  const bool multiclass = !options_.classes.empty();
  if (multiclass ? state.fairness_by_attribute_size() > 0
                 : state.fairness_by_class_size() > 0) {
    return WrittenElsewhere(multiclass ? "has binary fairness"
                                       : "has multiclass fairness");
  }
  // Each attribute must be one this configuration would monitor.
  const auto admit =
      [&](const std::string& name) -> absl::StatusOr<Attribute*> {
    if (name.empty()) return WrittenElsewhere("has an unnamed attribute");
    Attribute* attribute = AttributeFor(name);
    if (attribute == nullptr) {
      return WrittenElsewhere(
          absl::StrCat("has attribute '", name, "', which is not monitored"));
    }
    return attribute;
  };
  for (const auto& [name, fairness] : state.fairness_by_attribute()) {
    absl::StatusOr<Attribute*> attribute = admit(name);
    if (!attribute.ok()) return attribute.status();
    absl::StatusOr<FairnessMonitor> monitor = ReadFairness(
        fairness, options_.fairness, absl::StrCat("attribute '", name, "'"));
    if (!monitor.ok()) return monitor.status();
    monitor->set_reference_group(ReferenceGroup(name));
    (*attribute)->fairness[0] = *std::move(monitor);
  }
  for (const auto& [label, by_attribute] : state.fairness_by_class()) {
    const auto found =
        std::find(options_.classes.begin(), options_.classes.end(), label);
    if (found == options_.classes.end()) {
      return WrittenElsewhere(
          absl::StrCat("has class '", label, "', which is not configured"));
    }
    const size_t c = static_cast<size_t>(found - options_.classes.begin());
    for (const auto& [name, fairness] : by_attribute.fairness_by_attribute()) {
      absl::StatusOr<Attribute*> attribute = admit(name);
      if (!attribute.ok()) return attribute.status();
      absl::StatusOr<FairnessMonitor> monitor = ReadFairness(
          fairness, options_.fairness,
          absl::StrCat("class '", label, "', attribute '", name, "'"));
      if (!monitor.ok()) return monitor.status();
      monitor->set_reference_group(ReferenceGroup(name));
      (*attribute)->fairness[c] = *std::move(monitor);
    }
  }
  for (const auto& [name, groups] : state.calibration_by_attribute()) {
    absl::StatusOr<Attribute*> attribute = admit(name);
    if (!attribute.ok()) return attribute.status();
    if (groups.by_group_size() >
        static_cast<int>(options_.fairness.max_groups) + 1) {
      return WrittenElsewhere(absl::StrCat(
          "has ", groups.by_group_size(), " calibrated groups of attribute '",
          name, "', max_groups is ", options_.fairness.max_groups));
    }
    for (const auto& [group, calibration] : groups.by_group()) {
      absl::StatusOr<CalibrationMonitor> monitor = ReadCalibration(
          calibration, options_.calibration,
          absl::StrCat("attribute '", name, "', group '", group, "'"));
      if (!monitor.ok()) return monitor.status();
      (*attribute)->calibration.insert_or_assign(group, *std::move(monitor));
    }
  }
  if (state.has_drift()) {
    absl::StatusOr<DriftMonitor> drift =
        DriftMonitor::FromProto(state.drift(), options_.drift);
    if (!drift.ok()) {
      return absl::DataLossError(
          absl::StrCat("pane state: ", drift.status().message()));
    }
    drift_ = *std::move(drift);
  }
  if (state.has_errors()) {
    absl::StatusOr<ErrorTally> errors = ErrorTally::FromProto(state.errors());
    if (!errors.ok()) {
      return absl::DataLossError(
          absl::StrCat("pane state: ", errors.status().message()));
    }
    errors_ = *errors;
  }
  if (state.has_calibration()) {
    absl::StatusOr<CalibrationMonitor> monitor = ReadCalibration(
        state.calibration(), options_.calibration, "model calibration");
    if (!monitor.ok()) return monitor.status();
    calibration_ = *std::move(monitor);
  }
  if (absl::Status s = QualityFromProto(state); !s.ok()) return s;
  if (absl::Status s = PerformanceFromProto(state); !s.ok()) return s;
  if (absl::Status s = FootprintFromProto(state); !s.ok()) return s;
  for (const auto& [name, count] : state.missing_by_attribute()) {
    // Missing attributes are only counted for listed attributes and for
    // intersections.
    const bool listed = std::find(options_.group_attributes.begin(),
                                  options_.group_attributes.end(),
                                  name) != options_.group_attributes.end();
    if (!listed && !IsIntersection(name)) {
      return WrittenElsewhere(absl::StrCat("has missing counts of attribute '",
                                           name, "', which is not monitored"));
    }
    if (count > 0) missing_.emplace(name, count);
  }
  // Kept only when they hold something, so that empty() stays exact.
  std::erase_if(attributes_, [](const auto& entry) {
    const Attribute& attribute = entry.second;
    if (!attribute.calibration.empty()) return false;
    for (const FairnessMonitor& monitor : attribute.fairness) {
      if (!monitor.Snapshot().groups.empty()) return false;
    }
    return true;
  });
  return absl::OkStatus();
}

absl::StatusOr<ModelMonitors> ModelMonitors::Deserialize(
    absl::string_view bytes, const Options& options) {
  absl::StatusOr<ModelMonitors> created = Create(options);
  if (!created.ok()) return created.status();
  ModelMonitors monitors = *std::move(created);
  state::v1::PaneState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("pane state is not a valid PaneState");
  }
  if (absl::Status status = monitors.FromProto(state); !status.ok()) {
    return status;
  }
  return monitors;
}

}  // namespace vigie::monitors
