#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

// Hashes whose values are part of persisted state (samples keyed by hash,
// catalogue fingerprints), so unlike absl::Hash they are fixed: the same on
// every run, process and machine. Not for hash tables facing adversaries.

namespace vigie::monitors {

// SplitMix64's finalizer (Steele, Lea and Flood, OOPSLA 2014): a bijection
// of 64-bit words whose output bits each depend on every input bit.
inline uint64_t MixBits(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9u;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBu;
  x ^= x >> 31;
  return x;
}

// A fixed 64-bit hash of `bytes`: 8-byte little-endian words (assembled
// byte by byte, so the value does not depend on the machine's byte order),
// each mixed into the state, then the length.
inline uint64_t StableHash(absl::string_view bytes, uint64_t seed = 0) {
  uint64_t h = seed ^ 0x9E3779B97F4A7C15u;
  size_t i = 0;
  const auto byte = [&bytes](size_t at) {
    return uint64_t{static_cast<unsigned char>(bytes[at])};
  };
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word = 0;
    for (size_t j = 0; j < 8; ++j) word |= byte(i + j) << (8 * j);
    h = MixBits(h ^ word);
  }
  uint64_t tail = 0;
  for (size_t j = 0; i + j < bytes.size(); ++j) tail |= byte(i + j) << (8 * j);
  h = MixBits(h ^ tail);
  return MixBits(h ^ bytes.size());
}

}  // namespace vigie::monitors
