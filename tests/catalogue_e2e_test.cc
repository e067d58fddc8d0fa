// A recommendation model's item catalogue through the real server on
// loopback, with its state in RocksDB on disk: put over gRPC, read back,
// kept across a restart, a bad one refused with the item named and the
// stored one unchanged; and a configured catalogue_file loaded at start,
// stored as a new version only when it changed.

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;

constexpr char kModel[] = "recs";

void AddItem(v1::ItemCatalogue& catalogue, const std::string& id,
             std::vector<std::string> categories, uint64_t reference_users) {
  v1::CatalogueItem* item = catalogue.add_items();
  item->set_item_id(id);
  for (std::string& c : categories) item->add_categories(std::move(c));
  item->set_reference_users(reference_users);
}

// 4 items; categories jazz, live, rock (3 labels); i3 has none; 100
// reference users.
v1::ItemCatalogue Genres() {
  v1::ItemCatalogue catalogue;
  catalogue.set_reference_users(100);
  AddItem(catalogue, "i1", {"jazz", "live"}, 30);
  AddItem(catalogue, "i2", {"rock"}, 10);
  AddItem(catalogue, "i3", {}, 0);
  AddItem(catalogue, "i4", {"jazz"}, 5);
  return catalogue;
}

// 2 items with 3-dimensional embeddings, no reference.
v1::ItemCatalogue Embeddings() {
  v1::ItemCatalogue catalogue;
  v1::CatalogueItem* e1 = catalogue.add_items();
  e1->set_item_id("e1");
  for (float v : {3.0f, 4.0f, 0.0f}) e1->add_embedding(v);
  v1::CatalogueItem* e2 = catalogue.add_items();
  e2->set_item_id("e2");
  for (float v : {0.0f, 0.0f, 2.0f}) e2->add_embedding(v);
  return catalogue;
}

class CatalogueE2eTest : public ::testing::Test {
 protected:
  // The shipped configuration with models "recs" (a recommender: takes a
  // catalogue, with `catalogue_file` if given) and "triage"
  // (multiclass: takes none); undeclared models refused.
  services::ServerConfig Config(const std::string& catalogue_file = "") {
    absl::StatusOr<services::ServerConfig> config =
        services::DefaultServerConfig();
    EXPECT_OK(config.status());
    config->data_dir = dir_.Join("state");
    config->accept_undeclared_models = false;
    services::ModelConfig recs = config->default_model;
    recs.id = kModel;
    recs.task = "recommendation";
    recs.catalogue_file = catalogue_file;
    config->models.push_back(recs);
    services::ModelConfig triage = config->default_model;
    triage.id = "triage";
    triage.task = "multiclass";
    triage.monitors.classes = {"low", "high"};
    config->models.push_back(triage);
    return *std::move(config);
  }
  absl::Status Start(const std::string& catalogue_file = "") {
    return server_.Start(Config(catalogue_file), &clock_);
  }
  void Stop() { server_.Stop(); }
  absl::StatusOr<v1::CatalogueInfo> Put(const std::string& model,
                                        v1::ItemCatalogue catalogue,
                                        const std::string& description) {
    v1::PutCatalogueRequest request;
    request.set_model_id(model);
    *request.mutable_catalogue() = std::move(catalogue);
    request.set_description(description);
    return server_.client().PutCatalogue(request);
  }
  absl::StatusOr<v1::CatalogueInfo> Get(const std::string& model,
                                        uint32_t limit = 0,
                                        bool include_items = false) {
    v1::GetCatalogueRequest request;
    request.set_model_id(model);
    request.set_include_items(include_items);
    request.set_limit(limit);
    return server_.client().GetCatalogue(request);
  }
  void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::LoopbackServer server_;
};

TEST_F(CatalogueE2eTest, PutGetRestartAndABadOneChangesNothing) {
  ASSERT_OK(Start());
  EXPECT_EQ(Get(kModel).status().code(), absl::StatusCode::kNotFound);

  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo put,
                       Put(kModel, Genres(), "genres 2026-01"));
  EXPECT_EQ(put.model_id(), kModel);
  EXPECT_EQ(put.version(), 1u);
  EXPECT_EQ(put.items(), 4u);
  EXPECT_EQ(put.feature_kind(), "categories");
  EXPECT_EQ(put.feature_dimension(), 3u);
  EXPECT_EQ(put.items_with_features(), 3u);
  EXPECT_EQ(put.reference_users(), 100u);
  EXPECT_EQ(put.description(), "genres 2026-01");
  EXPECT_EQ(put.uploaded_at().seconds(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_NE(put.fingerprint(), 0u);
  EXPECT_FALSE(put.has_catalogue());

  // The first 2 items, as stored.
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo got,
                       Get(kModel, 2, /*include_items=*/true));
  EXPECT_EQ(got.version(), 1u);
  EXPECT_EQ(got.fingerprint(), put.fingerprint());
  EXPECT_EQ(got.items(), 4u);
  ASSERT_EQ(got.catalogue().items_size(), 2);
  EXPECT_EQ(got.catalogue().reference_users(), 100u);
  EXPECT_EQ(got.catalogue().items(0).item_id(), "i1");
  EXPECT_THAT(got.catalogue().items(0).categories(),
              ElementsAre("jazz", "live"));
  EXPECT_EQ(got.catalogue().items(0).reference_users(), 30u);
  EXPECT_EQ(got.catalogue().items(1).item_id(), "i2");

  clock_.Advance(absl::Minutes(5));
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo second,
                       Put(kModel, Embeddings(), "embeddings v2"));
  EXPECT_EQ(second.version(), 2u);
  EXPECT_EQ(second.items(), 2u);
  EXPECT_EQ(second.feature_kind(), "embedding");
  EXPECT_EQ(second.feature_dimension(), 3u);
  EXPECT_EQ(second.items_with_features(), 2u);
  EXPECT_EQ(second.reference_users(), 0u);
  EXPECT_NE(second.fingerprint(), put.fingerprint());

  // Item 2 repeats e1's id: refused, naming it; version 2 stays.
  v1::ItemCatalogue duplicate = Embeddings();
  *duplicate.add_items() = duplicate.items(0);
  const absl::StatusOr<v1::CatalogueInfo> bad =
      Put(kModel, duplicate, "broken");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("item 2: duplicate item id \"e1\""));
  // Item 1 has 7 reference users of a reference of 5.
  v1::ItemCatalogue over;
  over.set_reference_users(5);
  AddItem(over, "a", {"x"}, 1);
  AddItem(over, "b", {"x"}, 7);
  EXPECT_THAT(Put(kModel, over, "over").status().message(),
              HasSubstr("item 1: item \"b\" has 7 reference users"));
  ASSERT_OK_AND_ASSIGN(got, Get(kModel));
  EXPECT_EQ(got.version(), 2u);
  EXPECT_EQ(got.fingerprint(), second.fingerprint());
  EXPECT_EQ(got.description(), "embeddings v2");

  // The catalogue survives a restart: the same version, fingerprint,
  // description and time, and the items (embeddings as unit vectors:
  // (3, 4, 0) / 5).
  Stop();
  clock_.Advance(absl::Hours(1));
  ASSERT_OK(Start());
  ASSERT_OK_AND_ASSIGN(got, Get(kModel, 0, /*include_items=*/true));
  EXPECT_EQ(got.version(), 2u);
  EXPECT_EQ(got.fingerprint(), second.fingerprint());
  EXPECT_EQ(got.description(), "embeddings v2");
  EXPECT_EQ(got.uploaded_at().seconds(), second.uploaded_at().seconds());
  EXPECT_EQ(got.items(), 2u);
  EXPECT_EQ(got.feature_kind(), "embedding");
  ASSERT_EQ(got.catalogue().items_size(), 2);
  EXPECT_THAT(got.catalogue().items(0).embedding(),
              ElementsAre(FloatNear(0.6f, 1e-6f), FloatNear(0.8f, 1e-6f),
                          FloatNear(0.0f, 1e-6f)));
  EXPECT_THAT(got.catalogue().items(1).embedding(),
              ElementsAre(FloatNear(0.0f, 1e-6f), FloatNear(0.0f, 1e-6f),
                          FloatNear(1.0f, 1e-6f)));

  // Versions go on from the stored one.
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo third, Put(kModel, Genres(), ""));
  EXPECT_EQ(third.version(), 3u);
  EXPECT_EQ(third.description(), "no description");
  EXPECT_EQ(third.fingerprint(), put.fingerprint());  // The same ids.
}

TEST_F(CatalogueE2eTest, RefusedModelsAndBadRequests) {
  ASSERT_OK(Start());
  const absl::StatusOr<v1::CatalogueInfo> multiclass =
      Put("triage", Genres(), "");
  EXPECT_EQ(multiclass.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(multiclass.status().message(),
              HasSubstr("model 'triage' is a multiclass model"));
  const absl::StatusOr<v1::CatalogueInfo> undeclared =
      Put("nobody", Genres(), "");
  EXPECT_EQ(undeclared.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(undeclared.status().message(), HasSubstr("'nobody'"));
  EXPECT_EQ(Put("", Genres(), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Put(kModel, v1::ItemCatalogue(), "").status().message(),
              HasSubstr("no items"));
  EXPECT_EQ(Get("triage").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(Put(kModel, Genres(), "").status());
  EXPECT_EQ(Get(kModel, 10'001, true).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo all, Get(kModel, 10'000, true));
  EXPECT_EQ(all.catalogue().items_size(), 4);
}

TEST_F(CatalogueE2eTest, CatalogueFileIsStoredWhenNewOrChanged) {
  const std::string file = dir_.Join("items.jsonl");
  // 3 items, one without features; 50 reference users.
  const std::string three =
      "{\"referenceUsers\": 50}\n"
      "{\"item\": {\"itemId\": \"a\", \"categories\": [\"pop\"], "
      "\"referenceUsers\": 20}}\n"
      "{\"item\": {\"itemId\": \"b\", \"categories\": [\"pop\", \"folk\"]}}\n"
      "{\"item\": {\"itemId\": \"c\"}}\n";
  WriteFile(file, three);
  ASSERT_OK(Start(file));
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo loaded, Get(kModel));
  EXPECT_EQ(loaded.version(), 1u);
  EXPECT_EQ(loaded.items(), 3u);
  EXPECT_EQ(loaded.items_with_features(), 2u);
  EXPECT_EQ(loaded.feature_dimension(), 2u);
  EXPECT_EQ(loaded.reference_users(), 50u);
  EXPECT_EQ(loaded.description(), absl::StrCat("catalogue_file: ", file));

  // Unchanged file: no new version.
  Stop();
  ASSERT_OK(Start(file));
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo again, Get(kModel));
  EXPECT_EQ(again.version(), 1u);
  EXPECT_EQ(again.fingerprint(), loaded.fingerprint());
  EXPECT_EQ(again.uploaded_at().seconds(), loaded.uploaded_at().seconds());

  // An upload lasts until a start whose file differs from it.
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo uploaded,
                       Put(kModel, Embeddings(), "api"));
  EXPECT_EQ(uploaded.version(), 2u);
  Stop();
  ASSERT_OK(Start(file));
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo restored, Get(kModel));
  EXPECT_EQ(restored.version(), 3u);
  EXPECT_EQ(restored.items(), 3u);
  EXPECT_EQ(restored.fingerprint(), loaded.fingerprint());

  // A changed count with the same ids is a change too.
  WriteFile(file, three +
                      "{\"item\": {\"itemId\": \"d\", \"categories\": "
                      "[\"folk\"], \"referenceUsers\": 1}}\n");
  Stop();
  ASSERT_OK(Start(file));
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo grown, Get(kModel));
  EXPECT_EQ(grown.version(), 4u);
  EXPECT_EQ(grown.items(), 4u);

  // A bad file stops the start, naming the file and line; the stored
  // catalogue is left as it was.
  WriteFile(file, three + "{\"item\": {\"itemId\": \"b\"}}\n");
  Stop();
  const absl::Status failed = Start(file);
  EXPECT_EQ(failed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(failed.message(), HasSubstr(file));
  EXPECT_THAT(failed.message(), HasSubstr("line 5: duplicate item id \"b\""));
  ASSERT_OK(Start());  // Without the file.
  ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo kept, Get(kModel));
  EXPECT_EQ(kept.version(), 4u);
  EXPECT_EQ(kept.items(), 4u);
}

}  // namespace
}  // namespace vigie
