#include "storage/join_index.h"

#include <cstdint>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace vigie::storage {
namespace {

TEST(IdKeyTest, SamePairSameKey) {
  // Keys are only compared within a process, where they must be stable.
  EXPECT_EQ(IdKey::Of("m", "p1"), IdKey::Of("m", "p1"));
  EXPECT_EQ(IdKey::Of("", ""), IdKey::Of("", ""));
}

TEST(IdKeyTest, DifferentPairsDifferentKeys) {
  EXPECT_FALSE(IdKey::Of("m", "p1") == IdKey::Of("m", "p2"));
  EXPECT_FALSE(IdKey::Of("m", "p1") == IdKey::Of("n", "p1"));
  // Model and id are hashed as a pair, not concatenated: the boundary
  // between them matters.
  EXPECT_FALSE(IdKey::Of("ab", "c") == IdKey::Of("a", "bc"));
  EXPECT_FALSE(IdKey::Of("m", "") == IdKey::Of("", "m"));
}

TEST(IdMapTest, PutFindErase) {
  IdMap<int> map;
  const IdKey key = IdKey::Of("m", "p1");
  EXPECT_EQ(map.Find(key), nullptr);
  map.Put(key, 1);
  ASSERT_NE(map.Find(key), nullptr);
  EXPECT_EQ(*map.Find(key), 1);
  // Put replaces.
  map.Put(key, 2);
  EXPECT_EQ(*map.Find(key), 2);
  EXPECT_EQ(map.size(), 1u);
  map.Erase(key);
  EXPECT_EQ(map.Find(key), nullptr);
  EXPECT_EQ(map.size(), 0u);
  // Erasing a missing key is harmless.
  map.Erase(key);
  EXPECT_EQ(map.size(), 0u);
}

TEST(IdMapTest, ManyKeysAcrossAllShards) {
  constexpr int kKeys = 10'000;
  IdMap<int> map;
  // The map is split by the key's top 6 bits; with 10,000 keys every one
  // of the 64 shards holds some, so size() and Find cover them all.
  std::set<uint32_t> shards;
  for (int i = 0; i < kKeys; ++i) {
    const IdKey key = IdKey::Of("model", "p" + std::to_string(i));
    shards.insert(key.a >> 26);
    map.Put(key, i);
  }
  EXPECT_EQ(shards.size(), 64u);
  EXPECT_EQ(map.size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) {
    const int* value = map.Find(IdKey::Of("model", "p" + std::to_string(i)));
    ASSERT_NE(value, nullptr) << i;
    EXPECT_EQ(*value, i);
  }
  EXPECT_EQ(map.Find(IdKey::Of("model", "p10000")), nullptr);
  EXPECT_EQ(map.Find(IdKey::Of("other", "p1")), nullptr);

  // Erase the even ids: half the keys remain, the right half.
  for (int i = 0; i < kKeys; i += 2) {
    map.Erase(IdKey::Of("model", "p" + std::to_string(i)));
  }
  EXPECT_EQ(map.size(), static_cast<size_t>(kKeys / 2));
  for (int i = 0; i < kKeys; ++i) {
    const int* value = map.Find(IdKey::Of("model", "p" + std::to_string(i)));
    if (i % 2 == 0) {
      EXPECT_EQ(value, nullptr) << i;
    } else {
      ASSERT_NE(value, nullptr) << i;
      EXPECT_EQ(*value, i);
    }
  }
}

TEST(IndexSecondsTest, RoundsUpSoExpiryIsNeverEarly) {
  const absl::Time epoch = absl::UnixEpoch();
  EXPECT_EQ(ToIndexSeconds(epoch + absl::Milliseconds(1200)), 2u);
  EXPECT_EQ(ToIndexSeconds(epoch + absl::Nanoseconds(1)), 1u);
  // Whole seconds stay as they are.
  EXPECT_EQ(ToIndexSeconds(epoch + absl::Seconds(5)), 5u);
  EXPECT_EQ(ToIndexSeconds(absl::FromUnixSeconds(1'700'000'000)),
            1'700'000'000u);
}

TEST(IndexSecondsTest, ZeroAtAndBeforeTheEpoch) {
  EXPECT_EQ(ToIndexSeconds(absl::UnixEpoch()), 0u);
  EXPECT_EQ(ToIndexSeconds(absl::UnixEpoch() - absl::Milliseconds(1)), 0u);
  EXPECT_EQ(ToIndexSeconds(absl::FromUnixSeconds(-3600)), 0u);
  EXPECT_EQ(ToIndexSeconds(absl::InfinitePast()), 0u);
}

TEST(IndexSecondsTest, FromIndexSecondsInvertsWholeSeconds) {
  for (int64_t s : {int64_t{0}, int64_t{1}, int64_t{1'700'000'000},
                    int64_t{4'000'000'000}}) {
    const absl::Time t = absl::FromUnixSeconds(s);
    EXPECT_EQ(FromIndexSeconds(ToIndexSeconds(t)), t) << s;
  }
  EXPECT_EQ(FromIndexSeconds(2), absl::FromUnixSeconds(2));
}

}  // namespace
}  // namespace vigie::storage
