// PerformanceEstimateMonitor's persisted state.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/performance_estimate.h"
#include "monitors/stats.h"
#include "proto/proto_bytes.h"
#include "vigie/state/v1/performance.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kVersion = 1;

}  // namespace

void PerformanceEstimateMonitor::ScopeToProto(
    const Scope& scope, state::v1::PerformanceScopeState* state) {
  state->mutable_negative_decisions()->Add(scope.negative_decisions.begin(),
                                           scope.negative_decisions.end());
  state->mutable_positive_decisions()->Add(scope.positive_decisions.begin(),
                                           scope.positive_decisions.end());
  state->mutable_labelled()->Add(scope.labelled.begin(), scope.labelled.end());
  state->mutable_labelled_positives()->Add(scope.labelled_positives.begin(),
                                           scope.labelled_positives.end());
  state->set_true_positives(scope.true_positives);
  state->set_false_positives(scope.false_positives);
  state->set_true_negatives(scope.true_negatives);
  state->set_false_negatives(scope.false_negatives);
}

void PerformanceEstimateMonitor::ToProto(
    state::v1::PerformanceEstimateState* state) const {
  state->set_version(kVersion);
  state->set_num_bins(static_cast<uint32_t>(options_.num_bins));
  state->set_ignored(ignored_);
  state->set_max_groups(options_.max_groups);
  ScopeToProto(model_, state->mutable_model());
  for (const auto& [attribute, groups] : groups_) {
    auto* out =
        (*state->mutable_groups_by_attribute())[attribute].mutable_groups();
    for (const auto& [group, scope] : groups) {
      ScopeToProto(scope, &(*out)[group]);
    }
  }
}

std::string PerformanceEstimateMonitor::Serialize() const {
  state::v1::PerformanceEstimateState state;
  ToProto(&state);
  return DeterministicBytes(state);
}

absl::StatusOr<PerformanceEstimateMonitor::Scope>
PerformanceEstimateMonitor::ScopeFromProto(
    const state::v1::PerformanceScopeState& state, int num_bins) {
  const auto bins = static_cast<size_t>(num_bins);
  if (static_cast<size_t>(state.negative_decisions_size()) != bins ||
      static_cast<size_t>(state.positive_decisions_size()) != bins ||
      static_cast<size_t>(state.labelled_size()) != bins ||
      static_cast<size_t>(state.labelled_positives_size()) != bins) {
    return absl::DataLossError(absl::StrCat(
        "performance estimate state: a scope's bins are not ", num_bins));
  }
  Scope scope;
  scope.negative_decisions.assign(state.negative_decisions().begin(),
                                  state.negative_decisions().end());
  scope.positive_decisions.assign(state.positive_decisions().begin(),
                                  state.positive_decisions().end());
  scope.labelled.assign(state.labelled().begin(), state.labelled().end());
  scope.labelled_positives.assign(state.labelled_positives().begin(),
                                  state.labelled_positives().end());
  uint64_t pairs = 0, positives = 0;
  for (size_t b = 0; b < bins; ++b) {
    if (scope.labelled_positives[b] > scope.labelled[b]) {
      return absl::DataLossError(absl::StrCat(
          "performance estimate state: bin ", b, " has ",
          scope.labelled_positives[b], " positives of ", scope.labelled[b]));
    }
    pairs = SaturatingAdd(pairs, scope.labelled[b]);
    positives = SaturatingAdd(positives, scope.labelled_positives[b]);
  }
  scope.true_positives = state.true_positives();
  scope.false_positives = state.false_positives();
  scope.true_negatives = state.true_negatives();
  scope.false_negatives = state.false_negatives();
  const uint64_t confusion =
      SaturatingAdd(SaturatingAdd(scope.true_positives, scope.false_positives),
                    SaturatingAdd(scope.true_negatives, scope.false_negatives));
  if (confusion != pairs ||
      SaturatingAdd(scope.true_positives, scope.false_negatives) != positives) {
    return absl::DataLossError(
        "performance estimate state: confusion counts do not match the "
        "labelled bins");
  }
  return scope;
}

absl::StatusOr<PerformanceEstimateMonitor>
PerformanceEstimateMonitor::FromProto(
    const state::v1::PerformanceEstimateState& state) {
  if (state.version() != kVersion) {
    return absl::DataLossError(absl::StrCat(
        "performance estimate state: unknown version ", state.version()));
  }
  Options options;
  if (state.num_bins() < static_cast<uint32_t>(kMinBins) ||
      state.num_bins() > static_cast<uint32_t>(kMaxBins)) {
    return absl::DataLossError(absl::StrCat(
        "performance estimate state: num_bins ", state.num_bins()));
  }
  options.num_bins = static_cast<int>(state.num_bins());
  options.max_groups = state.max_groups();
  if (!Create(options).ok()) {
    return absl::DataLossError(absl::StrCat(
        "performance estimate state: max_groups ", state.max_groups()));
  }
  PerformanceEstimateMonitor monitor(options);
  absl::StatusOr<Scope> model = ScopeFromProto(state.model(), options.num_bins);
  if (!model.ok()) return model.status();
  monitor.model_ = *std::move(model);
  for (const auto& [attribute, groups] : state.groups_by_attribute()) {
    if (static_cast<uint64_t>(groups.groups_size()) >
        uint64_t{options.max_groups} + 1) {
      return absl::DataLossError(
          absl::StrCat("performance estimate state: attribute '", attribute,
                       "' has ", groups.groups_size(),
                       " groups, above max_groups ", options.max_groups));
    }
    auto& mine = monitor.groups_[attribute];
    for (const auto& [group, scope_state] : groups.groups()) {
      absl::StatusOr<Scope> scope =
          ScopeFromProto(scope_state, options.num_bins);
      if (!scope.ok()) return scope.status();
      mine.emplace(group, *std::move(scope));
    }
  }
  monitor.ignored_ = state.ignored();
  return monitor;
}

absl::StatusOr<PerformanceEstimateMonitor>
PerformanceEstimateMonitor::Deserialize(absl::string_view bytes) {
  state::v1::PerformanceEstimateState state;
  if (!state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("performance estimate state does not parse");
  }
  return FromProto(state);
}

}  // namespace vigie::monitors
