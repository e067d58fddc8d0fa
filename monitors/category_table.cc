#include "monitors/category_table.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>

namespace vigie::monitors {

uint64_t CategoryTable::CountOf(absl::string_view name) const {
  const int64_t i = Locate(name);
  return i < 0 ? 0 : entries_[static_cast<size_t>(i)].second;
}

std::pair<CategoryTable::iterator, bool> CategoryTable::emplace(
    absl::string_view name, uint64_t count) {
  if (const int64_t i = Locate(name); i >= 0) {
    return {entries_.begin() + i, false};
  }
  const auto it = std::lower_bound(
      entries_.begin(), entries_.end(), name,
      [](const Entry& e, absl::string_view key) { return e.first < key; });
  const size_t position = static_cast<size_t>(it - entries_.begin());
  entries_.emplace(it, std::string(name), count);
  Reindex();
  return {entries_.begin() + static_cast<std::ptrdiff_t>(position), true};
}

void CategoryTable::Reindex() {
  const size_t wanted = std::bit_ceil(std::max<size_t>(8, 2 * entries_.size()));
  slots_.assign(wanted, 0);
  words_.resize(entries_.size());
  const size_t mask = wanted - 1;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const std::string& name = entries_[i].first;
    words_[i] = Word(name);
    size_t slot = Spread(words_[i], name.size()) & mask;
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = static_cast<uint32_t>(i + 1);
  }
}

}  // namespace vigie::monitors
