#include "monitors/fairness.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
#include "monitors/stats.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr uint32_t kMinGroups = 2;
constexpr uint32_t kMaxGroups = 100000;

absl::Status ValidateOptions(const FairnessMonitor::Options& options) {
  if (options.max_groups < kMinGroups || options.max_groups > kMaxGroups) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_groups must be in [", kMinGroups, ", ", kMaxGroups,
                     "], got ", options.max_groups));
  }
  return absl::OkStatus();
}

// Compared by Merge and ModelMonitors: the options that shape the state.
// The reference group only shapes the report.
bool SameOptions(const FairnessMonitor::Options& a,
                 const FairnessMonitor::Options& b) {
  return a.max_groups == b.max_groups && a.min_group_size == b.min_group_size;
}

// ---- The short-label table ----

constexpr size_t kMaxSlots = 2048;  // 64 KiB: 512 labels at load 1/4.
constexpr int kMaxProbes = 8;
// Seeds tried per rebuild, and up to how many groups: past it, a seed that
// puts every label home is unlikely to exist and probing is left to cope.
constexpr int kSeedTries = 16;
constexpr size_t kMaxLabelsToSpread = 64;

uint32_t ShiftFor(size_t capacity) {
  return static_cast<uint32_t>(std::countl_zero(capacity) + 1);
}

}  // namespace

// ---- FairnessMonitor::ShortLabelIndex ----

uint32_t FairnessMonitor::ShortLabelIndex::FindPastHome(Key key, size_t length,
                                                        size_t home) const {
  const size_t mask = slots_.size() - 1;
  size_t i = home;
  for (int probe = 1; probe < kMaxProbes; ++probe) {
    i = (i + 1) & mask;
    const Slot& slot = slots_[i];
    if (slot.key0 == key.word0 && slot.key1 == key.word1 &&
        slot.length == length) {
      return slot.index;
    }
    if (slot.length == 0) break;
  }
  return kNotFound;
}

size_t FairnessMonitor::ShortLabelIndex::Fill(
    const std::vector<std::string>& labels, uint64_t seed,
    std::vector<Slot>* slots, uint32_t* placed) {
  std::fill(slots->begin(), slots->end(), Slot{});
  const size_t mask = slots->size() - 1;
  const uint32_t shift = ShiftFor(slots->size());
  size_t displaced = 0;
  *placed = 0;
  for (size_t index = 0; index < labels.size(); ++index) {
    const std::string& label = labels[index];
    const size_t n = label.size();
    if (n - 1 >= kMaxLength) continue;
    if (4 * (size_t{*placed} + 1) > slots->size()) break;  // Load 1/4.
    const Key key = LoadKey(label);
    size_t i = HomeSlot(key, n, seed, shift);
    int probe = 0;
    for (; probe < kMaxProbes; ++probe) {
      Slot& slot = (*slots)[i];
      if (slot.length == 0) {
        slot = Slot{key.word0, key.word1, static_cast<uint32_t>(n),
                    static_cast<uint32_t>(index)};
        ++*placed;
        break;
      }
      i = (i + 1) & mask;
    }
    // Off its home slot, or not placed at all (left to the map).
    if (probe > 0) ++displaced;
  }
  return displaced;
}

void FairnessMonitor::ShortLabelIndex::RebuildWith(
    const std::vector<std::string>& labels, size_t capacity) {
  std::vector<Slot> slots(capacity);
  uint64_t best_seed = 0;
  size_t best_displaced = SIZE_MAX;
  const int tries = labels.size() <= kMaxLabelsToSpread ? kSeedTries : 1;
  for (int t = 0; t < tries && best_displaced > 0; ++t) {
    // Deterministic seeds: the same labels always give the same table.
    const uint64_t seed = static_cast<uint64_t>(t) * 0xA0761D6478BD642Fu;
    uint32_t placed = 0;
    const size_t displaced = Fill(labels, seed, &slots, &placed);
    if (displaced < best_displaced) {
      best_displaced = displaced;
      best_seed = seed;
    }
  }
  Fill(labels, best_seed, &slots, &placed_);
  slots_ = std::move(slots);
  shift_ = ShiftFor(capacity);
  seed_ = best_seed;
}

void FairnessMonitor::ShortLabelIndex::Rebuild(
    const std::vector<std::string>& labels) {
  size_t short_labels = 0;  // None: the empty table of kMinSlots.
  for (const std::string& label : labels) {
    if (label.size() - 1 < kMaxLength) ++short_labels;
  }
  size_t capacity = kMinSlots;
  while (capacity < kMaxSlots && capacity < 4 * short_labels) capacity *= 2;
  RebuildWith(labels, capacity);
}

void FairnessMonitor::ShortLabelIndex::Add(
    const std::vector<std::string>& labels, size_t index) {
  const std::string& label = labels[index];
  const size_t n = label.size();
  if (n - 1 >= kMaxLength) return;
  if (4 * (size_t{placed_} + 1) > slots_.size()) {
    // Grow, or stay full: labels past the cap are found in the map.
    if (slots_.size() < kMaxSlots) {
      RebuildWith(labels, std::max(kMinSlots, 2 * slots_.size()));
    }
    return;
  }
  const Key key = LoadKey(label);
  const size_t mask = slots_.size() - 1;
  size_t i = HomeSlot(key, n, seed_, shift_);
  for (int probe = 0; probe < kMaxProbes; ++probe) {
    Slot& slot = slots_[i];
    if (slot.length == 0) {
      if (probe > 0 && labels.size() <= kMaxLabelsToSpread) {
        // Off its home slot: look for a seed that puts every label home.
        RebuildWith(labels, slots_.size());
        return;
      }
      slot = Slot{key.word0, key.word1, static_cast<uint32_t>(n),
                  static_cast<uint32_t>(index)};
      ++placed_;
      return;
    }
    i = (i + 1) & mask;
  }
  // No free slot within kMaxProbes: the map alone finds this label.
}

absl::StatusOr<FairnessMonitor> FairnessMonitor::Create(
    const Options& options) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) {
    return status;
  }
  return FairnessMonitor(options);
}

size_t FairnessMonitor::GroupIndex(absl::string_view group, bool* overflowed) {
  *overflowed = false;  // For Merge: the hot path inlines Find itself.
  if (const uint32_t index = short_labels_.Find(group);
      index != ShortLabelIndex::kNotFound) {
    return index;
  }
  return GroupIndexSlow(group, overflowed);
}

size_t FairnessMonitor::GroupIndexSlow(absl::string_view group,
                                       bool* overflowed) {
  *overflowed = false;
  if (auto it = index_.find(group); it != index_.end()) return it->second;
  if (labels_.size() < options_.max_groups) return AddGroup(group);
  // Past max_groups, every new group shares the overflow group, which is
  // itself found (or added) by its label; the label itself is no overflow.
  *overflowed = group != kOverflowGroup;
  if (auto it = index_.find(kOverflowGroup); it != index_.end()) {
    return it->second;
  }
  return AddGroup(kOverflowGroup);
}

size_t FairnessMonitor::AddGroup(absl::string_view group) {
  const size_t index = labels_.size();
  labels_.emplace_back(group);
  counts_.emplace_back();
  index_.emplace(labels_.back(), index);
  short_labels_.Add(labels_, index);
  return index;
}

void FairnessMonitor::ObservePredictionSlow(absl::string_view group,
                                            bool decision) {
  // An empty label names no group; ingest counts such events as missing.
  if (group.empty()) return;
  bool overflowed;
  const size_t index = GroupIndexSlow(group, &overflowed);
  if (overflowed) ++overflowed_;
  Counts& counts = counts_[index];
  Increment(counts.predictions);
  if (decision) Increment(counts.selected);
}

void FairnessMonitor::ObserveOutcomeSlow(absl::string_view group, bool decision,
                                         bool label) {
  if (group.empty()) return;
  bool overflowed;
  const size_t index = GroupIndexSlow(group, &overflowed);
  if (overflowed) ++overflowed_;
  Counts& counts = counts_[index];
  Increment(decision
                ? (label ? counts.true_positives : counts.false_positives)
                : (label ? counts.false_negatives : counts.true_negatives));
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
    bool overflowed;
    const size_t index = GroupIndex(other.labels_[i], &overflowed);
    const Counts& from = other.counts_[i];
    Counts& to = counts_[index];
    if (overflowed) {
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
  const double z = NormalQuantile(1 - (1 - kRateConfidence) / 2);
  FairnessMetrics metrics;
  GroupRates& all = metrics.overall;
  all.group = std::string(kOverallGroup);
  all.included_in_gaps = false;  // A reference row, not a group.
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
    FillRates(g, z);
    g.included_in_gaps = c.predictions >= options_.min_group_size;
    AddCounts(all, g);  // Every group counts overall, included or not.
  }
  FillRates(all, z);
  std::sort(metrics.groups.begin(), metrics.groups.end(),
            [](const GroupRates& a, const GroupRates& b) {
              return a.group < b.group;
            });
  std::vector<GroupRates> included;
  for (const GroupRates& g : metrics.groups) {
    if (g.included_in_gaps) included.push_back(g);
  }
  metrics.gaps = ComputeGaps(included, all, options_.reference_group);
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
  monitor.short_labels_.Rebuild(monitor.labels_);
  return monitor;
}

}  // namespace vigie::monitors
