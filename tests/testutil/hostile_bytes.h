#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

// Inputs for the "hostile bytes never crash" tests of every state format.

namespace vigie::testutil {

// `count` byte strings of random length below `max_length` and random
// content, the same for the same `seed`.
inline std::vector<std::string> RandomByteStrings(uint64_t seed, int count,
                                                  size_t max_length) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string bytes(rng() % max_length, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    out.push_back(std::move(bytes));
  }
  return out;
}

// `bytes` once per bit, with that bit flipped.
inline std::vector<std::string> EachBitFlipped(const std::string& bytes) {
  std::vector<std::string> out;
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string flipped = bytes;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    out.push_back(std::move(flipped));
  }
  return out;
}

}  // namespace vigie::testutil
