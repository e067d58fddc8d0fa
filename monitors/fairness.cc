#include "monitors/fairness.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr uint32_t kMinGroups = 2;
constexpr uint32_t kMaxGroups = 100000;

// Counts saturate rather than wrap, so that a merge of adversarial (yet
// valid) states keeps selected <= predictions and still deserializes.
uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b
             ? std::numeric_limits<uint64_t>::max()
             : a + b;
}

std::optional<double> Ratio(uint64_t numerator, uint64_t denominator) {
  if (denominator == 0) return std::nullopt;
  return static_cast<double>(numerator) / static_cast<double>(denominator);
}

absl::Status ValidateOptions(const FairnessMonitor::Options& options) {
  if (options.max_groups < kMinGroups || options.max_groups > kMaxGroups) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_groups must be in [", kMinGroups, ", ", kMaxGroups,
                     "], got ", options.max_groups));
  }
  return absl::OkStatus();
}

bool SameOptions(const FairnessMonitor::Options& a,
                 const FairnessMonitor::Options& b) {
  return a.max_groups == b.max_groups && a.min_group_size == b.min_group_size;
}

// Highest and lowest value of one rate over the groups that define it.
struct Extremes {
  int defined = 0;  // Groups with the rate defined.
  double high = 0;
  double low = 0;
  GapValue gap;  // Groups only; the caller sets the value.
};

// Strict comparisons keep the first group on a tie.
template <typename Rate>
Extremes FindExtremes(absl::Span<const GroupRates> groups, Rate rate) {
  Extremes e;
  for (const GroupRates& group : groups) {
    const std::optional<double>& value = rate(group);
    if (!value.has_value()) continue;
    if (e.defined == 0 || *value > e.high) {
      e.high = *value;
      e.gap.high_group = group.group;
    }
    if (e.defined == 0 || *value < e.low) {
      e.low = *value;
      e.gap.low_group = group.group;
    }
    ++e.defined;
  }
  return e;
}

template <typename Rate>
GapValue Difference(absl::Span<const GroupRates> groups, Rate rate) {
  Extremes e = FindExtremes(groups, rate);
  if (e.defined < 2) return GapValue{};
  e.gap.value = e.high - e.low;
  return std::move(e.gap);
}

}  // namespace

FairnessGaps ComputeGaps(absl::Span<const GroupRates> groups) {
  const auto selection = [](const GroupRates& g) -> const auto& {
    return g.selection_rate;
  };
  const auto tpr = [](const GroupRates& g) -> const auto& {
    return g.true_positive_rate;
  };
  const auto fpr = [](const GroupRates& g) -> const auto& {
    return g.false_positive_rate;
  };

  FairnessGaps gaps;
  gaps.demographic_parity_difference = Difference(groups, selection);
  gaps.true_positive_rate_difference = Difference(groups, tpr);
  gaps.false_positive_rate_difference = Difference(groups, fpr);

  // A ratio with a zero denominator (no group selected) is undefined.
  if (Extremes e = FindExtremes(groups, selection);
      e.defined >= 2 && e.high > 0) {
    e.gap.value = e.low / e.high;
    gaps.demographic_parity_ratio = std::move(e.gap);
  }

  // max(TPR gap, FPR gap) is undefined unless both are defined: reporting
  // the one available would understate a gap nobody could measure.
  const GapValue& tpr_gap = gaps.true_positive_rate_difference;
  const GapValue& fpr_gap = gaps.false_positive_rate_difference;
  if (tpr_gap.value.has_value() && fpr_gap.value.has_value()) {
    gaps.equalized_odds_difference =
        *fpr_gap.value > *tpr_gap.value ? fpr_gap : tpr_gap;
  }
  return gaps;
}

absl::StatusOr<FairnessMonitor> FairnessMonitor::Create(
    const Options& options) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) {
    return status;
  }
  return FairnessMonitor(options);
}

size_t FairnessMonitor::GroupIndex(absl::string_view group) {
  if (auto it = index_.find(group); it != index_.end()) return it->second;
  // Past max_groups, every new group shares the overflow group, which is
  // itself found (or added) by its label.
  if (labels_.size() >= options_.max_groups) {
    if (auto it = index_.find(kOverflowGroup); it != index_.end()) {
      return it->second;
    }
    group = kOverflowGroup;
  }
  const size_t index = labels_.size();
  labels_.emplace_back(group);
  counts_.emplace_back();
  index_.emplace(labels_.back(), index);
  return index;
}

void FairnessMonitor::ObservePrediction(absl::string_view group,
                                        bool decision) {
  // An empty label names no group; ingest counts such events as missing.
  if (group.empty()) return;
  const size_t index = GroupIndex(group);
  if (labels_[index] != group) ++overflowed_;
  Counts& counts = counts_[index];
  counts.predictions = SaturatingAdd(counts.predictions, 1);
  if (decision) counts.selected = SaturatingAdd(counts.selected, 1);
}

void FairnessMonitor::ObserveOutcome(absl::string_view group, bool decision,
                                     bool label) {
  if (group.empty()) return;
  const size_t index = GroupIndex(group);
  if (labels_[index] != group) ++overflowed_;
  Counts& counts = counts_[index];
  uint64_t& cell =
      decision ? (label ? counts.true_positives : counts.false_positives)
               : (label ? counts.false_negatives : counts.true_negatives);
  cell = SaturatingAdd(cell, 1);
}

absl::Status FairnessMonitor::Merge(const FairnessMonitor& other) {
  if (!SameOptions(options_, other.options_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge fairness monitors with different options: max_groups ",
        options_.max_groups, " vs ", other.options_.max_groups,
        ", min_group_size ", options_.min_group_size, " vs ",
        other.options_.min_group_size));
  }
  // Merging into itself would append to the vectors being read: the copy
  // is the point.
  if (&other == this) {
    // NOLINTNEXTLINE(performance-unnecessary-copy-initialization)
    const FairnessMonitor copy = other;
    return Merge(copy);
  }
  overflowed_ = SaturatingAdd(overflowed_, other.overflowed_);
  for (size_t i = 0; i < other.labels_.size(); ++i) {
    const size_t index = GroupIndex(other.labels_[i]);
    const Counts& from = other.counts_[i];
    Counts& to = counts_[index];
    if (labels_[index] != other.labels_[i]) {
      overflowed_ = SaturatingAdd(
          overflowed_,
          SaturatingAdd(
              from.predictions,
              SaturatingAdd(
                  SaturatingAdd(from.true_positives, from.false_positives),
                  SaturatingAdd(from.true_negatives, from.false_negatives))));
    }
    to.predictions = SaturatingAdd(to.predictions, from.predictions);
    to.selected = SaturatingAdd(to.selected, from.selected);
    to.true_positives = SaturatingAdd(to.true_positives, from.true_positives);
    to.false_positives =
        SaturatingAdd(to.false_positives, from.false_positives);
    to.true_negatives = SaturatingAdd(to.true_negatives, from.true_negatives);
    to.false_negatives =
        SaturatingAdd(to.false_negatives, from.false_negatives);
  }
  return absl::OkStatus();
}

FairnessMetrics FairnessMonitor::Snapshot() const {
  FairnessMetrics metrics;
  metrics.groups.reserve(labels_.size());
  for (size_t i = 0; i < labels_.size(); ++i) {
    const Counts& c = counts_[i];
    GroupRates& g = metrics.groups.emplace_back();
    g.group = labels_[i];
    g.predictions = c.predictions;
    g.selected = c.selected;
    g.true_positives = c.true_positives;
    g.false_positives = c.false_positives;
    g.true_negatives = c.true_negatives;
    g.false_negatives = c.false_negatives;
    g.selection_rate = Ratio(c.selected, c.predictions);
    g.true_positive_rate = Ratio(
        c.true_positives, SaturatingAdd(c.true_positives, c.false_negatives));
    g.false_positive_rate = Ratio(
        c.false_positives, SaturatingAdd(c.false_positives, c.true_negatives));
    g.false_negative_rate = Ratio(
        c.false_negatives, SaturatingAdd(c.false_negatives, c.true_positives));
    g.precision = Ratio(c.true_positives,
                        SaturatingAdd(c.true_positives, c.false_positives));
    g.included_in_gaps = c.predictions >= options_.min_group_size;
  }
  std::sort(metrics.groups.begin(), metrics.groups.end(),
            [](const GroupRates& a, const GroupRates& b) {
              return a.group < b.group;
            });
  std::vector<GroupRates> included;
  for (const GroupRates& g : metrics.groups) {
    if (g.included_in_gaps) included.push_back(g);
  }
  metrics.gaps = ComputeGaps(included);
  return metrics;
}

void FairnessMonitor::ToProto(state::v1::FairnessState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  state->set_max_groups(options_.max_groups);
  state->set_min_group_size(options_.min_group_size);
  state->set_overflowed(overflowed_);
  state->mutable_groups()->Reserve(static_cast<int>(labels_.size()));
  for (size_t i = 0; i < labels_.size(); ++i) {
    const Counts& c = counts_[i];
    state::v1::GroupCountsState* g = state->add_groups();
    g->set_group(labels_[i]);
    g->set_predictions(c.predictions);
    g->set_selected(c.selected);
    g->set_true_positives(c.true_positives);
    g->set_false_positives(c.false_positives);
    g->set_true_negatives(c.true_negatives);
    g->set_false_negatives(c.false_negatives);
  }
}

std::string FairnessMonitor::Serialize() const {
  state::v1::FairnessState state;
  ToProto(&state);
  return state.SerializeAsString();
}

absl::StatusOr<FairnessMonitor> FairnessMonitor::Deserialize(
    absl::string_view bytes) {
  state::v1::FairnessState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("fairness state is not a valid FairnessState");
  }
  return FromProto(state);
}

absl::StatusOr<FairnessMonitor> FairnessMonitor::FromProto(
    const state::v1::FairnessState& state) {
  if (state.version() != kStateVersion) {
    return absl::DataLossError(absl::StrCat("fairness state has version ",
                                            state.version(), ", expected ",
                                            kStateVersion));
  }
  Options options;
  options.max_groups = state.max_groups();
  options.min_group_size = state.min_group_size();
  if (absl::Status status = ValidateOptions(options); !status.ok()) {
    return absl::DataLossError(
        absl::StrCat("fairness state: ", status.message()));
  }
  FairnessMonitor monitor(options);
  monitor.overflowed_ = state.overflowed();
  const size_t size = static_cast<size_t>(state.groups_size());
  // Only the overflow group may sit past max_groups, and labels are unique,
  // so at most max_groups + 1 groups.
  if (size > options.max_groups + size_t{1}) {
    return absl::DataLossError(absl::StrCat("fairness state has ", size,
                                            " groups, max_groups is ",
                                            options.max_groups));
  }
  monitor.labels_.reserve(size);
  monitor.counts_.reserve(size);
  for (size_t i = 0; i < size; ++i) {
    const state::v1::GroupCountsState& g = state.groups(static_cast<int>(i));
    if (g.group().empty()) {
      return absl::DataLossError(
          absl::StrCat("fairness state: group ", i, " has an empty label"));
    }
    if (i >= options.max_groups && g.group() != kOverflowGroup) {
      return absl::DataLossError(
          absl::StrCat("fairness state: group '", g.group(), "' is past ",
                       "max_groups ", options.max_groups));
    }
    if (g.selected() > g.predictions()) {
      return absl::DataLossError(absl::StrCat(
          "fairness state: group '", g.group(), "' has ", g.selected(),
          " selected of ", g.predictions(), " predictions"));
    }
    if (!monitor.index_.emplace(g.group(), i).second) {
      return absl::DataLossError(absl::StrCat("fairness state: group '",
                                              g.group(), "' appears twice"));
    }
    monitor.labels_.push_back(g.group());
    monitor.counts_.push_back(Counts{g.predictions(), g.selected(),
                                     g.true_positives(), g.false_positives(),
                                     g.true_negatives(), g.false_negatives()});
  }
  if (monitor.overflowed_ > 0 && !monitor.index_.contains(kOverflowGroup)) {
    return absl::DataLossError(
        absl::StrCat("fairness state counts ", monitor.overflowed_,
                     " overflowed observations but has no overflow group"));
  }
  return monitor;
}

}  // namespace vigie::monitors
