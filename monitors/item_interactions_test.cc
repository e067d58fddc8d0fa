// ItemInteractions: reference popularity learned from feedback events.
// Expected counts come from sets built in the test; expected popularity and
// novelty from their definitions (u_i / U and -log2 of it).

#include "monitors/item_interactions.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/recommendation.pb.h"
#include "vigie/v1/catalogue.pb.h"

namespace vigie::monitors {
namespace {

using ::testing::HasSubstr;

void ExpectError(const absl::Status& status, absl::StatusCode code,
                 absl::string_view why) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_THAT(status.message(), HasSubstr(why));
}

ItemCatalogue Catalogue(uint32_t items, const std::string& prefix,
                        uint64_t reference_users = 0) {
  v1::ItemCatalogue proto;
  proto.set_reference_users(reference_users);
  for (uint32_t i = 0; i < items; ++i) {
    v1::CatalogueItem* item = proto.add_items();
    item->set_item_id(prefix + std::to_string(i));
    item->add_categories("c");
    // The uploaded popularity, which learned counts replace.
    if (reference_users > 0) item->set_reference_users(reference_users);
  }
  absl::StatusOr<ItemCatalogue> catalogue =
      ItemCatalogue::FromProto(proto, ItemCatalogueOptions());
  EXPECT_TRUE(catalogue.ok()) << catalogue.status();
  return *std::move(catalogue);
}

std::vector<absl::string_view> Views(const std::vector<std::string>& ids) {
  return std::vector<absl::string_view>(ids.begin(), ids.end());
}

// Random feedback events over items i0..i(n-1) plus unknown ids, with
// repeats inside an event.
std::vector<std::vector<std::string>> RandomEvents(int events, uint32_t items,
                                                   uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<uint32_t> item(0, items + 2);
  std::uniform_int_distribution<int> length(0, 4);
  std::vector<std::vector<std::string>> out(static_cast<size_t>(events));
  for (auto& event : out) {
    const int n = length(rng);
    for (int k = 0; k < n; ++k) {
      const uint32_t i = item(rng);
      // Ids past the catalogue are unknown to it.
      event.push_back("i" + std::to_string(i));
    }
  }
  return out;
}

TEST(ItemInteractionsTest, CountsEachItemOncePerEventAndLearnsPopularity) {
  const uint32_t n = 20;
  const ItemCatalogue catalogue = Catalogue(n, "i", /*reference_users=*/5);
  const auto events = RandomEvents(500, n, 7);
  ItemInteractions interactions;
  // Independent count: per item, the events whose set of ids holds it.
  std::map<std::string, uint64_t> expected;
  for (const auto& event : events) {
    interactions.Observe(catalogue, Views(event));
    for (const std::string& id :
         std::set<std::string>(event.begin(), event.end())) {
      ++expected[id];
    }
  }
  EXPECT_EQ(interactions.events(), 500u);
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(interactions.count(i), expected["i" + std::to_string(i)]) << i;
  }

  ASSERT_OK_AND_ASSIGN(ItemCatalogue learned, interactions.Apply(catalogue));
  EXPECT_EQ(learned.reference_users(), 500u);
  EXPECT_EQ(learned.fingerprint(), catalogue.fingerprint());
  for (uint32_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(expected["i" + std::to_string(i)]);
    if (u == 0) {
      EXPECT_EQ(learned.popularity(i), 0.0);
      EXPECT_NEAR(learned.novelty(i), std::log2(501.0), 1e-12);
    } else {
      EXPECT_NEAR(learned.popularity(i), u / 500, 1e-15) << i;
      EXPECT_NEAR(learned.novelty(i), -std::log2(u / 500), 1e-12) << i;
    }
  }
  // The catalogue applied to is unchanged: every item had 5 of 5 users.
  EXPECT_EQ(catalogue.popularity(3), 1.0);
}

TEST(ItemInteractionsTest, AnEventWithNoKnownItemStillCountsItsUser) {
  const ItemCatalogue catalogue = Catalogue(3, "i");
  ItemInteractions interactions;
  interactions.Observe(catalogue, {"i0"});
  interactions.Observe(catalogue, {"zzz"});
  interactions.Observe(catalogue, {});
  ASSERT_OK_AND_ASSIGN(ItemCatalogue learned, interactions.Apply(catalogue));
  EXPECT_NEAR(learned.popularity(0), 1.0 / 3, 1e-15);
  EXPECT_EQ(learned.popularity(1), 0.0);
}

TEST(ItemInteractionsTest, MergeOfSplitStreamsEqualsTheWholeStream) {
  const uint32_t n = 12;
  const ItemCatalogue catalogue = Catalogue(n, "i");
  const auto events = RandomEvents(300, n, 11);
  ItemInteractions whole, first, second, empty;
  for (size_t k = 0; k < events.size(); ++k) {
    whole.Observe(catalogue, Views(events[k]));
    (k % 3 == 0 ? first : second).Observe(catalogue, Views(events[k]));
  }
  ASSERT_OK(empty.Merge(first));
  ASSERT_OK(empty.Merge(second));
  EXPECT_EQ(empty.events(), whole.events());
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(empty.count(i), whole.count(i));
}

TEST(ItemInteractionsTest, AnotherCatalogueIsRefused) {
  const ItemCatalogue a = Catalogue(4, "i");
  const ItemCatalogue b = Catalogue(4, "j");
  ItemInteractions interactions;
  ExpectError(interactions.Apply(a).status(),
              absl::StatusCode::kFailedPrecondition, "no feedback event");
  interactions.Observe(a, {"i1"});
  interactions.Observe(b, {"j1"});  // Ignored, counted as a mismatch.
  EXPECT_EQ(interactions.events(), 1u);
  EXPECT_EQ(interactions.catalogue_mismatches(), 1u);
  ExpectError(interactions.Apply(b).status(),
              absl::StatusCode::kFailedPrecondition, "another catalogue");
  ItemInteractions other;
  other.Observe(b, {"j2"});
  const uint64_t before = interactions.count(1);
  ExpectError(interactions.Merge(other), absl::StatusCode::kInvalidArgument,
              "different catalogues");
  EXPECT_EQ(interactions.count(1), before);
  EXPECT_EQ(interactions.events(), 1u);
}

TEST(ItemInteractionsTest, StateRoundTripsAndBadStatesAreDataLoss) {
  const ItemCatalogue catalogue = Catalogue(8, "i");
  ItemInteractions interactions;
  for (const auto& event : RandomEvents(50, 8, 3)) {
    interactions.Observe(catalogue, Views(event));
  }
  state::v1::ItemInteractionsState state;
  interactions.ToProto(&state);
  ASSERT_OK_AND_ASSIGN(ItemInteractions restored,
                       ItemInteractions::FromProto(state));
  EXPECT_EQ(restored.events(), interactions.events());
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(restored.count(i), interactions.count(i));
  }
  ASSERT_OK(restored.Apply(catalogue).status());

  ASSERT_GE(state.items_size(), 2);
  auto expect_loss = [](state::v1::ItemInteractionsState bad,
                        absl::string_view why) {
    ExpectError(ItemInteractions::FromProto(bad).status(),
                absl::StatusCode::kDataLoss, why);
  };
  state::v1::ItemInteractionsState bad = state;
  bad.set_version(2);
  expect_loss(bad, "version");
  bad = state;
  bad.set_items(0, 8);
  expect_loss(bad, "past the catalogue");
  bad = state;
  bad.set_items(1, bad.items(0));
  expect_loss(bad, "ascending");
  bad = state;
  bad.set_counts(0, state.events() + 1);
  expect_loss(bad, "events");
  bad = state;
  bad.add_items(7);
  expect_loss(bad, "counts");
}

TEST(ItemInteractionsTest, HostileBytesNeverCrash) {
  const ItemCatalogue catalogue = Catalogue(16, "i");
  ItemInteractions interactions;
  for (const auto& event : RandomEvents(40, 16, 5)) {
    interactions.Observe(catalogue, Views(event));
  }
  state::v1::ItemInteractionsState state;
  interactions.ToProto(&state);
  const std::string bytes = state.SerializeAsString();
  const auto check = [&](const std::string& b) {
    state::v1::ItemInteractionsState parsed;
    if (!parsed.ParseFromString(b)) return;  // Not even a message.
    absl::StatusOr<ItemInteractions> read = ItemInteractions::FromProto(parsed);
    if (!read.ok()) {
      EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
      return;
    }
    // Whatever was accepted is usable: it applies to its catalogue, or
    // says why not.
    absl::StatusOr<ItemCatalogue> applied = read->Apply(catalogue);
    if (applied.ok()) {
      for (uint32_t i = 0; i < catalogue.size(); ++i) {
        EXPECT_LE(applied->popularity(i), 1.0);
      }
    } else {
      EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
    }
  };
  for (const std::string& b : testutil::EachBitFlipped(bytes)) check(b);
  for (const std::string& b : testutil::RandomByteStrings(6, 2000, 100)) {
    check(b);
  }
}

}  // namespace
}  // namespace vigie::monitors
