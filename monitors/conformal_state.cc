// ConformalMonitor's state: vigie.state.v1.ConformalState, and its checks
// on the way back.

#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/conformal.h"
#include "monitors/log_histogram.h"
#include "monitors/stats.h"
#include "vigie/state/v1/conformal.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;

template <typename... Parts>
absl::Status Corrupt(const Parts&... parts) {
  return absl::DataLossError(absl::StrCat("conformal state: ", parts...));
}

state::v1::ConformalKind KindToProto(ConformalKind kind) {
  return kind == ConformalKind::kSet ? state::v1::CONFORMAL_KIND_SET
                                     : state::v1::CONFORMAL_KIND_INTERVAL;
}

}  // namespace

void ConformalMonitor::ScopeToProto(const Scope& scope, absl::string_view label,
                                    state::v1::ConformalScopeState* out) const {
  out->set_group(std::string(label));
  for (const Tally& t : scope.tallies) {
    state::v1::ConformalTallyState* tally = out->add_tallies();
    tally->set_count(t.count);
    tally->set_covered(t.covered);
  }
  out->set_empty(scope.empty);
  out->set_full(scope.full);
  out->set_infinite(scope.infinite);
  out->set_sum_size(scope.sum_size);
  scope.sizes.ToProto(out->mutable_sizes());
  for (const Tally& t : scope.by_set_size) {
    state::v1::ConformalTallyState* tally = out->add_by_set_size();
    tally->set_count(t.count);
    tally->set_covered(t.covered);
  }
}

void ConformalMonitor::ToProto(state::v1::ConformalState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  for (const Setting& s : settings_) {
    state::v1::ConformalSettingState* out = state->add_settings();
    out->set_alpha(s.alpha);
    out->set_calibration_size(s.calibration_size);
  }
  state->set_ignored(ignored_);
  scores_.ToProto(state->mutable_scores());
  ScopeToProto(overall_, "", state->mutable_overall());
  for (size_t i = 0; i < groups_.size(); ++i) {
    ScopeToProto(groups_[i], labels_[i], state->add_groups());
  }
  state->set_min_group_size(options_.min_group_size);
  state->set_kind(KindToProto(options_.kind));
  state->set_max_groups(options_.max_groups);
  state->set_max_settings(options_.max_settings);
  state->set_max_set_size(options_.max_set_size);
  state->set_max_buckets(options_.max_buckets);
}

std::string ConformalMonitor::Serialize() const {
  state::v1::ConformalState state;
  ToProto(&state);
  return state.SerializeAsString();
}

absl::StatusOr<ConformalMonitor> ConformalMonitor::Deserialize(
    absl::string_view bytes) {
  state::v1::ConformalState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("conformal state is not a valid ConformalState");
  }
  return FromProto(state);
}

absl::StatusOr<ConformalMonitor::Scope> ConformalMonitor::ScopeFromProto(
    const state::v1::ConformalScopeState& in) const {
  const absl::string_view label = in.group();
  if (in.tallies_size() != static_cast<int>(options_.max_settings) + 1) {
    return Corrupt("group '", label, "' has ", in.tallies_size(),
                   " tallies for ", options_.max_settings, " settings");
  }
  Scope scope = NewScope();
  uint64_t count = 0;
  for (int i = 0; i < in.tallies_size(); ++i) {
    const state::v1::ConformalTallyState& t = in.tallies(i);
    const auto index = static_cast<size_t>(i);
    // Unused settings count nothing; the overflow tally, only once every
    // setting is taken.
    const bool used =
        index < settings_.size() || (index == options_.max_settings &&
                                     settings_.size() == options_.max_settings);
    if (t.covered() > t.count() || (!used && t.count() != 0)) {
      return Corrupt("group '", label, "': tally ", i, " counts ", t.count(),
                     " with ", t.covered(), " covered");
    }
    scope.tallies[index] = {t.count(), t.covered()};
    count = SaturatingAdd(count, t.count());
  }
  if (in.empty() > count || in.full() > count || in.infinite() > count ||
      !std::isfinite(in.sum_size()) || in.sum_size() < 0) {
    return Corrupt("group '", label, "': ", in.empty(), " empty, ", in.full(),
                   " full, ", in.infinite(), " infinite of ", count,
                   ", sizes summing to ", in.sum_size());
  }
  absl::StatusOr<LogHistogram> sizes = LogHistogram::FromProto(in.sizes());
  if (!sizes.ok()) return sizes.status();
  if (sizes->max_buckets() != options_.max_buckets) {
    return Corrupt("group '", label, "': histogram of ", sizes->max_buckets(),
                   " buckets");
  }
  if (options_.kind == ConformalKind::kInterval) {
    // Every finite width is in the histogram, zeros as the empty ones.
    if (in.by_set_size_size() != 0 || sizes->count() != count - in.infinite() ||
        sizes->zeros() != in.empty()) {
      return Corrupt("group '", label, "': ", sizes->count(), " widths with ",
                     sizes->zeros(), " zeros for ", count, " intervals, ",
                     in.infinite(), " infinite and ", in.empty(), " empty");
    }
  } else {
    if (in.by_set_size_size() != static_cast<int>(options_.max_set_size) + 1 ||
        sizes->count() != 0 || in.infinite() != 0) {
      return Corrupt("group '", label, "': ", in.by_set_size_size(),
                     " set sizes for max_set_size ", options_.max_set_size);
    }
    uint64_t by_size = 0;
    for (int i = 0; i < in.by_set_size_size(); ++i) {
      const state::v1::ConformalTallyState& t = in.by_set_size(i);
      if (t.covered() > t.count()) {
        return Corrupt("group '", label, "': set size ", i, " counts ",
                       t.count(), " with ", t.covered(), " covered");
      }
      scope.by_set_size[static_cast<size_t>(i)] = {t.count(), t.covered()};
      by_size = SaturatingAdd(by_size, t.count());
    }
    if (by_size != count || in.by_set_size(0).count() != in.empty()) {
      return Corrupt("group '", label, "': set sizes count ", by_size, " of ",
                     count, ", ", in.by_set_size(0).count(), " of size 0 for ",
                     in.empty(), " empty");
    }
  }
  scope.empty = in.empty();
  scope.full = in.full();
  scope.infinite = in.infinite();
  scope.sum_size = in.sum_size();
  scope.sizes = *std::move(sizes);
  return scope;
}

absl::StatusOr<ConformalMonitor> ConformalMonitor::FromProto(
    const state::v1::ConformalState& state) {
  if (state.version() != kStateVersion) {
    return Corrupt("version ", state.version(), ", expected ", kStateVersion);
  }
  Options options;
  switch (state.kind()) {
    case state::v1::CONFORMAL_KIND_INTERVAL:
      options.kind = ConformalKind::kInterval;
      break;
    case state::v1::CONFORMAL_KIND_SET:
      options.kind = ConformalKind::kSet;
      break;
    default:
      return Corrupt("kind ", static_cast<int>(state.kind()));
  }
  options.max_groups = state.max_groups();
  options.max_settings = state.max_settings();
  options.max_set_size = state.max_set_size();
  options.max_buckets = state.max_buckets();
  options.min_group_size = state.min_group_size();
  if (absl::Status status = Validate(options); !status.ok()) {
    return Corrupt(status.message());
  }
  ConformalMonitor monitor(options);
  if (state.settings_size() > static_cast<int>(options.max_settings)) {
    return Corrupt(state.settings_size(), " settings, over ",
                   options.max_settings);
  }
  for (const state::v1::ConformalSettingState& s : state.settings()) {
    if (!(s.alpha() > 0 && s.alpha() < 1)) return Corrupt("alpha ", s.alpha());
    for (const Setting& seen : monitor.settings_) {
      if (seen.alpha == s.alpha() &&
          seen.calibration_size == s.calibration_size()) {
        return Corrupt("setting (", s.alpha(), ", ", s.calibration_size(),
                       ") repeated");
      }
    }
    monitor.settings_.push_back({s.alpha(), s.calibration_size()});
  }
  if (!state.overall().group().empty()) {
    return Corrupt("the overall scope is labelled '", state.overall().group(),
                   "'");
  }
  absl::StatusOr<Scope> overall = monitor.ScopeFromProto(state.overall());
  if (!overall.ok()) return overall.status();
  monitor.overall_ = *std::move(overall);

  if (state.groups_size() > static_cast<int>(options.max_groups) + 1) {
    return Corrupt(state.groups_size(), " groups, over ", options.max_groups,
                   " and the overflow group");
  }
  // Each observation is in at most one group: per tally, the groups sum to
  // at most the whole.
  std::vector<uint64_t> grouped(options.max_settings + size_t{1}, 0);
  for (const state::v1::ConformalScopeState& g : state.groups()) {
    if (g.group().empty() || monitor.index_.contains(g.group())) {
      return Corrupt("group label '", g.group(), "' empty or repeated");
    }
    absl::StatusOr<Scope> scope = monitor.ScopeFromProto(g);
    if (!scope.ok()) return scope.status();
    for (size_t i = 0; i < grouped.size(); ++i) {
      grouped[i] = SaturatingAdd(grouped[i], scope->tallies[i].count);
    }
    monitor.index_.emplace(g.group(),
                           static_cast<uint32_t>(monitor.labels_.size()));
    monitor.labels_.push_back(g.group());
    monitor.groups_.push_back(*std::move(scope));
  }
  // Past max_groups only the overflow group may be added.
  if (monitor.labels_.size() > options.max_groups &&
      !monitor.index_.contains(kOverflowGroup)) {
    return Corrupt(monitor.labels_.size(), " groups without '", kOverflowGroup,
                   "', over ", options.max_groups);
  }
  for (size_t i = 0; i < grouped.size(); ++i) {
    if (grouped[i] > monitor.overall_.tallies[i].count) {
      return Corrupt("groups count ", grouped[i], " for tally ", i,
                     ", the whole ", monitor.overall_.tallies[i].count);
    }
  }
  absl::StatusOr<LogHistogram> scores = LogHistogram::FromProto(state.scores());
  if (!scores.ok()) return scores.status();
  uint64_t total = 0;
  for (const Tally& t : monitor.overall_.tallies) {
    total = SaturatingAdd(total, t.count);
  }
  if (scores->max_buckets() != options.max_buckets || scores->count() > total ||
      (options.kind == ConformalKind::kSet && scores->count() != 0)) {
    return Corrupt(scores->count(), " scores in ", scores->max_buckets(),
                   " buckets for ", total, " observations");
  }
  monitor.scores_ = *std::move(scores);
  monitor.ignored_ = state.ignored();
  return monitor;
}

}  // namespace vigie::monitors
