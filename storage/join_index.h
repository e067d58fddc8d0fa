#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigie::storage {

// A (model, prediction id) pair reduced to 96 bits: the key of the
// in-memory indexes of pending joins and join marks, so that an entry costs
// a few tens of bytes whatever the ids' length. Two distinct pairs share a
// key with probability about n^2 / 2^97 (1e-16 for 5 million pairs).
// Keys are per process (Abseil seeds its hash), so they are never written:
// the indexes are rebuilt from the store at start-up.
struct IdKey {
  uint32_t a = 0;
  uint32_t b = 0;
  uint32_t c = 0;

  static IdKey Of(absl::string_view model_id, absl::string_view prediction_id);

  bool operator==(const IdKey& other) const {
    return a == other.a && b == other.b && c == other.c;
  }
  template <typename H>
  friend H AbslHashValue(H h, const IdKey& key) {
    // Already uniformly spread: two words are enough for the table.
    return H::combine(std::move(h), key.b, key.c);
  }
};

// A time to the second, in 4 bytes: how the indexes keep arrival and join
// times. Rounded up, so that an expiry computed from it is never early.
uint32_t ToIndexSeconds(absl::Time t);
absl::Time FromIndexSeconds(uint32_t seconds);

// A hash map from IdKey split into 64 maps by the key's top bits. One map of
// millions of entries would, as it grows, briefly hold its old and new
// tables together (one and a half times its size); a shard holds 1/64th.
template <typename Value>
class IdMap {
 public:
  const Value* Find(const IdKey& key) const {
    const auto& m = shard(key);
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  }
  void Put(const IdKey& key, const Value& value) {
    shard(key).insert_or_assign(key, value);
  }
  void Erase(const IdKey& key) { shard(key).erase(key); }
  size_t size() const {
    size_t n = 0;
    for (const auto& m : shards_) n += m.size();
    return n;
  }

 private:
  using Map = absl::flat_hash_map<IdKey, Value>;
  static constexpr int kShardBits = 6;
  Map& shard(const IdKey& key) { return shards_[key.a >> (32 - kShardBits)]; }
  const Map& shard(const IdKey& key) const {
    return shards_[key.a >> (32 - kShardBits)];
  }
  std::array<Map, size_t{1} << kShardBits> shards_;
};

}  // namespace vigie::storage
