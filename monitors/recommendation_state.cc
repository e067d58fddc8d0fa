// RecommendationMonitor's state: vigie.state.v1.RecommendationState, and
// its checks on the way back.

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/recommendation.h"
#include "monitors/recommendation_internal.h"
#include "vigie/state/v1/recommendation.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;

// How far a sum of n terms each in [0, bound] may stray past n * bound by
// rounding.
double Slack(double n) { return n * (1e-9 + n * 0x1p-52); }

bool InRange(double sum, double n, double bound) {
  return std::isfinite(sum) && sum >= -Slack(n) && sum <= n * bound + Slack(n);
}

}  // namespace

void RecommendationMonitor::ToProto(
    state::v1::RecommendationState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  state->set_exact_items(options_.exact_items);
  state->set_exposure_sample_size(options_.exposure_sample_size);
  state->set_personalization_sample_size(options_.personalization_sample_size);
  state->set_max_sampled_list_length(options_.max_sampled_list_length);
  state->set_serendipity_top_k(options_.serendipity_top_k);
  state->set_catalogue_size(catalogue_size_);
  state->set_catalogue_fingerprint(fingerprint_);
  state->set_ranking_fingerprint(ranking_fingerprint_);
  state->set_lists(lists_);
  state->set_items(items_);
  state->set_unknown_items(unknown_items_);
  state->set_catalogue_mismatches(catalogue_mismatches_);
  state->set_diversity_lists(diversity_lists_);
  state->set_sum_diversity(sum_diversity_);
  state->set_novelty_lists(novelty_lists_);
  state->set_sum_novelty(sum_novelty_);
  state->set_sum_popularity(sum_popularity_);
  for (size_t i = 0; i < exposure_.size(); ++i) {
    if (exposure_[i] == 0) continue;
    state->add_head_indexes(static_cast<uint32_t>(i));
    state->add_head_counts(exposure_[i]);
  }
  std::vector<std::pair<uint32_t, uint64_t>> sorted(sampled_items_.begin(),
                                                    sampled_items_.end());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [item, count] : sorted) {
    state->add_sampled_items(item);
    state->add_sampled_counts(count);
  }
  for (const SampledList& list : sampled_lists_) {
    state::v1::SampledListState* out = state->add_sampled_lists();
    out->set_user_hash(list.user_hash);
    out->set_list_hash(list.list_hash);
    out->mutable_items()->Add(list.items.begin(), list.items.end());
  }
  state->set_feedback_lists(feedback_lists_);
  state->set_hit_lists(hit_lists_);
  state->set_sum_reciprocal_rank(sum_reciprocal_rank_);
  state->set_feedback_items(feedback_items_);
  state->set_hits(hits_);
  state->set_serendipitous_hits(serendipitous_hits_);
}

std::string RecommendationMonitor::Serialize() const {
  state::v1::RecommendationState state;
  ToProto(&state);
  return state.SerializeAsString();
}

absl::StatusOr<RecommendationMonitor> RecommendationMonitor::Deserialize(
    absl::string_view bytes) {
  state::v1::RecommendationState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        "recommendation state is not a valid RecommendationState");
  }
  return FromProto(state);
}

absl::StatusOr<RecommendationMonitor> RecommendationMonitor::FromProto(
    const state::v1::RecommendationState& state) {
  const auto corrupt = [](auto&&... parts) {
    return absl::DataLossError(
        absl::StrCat("recommendation state: ", parts...));
  };
  if (state.version() != kStateVersion) {
    return corrupt("version ", state.version(), ", expected ", kStateVersion);
  }
  Options options;
  options.exact_items = state.exact_items();
  options.exposure_sample_size = state.exposure_sample_size();
  options.personalization_sample_size = state.personalization_sample_size();
  options.max_sampled_list_length = state.max_sampled_list_length();
  options.serendipity_top_k = state.serendipity_top_k();
  if (absl::Status s = ValidateOptions(options); !s.ok()) {
    return corrupt(s.message());
  }
  RecommendationMonitor m(options);
  m.catalogue_size_ = state.catalogue_size();
  m.fingerprint_ = state.catalogue_fingerprint();
  const bool bound = m.catalogue_size_ > 0;
  if (!bound &&
      (state.catalogue_fingerprint() != 0 || state.lists() != 0 ||
       state.items() != 0 || state.head_indexes_size() != 0 ||
       state.sampled_items_size() != 0 || state.sampled_lists_size() != 0)) {
    return corrupt("lists without a catalogue");
  }
  // Lists and their sums.
  const double lists = static_cast<double>(state.lists());
  const double diversity_lists = static_cast<double>(state.diversity_lists());
  const double novelty_lists = static_cast<double>(state.novelty_lists());
  if (state.unknown_items() > state.items() ||
      state.diversity_lists() > state.lists() ||
      state.novelty_lists() > state.lists() ||
      !InRange(state.sum_diversity(), diversity_lists, 2) ||
      !InRange(state.sum_novelty(), novelty_lists, 64) ||
      !InRange(state.sum_popularity(), novelty_lists, 1)) {
    return corrupt("list counts and sums are inconsistent (", lists, " lists, ",
                   state.items(), " items, ", state.unknown_items(),
                   " unknown)");
  }
  if (state.lists() == 0 && state.items() != 0) {
    return corrupt(state.items(), " items in no list");
  }
  m.lists_ = state.lists();
  m.items_ = state.items();
  m.unknown_items_ = state.unknown_items();
  m.catalogue_mismatches_ = state.catalogue_mismatches();
  m.diversity_lists_ = state.diversity_lists();
  m.sum_diversity_ = state.sum_diversity();
  m.novelty_lists_ = state.novelty_lists();
  m.sum_novelty_ = state.sum_novelty();
  m.sum_popularity_ = state.sum_popularity();

  // Exposure: the head's counts, then the tail sample's.
  m.exposure_.assign(m.head_size(), 0);
  const bool ranked = m.catalogue_size_ > options.exact_items;
  if ((state.ranking_fingerprint() != 0) != ranked) {
    return corrupt("ranking fingerprint ", state.ranking_fingerprint(), " for ",
                   m.catalogue_size_, " items and exact_items ",
                   options.exact_items);
  }
  m.ranking_fingerprint_ = state.ranking_fingerprint();
  if (state.head_indexes_size() != state.head_counts_size() ||
      state.sampled_items_size() != state.sampled_counts_size()) {
    return corrupt("exposure indexes and counts differ in number");
  }
  absl::uint128 total = 0;
  for (int i = 0; i < state.head_indexes_size(); ++i) {
    const uint32_t index = state.head_indexes(i);
    const uint64_t count = state.head_counts(i);
    if (index >= m.exposure_.size() || count == 0 ||
        (i > 0 && index <= state.head_indexes(i - 1))) {
      return corrupt("head item ", index, " (count ", count, ") at ", i,
                     " is out of order or range");
    }
    m.exposure_[index] = count;
    total += count;
  }
  if (!ranked && state.sampled_items_size() > 0) {
    return corrupt("a tail sample with the whole catalogue counted");
  }
  if (static_cast<uint64_t>(state.sampled_items_size()) >
      options.exposure_sample_size) {
    return corrupt(state.sampled_items_size(), " sampled items, over ",
                   options.exposure_sample_size);
  }
  for (int i = 0; i < state.sampled_items_size(); ++i) {
    const uint32_t item = state.sampled_items(i);
    const uint64_t count = state.sampled_counts(i);
    if (item >= m.catalogue_size_ || count == 0 ||
        (i > 0 && item <= state.sampled_items(i - 1))) {
      return corrupt("sampled item ", item, " (count ", count, ") at ", i,
                     " is out of order or range");
    }
    m.OfferItem(item, internal::ItemHash(item), count);
    total += count;
  }
  // Every exposure of a catalogue item is counted, unless the tail sample
  // has dropped some, or counts saturated (a merge past 2^64).
  const uint64_t known = state.items() - state.unknown_items();
  const bool dropped = static_cast<uint64_t>(state.sampled_items_size()) >=
                       options.exposure_sample_size;
  const bool saturated = state.items() == ~uint64_t{0};
  if (total > known || (total != known && !dropped && !saturated)) {
    return corrupt("exposure counts sum to ", absl::Uint128Low64(total),
                   ", lists hold ", known, " catalogue items");
  }

  // Personalisation sample.
  if (static_cast<uint64_t>(state.sampled_lists_size()) >
      options.personalization_sample_size) {
    return corrupt(state.sampled_lists_size(), " sampled lists, over ",
                   options.personalization_sample_size);
  }
  for (int i = 0; i < state.sampled_lists_size(); ++i) {
    const state::v1::SampledListState& in = state.sampled_lists(i);
    const auto& items = in.items();
    bool ok =
        (i == 0 || in.user_hash() > state.sampled_lists(i - 1).user_hash()) &&
        !items.empty() &&
        static_cast<uint64_t>(items.size()) <= options.max_sampled_list_length;
    for (int j = 0; ok && j < items.size(); ++j) {
      ok = items[j] < m.catalogue_size_ && (j == 0 || items[j] > items[j - 1]);
    }
    if (!ok) return corrupt("sampled list ", i, " is inconsistent");
    SampledList list;
    list.user_hash = in.user_hash();
    list.list_hash = in.list_hash();
    list.items.assign(items.begin(), items.end());
    // Ascending, checked above: appended as they come, in O(s).
    m.sampled_lists_.push_back(std::move(list));
  }

  if (m.sampled_lists_.size() >= options.personalization_sample_size) {
    m.user_threshold_ = m.sampled_lists_.back().user_hash;
  }

  // Feedback.
  const double hit_lists = static_cast<double>(state.hit_lists());
  if (state.hit_lists() > state.feedback_lists() ||
      state.serendipitous_hits() > state.hits() ||
      state.hits() > state.feedback_items() ||
      state.hit_lists() > state.hits() ||
      !InRange(state.sum_reciprocal_rank(), hit_lists, 1) ||
      (state.hit_lists() > 0) != (state.sum_reciprocal_rank() > 0)) {
    return corrupt("feedback counts are inconsistent (", state.feedback_lists(),
                   " lists, ", state.hit_lists(), " with hits, ", state.hits(),
                   " hits)");
  }
  m.feedback_lists_ = state.feedback_lists();
  m.hit_lists_ = state.hit_lists();
  m.sum_reciprocal_rank_ = state.sum_reciprocal_rank();
  m.feedback_items_ = state.feedback_items();
  m.hits_ = state.hits();
  m.serendipitous_hits_ = state.serendipitous_hits();
  return m;
}

}  // namespace vigie::monitors
