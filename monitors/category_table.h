#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace vigie::monitors {

// Counts by category name, for the categorical features of the drift
// monitor: what a std::map<std::string, uint64_t> would hold, iterated in
// the same order (by name), but found in a few nanoseconds. A categorical
// value is looked up once per event, and an ordered map's string
// comparisons cost more than everything else the event does.
//
// The entries are kept sorted by name, so that iteration, serialization
// and merges are deterministic; an open-addressing index of their
// positions finds a name with one hash and, mostly, one comparison. Each
// entry has a word beside it: for a name of at most 8 bytes (most
// categories: "FR", "mobile", "3"), its bytes, which with its size give the
// name exactly, so that the lookup reads it in two loads and compares no
// string; for a longer name, its hash. An insertion shifts the entries and
// rebuilds the index: O(size), which is fine because categories are
// bounded (the drift monitor's max_categories) and new ones rare after a
// pane's first events.
//
// Iterators are the entries' vector's: a name must not be changed through
// them (the index would no longer find it); counts may be.
class CategoryTable {
 public:
  using Entry = std::pair<std::string, uint64_t>;
  using iterator = std::vector<Entry>::iterator;
  using const_iterator = std::vector<Entry>::const_iterator;

  iterator begin() { return entries_.begin(); }
  iterator end() { return entries_.end(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  iterator find(absl::string_view name);
  const_iterator find(absl::string_view name) const;
  bool contains(absl::string_view name) const { return find(name) != end(); }
  // The count of `name`; 0 when absent.
  uint64_t CountOf(absl::string_view name) const;

  // Adds `name` with `count` unless present; as std::map::emplace, returns
  // the entry and whether it was added.
  std::pair<iterator, bool> emplace(absl::string_view name, uint64_t count);

  bool operator==(const CategoryTable& other) const {
    return entries_ == other.entries_;
  }

 private:
  static uint64_t Hash(absl::string_view name);
  // The word of a name (class comment): up to 8 bytes, its bytes, in two
  // 4-byte loads (overlapping below 8 bytes) or three single bytes; past
  // them, Hash.
  static uint64_t Word(absl::string_view name);
  // The slot where the index starts looking for a name of `word` and
  // `size`.
  static uint64_t Spread(uint64_t word, size_t size);
  int64_t Locate(absl::string_view name) const;
  void Reindex();

  std::vector<Entry> entries_;
  // The entries' words, by position.
  std::vector<uint64_t> words_;
  // Positions + 1 of the entries, 0 for an empty slot; a power of two at
  // least twice the entries, so that probes stay short.
  std::vector<uint32_t> slots_;
};

// Equality of two names of the same size, inline and in fixed-size loads
// (overlapping ones for the last bytes): a call to the C library's memcmp,
// or a loop over the bytes, costs more than the rest of a lookup.
inline bool SameBytes(absl::string_view a, absl::string_view b) {
  const size_t n = a.size();
  const char* p = a.data();
  const char* q = b.data();
  const auto word = [](const char* at) {
    uint64_t w;
    std::memcpy(&w, at, 8);
    return w;
  };
  const auto half = [](const char* at) {
    uint32_t w;
    std::memcpy(&w, at, 4);
    return w;
  };
  const auto quarter = [](const char* at) {
    uint16_t w;
    std::memcpy(&w, at, 2);
    return w;
  };
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (word(p + i) != word(q + i)) return false;
    }
    return word(p + n - 8) == word(q + n - 8);
  }
  if (n >= 4) {
    return half(p) == half(q) && half(p + n - 4) == half(q + n - 4);
  }
  if (n >= 2) {
    return quarter(p) == quarter(q) && quarter(p + n - 2) == quarter(q + n - 2);
  }
  return n == 0 || p[0] == q[0];
}

// A multiplicative hash of the name's 8-byte words: names are short, and
// the index is rebuilt by each process, so the hash needs neither a seed
// nor stability across builds.
inline uint64_t CategoryTable::Hash(absl::string_view name) {
  uint64_t h = name.size() * 0x9E3779B97F4A7C15u;
  size_t i = 0;
  for (; i + 8 <= name.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, name.data() + i, 8);
    h = (h ^ word) * 0xBF58476D1CE4E5B9u;
  }
  // The last 1 to 7 bytes in fixed-size loads (overlapping ones): a copy
  // of a variable size into a word stalls the load that follows it.
  const size_t tail = name.size() - i;
  if (tail > 0) {
    const char* p = name.data() + i;
    uint64_t word;
    if (tail >= 4) {
      uint32_t low, high;
      std::memcpy(&low, p, 4);
      std::memcpy(&high, p + tail - 4, 4);
      word = low | (uint64_t{high} << 32);
    } else {
      word = static_cast<uint8_t>(p[0]) |
             (uint64_t{static_cast<uint8_t>(p[tail / 2])} << 8) |
             (uint64_t{static_cast<uint8_t>(p[tail - 1])} << 16);
    }
    h = (h ^ word) * 0xBF58476D1CE4E5B9u;
  }
  return h ^ (h >> 29);
}

inline uint64_t CategoryTable::Word(absl::string_view name) {
  const size_t n = name.size();
  const char* p = name.data();
  if (n > 8) return Hash(name);
  if (n >= 4) {
    // Bytes [0, 4) and [n - 4, n): every byte, in halves of their own, so
    // that the word does not depend on the byte order.
    uint32_t low, high;
    std::memcpy(&low, p, 4);
    std::memcpy(&high, p + n - 4, 4);
    return low | (uint64_t{high} << 32);
  }
  if (n == 0) return 0;
  return static_cast<uint8_t>(p[0]) |
         (uint64_t{static_cast<uint8_t>(p[n / 2])} << 8) |
         (uint64_t{static_cast<uint8_t>(p[n - 1])} << 16);
}

inline uint64_t CategoryTable::Spread(uint64_t word, size_t size) {
  const uint64_t h = (word ^ size) * 0x9E3779B97F4A7C15u;
  return h ^ (h >> 29);
}

// Inline: runs once per categorical value of every event.
inline int64_t CategoryTable::Locate(absl::string_view name) const {
  if (slots_.empty()) return -1;
  const uint64_t word = Word(name);
  const size_t mask = slots_.size() - 1;
  for (size_t slot = Spread(word, name.size()) & mask;;
       slot = (slot + 1) & mask) {
    const uint32_t at = slots_[slot];
    if (at == 0) return -1;
    const size_t i = at - 1;
    // Up to 8 bytes, the same word and size are the same name.
    if (words_[i] == word && entries_[i].first.size() == name.size() &&
        (name.size() <= 8 || SameBytes(entries_[i].first, name))) {
      return static_cast<int64_t>(i);
    }
  }
}

inline CategoryTable::iterator CategoryTable::find(absl::string_view name) {
  const int64_t at = Locate(name);
  return at < 0 ? entries_.end() : entries_.begin() + at;
}

inline CategoryTable::const_iterator CategoryTable::find(
    absl::string_view name) const {
  const int64_t at = Locate(name);
  return at < 0 ? entries_.end() : entries_.begin() + at;
}

}  // namespace vigie::monitors
