// RecommendationMonitor::ObserveList for 10-item lists against catalogues
// of categories (1 to 3 of 50 per item) and of 32-dimension embeddings,
// with diversity, novelty and popularity, exact exposure counts and the
// personalisation sample (user ids among 100,000): the target is 2 million
// lists a second per core. Also the exposure sample on a catalogue past
// exact_items, the id look-ups of ObserveListByIds, and Snapshot.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "monitors/item_catalogue.h"
#include "monitors/recommendation.h"
#include "vigie/v1/catalogue.pb.h"

namespace {

using vigie::monitors::ItemCatalogue;
using vigie::monitors::RecommendationMonitor;

constexpr int kListLength = 10;
constexpr int kLists = 1 << 14;

// `items` items; categories or an embedding of `dimension` values; a
// reference popularity among 10,000 users.
ItemCatalogue Catalogue(int items, int dimension) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0, 1);
  vigie::v1::ItemCatalogue proto;
  proto.set_reference_users(10'000);
  for (int i = 0; i < items; ++i) {
    vigie::v1::CatalogueItem* item = proto.add_items();
    item->set_item_id(absl::StrCat("item-", i));
    item->set_reference_users(rng() % 10'001);
    if (dimension == 0) {
      for (uint64_t k = 1 + rng() % 3; k > 0; --k) {
        item->add_categories(absl::StrCat("category-", rng() % 50));
      }
    } else {
      for (int j = 0; j < dimension; ++j) item->add_embedding(normal(rng));
    }
  }
  vigie::monitors::ItemCatalogueOptions options;
  options.max_items = static_cast<uint32_t>(items);
  return *ItemCatalogue::FromProto(proto, options);
}

struct List {
  std::vector<uint32_t> items;
  std::string user;
};

// Zipf-like item choice, as recommendations concentrate on popular items.
std::vector<List> Lists(int items) {
  std::mt19937_64 rng(2);
  std::vector<double> weights(static_cast<size_t>(items));
  for (size_t i = 0; i < weights.size(); ++i)
    weights[i] = 1 / (static_cast<double>(i) + 1);
  std::discrete_distribution<uint32_t> zipf(weights.begin(), weights.end());
  std::vector<List> lists(kLists);
  for (List& list : lists) {
    for (int j = 0; j < kListLength; ++j) list.items.push_back(zipf(rng));
    list.user = absl::StrCat("user-", rng() % 100'000);
  }
  return lists;
}

// Args: catalogue items, embedding dimension (0: categories), exact_items.
void BM_RecommendationObserveList(benchmark::State& state) {
  const ItemCatalogue catalogue = Catalogue(static_cast<int>(state.range(0)),
                                            static_cast<int>(state.range(1)));
  RecommendationMonitor::Options options;
  options.exact_items = static_cast<uint32_t>(state.range(2));
  RecommendationMonitor monitor = *RecommendationMonitor::Create(options);
  const std::vector<List> lists = Lists(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const List& list : lists) {
      monitor.ObserveList(catalogue, list.items, list.user);
    }
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * kLists);
}
BENCHMARK(BM_RecommendationObserveList)
    ->ArgNames({"items", "dim", "exact"})
    ->Args({10'000, 0, 100'000})
    ->Args({10'000, 32, 100'000})
    ->Args({200'000, 0, 100'000});

// The same lists as id strings: one catalogue look-up per item first.
void BM_RecommendationObserveListByIds(benchmark::State& state) {
  const ItemCatalogue catalogue = Catalogue(10'000, 0);
  RecommendationMonitor monitor =
      *RecommendationMonitor::Create(RecommendationMonitor::Options());
  const std::vector<List> lists = Lists(10'000);
  std::vector<std::vector<absl::string_view>> ids;
  for (const List& list : lists) {
    std::vector<absl::string_view>& out = ids.emplace_back();
    for (uint32_t item : list.items) out.push_back(catalogue.item_id(item));
  }
  for (auto _ : state) {
    for (size_t i = 0; i < lists.size(); ++i) {
      monitor.ObserveListByIds(catalogue, ids[i], lists[i].user);
    }
    benchmark::DoNotOptimize(monitor);
  }
  state.SetItemsProcessed(state.iterations() * kLists);
}
BENCHMARK(BM_RecommendationObserveListByIds);

// A window's metrics: Gini sorts the catalogue's counts, personalisation
// compares the sample's pairs.
void BM_RecommendationSnapshot(benchmark::State& state) {
  const ItemCatalogue catalogue = Catalogue(10'000, 0);
  RecommendationMonitor monitor =
      *RecommendationMonitor::Create(RecommendationMonitor::Options());
  for (const List& list : Lists(10'000)) {
    monitor.ObserveList(catalogue, list.items, list.user);
  }
  for (auto _ : state) benchmark::DoNotOptimize(monitor.Snapshot());
}
BENCHMARK(BM_RecommendationSnapshot);

// A pane's monitor (16,384 lists of a 10,000-item catalogue, exact
// exposure counts and a full personalisation sample) merged into a
// window's: the exposure counts added item by item, the samples merged.
void BM_RecommendationMerge(benchmark::State& state) {
  const ItemCatalogue catalogue = Catalogue(10'000, 0);
  RecommendationMonitor pane =
      *RecommendationMonitor::Create(RecommendationMonitor::Options());
  for (const List& list : Lists(10'000)) {
    pane.ObserveList(catalogue, list.items, list.user);
  }
  RecommendationMonitor window =
      *RecommendationMonitor::Create(RecommendationMonitor::Options());
  (void)window.Merge(pane);  // Bound to the catalogue, as after one pane.
  for (auto _ : state) benchmark::DoNotOptimize(window.Merge(pane));
  state.SetItemsProcessed(state.iterations());  // Merges.
}
BENCHMARK(BM_RecommendationMerge);

// The floor: reading the pane's state and writing as much (a copy).
void BM_RecommendationMergeBaselineCopy(benchmark::State& state) {
  const ItemCatalogue catalogue = Catalogue(10'000, 0);
  RecommendationMonitor pane =
      *RecommendationMonitor::Create(RecommendationMonitor::Options());
  for (const List& list : Lists(10'000)) {
    pane.ObserveList(catalogue, list.items, list.user);
  }
  for (auto _ : state) {
    RecommendationMonitor copy = pane;
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());  // Copies.
}
BENCHMARK(BM_RecommendationMergeBaselineCopy);

}  // namespace
