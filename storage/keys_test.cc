#include "storage/keys.h"

#include <string>

#include "gtest/gtest.h"

namespace vigie::storage {
namespace {

TEST(KeysTest, ModelIdKeyRoundTripsAnyBytes) {
  const std::string model("m\0odel", 6);
  const std::string id("id\xff\x00x", 5);
  const auto decoded = DecodeModelIdKey(ModelIdKey(model, id));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->model_id, model);
  EXPECT_EQ(decoded->id, id);
}

TEST(KeysTest, NoModelKeyIsAPrefixOfAnothersKey) {
  // "ab" + id "c" must differ from "a" + id "bc".
  EXPECT_NE(ModelIdKey("ab", "c"), ModelIdKey("a", "bc"));
}

TEST(KeysTest, PaneKeysSortByTimeIncludingBeforeTheEpoch) {
  const absl::Time early = absl::FromUnixSeconds(-3600);
  const absl::Time epoch = absl::UnixEpoch();
  const absl::Time late = absl::FromUnixSeconds(1'700'000'000);
  EXPECT_LT(PaneKey("m", early), PaneKey("m", epoch));
  EXPECT_LT(PaneKey("m", epoch), PaneKey("m", late));
  const auto decoded = DecodePaneKey(PaneKey("model", early));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->model_id, "model");
  EXPECT_EQ(decoded->time, early);
}

TEST(KeysTest, MalformedKeysDoNotDecode) {
  EXPECT_FALSE(DecodeModelIdKey("").has_value());
  EXPECT_FALSE(DecodeModelIdKey("\x05"
                                "ab")
                   .has_value());  // Length past end.
  EXPECT_FALSE(DecodePaneKey(ModelIdKey("m", "123")).has_value());
}

}  // namespace
}  // namespace vigie::storage
