#include "monitors/category_table.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vigie::monitors {
namespace {

// Names of every length from 0 to 24 bytes, so that each way the hash and
// the comparison read a name (whole words, 4-byte halves, 1 to 3 single
// bytes) is taken, including names that differ in one byte only.
std::vector<std::string> Names() {
  std::vector<std::string> names;
  for (size_t length = 0; length <= 24; ++length) {
    for (char last : {'a', 'b', 'z'}) {
      std::string name(length, 'x');
      if (length > 0) name.back() = last;
      names.push_back(name);
      if (length > 2) {
        name[length / 2] = 'q';  // Differs in the middle only.
        names.push_back(name);
        name[0] = 'p';  // And in the first byte.
        names.push_back(name);
      }
    }
  }
  return names;
}

TEST(CategoryTableTest, AgreesWithAnOrderedMapOnEveryOperation) {
  const std::vector<std::string> names = Names();
  std::mt19937_64 rng(11);
  CategoryTable table;
  std::map<std::string, uint64_t> expected;
  for (int step = 0; step < 20'000; ++step) {
    const std::string& name = names[rng() % names.size()];
    const uint64_t count = rng() % 5;
    const auto [it, added] = table.emplace(name, count);
    const auto [want, want_added] = expected.emplace(name, count);
    ASSERT_EQ(added, want_added) << name;
    ASSERT_EQ(it->first, name);
    it->second += 1;
    want->second += 1;
    // A lookup of a name never inserted finds nothing.
    ASSERT_FALSE(table.contains(name + "#")) << name;
  }
  ASSERT_EQ(table.size(), expected.size());
  // Iteration is by name, as the map's.
  auto want = expected.begin();
  for (const auto& [name, count] : table) {
    ASSERT_EQ(name, want->first);
    EXPECT_EQ(count, want->second);
    EXPECT_EQ(table.CountOf(name), want->second);
    EXPECT_EQ(table.find(name)->first, name);
    ++want;
  }
  EXPECT_EQ(table.CountOf("never seen"), 0u);
  EXPECT_EQ(table.find("never seen"), table.end());
}

// Names of up to 8 bytes are found by their size and their bytes read in
// two overlapping halves: names of one byte repeated, or of zero bytes,
// have the same halves at several sizes, and only the size tells them
// apart.
TEST(CategoryTableTest, NamesOfOneRepeatedByteDifferBySize) {
  CategoryTable table;
  std::map<std::string, uint64_t> expected;
  for (const char byte : {'a', '\0', '\xff'}) {
    for (size_t length = 0; length <= 12; ++length) {
      const std::string name(length, byte);
      const uint64_t count = 100 * length + static_cast<uint8_t>(byte);
      table.emplace(name, count);
      expected.emplace(name, count);
    }
  }
  ASSERT_EQ(table.size(), expected.size());
  for (const auto& [name, count] : expected) {
    EXPECT_EQ(table.CountOf(name), count) << name.size();
    EXPECT_FALSE(table.contains(name + "b")) << name.size();
  }
}

TEST(CategoryTableTest, CopiesFindTheirOwnEntries) {
  CategoryTable table;
  for (int i = 0; i < 100; ++i) table.emplace(std::to_string(i), 1);
  CategoryTable copy = table;
  copy.find("42")->second = 7;
  EXPECT_EQ(table.CountOf("42"), 1u);
  EXPECT_EQ(copy.CountOf("42"), 7u);
  EXPECT_FALSE(copy == table);
  copy.find("42")->second = 1;
  EXPECT_TRUE(copy == table);
}

}  // namespace
}  // namespace vigie::monitors
