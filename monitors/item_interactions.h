#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "monitors/item_catalogue.h"

namespace vigie::state::v1 {
class ItemInteractionsState;
}

namespace vigie::monitors {

// A recommendation model's feedback in a reference period, from which its
// items' reference popularity is learned (ItemCatalogue::
// SetReferencePopularity): the feedback events, and per catalogue item the
// events that named it relevant.
//
// What a "user" is. A catalogue's popularity is u_i / U over its reference
// users. Learned from the stream, a reference user is one feedback event:
// one recommendation shown and what its user did with it. Counting distinct
// people instead would need to remember which items each person touched,
// state without bound in the number of people; per event the state is
// bounded by the catalogue, and the two agree when each person sends one
// event. A person who sends many events weighs more, as they do in
// interaction-count popularity (Evidently's, Abdollahpouri et al.).
//
// Exact and mergeable: counts add. Memory: 16 bytes per item named
// relevant at least once (hash map of dense id to count). Thread-
// compatible.
class ItemInteractions {
 public:
  // One feedback event: each item of `relevant` that the catalogue holds
  // counts once (repeats within the event and unknown ids do not); the
  // event counts even when none does (its user interacted with no
  // catalogue item). The first event binds the counts to the catalogue's
  // item order (fingerprint); an event against another catalogue is
  // ignored and counted in catalogue_mismatches(). O(r) hash look-ups and
  // a sort of the r relevant items' dense ids.
  void Observe(const ItemCatalogue& catalogue,
               absl::Span<const absl::string_view> relevant);

  // kInvalidArgument if `other` is bound to another catalogue; *this is
  // then unchanged.
  absl::Status Merge(const ItemInteractions& other);

  uint64_t events() const { return events_; }
  uint64_t catalogue_mismatches() const { return catalogue_mismatches_; }
  // 0 and 0 while unbound.
  uint32_t catalogue_size() const { return catalogue_size_; }
  uint64_t catalogue_fingerprint() const { return fingerprint_; }
  // The events that named dense id `item`.
  uint64_t count(uint32_t item) const;

  // `catalogue` with its reference popularity replaced by these counts:
  // u_i = count(i), U = events(). kFailedPrecondition when no event was
  // counted or the counts are bound to another catalogue (its items
  // differ, or are in another order).
  absl::StatusOr<ItemCatalogue> Apply(const ItemCatalogue& catalogue) const;

  void ToProto(state::v1::ItemInteractionsState* state) const;
  // kDataLoss for a state that is not valid: another version, items out of
  // order or past the catalogue, counts of 0 or above the events.
  static absl::StatusOr<ItemInteractions> FromProto(
      const state::v1::ItemInteractionsState& state);

 private:
  bool Bind(const ItemCatalogue& catalogue);

  uint32_t catalogue_size_ = 0;
  uint64_t fingerprint_ = 0;
  uint64_t events_ = 0;
  uint64_t catalogue_mismatches_ = 0;
  absl::flat_hash_map<uint32_t, uint64_t> counts_;
  // Working memory of Observe; not state.
  std::vector<uint32_t> scratch_;
};

}  // namespace vigie::monitors
