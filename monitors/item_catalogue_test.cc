#include "monitors/item_catalogue.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/v1/catalogue.pb.h"

namespace vigie::monitors {
namespace {

using ::testing::HasSubstr;

v1::CatalogueItem* AddItem(v1::ItemCatalogue* c, const std::string& id,
                           const std::vector<std::string>& categories,
                           uint64_t users = 0) {
  v1::CatalogueItem* item = c->add_items();
  item->set_item_id(id);
  for (const std::string& cat : categories) item->add_categories(cat);
  item->set_reference_users(users);
  return item;
}

TEST(ItemCatalogueTest, DenseIdsFollowCatalogueOrder) {
  v1::ItemCatalogue proto;
  AddItem(&proto, "a", {"jazz", "live"});
  AddItem(&proto, "b", {"rock"});
  AddItem(&proto, "c", {});
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c, ItemCatalogue::FromProto(proto, {}));
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.Find("a"), 0u);
  EXPECT_EQ(c.Find("b"), 1u);
  EXPECT_EQ(c.Find("c"), 2u);
  EXPECT_EQ(c.Find("zz"), ItemCatalogue::kUnknownItem);
  EXPECT_EQ(c.item_id(1), "b");
  EXPECT_EQ(c.feature_kind(), ItemCatalogue::FeatureKind::kCategories);
  EXPECT_EQ(c.feature_dimension(), 3u);  // jazz, live, rock.
  EXPECT_EQ(c.items_with_features(), 2u);
  EXPECT_EQ(c.categories(0).size(), 2u);
  EXPECT_NEAR(c.category_weight(0), 1 / std::sqrt(2.0), 1e-15);
  EXPECT_NEAR(c.self_dot(0), 1, 1e-15);
  EXPECT_EQ(c.self_dot(2), 0);
  EXPECT_FALSE(c.has_reference());
}

TEST(ItemCatalogueTest, RepeatedCategoriesCountOnce) {
  v1::ItemCatalogue proto;
  AddItem(&proto, "a", {"x", "y", "x"});
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c, ItemCatalogue::FromProto(proto, {}));
  EXPECT_EQ(c.categories(0).size(), 2u);
  EXPECT_NEAR(c.category_weight(0), 1 / std::sqrt(2.0), 1e-15);
}

// U = 4 reference users: a chosen by 2, b by 1, c by none.
TEST(ItemCatalogueTest, PopularityAndNoveltyByHand) {
  v1::ItemCatalogue proto;
  proto.set_reference_users(4);
  AddItem(&proto, "a", {"x"}, 2);
  AddItem(&proto, "b", {"x"}, 1);
  AddItem(&proto, "c", {"x"}, 0);
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c, ItemCatalogue::FromProto(proto, {}));
  EXPECT_DOUBLE_EQ(c.popularity(0), 0.5);
  EXPECT_DOUBLE_EQ(c.popularity(1), 0.25);
  EXPECT_DOUBLE_EQ(c.popularity(2), 0);
  EXPECT_DOUBLE_EQ(c.novelty(0), 1);
  EXPECT_DOUBLE_EQ(c.novelty(1), 2);
  // Unseen: as if a fifth user had chosen it.
  EXPECT_DOUBLE_EQ(c.novelty(2), std::log2(5.0));
  EXPECT_DOUBLE_EQ(c.UnseenNovelty(), std::log2(5.0));
  EXPECT_EQ(c.popularity_rank(0), 0u);
  EXPECT_EQ(c.popularity_rank(1), 1u);
  EXPECT_EQ(c.popularity_rank(2), 2u);
  EXPECT_TRUE(c.IsPopular(0, 1));
  EXPECT_FALSE(c.IsPopular(1, 1));
  EXPECT_TRUE(c.IsPopular(1, 2));
  // Never chosen: not popular whatever k.
  EXPECT_FALSE(c.IsPopular(2, 3));
}

TEST(ItemCatalogueTest, EmbeddingsAreNormalized) {
  v1::ItemCatalogue proto;
  v1::CatalogueItem* a = AddItem(&proto, "a", {});
  a->add_embedding(3);
  a->add_embedding(4);
  AddItem(&proto, "b", {});  // No features: a zero row.
  v1::CatalogueItem* z = AddItem(&proto, "z", {});
  z->add_embedding(0);
  z->add_embedding(0);
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c, ItemCatalogue::FromProto(proto, {}));
  EXPECT_EQ(c.feature_kind(), ItemCatalogue::FeatureKind::kEmbedding);
  EXPECT_EQ(c.feature_dimension(), 2u);
  EXPECT_NEAR(c.embedding(0)[0], 0.6, 1e-7);
  EXPECT_NEAR(c.embedding(0)[1], 0.8, 1e-7);
  EXPECT_NEAR(c.self_dot(0), 1, 1e-7);
  EXPECT_EQ(c.self_dot(1), 0);
  EXPECT_EQ(c.self_dot(2), 0);
  EXPECT_EQ(c.items_with_features(), 1u);
}

TEST(ItemCatalogueTest, RejectsInvalidCataloguesNamingTheItem) {
  const auto error = [](const v1::ItemCatalogue& proto,
                        ItemCatalogueOptions options = {}) {
    return ItemCatalogue::FromProto(proto, options).status();
  };
  {
    v1::ItemCatalogue p;
    EXPECT_THAT(error(p).message(), HasSubstr("no items"));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "a", {});
    AddItem(&p, "a", {});
    const absl::Status s = error(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("item 1: duplicate item id \"a\""));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "", {});
    EXPECT_THAT(error(p).message(), HasSubstr("item 0: empty item id"));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "a", {"x"});
    AddItem(&p, "b", {})->add_embedding(1);
    EXPECT_THAT(error(p).message(), HasSubstr("item 1:"));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "a", {})->add_embedding(1);
    v1::CatalogueItem* b = AddItem(&p, "b", {});
    b->add_embedding(1);
    b->add_embedding(2);
    EXPECT_THAT(error(p).message(), HasSubstr("item 1: embedding dimension 2"));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "a", {})->add_embedding(std::nanf(""));
    EXPECT_THAT(error(p).message(), HasSubstr("non-finite"));
  }
  {
    v1::ItemCatalogue p;
    p.set_reference_users(3);
    AddItem(&p, "a", {}, 3);
    AddItem(&p, "b", {}, 4);
    EXPECT_THAT(error(p).message(), HasSubstr("item 1: item \"b\" has 4"));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "a", {});
    AddItem(&p, "b", {});
    ItemCatalogueOptions o;
    o.max_items = 1;
    EXPECT_THAT(error(p, o).message(), HasSubstr("over max_items = 1"));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "a", {"x", "y", "z"});
    ItemCatalogueOptions o;
    o.max_categories_per_item = 2;
    EXPECT_THAT(error(p, o).message(), HasSubstr("3 categories, over 2"));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "a", {"x"});
    AddItem(&p, "b", {"y"});
    ItemCatalogueOptions o;
    o.max_categories = 1;
    EXPECT_THAT(error(p, o).message(),
                HasSubstr("item 1: more than max_categories"));
  }
  {
    v1::ItemCatalogue p;
    AddItem(&p, "a", {});
    ItemCatalogueOptions o;
    o.max_items = 0;
    EXPECT_THAT(error(p, o).message(), HasSubstr("max_items must be in"));
  }
}

TEST(ItemCatalogueTest, ParsesJsonLines) {
  const std::string file =
      "# A catalogue.\n"
      "{\"item\": {\"itemId\": \"a1\", \"categories\": [\"jazz\", \"live\"],"
      " \"referenceUsers\": 12}}\n"
      "\n"
      "{\"item\": {\"itemId\": \"b7\", \"categories\": [\"rock\"]}}\n"
      "{\"referenceUsers\": \"48\"}\n";
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c, ItemCatalogue::FromJsonLines(file, {}));
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.Find("b7"), 1u);
  EXPECT_EQ(c.reference_users(), 48u);
  EXPECT_DOUBLE_EQ(c.popularity(0), 0.25);
  EXPECT_DOUBLE_EQ(c.novelty(0), 2);
  EXPECT_EQ(c.feature_dimension(), 3u);
}

TEST(ItemCatalogueTest, JsonLinesErrorsNameTheLine) {
  const auto message = [](const std::string& file) {
    const absl::Status s = ItemCatalogue::FromJsonLines(file, {}).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  EXPECT_THAT(message("{\"item\": {\"itemId\": \"a\"}}\n"
                      "\n"
                      "{\"item\": {\"itemId\": \"b\"\n"),
              HasSubstr("line 3: not a CatalogueLine"));
  EXPECT_THAT(message("{\"item\": {\"itemId\": \"a\"}}\n"
                      "{\"item\": {\"itemId\": \"a\"}}\n"),
              HasSubstr("line 2: duplicate item id \"a\""));
  EXPECT_THAT(message("{\"item\": {\"itemId\": \"a\", \"colour\": 1}}\n"),
              HasSubstr("line 1:"));
  EXPECT_THAT(message("{}\n"), HasSubstr("line 1: neither item"));
  EXPECT_THAT(message("{\"referenceUsers\": 3}\n{\"referenceUsers\": 4}\n"
                      "{\"item\": {\"itemId\": \"a\"}}\n"),
              HasSubstr("line 2: second reference_users line"));
  // Checked at the end, and still named by its line.
  EXPECT_THAT(message("{\"item\": {\"itemId\": \"a\"}}\n"
                      "{\"item\": {\"itemId\": \"b\", \"referenceUsers\": 9}}\n"
                      "{\"referenceUsers\": 4}\n"),
              HasSubstr("line 2: item \"b\" has 9 reference users"));
  EXPECT_THAT(message("# nothing\n"), HasSubstr("no items"));
}

TEST(ItemCatalogueTest, ProtoRoundTripKeepsEverything) {
  v1::ItemCatalogue proto;
  proto.set_reference_users(10);
  AddItem(&proto, "a", {"x", "y"}, 3);
  AddItem(&proto, "b", {"y"}, 10);
  AddItem(&proto, "c", {}, 0);
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c, ItemCatalogue::FromProto(proto, {}));
  v1::ItemCatalogue out;
  c.ToProto(&out);
  ASSERT_OK_AND_ASSIGN(ItemCatalogue back, ItemCatalogue::FromProto(out, {}));
  EXPECT_EQ(back.fingerprint(), c.fingerprint());
  EXPECT_EQ(back.size(), c.size());
  EXPECT_EQ(back.reference_users(), 10u);
  for (uint32_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(back.item_id(i), c.item_id(i));
    EXPECT_EQ(back.interacting_users(i), c.interacting_users(i));
    EXPECT_EQ(back.self_dot(i), c.self_dot(i));
    ASSERT_EQ(back.categories(i).size(), c.categories(i).size());
    for (size_t j = 0; j < c.categories(i).size(); ++j) {
      EXPECT_EQ(back.category_labels()[back.categories(i)[j]],
                c.category_labels()[c.categories(i)[j]]);
    }
  }
}

TEST(ItemCatalogueTest, FingerprintDependsOnOrderOnly) {
  v1::ItemCatalogue ab;
  AddItem(&ab, "a", {"x"});
  AddItem(&ab, "b", {"y"});
  v1::ItemCatalogue ab_other_features;
  AddItem(&ab_other_features, "a", {"z"}, 0);
  AddItem(&ab_other_features, "b", {});
  v1::ItemCatalogue ba;
  AddItem(&ba, "b", {"y"});
  AddItem(&ba, "a", {"x"});
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c1, ItemCatalogue::FromProto(ab, {}));
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c2,
                       ItemCatalogue::FromProto(ab_other_features, {}));
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c3, ItemCatalogue::FromProto(ba, {}));
  EXPECT_EQ(c1.fingerprint(), c2.fingerprint());
  EXPECT_NE(c1.fingerprint(), c3.fingerprint());
}

TEST(ItemCatalogueTest, SetReferencePopularity) {
  v1::ItemCatalogue proto;
  AddItem(&proto, "a", {});
  AddItem(&proto, "b", {});
  ASSERT_OK_AND_ASSIGN(ItemCatalogue c, ItemCatalogue::FromProto(proto, {}));
  const std::vector<uint64_t> too_many = {1, 9};
  EXPECT_EQ(c.SetReferencePopularity(too_many, 8).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(c.has_reference());
  const std::vector<uint64_t> wrong_size = {1};
  EXPECT_EQ(c.SetReferencePopularity(wrong_size, 8).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<uint64_t> counts = {2, 8};
  ASSERT_OK(c.SetReferencePopularity(counts, 8));
  EXPECT_DOUBLE_EQ(c.popularity(0), 0.25);
  EXPECT_DOUBLE_EQ(c.novelty(1), 0);
  EXPECT_EQ(c.popularity_rank(1), 0u);
}

}  // namespace
}  // namespace vigie::monitors
