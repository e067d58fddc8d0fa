#pragma once

#include <cstdint>

#include "absl/types/span.h"
#include "monitors/stable_hash.h"

// Hashes of RecommendationMonitor's samples, shared by its Observe and
// state code. Their values are persisted: never change them.

namespace vigie::monitors::internal {

// The exposure sample's hash of a dense item id: a bijection, so distinct
// items never tie; the constant keeps item 0 away from hash 0.
inline uint64_t ItemHash(uint32_t item) {
  return MixBits(uint64_t{item} + 0x9E3779B97F4A7C15u);
}

// A hash of a list's dense ids in rank order: of one user's lists, the
// personalisation sample keeps the one with the smallest.
inline uint64_t ListHash(absl::Span<const uint32_t> items) {
  uint64_t h = 0xD6E8FEB86659FD93u ^ items.size();
  for (uint32_t item : items) h = MixBits(h ^ item) + 0x9E3779B97F4A7C15u;
  return MixBits(h);
}

}  // namespace vigie::monitors::internal
