#include "tools/catalogue_upload.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::tools {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<CatalogueUpload> Read(
    const std::string& text, uint64_t max_bytes = kMaxCatalogueRequestBytes) {
  std::istringstream in(text);
  return ReadCatalogueUpload(in, "recs", "export", max_bytes);
}

TEST(CatalogueUploadTest, ReadsItemsAndReferenceUsersWithTheirLines) {
  // Items on lines 3, 5 and 6; the reference's 1000 users on line 4.
  ASSERT_OK_AND_ASSIGN(
      CatalogueUpload upload,
      Read("# items export\n"
           "\n"
           R"({"item": {"itemId": "a1", "categories": ["jazz", "live"],)"
           R"( "referenceUsers": 12}})"
           "\n"
           R"({"referenceUsers": 1000})"
           "\n"
           R"({"item": {"itemId": "b7", "categories": ["rock"]}})"
           "\n"
           R"(  {"item": {"itemId": "c3"}}  )"
           "\n"));
  EXPECT_EQ(upload.request.model_id(), "recs");
  EXPECT_EQ(upload.request.description(), "export");
  const v1::ItemCatalogue& catalogue = upload.request.catalogue();
  ASSERT_EQ(catalogue.items_size(), 3);
  EXPECT_EQ(catalogue.reference_users(), 1000u);
  EXPECT_EQ(catalogue.items(0).item_id(), "a1");
  EXPECT_THAT(catalogue.items(0).categories(), ElementsAre("jazz", "live"));
  EXPECT_EQ(catalogue.items(0).reference_users(), 12u);
  EXPECT_EQ(catalogue.items(2).item_id(), "c3");
  EXPECT_THAT(upload.item_lines, ElementsAre(3, 5, 6));
  EXPECT_LE(upload.request.ByteSizeLong(), kMaxCatalogueRequestBytes);
}

TEST(CatalogueUploadTest, SyntaxErrorsNameTheLine) {
  EXPECT_THAT(Read(R"({"item": {"itemId": "a"}})"
                   "\n"
                   R"({"item": )"
                   "\n")
                  .status()
                  .message(),
              HasSubstr("line 2: not a CatalogueLine"));
  EXPECT_THAT(Read(R"({"referenceUsers": 5})"
                   "\n"
                   R"({"referenceUsers": 6})"
                   "\n")
                  .status()
                  .message(),
              HasSubstr("line 2: second referenceUsers line"));
  EXPECT_THAT(Read("{}\n").status().message(),
              HasSubstr("line 1: neither item nor referenceUsers"));
  EXPECT_THAT(Read("# nothing\n").status().message(),
              HasSubstr("no item in the file"));
}

TEST(CatalogueUploadTest, StopsBeforeTheSizeLimit) {
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text += R"({"item": {"itemId": "item-)" + std::to_string(i) + "\"}}\n";
  }
  const absl::StatusOr<CatalogueUpload> upload = Read(text, 200);
  EXPECT_EQ(upload.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(upload.status().message(), HasSubstr("exceed 200 bytes at line"));
}

TEST(CatalogueUploadTest, LocatesTheServersItemErrors) {
  const std::vector<int64_t> lines = {3, 5, 6};
  EXPECT_EQ(LocateCatalogueError("item 1: duplicate item id \"a1\"", lines),
            "line 5: duplicate item id \"a1\"");
  EXPECT_EQ(LocateCatalogueError("item 9: empty item id", lines),
            "item 9: empty item id");
  EXPECT_EQ(LocateCatalogueError("the catalogue has no items", lines),
            "the catalogue has no items");
}

TEST(CatalogueUploadTest, PrintsTheInfo) {
  v1::CatalogueInfo info;
  info.set_model_id("recs");
  info.set_version(2);
  info.set_description("export");
  info.set_items(3);
  info.set_items_with_features(2);
  info.set_feature_kind("categories");
  info.set_feature_dimension(3);
  info.set_reference_users(1000);
  info.set_fingerprint(0xABCDEF);
  info.mutable_uploaded_at()->set_seconds(1'767'571'200);  // 2026-01-05.
  std::ostringstream out;
  PrintCatalogueText(info, out);
  EXPECT_EQ(out.str(),
            "catalogue v2 of model recs\n"
            "  description:  export\n"
            "  uploaded:     2026-01-05T00:00:00Z\n"
            "  items:        3 (2 with features)\n"
            "  features:     categories, 3 labels\n"
            "  reference:    1,000 users\n"
            "  fingerprint:  0000000000abcdef\n");

  // Popularity learned from the stream says where from.
  info.set_popularity_source("learned: reference window a to b, 9 events");
  out.str("");
  PrintCatalogueText(info, out);
  EXPECT_THAT(out.str(),
              ::testing::HasSubstr("  reference:    1,000 users\n"
                                   "  popularity:   learned: reference window "
                                   "a to b, 9 events\n"));
}

}  // namespace
}  // namespace vigie::tools
