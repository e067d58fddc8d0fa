#include "monitors/item_interactions.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "vigie/state/v1/recommendation.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kVersion = 1;

}  // namespace

bool ItemInteractions::Bind(const ItemCatalogue& catalogue) {
  if (events_ == 0) {
    catalogue_size_ = catalogue.size();
    fingerprint_ = catalogue.fingerprint();
    return true;
  }
  return catalogue.fingerprint() == fingerprint_ &&
         catalogue.size() == catalogue_size_;
}

void ItemInteractions::Observe(const ItemCatalogue& catalogue,
                               absl::Span<const absl::string_view> relevant) {
  if (!Bind(catalogue)) {
    ++catalogue_mismatches_;
    return;
  }
  ++events_;
  scratch_.clear();
  for (absl::string_view id : relevant) {
    const uint32_t item = catalogue.Find(id);
    if (item != ItemCatalogue::kUnknownItem) scratch_.push_back(item);
  }
  // A user who names an item twice in one event interacted with it once.
  std::sort(scratch_.begin(), scratch_.end());
  scratch_.erase(std::unique(scratch_.begin(), scratch_.end()), scratch_.end());
  for (uint32_t item : scratch_) ++counts_[item];
}

absl::Status ItemInteractions::Merge(const ItemInteractions& other) {
  if (other.events_ == 0) {
    catalogue_mismatches_ += other.catalogue_mismatches_;
    return absl::OkStatus();
  }
  if (events_ > 0 && (other.fingerprint_ != fingerprint_ ||
                      other.catalogue_size_ != catalogue_size_)) {
    return absl::InvalidArgumentError(
        "item interactions counted against different catalogues do not "
        "merge");
  }
  catalogue_size_ = other.catalogue_size_;
  fingerprint_ = other.fingerprint_;
  events_ += other.events_;
  catalogue_mismatches_ += other.catalogue_mismatches_;
  for (const auto& [item, count] : other.counts_) counts_[item] += count;
  return absl::OkStatus();
}

uint64_t ItemInteractions::count(uint32_t item) const {
  const auto it = counts_.find(item);
  return it == counts_.end() ? 0 : it->second;
}

absl::StatusOr<ItemCatalogue> ItemInteractions::Apply(
    const ItemCatalogue& catalogue) const {
  if (events_ == 0) {
    return absl::FailedPreconditionError("no feedback event was counted");
  }
  if (catalogue.fingerprint() != fingerprint_ ||
      catalogue.size() != catalogue_size_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the feedback was counted against another catalogue (", catalogue_size_,
        " items, fingerprint ", fingerprint_, "); this one has ",
        catalogue.size(), " items, fingerprint ", catalogue.fingerprint()));
  }
  std::vector<uint64_t> users(catalogue.size(), 0);
  for (const auto& [item, count] : counts_) users[item] = count;
  ItemCatalogue learned = catalogue;
  // Counts never exceed events_ (one per event at most), so this holds.
  absl::Status set = learned.SetReferencePopularity(users, events_);
  if (!set.ok()) return set;
  return learned;
}

void ItemInteractions::ToProto(state::v1::ItemInteractionsState* state) const {
  state->Clear();
  state->set_version(kVersion);
  state->set_catalogue_size(catalogue_size_);
  state->set_catalogue_fingerprint(fingerprint_);
  state->set_events(events_);
  state->set_catalogue_mismatches(catalogue_mismatches_);
  std::vector<std::pair<uint32_t, uint64_t>> sorted(counts_.begin(),
                                                    counts_.end());
  std::sort(sorted.begin(), sorted.end());
  state->mutable_items()->Reserve(static_cast<int>(sorted.size()));
  state->mutable_counts()->Reserve(static_cast<int>(sorted.size()));
  for (const auto& [item, count] : sorted) {
    state->add_items(item);
    state->add_counts(count);
  }
}

absl::StatusOr<ItemInteractions> ItemInteractions::FromProto(
    const state::v1::ItemInteractionsState& state) {
  auto invalid = [](auto&&... parts) {
    return absl::DataLossError(
        absl::StrCat("item interactions state: ", parts...));
  };
  if (state.version() != kVersion) {
    return invalid("version ", state.version(), ", expected ", kVersion);
  }
  if (state.items_size() != state.counts_size()) {
    return invalid(state.items_size(), " items but ", state.counts_size(),
                   " counts");
  }
  if (state.events() == 0 && state.items_size() > 0) {
    return invalid("counts without events");
  }
  ItemInteractions interactions;
  interactions.catalogue_size_ = state.catalogue_size();
  interactions.fingerprint_ = state.catalogue_fingerprint();
  interactions.events_ = state.events();
  interactions.catalogue_mismatches_ = state.catalogue_mismatches();
  interactions.counts_.reserve(static_cast<size_t>(state.items_size()));
  for (int i = 0; i < state.items_size(); ++i) {
    const uint32_t item = state.items(i);
    const uint64_t count = state.counts(i);
    if (item >= state.catalogue_size()) {
      return invalid("item ", item, " past the catalogue's ",
                     state.catalogue_size());
    }
    if (i > 0 && item <= state.items(i - 1)) {
      return invalid("items not strictly ascending at ", i);
    }
    if (count == 0 || count > state.events()) {
      return invalid("item ", item, " has count ", count, " of ",
                     state.events(), " events");
    }
    interactions.counts_.emplace(item, count);
  }
  return interactions;
}

}  // namespace vigie::monitors
