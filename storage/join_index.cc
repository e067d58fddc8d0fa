#include "storage/join_index.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>

#include "absl/hash/hash.h"

namespace vigie::storage {

IdKey IdKey::Of(absl::string_view model_id, absl::string_view prediction_id) {
  // The tuples differ in their last element, so the two hashes of the pair
  // are independent.
  using Tuple = std::tuple<absl::string_view, absl::string_view, int>;
  const uint64_t first = absl::Hash<Tuple>{}({model_id, prediction_id, 1});
  const uint64_t second = absl::Hash<Tuple>{}({model_id, prediction_id, 2});
  return IdKey{static_cast<uint32_t>(first >> 32), static_cast<uint32_t>(first),
               static_cast<uint32_t>(second)};
}

uint32_t ToIndexSeconds(absl::Time t) {
  // Whole seconds and a compare rather than absl::Ceil of a Duration, which
  // divides: every pending event and join mark comes through here.
  if (t <= absl::UnixEpoch()) return 0;
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  int64_t seconds = absl::ToUnixSeconds(t);  // Rounded down.
  if (seconds >= kMax) return static_cast<uint32_t>(kMax);
  if (absl::FromUnixSeconds(seconds) < t) ++seconds;
  return static_cast<uint32_t>(seconds);
}

absl::Time FromIndexSeconds(uint32_t seconds) {
  return absl::FromUnixSeconds(seconds);
}

JoinIndex::Packed JoinIndex::Pack(const Entry& entry) {
  return Packed{
      (static_cast<uint32_t>(entry.state) << 30) | (entry.block & kMaxBlock),
      entry.offset, entry.since};
}

JoinIndex::Entry JoinIndex::Unpack(const Packed& packed) {
  return Entry{static_cast<State>(packed.state_and_block >> 30),
               packed.state_and_block & kMaxBlock, packed.offset, packed.since};
}

std::optional<JoinIndex::Entry> JoinIndex::Find(const IdKey& key) const {
  const Packed* packed = map_.Find(key);
  if (packed == nullptr) return std::nullopt;
  return Unpack(*packed);
}

void JoinIndex::Set(const IdKey& key, const std::optional<Packed>& value) {
  const Packed* before = map_.Find(key);
  if (before != nullptr) --counts_[before->state_and_block >> 30];
  if (journaling_) {
    journal_.emplace_back(
        key, before == nullptr ? std::nullopt : std::optional<Packed>(*before));
  }
  if (value.has_value()) {
    ++counts_[value->state_and_block >> 30];
    map_.Put(key, *value);
  } else if (before != nullptr) {
    map_.Erase(key);
  }
}

void JoinIndex::Put(const IdKey& key, const Entry& entry) {
  Set(key, Pack(entry));
}

void JoinIndex::Erase(const IdKey& key) { Set(key, std::nullopt); }

void JoinIndex::BeginChange() {
  journal_.clear();
  journaling_ = true;
}

void JoinIndex::EndChange() {
  journal_.clear();
  journaling_ = false;
}

void JoinIndex::RollbackChange() {
  journaling_ = false;
  for (auto it = journal_.rbegin(); it != journal_.rend(); ++it) {
    Set(it->first, it->second);
  }
  journal_.clear();
}

}  // namespace vigie::storage
