#include "storage/join_index.h"

#include <string>

#include "gtest/gtest.h"

namespace vigie::storage {
namespace {

using Kind = JoinIndex::Kind;

TEST(JoinIndexTest, KeysTellPairsApart) {
  EXPECT_EQ(JoinIndex::KeyOf("m", "p1"), JoinIndex::KeyOf("m", "p1"));
  EXPECT_FALSE(JoinIndex::KeyOf("m", "p1") == JoinIndex::KeyOf("m", "p2"));
  // The boundary between model and id matters.
  EXPECT_FALSE(JoinIndex::KeyOf("ab", "c") == JoinIndex::KeyOf("a", "bc"));
}

TEST(JoinIndexTest, KindsAreSeparate) {
  JoinIndex index;
  const auto key = JoinIndex::KeyOf("m", "p1");
  const absl::Time t = absl::FromUnixSeconds(1'700'000'000);
  index.Put(Kind::kPendingPrediction, key, t);
  EXPECT_EQ(index.Find(Kind::kPendingPrediction, key), t);
  EXPECT_FALSE(index.Find(Kind::kPendingOutcome, key).has_value());
  EXPECT_FALSE(index.Find(Kind::kJoined, key).has_value());
  index.Put(Kind::kJoined, key, t + absl::Seconds(1));
  index.Erase(Kind::kPendingPrediction, key);
  EXPECT_FALSE(index.Find(Kind::kPendingPrediction, key).has_value());
  EXPECT_EQ(index.Find(Kind::kJoined, key), t + absl::Seconds(1));
  EXPECT_EQ(index.size(Kind::kJoined), 1u);
  EXPECT_EQ(index.size(Kind::kPendingPrediction), 0u);
}

TEST(JoinIndexTest, HoldsManyDistinctIdsWithoutConfusingThem) {
  JoinIndex index;
  constexpr int kIds = 200'000;
  for (int i = 0; i < kIds; ++i) {
    index.Put(Kind::kPendingPrediction,
              JoinIndex::KeyOf("m", std::to_string(i)),
              absl::FromUnixMicros(i));
  }
  EXPECT_EQ(index.size(Kind::kPendingPrediction), static_cast<size_t>(kIds));
  for (int i = 0; i < kIds; i += 997) {
    EXPECT_EQ(index.Find(Kind::kPendingPrediction,
                         JoinIndex::KeyOf("m", std::to_string(i))),
              absl::FromUnixMicros(i));
  }
  EXPECT_FALSE(index.Find(Kind::kPendingPrediction, JoinIndex::KeyOf("n", "1"))
                   .has_value());
}

}  // namespace
}  // namespace vigie::storage
