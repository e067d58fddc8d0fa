#include "storage/join_index.h"

#include <optional>
#include <tuple>
#include <utility>

#include "absl/hash/hash.h"

namespace vigie::storage {

JoinIndex::Key JoinIndex::KeyOf(absl::string_view model_id,
                                absl::string_view prediction_id) {
  // The tuples differ in their last element, so the two halves are
  // independent hashes of the pair.
  return Key{
      absl::Hash<std::tuple<absl::string_view, absl::string_view, int>>{}(
          {model_id, prediction_id, 1}),
      absl::Hash<std::tuple<absl::string_view, absl::string_view, int>>{}(
          {model_id, prediction_id, 2})};
}

std::optional<absl::Time> JoinIndex::Find(Kind kind, const Key& key) const {
  const Map& m = map(kind);
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return absl::FromUnixMicros(it->second);
}

void JoinIndex::Put(Kind kind, const Key& key, absl::Time since) {
  map(kind).insert_or_assign(key, absl::ToUnixMicros(since));
}

void JoinIndex::Erase(Kind kind, const Key& key) { map(kind).erase(key); }

size_t JoinIndex::size(Kind kind) const { return map(kind).size(); }

JoinIndex::Map& JoinIndex::map(Kind kind) {
  return const_cast<Map&>(std::as_const(*this).map(kind));
}

const JoinIndex::Map& JoinIndex::map(Kind kind) const {
  switch (kind) {
    case Kind::kPendingPrediction:
      return pending_predictions_;
    case Kind::kPendingOutcome:
      return pending_outcomes_;
    case Kind::kJoined:
      return joined_;
  }
  return joined_;
}

}  // namespace vigie::storage
