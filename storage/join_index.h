#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

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
  // Starts loading the memory a look-up of `key` will read.
  void Prefetch(const IdKey& key) const { shard(key).prefetch(key); }
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

// What is known of every (model, prediction id) pair in flight: a pending
// prediction or outcome and where its entry is (PendingJoins), or a join
// (JoinMarks). One map for all three, so that an event costs one look-up,
// 12 bytes of value per pair. The states exclude each other: a pair joined
// has nothing pending, and a prediction and an outcome pending together
// would have been joined.
//
// Between BeginChange and EndChange, changes are journaled so that
// RollbackChange undoes them; outside, they are not (loading millions of
// entries at start-up journals nothing). Thread-compatible.
class JoinIndex {
 public:
  enum class State : uint8_t {
    kPendingPrediction = 1,
    kPendingOutcome = 2,
    kJoined = 3,
  };
  struct Entry {
    State state = State::kJoined;
    uint32_t block = 0;   // Below kMaxBlock.
    uint32_t offset = 0;  // Of the entry in its block.
    uint32_t since = 0;   // ToIndexSeconds of arrival or join.
  };
  // Block numbers fit in 30 bits: the state takes the other two.
  static constexpr uint32_t kMaxBlock = (uint32_t{1} << 30) - 1;

  std::optional<Entry> Find(const IdKey& key) const;
  // Starts loading what Find(key) will read: looking up a request's keys
  // one after the other waits on a cache miss each, prefetched they
  // overlap.
  void Prefetch(const IdKey& key) const { map_.Prefetch(key); }
  void Put(const IdKey& key, const Entry& entry);
  void Erase(const IdKey& key);
  // Pairs in `state`.
  size_t size(State state) const { return counts_[static_cast<size_t>(state)]; }

  void BeginChange();
  void EndChange();
  void RollbackChange();

 private:
  struct Packed {
    uint32_t state_and_block = 0;
    uint32_t offset = 0;
    uint32_t since = 0;
  };
  static Packed Pack(const Entry& entry);
  static Entry Unpack(const Packed& packed);
  void Set(const IdKey& key, const std::optional<Packed>& value);

  IdMap<Packed> map_;
  std::array<size_t, 4> counts_{};
  bool journaling_ = false;
  std::vector<std::pair<IdKey, std::optional<Packed>>> journal_;
};

}  // namespace vigie::storage
