#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigie::storage {

// Which (model, prediction id) pairs are pending or joined, and since when,
// in memory: the pending-join store on disk is then read only for a real
// join, never to learn that an id is absent, which is what most look-ups
// find.
//
// A pair is reduced to a 128-bit key (two independently seeded 64-bit
// hashes), so an entry costs about 40 bytes whatever the ids' length: 5
// million pending predictions take about 200 MB. Two distinct pairs share a
// key with probability about n^2 / 2^129, negligible. Keys are per process
// (Abseil seeds its hash), so the index is never written: it is rebuilt from
// the store at start-up.
//
// Thread-compatible.
class JoinIndex {
 public:
  enum class Kind { kPendingPrediction, kPendingOutcome, kJoined };

  struct Key {
    uint64_t high = 0;
    uint64_t low = 0;
    bool operator==(const Key& other) const {
      return high == other.high && low == other.low;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& key) {
      // Already uniformly spread: one word is enough for the table.
      return H::combine(std::move(h), key.low);
    }
  };

  static Key KeyOf(absl::string_view model_id, absl::string_view prediction_id);

  // When the pair became `kind`; empty if it is not.
  std::optional<absl::Time> Find(Kind kind, const Key& key) const;
  void Put(Kind kind, const Key& key, absl::Time since);
  void Erase(Kind kind, const Key& key);
  size_t size(Kind kind) const;

 private:
  using Map = absl::flat_hash_map<Key, int64_t>;  // Unix microseconds.
  Map& map(Kind kind);
  const Map& map(Kind kind) const;

  Map pending_predictions_;
  Map pending_outcomes_;
  Map joined_;
};

}  // namespace vigie::storage
