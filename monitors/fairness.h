#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "monitors/fairness_gaps.h"
#include "monitors/stats.h"

namespace vigie::state::v1 {
class FairnessState;
}

namespace vigie::monitors {

struct FairnessMetrics {
  std::vector<GroupRates> groups;  // Sorted by group label.
  // All groups together, included or not (overflow group too); its label is
  // FairnessMonitor::kOverallGroup.
  GroupRates overall;
  FairnessGaps gaps;  // Over groups with included_in_gaps.
};

// Per-group confusion counts of a binary classifier for one group attribute
// (e.g. race), and the fairness gaps between its groups. Per group and
// overall: count, selection rate, base rate, TPR, FPR, TNR, FNR, PPV, NPV,
// FDR, FOR and accuracy, each with its Wilson 95% interval. Gaps (Fairlearn's
// definitions): demographic parity, equal opportunity, FPR parity,
// equalized odds and predictive parity as max - min and min / max, each
// group against the overall and the reference group, and a test of each
// max - min pair.
//
// Label-free counts (predictions, selected) update on the prediction;
// confusion counts update when the outcome is joined, so a group's
// `predictions` may exceed its `labeled()`.
//
// Exact: counts are integers, so merging the states of two sub-streams gives
// the whole stream's Snapshot() exactly.
// Thread-compatible: const methods may run concurrently; others need a
// single owner.
class FairnessMonitor {
 public:
  // Label of the group that collects observations past max_groups.
  static constexpr absl::string_view kOverflowGroup = "(other)";
  // Label of FairnessMetrics::overall.
  static constexpr absl::string_view kOverallGroup = "(overall)";

  struct Options {
    // Distinct groups kept; later new groups are counted in kOverflowGroup,
    // so memory stays bounded. Default: 1000. Range: [2, 100000].
    uint32_t max_groups = 1000;
    // Groups with fewer predictions are reported but left out of the gaps
    // (insufficient data, never mixed in). Default: 0 (all groups).
    uint64_t min_group_size = 0;
    // Group the ratios to a reference are taken against. Default: empty,
    // the included group with the most predictions (ties: the label first
    // in byte order). A reporting choice, not state: not serialized (a
    // deserialized monitor has it empty until set_reference_group), and
    // Merge neither compares nor changes it.
    std::string reference_group = "";
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<FairnessMonitor> Create(const Options& options);

  // O(1) expected and allocation-free for a known group: labels of up to 16
  // bytes are found in a small open-addressing table keyed by their bytes,
  // longer ones (and any the table could not place) in a hash map. An
  // empty `group` names no group and is ignored (ingest counts it missing).
  void ObservePrediction(absl::string_view group, bool decision);
  // O(1) expected. Counts the joined pair in the confusion counts.
  void ObserveOutcome(absl::string_view group, bool decision, bool label);

  // O(groups). kInvalidArgument if `other` has another max_groups or
  // min_group_size; *this is then unchanged. Groups new to *this are
  // appended in other's order (those past max_groups go to kOverflowGroup).
  absl::Status Merge(const FairnessMonitor& other);

  // O(groups log groups), plus the tests of the gaps.
  FairnessMetrics Snapshot() const;

  const Options& options() const { return options_; }
  void set_reference_group(std::string group) {
    options_.reference_group = std::move(group);
  }

  std::string Serialize() const;  // A vigie.state.v1.FairnessState.
  void ToProto(state::v1::FairnessState* state) const;
  // kDataLoss for bytes that are not a valid FairnessState (truncated,
  // garbage, out-of-range options, duplicate groups, inconsistent counts).
  static absl::StatusOr<FairnessMonitor> Deserialize(absl::string_view bytes);
  static absl::StatusOr<FairnessMonitor> FromProto(
      const state::v1::FairnessState& state);

 private:
  struct Counts {
    uint64_t predictions = 0;
    uint64_t selected = 0;
    uint64_t true_positives = 0;
    uint64_t false_positives = 0;
    uint64_t true_negatives = 0;
    uint64_t false_negatives = 0;
  };
  // Labels of 1 to 16 bytes by their bytes, in front of index_ on the hot
  // path: an open-addressing table (linear probing, load at most 1/4, at
  // most 512 labels) whose key is the label's length and its bytes packed
  // into two words, an exact encoding, so that a hit needs no string
  // compare. Labels it cannot place within 8 probes stay in index_ only,
  // which bounds a look-up even under adversarial labels.
  class ShortLabelIndex {
   public:
    static constexpr uint32_t kNotFound = ~uint32_t{0};
    static constexpr size_t kMaxLength = 16;  // Longer labels: index_ only.
    static constexpr size_t kMinSlots = 16;

    // Never empty, so that Find needs no check: 512 bytes to start with.
    ShortLabelIndex() : slots_(kMinSlots), shift_(60) {}
    // Index added with `label`, or kNotFound. O(1): at most 8 probes.
    uint32_t Find(absl::string_view label) const;
    // Indexes labels[index] if it is short and there is room; may rebuild.
    void Add(const std::vector<std::string>& labels, size_t index);
    // Indexes every label of `labels` that fits.
    void Rebuild(const std::vector<std::string>& labels);

   private:
    // A label of 1 to 16 bytes as two words; with its length, an exact
    // encoding (see LoadKey).
    struct Key {
      uint64_t word0 = 0;
      uint64_t word1 = 0;
    };
    static Key LoadKey(absl::string_view label);
    static size_t HomeSlot(const Key& key, size_t length, uint64_t seed,
                           uint32_t shift);
    // Find past the home slot: the rest of the probe sequence.
    uint32_t FindPastHome(Key key, size_t length, size_t home) const;
    // 32 bytes, aligned: a slot never straddles two cache lines.
    struct alignas(32) Slot {
      uint64_t key0 = 0;
      uint64_t key1 = 0;
      uint32_t length = 0;  // 0: empty.
      uint32_t index = 0;
    };
    // Fills `slots` from `labels` under `seed`; returns how many labels sit
    // off their home slot, and sets *placed.
    static size_t Fill(const std::vector<std::string>& labels, uint64_t seed,
                       std::vector<Slot>* slots, uint32_t* placed);
    // Refills with `capacity` slots, picking among a few seeds the one that
    // leaves the fewest labels off their home slot (a miss costs a
    // mispredicted branch on the hot path).
    void RebuildWith(const std::vector<std::string>& labels, size_t capacity);

    std::vector<Slot> slots_;  // Power-of-two size, at least kMinSlots.
    uint32_t shift_;           // 64 - log2(slots_.size()).
    uint32_t placed_ = 0;      // Labels in slots_.
    uint64_t seed_ = 0;
  };

  explicit FairnessMonitor(const Options& options) : options_(options) {}
  // Index of `group` in counts_, adding it (or the overflow group) if new;
  // sets *overflowed when `group` was routed to the overflow group.
  size_t GroupIndex(absl::string_view group, bool* overflowed);
  // GroupIndex past the short-label table.
  size_t GroupIndexSlow(absl::string_view group, bool* overflowed);
  size_t AddGroup(absl::string_view group);
  // Observe* for groups the short-label table does not hold: empty, long,
  // new or overflowing labels.
  void ObservePredictionSlow(absl::string_view group, bool decision);
  void ObserveOutcomeSlow(absl::string_view group, bool decision, bool label);
  static void Increment(uint64_t& count) {
    // Saturates rather than wraps, as every count does.
    count += count != ~uint64_t{0} ? 1 : 0;
  }

  Options options_;
  std::vector<std::string> labels_;  // Parallel to counts_.
  std::vector<Counts> counts_;
  absl::flat_hash_map<std::string, size_t> index_;  // Every group.
  ShortLabelIndex short_labels_;                    // Most of them.
  uint64_t overflowed_ = 0;
};

// The hot path, inline so that a caller's loop over events pays no call for
// a known group: a short-label look-up and the counter updates.

inline void FairnessMonitor::ObservePrediction(absl::string_view group,
                                               bool decision) {
  const uint32_t index = short_labels_.Find(group);
  if (ABSL_PREDICT_FALSE(index == ShortLabelIndex::kNotFound)) {
    ObservePredictionSlow(group, decision);
    return;
  }
  Counts& counts = counts_[index];
  Increment(counts.predictions);
  if (decision) Increment(counts.selected);
}

inline void FairnessMonitor::ObserveOutcome(absl::string_view group,
                                            bool decision, bool label) {
  const uint32_t index = short_labels_.Find(group);
  if (ABSL_PREDICT_FALSE(index == ShortLabelIndex::kNotFound)) {
    ObserveOutcomeSlow(group, decision, label);
    return;
  }
  Counts& counts = counts_[index];
  Increment(decision
                ? (label ? counts.true_positives : counts.false_positives)
                : (label ? counts.false_negatives : counts.true_negatives));
}

inline uint32_t FairnessMonitor::ShortLabelIndex::Find(
    absl::string_view label) const {
  const size_t n = label.size();
  // One unsigned compare for 1 <= n <= 16.
  if (n - 1 >= kMaxLength) return kNotFound;
  const Key key = LoadKey(label);
  const size_t home = HomeSlot(key, n, seed_, shift_);
  const Slot& slot = slots_[home];
  // Once RebuildWith has spread the labels, the home slot is the only
  // probe; the rest stays out of line.
  if (ABSL_PREDICT_TRUE(((slot.key0 ^ key.word0) | (slot.key1 ^ key.word1) |
                         (slot.length ^ n)) == 0)) {
    return slot.index;
  }
  if (slot.length == 0) return kNotFound;  // Inserts take the first empty.
  return FindPastHome(key, n, home);
}

// From 4 bytes up, four 4-byte loads at offsets fixed by the length n: 0,
// s = min(4, n - 4), n - 4 - s and n - 4. They cover every byte ([0, 8) and
// [n - 8, n) when n >= 8, overlapping below) with no branch on the length,
// so that labels of mixed lengths cost no misprediction.
inline FairnessMonitor::ShortLabelIndex::Key
FairnessMonitor::ShortLabelIndex::LoadKey(absl::string_view label) {
  const char* p = label.data();
  const size_t n = label.size();
  const auto load32 = [](const char* at) {
    uint32_t word;
    std::memcpy(&word, at, sizeof(word));
    return uint64_t{word};
  };
  if (n >= 4) {
    const size_t last = n - 4;
    const size_t second = std::min<size_t>(last, 4);
    return {load32(p) | load32(p + second) << 32,
            load32(p + (last - second)) | load32(p + last) << 32};
  }
  const auto byte = [p](size_t i) {
    return uint64_t{static_cast<unsigned char>(p[i])};
  };
  return {byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16, 0};
}

// The top bits of two products, each of which spreads every bit of its
// word into its top bits; independent, so that they multiply in parallel.
// The seed lets a rebuild move colliding labels apart.
inline size_t FairnessMonitor::ShortLabelIndex::HomeSlot(const Key& key,
                                                         size_t length,
                                                         uint64_t seed,
                                                         uint32_t shift) {
  const uint64_t h = ((key.word0 ^ seed) * 0x9E3779B97F4A7C15u) ^
                     ((key.word1 + length) * 0xD6E8FEB86659FD93u);
  return static_cast<size_t>(h >> shift);
}

}  // namespace vigie::monitors
