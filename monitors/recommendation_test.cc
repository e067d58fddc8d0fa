#include "monitors/recommendation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "monitors/item_catalogue.h"
#include "monitors/stable_hash.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/recommendation.pb.h"
#include "vigie/v1/catalogue.pb.h"

namespace vigie::monitors {
namespace {

using Options = RecommendationMonitor::Options;

// ---------------------------------------------------------------------------
// Independent formulas, from the raw category sets, vectors and counts.

// Cosine of two category sets: |A n B| / sqrt(|A| |B|).
double SetCosine(const std::set<std::string>& a,
                 const std::set<std::string>& b) {
  size_t common = 0;
  for (const std::string& x : a) common += b.count(x);
  return static_cast<double>(common) /
         std::sqrt(static_cast<double>(a.size() * b.size()));
}

double VectorCosine(const std::vector<double>& a,
                    const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

// The textbook sorted formula: G = sum_i (2i - n - 1) x_(i) / (n sum x).
double TextbookGini(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double num = 0, sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (2.0 * static_cast<double>(i + 1) - n - 1) * x[i];
    sum += x[i];
  }
  return num / (n * sum);
}

// ---------------------------------------------------------------------------
// Catalogues.

struct TestItem {
  std::string id;
  std::set<std::string> categories;
  uint64_t users = 0;
};

ItemCatalogue MakeCatalogue(const std::vector<TestItem>& items,
                            uint64_t reference_users) {
  v1::ItemCatalogue proto;
  proto.set_reference_users(reference_users);
  for (const TestItem& t : items) {
    v1::CatalogueItem* item = proto.add_items();
    item->set_item_id(t.id);
    for (const std::string& c : t.categories) item->add_categories(c);
    item->set_reference_users(t.users);
  }
  return *ItemCatalogue::FromProto(proto, {});
}

// n items "i0".."i{n-1}", each with 1 to 3 of `num_categories` categories
// and a popularity among `users` reference users (some never chosen).
std::vector<TestItem> RandomItems(uint64_t seed, int n, int num_categories,
                                  uint64_t users) {
  std::mt19937_64 rng(seed);
  std::vector<TestItem> items(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    TestItem& t = items[static_cast<size_t>(i)];
    t.id = absl::StrCat("i", i);
    const int k = 1 + static_cast<int>(rng() % 3);
    for (int j = 0; j < k; ++j) {
      t.categories.insert(absl::StrCat("c", rng() % num_categories));
    }
    t.users = rng() % 4 == 0 ? 0 : rng() % (users + 1);
  }
  return items;
}

struct Event {
  std::vector<uint32_t> items;  // Dense ids (kUnknownItem allowed).
  std::string user;
};

// Lists of `length` items drawn from a Zipf-like law over `n` items, a
// few unknown, users among `users`.
std::vector<Event> RandomLists(uint64_t seed, int count, int n, int length,
                               int users, double unknown_share = 0.02) {
  std::mt19937_64 rng(seed);
  std::vector<double> weights(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) weights[static_cast<size_t>(i)] = 1.0 / (i + 1);
  std::discrete_distribution<int> zipf(weights.begin(), weights.end());
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<Event> events(static_cast<size_t>(count));
  for (Event& e : events) {
    for (int j = 0; j < length; ++j) {
      e.items.push_back(uniform(rng) < unknown_share
                            ? ItemCatalogue::kUnknownItem
                            : static_cast<uint32_t>(zipf(rng)));
    }
    e.user = absl::StrCat("user", rng() % static_cast<uint64_t>(users));
  }
  return events;
}

RecommendationMonitor NewMonitor(const Options& options = Options()) {
  return *RecommendationMonitor::Create(options);
}

// ---------------------------------------------------------------------------

TEST(RecommendationMonitorTest, CreateRejectsOptionsOutOfRange) {
  Options o;
  o.exposure_sample_size = 8;
  EXPECT_EQ(RecommendationMonitor::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = Options();
  o.personalization_sample_size = 1;
  EXPECT_EQ(RecommendationMonitor::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = Options();
  o.exact_items = 20'000'000;
  EXPECT_EQ(RecommendationMonitor::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = Options();
  o.max_sampled_list_length = 0;
  EXPECT_EQ(RecommendationMonitor::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RecommendationMonitorTest, EmptyHasNoMetrics) {
  const RecommendationMetrics m = NewMonitor().Snapshot();
  EXPECT_EQ(m.lists, 0u);
  EXPECT_FALSE(m.diversity.has_value());
  EXPECT_FALSE(m.novelty.has_value());
  EXPECT_FALSE(m.coverage.has_value());
  EXPECT_FALSE(m.exposure_gini.has_value());
  EXPECT_FALSE(m.personalization.has_value());
  EXPECT_FALSE(m.hit_rate.has_value());
  EXPECT_FALSE(m.mrr.has_value());
  EXPECT_FALSE(m.serendipity.has_value());
}

// Categories a = {x, y}, b = {y}, c = {z}: cos(a, b) = 1 / sqrt(2), the
// other pairs 0, so diversity = 1 - (1 / sqrt(2)) / 3. U = 4 reference
// users: a chosen by 2 (novelty 1), b by 1 (novelty 2), c by none
// (novelty log2(5)).
TEST(RecommendationMonitorTest, ThreeItemListByHand) {
  const ItemCatalogue catalogue = MakeCatalogue(
      {{"a", {"x", "y"}, 2}, {"b", {"y"}, 1}, {"c", {"z"}, 0}}, 4);
  RecommendationMonitor monitor = NewMonitor();
  const std::vector<absl::string_view> list = {"a", "b", "c"};
  monitor.ObserveListByIds(catalogue, list, "u1");
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.lists, 1u);
  EXPECT_EQ(m.items, 3u);
  ASSERT_TRUE(m.diversity.has_value());
  EXPECT_NEAR(*m.diversity, 1 - 1 / (3 * std::sqrt(2.0)), 1e-12);
  ASSERT_TRUE(m.novelty.has_value());
  EXPECT_NEAR(*m.novelty, (1 + 2 + std::log2(5.0)) / 3, 1e-12);
  EXPECT_NEAR(*m.average_popularity, (0.5 + 0.25 + 0) / 3, 1e-12);
  EXPECT_DOUBLE_EQ(*m.coverage, 1.0);
  EXPECT_DOUBLE_EQ(*m.exposure_gini, 0.0);  // One exposure each.
  EXPECT_EQ(m.personalization_users, 1u);
  EXPECT_FALSE(m.personalization.has_value());
}

TEST(RecommendationMonitorTest, UnknownAndFeaturelessItems) {
  const ItemCatalogue catalogue =
      MakeCatalogue({{"a", {"x"}, 1}, {"b", {"x"}, 1}, {"n", {}, 0}}, 2);
  RecommendationMonitor monitor = NewMonitor();
  // "n" has no features and "zz" is unknown: diversity over a and b only
  // (identical categories: 0). Novelty: a and b have p = 1/2 (1 bit), n and
  // zz are unseen, log2(3) each.
  const std::vector<absl::string_view> list = {"a", "n", "zz", "b"};
  monitor.ObserveListByIds(catalogue, list, "");
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.unknown_items, 1u);
  EXPECT_NEAR(*m.diversity, 0, 1e-12);
  EXPECT_NEAR(*m.novelty, (1 + 1 + 2 * std::log2(3.0)) / 4, 1e-12);
  EXPECT_NEAR(*m.average_popularity, 1.0 / 4, 1e-12);
  // One featured item: no diversity for this list.
  const std::vector<absl::string_view> single = {"a", "n"};
  monitor.ObserveListByIds(catalogue, single, "");
  EXPECT_EQ(monitor.Snapshot().diversity_lists, 1u);
  EXPECT_EQ(monitor.Snapshot().lists, 2u);
  EXPECT_EQ(monitor.Snapshot().personalization_users, 0u);
}

// Counts over a 5-item catalogue: a 3, b 1, c 2, d 0, e 0.
TEST(RecommendationMonitorTest, GiniAndCoverageOfKnownCounts) {
  const ItemCatalogue catalogue = MakeCatalogue(
      {{"a", {"x"}}, {"b", {"x"}}, {"c", {"x"}}, {"d", {"x"}}, {"e", {"x"}}},
      0);
  RecommendationMonitor monitor = NewMonitor();
  const std::vector<absl::string_view> l1 = {"a", "c"};
  const std::vector<absl::string_view> l2 = {"a", "b", "c"};
  const std::vector<absl::string_view> l3 = {"a"};
  monitor.ObserveListByIds(catalogue, l1, "");
  monitor.ObserveListByIds(catalogue, l2, "");
  monitor.ObserveListByIds(catalogue, l3, "");
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_TRUE(m.exposure_exact);
  EXPECT_DOUBLE_EQ(*m.coverage, 3.0 / 5);
  // Sorted 0, 0, 1, 2, 3: (-4*0 - 2*0 + 0*1 + 2*2 + 4*3) / (5 * 6) = 16/30.
  EXPECT_NEAR(*m.exposure_gini, 16.0 / 30, 1e-12);
  EXPECT_NEAR(*m.exposure_gini, TextbookGini({3, 1, 2, 0, 0}), 1e-12);
  // No reference popularity: no novelty.
  EXPECT_FALSE(m.novelty.has_value());
}

// Lists [a, b, c]; relevant {b} (rank 2), {d} (a miss), {c, a} (rank 1).
// With serendipity_top_k = 1 only a (most popular) is expected.
TEST(RecommendationMonitorTest, FeedbackByHand) {
  const ItemCatalogue catalogue = MakeCatalogue(
      {{"a", {"x"}, 9}, {"b", {"x"}, 5}, {"c", {"x"}, 1}, {"d", {"x"}, 0}}, 10);
  Options o;
  o.serendipity_top_k = 1;
  RecommendationMonitor monitor = NewMonitor(o);
  const std::vector<absl::string_view> list = {"a", "b", "c"};
  const std::vector<absl::string_view> r1 = {"b"};
  const std::vector<absl::string_view> r2 = {"d"};
  const std::vector<absl::string_view> r3 = {"c", "a", "c"};  // c repeated.
  monitor.ObserveFeedback(catalogue, list, r1);
  monitor.ObserveFeedback(catalogue, list, r2);
  monitor.ObserveFeedback(catalogue, list, r3);
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.feedback_lists, 3u);
  EXPECT_NEAR(*m.hit_rate, 2.0 / 3, 1e-15);
  EXPECT_NEAR(*m.mrr, (0.5 + 0 + 1) / 3, 1e-15);
  EXPECT_EQ(m.hits, 3u);                // b, c, a.
  EXPECT_EQ(m.serendipitous_hits, 2u);  // b and c.
  EXPECT_NEAR(*m.serendipity, 2.0 / 9, 1e-15);
}

TEST(RecommendationMonitorTest, LongFeedbackMatchesShortFeedback) {
  // Past kQuadraticPairs the maps take over: same answers.
  std::vector<TestItem> items = RandomItems(3, 50, 5, 100);
  const ItemCatalogue catalogue = MakeCatalogue(items, 100);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(absl::StrCat("i", (i * 7) % 50));
  std::vector<absl::string_view> list(ids.begin(), ids.end());
  std::vector<absl::string_view> relevant = {"i7", "i14", "zz", "i7"};
  RecommendationMonitor monitor = NewMonitor();
  monitor.ObserveFeedback(catalogue, list, relevant);
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.hits, 2u);
  // i7 is at rank 2 ((1 * 7) % 50), i14 at rank 3.
  EXPECT_NEAR(*m.mrr, 0.5, 1e-15);
}

// A seeded stream against brute force: all pairs' cosines from the raw
// category sets, novelty and popularity from the raw counts, exact
// exposure counts, Gini by the sorted formula.
TEST(RecommendationMonitorTest, RandomStreamMatchesBruteForce) {
  const uint64_t users = 1000;
  const std::vector<TestItem> items = RandomItems(11, 300, 20, users);
  const ItemCatalogue catalogue = MakeCatalogue(items, users);
  const std::vector<Event> events = RandomLists(12, 3000, 300, 10, 500);
  RecommendationMonitor monitor = NewMonitor();
  double diversity = 0, novelty = 0, popularity = 0;
  std::vector<double> counts(items.size(), 0);
  for (const Event& e : events) {
    monitor.ObserveList(catalogue, e.items, e.user);
    double sim = 0;
    int pairs = 0;
    double nov = 0, pop = 0;
    for (size_t i = 0; i < e.items.size(); ++i) {
      const uint32_t a = e.items[i];
      const double p = a == ItemCatalogue::kUnknownItem
                           ? 0
                           : static_cast<double>(items[a].users) /
                                 static_cast<double>(users);
      pop += p;
      nov += p > 0 ? -std::log2(p) : std::log2(users + 1.0);
      if (a == ItemCatalogue::kUnknownItem) continue;
      counts[a] += 1;
      for (size_t j = i + 1; j < e.items.size(); ++j) {
        const uint32_t b = e.items[j];
        if (b == ItemCatalogue::kUnknownItem) continue;
        sim += SetCosine(items[a].categories, items[b].categories);
        ++pairs;
      }
    }
    ASSERT_GT(pairs, 0);
    diversity += 1 - sim / pairs;
    novelty += nov / static_cast<double>(e.items.size());
    popularity += pop / static_cast<double>(e.items.size());
  }
  const double n = static_cast<double>(events.size());
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.diversity_lists, events.size());
  EXPECT_NEAR(*m.diversity, diversity / n, 1e-12);
  EXPECT_NEAR(*m.novelty, novelty / n, 1e-12);
  EXPECT_NEAR(*m.average_popularity, popularity / n, 1e-12);
  const double distinct = static_cast<double>(std::count_if(
      counts.begin(), counts.end(), [](double c) { return c > 0; }));
  EXPECT_DOUBLE_EQ(*m.coverage, distinct / static_cast<double>(items.size()));
  EXPECT_NEAR(*m.exposure_gini, TextbookGini(counts), 1e-12);
}

TEST(RecommendationMonitorTest, EmbeddingDiversityMatchesBruteForce) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1);
  const int n = 100, d = 8;
  std::vector<std::vector<double>> vectors(n, std::vector<double>(d));
  v1::ItemCatalogue proto;
  for (int i = 0; i < n; ++i) {
    v1::CatalogueItem* item = proto.add_items();
    item->set_item_id(absl::StrCat("e", i));
    for (int j = 0; j < d; ++j) {
      // Floats, so that the test's vectors are the catalogue's inputs.
      const float v = static_cast<float>(normal(rng));
      vectors[i][j] = v;
      item->add_embedding(v);
    }
  }
  ASSERT_OK_AND_ASSIGN(ItemCatalogue catalogue,
                       ItemCatalogue::FromProto(proto, {}));
  const std::vector<Event> events = RandomLists(6, 500, n, 10, 50, 0);
  RecommendationMonitor monitor = NewMonitor();
  double diversity = 0;
  for (const Event& e : events) {
    monitor.ObserveList(catalogue, e.items, e.user);
    double sim = 0;
    int pairs = 0;
    for (size_t i = 0; i < e.items.size(); ++i) {
      for (size_t j = i + 1; j < e.items.size(); ++j) {
        sim += VectorCosine(vectors[e.items[i]], vectors[e.items[j]]);
        ++pairs;
      }
    }
    diversity += 1 - sim / pairs;
  }
  // Unit vectors kept as floats: cosines within about 1e-7.
  EXPECT_NEAR(*monitor.Snapshot().diversity,
              diversity / static_cast<double>(events.size()), 1e-6);
}

// Users with one list each (shown any number of times): the sample holds
// them all, and personalisation is 1 - the mean over all pairs.
TEST(RecommendationMonitorTest, PersonalizationMatchesBruteForce) {
  const std::vector<TestItem> items = RandomItems(21, 60, 5, 10);
  const ItemCatalogue catalogue = MakeCatalogue(items, 10);
  const std::vector<Event> lists = RandomLists(22, 40, 60, 10, 1, 0.05);
  RecommendationMonitor monitor = NewMonitor();
  std::vector<std::set<uint32_t>> sets;
  for (size_t u = 0; u < lists.size(); ++u) {
    std::set<uint32_t> s;
    for (uint32_t item : lists[u].items) {
      if (item != ItemCatalogue::kUnknownItem) s.insert(item);
    }
    sets.push_back(s);
    for (int repeat = 0; repeat < 3; ++repeat) {
      monitor.ObserveList(catalogue, lists[u].items, absl::StrCat("u", u));
    }
  }
  double sum = 0;
  int pairs = 0;
  for (size_t a = 0; a < sets.size(); ++a) {
    for (size_t b = a + 1; b < sets.size(); ++b) {
      size_t common = 0;
      for (uint32_t x : sets[a]) common += sets[b].count(x);
      sum += static_cast<double>(common) /
             std::sqrt(static_cast<double>(sets[a].size() * sets[b].size()));
      ++pairs;
    }
  }
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.personalization_users, lists.size());
  EXPECT_NEAR(*m.personalization, 1 - sum / pairs, 1e-12);
}

// Past its size, the sample holds the users of smallest hash, each with
// the one list it was shown.
TEST(RecommendationMonitorTest, PersonalizationSampleIsBottomUsersByHash) {
  const std::vector<TestItem> items = RandomItems(23, 200, 5, 10);
  const ItemCatalogue catalogue = MakeCatalogue(items, 10);
  const std::vector<Event> lists = RandomLists(24, 1000, 200, 10, 1, 0);
  Options o;
  o.personalization_sample_size = 16;
  RecommendationMonitor monitor = NewMonitor(o);
  std::vector<std::pair<uint64_t, size_t>> by_hash;
  for (size_t u = 0; u < lists.size(); ++u) {
    const std::string user = absl::StrCat("u", u);
    monitor.ObserveList(catalogue, lists[u].items, user);
    by_hash.emplace_back(StableHash(user), u);
  }
  std::sort(by_hash.begin(), by_hash.end());
  by_hash.resize(16);
  double sum = 0;
  int pairs = 0;
  for (size_t a = 0; a < by_hash.size(); ++a) {
    const std::vector<uint32_t>& la = lists[by_hash[a].second].items;
    const std::set<uint32_t> sa(la.begin(), la.end());
    for (size_t b = a + 1; b < by_hash.size(); ++b) {
      const std::vector<uint32_t>& lb = lists[by_hash[b].second].items;
      const std::set<uint32_t> sb(lb.begin(), lb.end());
      size_t common = 0;
      for (uint32_t x : sa) common += sb.count(x);
      sum += static_cast<double>(common) /
             std::sqrt(static_cast<double>(sa.size() * sb.size()));
      ++pairs;
    }
  }
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.personalization_users, 16u);
  EXPECT_NEAR(*m.personalization, 1 - sum / pairs, 1e-12);
}

TEST(RecommendationMonitorTest, IdenticalListsAreNotPersonalized) {
  const ItemCatalogue catalogue =
      MakeCatalogue({{"a", {"x"}}, {"b", {"y"}}, {"c", {"z"}}}, 0);
  RecommendationMonitor monitor = NewMonitor();
  const std::vector<absl::string_view> list = {"a", "b", "c"};
  for (int u = 0; u < 10; ++u) {
    monitor.ObserveListByIds(catalogue, list, absl::StrCat("u", u));
  }
  EXPECT_NEAR(*monitor.Snapshot().personalization, 0, 1e-15);
}

void ExpectSameMetrics(const RecommendationMetrics& a,
                       const RecommendationMetrics& b) {
  EXPECT_EQ(a.lists, b.lists);
  EXPECT_EQ(a.items, b.items);
  EXPECT_EQ(a.unknown_items, b.unknown_items);
  EXPECT_EQ(a.diversity_lists, b.diversity_lists);
  EXPECT_EQ(a.novelty_lists, b.novelty_lists);
  EXPECT_NEAR(a.diversity.value_or(-1), b.diversity.value_or(-1), 1e-12);
  EXPECT_NEAR(a.novelty.value_or(-1), b.novelty.value_or(-1), 1e-12);
  EXPECT_NEAR(a.average_popularity.value_or(-1),
              b.average_popularity.value_or(-1), 1e-12);
  EXPECT_EQ(a.distinct_items, b.distinct_items);
  EXPECT_EQ(a.coverage, b.coverage);
  EXPECT_NEAR(a.exposure_gini.value_or(-1), b.exposure_gini.value_or(-1),
              1e-12);
  EXPECT_EQ(a.exposure_exact, b.exposure_exact);
  EXPECT_EQ(a.personalization_users, b.personalization_users);
  // The same sample, summed in another order.
  EXPECT_NEAR(a.personalization.value_or(-1), b.personalization.value_or(-1),
              1e-12);
  EXPECT_EQ(a.feedback_lists, b.feedback_lists);
  EXPECT_EQ(a.hits, b.hits);
  EXPECT_EQ(a.serendipitous_hits, b.serendipitous_hits);
  EXPECT_EQ(a.hit_rate, b.hit_rate);
  EXPECT_NEAR(a.mrr.value_or(-1), b.mrr.value_or(-1), 1e-12);
}

// Split a stream over three monitors (by event index), with feedback on
// every fifth list, merge, and compare with the whole stream. Both samples
// (personalisation, and exposure when exact_items = 0) must come out
// identical.
void CheckMergeEqualsWholeStream(const Options& options, int catalogue_items,
                                 int events_count) {
  const std::vector<TestItem> items =
      RandomItems(31, catalogue_items, 30, 1000);
  const ItemCatalogue catalogue = MakeCatalogue(items, 1000);
  const std::vector<Event> events =
      RandomLists(32, events_count, catalogue_items, 10, 2000);
  RecommendationMonitor whole = NewMonitor(options);
  std::vector<RecommendationMonitor> parts(3, NewMonitor(options));
  std::mt19937_64 rng(33);
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    RecommendationMonitor& part = parts[rng() % 3];
    whole.ObserveList(catalogue, e.items, e.user);
    part.ObserveList(catalogue, e.items, e.user);
    if (i % 5 == 0) {
      std::vector<std::string> ids;
      for (uint32_t item : e.items) {
        ids.push_back(item == ItemCatalogue::kUnknownItem ? "zz"
                                                          : items[item].id);
      }
      const std::vector<absl::string_view> list(ids.begin(), ids.end());
      const std::vector<absl::string_view> relevant = {list[i % 10], "i3"};
      whole.ObserveFeedback(catalogue, list, relevant);
      part.ObserveFeedback(catalogue, list, relevant);
    }
  }
  // ((p2 + p0) + p1): another order than the stream's.
  ASSERT_OK(parts[2].Merge(parts[0]));
  ASSERT_OK(parts[2].Merge(parts[1]));
  ExpectSameMetrics(parts[2].Snapshot(), whole.Snapshot());
  // The samples are the same sets: the states differ at most in the
  // rounding of the sums.
  state::v1::RecommendationState a, b;
  parts[2].ToProto(&a);
  whole.ToProto(&b);
  EXPECT_EQ(a.head_indexes_size(), b.head_indexes_size());
  for (int i = 0; i < a.head_indexes_size() && i < b.head_indexes_size(); ++i) {
    EXPECT_EQ(a.head_indexes(i), b.head_indexes(i));
    EXPECT_EQ(a.head_counts(i), b.head_counts(i));
  }
  ASSERT_EQ(a.sampled_items_size(), b.sampled_items_size());
  for (int i = 0; i < a.sampled_items_size(); ++i) {
    EXPECT_EQ(a.sampled_items(i), b.sampled_items(i));
    EXPECT_EQ(a.sampled_counts(i), b.sampled_counts(i));
  }
  ASSERT_EQ(a.sampled_lists_size(), b.sampled_lists_size());
  for (int i = 0; i < a.sampled_lists_size(); ++i) {
    EXPECT_EQ(a.sampled_lists(i).SerializeAsString(),
              b.sampled_lists(i).SerializeAsString());
  }
}

TEST(RecommendationMonitorTest, MergeOfSplitStreamEqualsWholeStream) {
  CheckMergeEqualsWholeStream(Options(), 500, 5000);
}

TEST(RecommendationMonitorTest, MergeEqualsWholeStreamWithExposureSample) {
  Options o;
  o.exact_items = 0;
  o.exposure_sample_size = 64;  // Far fewer than the distinct items.
  o.personalization_sample_size = 16;
  CheckMergeEqualsWholeStream(o, 2000, 5000);
}

TEST(RecommendationMonitorTest, MergeEqualsWholeStreamWithHeadAndSample) {
  Options o;
  o.exact_items = 100;  // The 100 most popular reference items.
  o.exposure_sample_size = 64;
  CheckMergeEqualsWholeStream(o, 2000, 5000);
}

TEST(RecommendationMonitorTest, MergeWithEmptyIsIdentity) {
  const std::vector<TestItem> items = RandomItems(41, 100, 10, 50);
  const ItemCatalogue catalogue = MakeCatalogue(items, 50);
  RecommendationMonitor monitor = NewMonitor();
  for (const Event& e : RandomLists(42, 200, 100, 10, 30)) {
    monitor.ObserveList(catalogue, e.items, e.user);
  }
  const std::string before = monitor.Serialize();
  ASSERT_OK(monitor.Merge(NewMonitor()));
  EXPECT_EQ(monitor.Serialize(), before);
  RecommendationMonitor empty = NewMonitor();
  ASSERT_OK(empty.Merge(monitor));
  EXPECT_EQ(empty.Serialize(), before);
}

TEST(RecommendationMonitorTest, MergeIntoItselfDoublesCounts) {
  const ItemCatalogue catalogue =
      MakeCatalogue({{"a", {"x"}}, {"b", {"y"}}}, 0);
  RecommendationMonitor monitor = NewMonitor();
  const std::vector<absl::string_view> list = {"a", "b", "a"};
  monitor.ObserveListByIds(catalogue, list, "u");
  ASSERT_OK(monitor.Merge(monitor));
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.lists, 2u);
  // Counts a 4, b 2: Gini (−1 * 2 + 1 * 4) / (2 * 6).
  EXPECT_NEAR(*m.exposure_gini, TextbookGini({4, 2}), 1e-15);
}

TEST(RecommendationMonitorTest, IncompatibleMergeFailsAndChangesNothing) {
  const ItemCatalogue c1 = MakeCatalogue({{"a", {"x"}}, {"b", {"y"}}}, 0);
  const ItemCatalogue c2 = MakeCatalogue({{"b", {"y"}}, {"a", {"x"}}}, 0);
  const std::vector<absl::string_view> list = {"a", "b"};
  RecommendationMonitor m1 = NewMonitor();
  m1.ObserveListByIds(c1, list, "u");
  RecommendationMonitor m2 = NewMonitor();
  m2.ObserveListByIds(c2, list, "u");
  const std::string before = m1.Serialize();
  EXPECT_EQ(m1.Merge(m2).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m1.Serialize(), before);
  Options o;
  o.serendipity_top_k = 7;
  EXPECT_EQ(m1.Merge(NewMonitor(o)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m1.Serialize(), before);
}

TEST(RecommendationMonitorTest, ListsOfAnotherCatalogueAreCounted) {
  const ItemCatalogue c1 = MakeCatalogue({{"a", {"x"}}, {"b", {"y"}}}, 0);
  const ItemCatalogue c2 = MakeCatalogue({{"b", {"y"}}, {"a", {"x"}}}, 0);
  RecommendationMonitor monitor = NewMonitor();
  const std::vector<absl::string_view> list = {"a", "b"};
  monitor.ObserveListByIds(c1, list, "u");
  monitor.ObserveListByIds(c2, list, "u");
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.lists, 1u);
  EXPECT_EQ(m.catalogue_mismatches, 1u);
  EXPECT_EQ(monitor.catalogue_fingerprint(), c1.fingerprint());
}

// Sample mode while fewer distinct items than the sample's k were
// recommended: exact, as if counted item by item.
TEST(RecommendationMonitorTest, ExposureSampleIsExactBelowItsSize) {
  const int n = 5000;
  const std::vector<TestItem> items = RandomItems(51, n, 10, 10);
  const ItemCatalogue catalogue = MakeCatalogue(items, 10);
  Options o;
  o.exact_items = 100;
  o.exposure_sample_size = 4096;
  RecommendationMonitor monitor = NewMonitor(o);
  std::vector<double> counts(n, 0);
  // Items 0..999 only.
  for (const Event& e : RandomLists(52, 2000, 1000, 10, 100, 0)) {
    monitor.ObserveList(catalogue, e.items, e.user);
    for (uint32_t item : e.items) counts[item] += 1;
  }
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_TRUE(m.exposure_exact);
  const double distinct = static_cast<double>(std::count_if(
      counts.begin(), counts.end(), [](double c) { return c > 0; }));
  EXPECT_DOUBLE_EQ(m.distinct_items, distinct);
  EXPECT_DOUBLE_EQ(*m.coverage, distinct / n);
  EXPECT_NEAR(*m.exposure_gini, TextbookGini(counts), 1e-12);
}

// Past its size the sample estimates. Zipf(1) exposure, 10^6 lists of 10
// over 200,000 items in a random order (so that hashes are unrelated to
// popularity): coverage within 4 relative standard errors; the Gini within
// 0.01 when a 1,000-item head comes from a reference ranked like the
// exposure, within 0.07 when nothing is counted exactly.
void CheckExposureEstimates(uint32_t exact_items, double gini_tolerance) {
  const int n = 200'000;
  std::mt19937_64 rng(61);
  std::vector<uint32_t> permutation(n);
  for (int i = 0; i < n; ++i) permutation[i] = static_cast<uint32_t>(i);
  std::shuffle(permutation.begin(), permutation.end(), rng);
  v1::ItemCatalogue proto;
  proto.set_reference_users(1'000'000);
  for (int i = 0; i < n; ++i) proto.add_items()->set_item_id(absl::StrCat(i));
  for (int r = 0; r < n; ++r) {
    proto.mutable_items(static_cast<int>(permutation[r]))
        ->set_reference_users(1'000'000 / static_cast<uint64_t>(r + 1));
  }
  ASSERT_OK_AND_ASSIGN(ItemCatalogue catalogue,
                       ItemCatalogue::FromProto(proto, {}));
  Options o;
  o.exact_items = exact_items;
  o.exposure_sample_size = 4096;
  RecommendationMonitor monitor = NewMonitor(o);
  std::vector<double> weights(n);
  for (int i = 0; i < n; ++i) weights[i] = 1.0 / (i + 1);
  std::discrete_distribution<int> zipf(weights.begin(), weights.end());
  std::vector<double> counts(n, 0);
  std::vector<uint32_t> list(10);
  for (int l = 0; l < 100'000; ++l) {
    for (uint32_t& item : list) {
      item = permutation[static_cast<size_t>(zipf(rng))];
      counts[item] += 1;
    }
    monitor.ObserveList(catalogue, list, "");
  }
  const RecommendationMetrics m = monitor.Snapshot();
  EXPECT_FALSE(m.exposure_exact);
  const double distinct = static_cast<double>(std::count_if(
      counts.begin(), counts.end(), [](double c) { return c > 0; }));
  EXPECT_GT(m.coverage_relative_error, 0);
  EXPECT_LE(m.coverage_relative_error, 1 / std::sqrt(4094.0));
  EXPECT_NEAR(m.distinct_items / distinct, 1, 4 * m.coverage_relative_error);
  const double gini = TextbookGini(counts);
  EXPECT_NEAR(*m.exposure_gini, gini, gini_tolerance)
      << "exact_items " << exact_items;
}

TEST(RecommendationMonitorTest, ExposureSampleEstimatesWithRankedHead) {
  CheckExposureEstimates(1000, 0.01);
}

TEST(RecommendationMonitorTest, ExposureSampleEstimatesWithoutHead) {
  CheckExposureEstimates(0, 0.07);
}

// A new reference ranking changes which items the head counts: lists
// resolved against it are another catalogue's, unless the head is the
// whole catalogue.
TEST(RecommendationMonitorTest, AnotherRankingIsAnotherCatalogue) {
  ItemCatalogue catalogue =
      MakeCatalogue({{"a", {"x"}, 1}, {"b", {"y"}, 2}, {"c", {"z"}, 3}}, 3);
  Options ranked;
  ranked.exact_items = 1;
  RecommendationMonitor head_only = NewMonitor(ranked);
  RecommendationMonitor whole = NewMonitor();
  const std::vector<absl::string_view> list = {"a", "b", "c"};
  head_only.ObserveListByIds(catalogue, list, "u");
  whole.ObserveListByIds(catalogue, list, "u");
  const std::vector<uint64_t> reversed = {3, 2, 1};
  ASSERT_OK(catalogue.SetReferencePopularity(reversed, 3));
  head_only.ObserveListByIds(catalogue, list, "u");
  whole.ObserveListByIds(catalogue, list, "u");
  EXPECT_EQ(head_only.Snapshot().catalogue_mismatches, 1u);
  EXPECT_EQ(whole.Snapshot().catalogue_mismatches, 0u);
  EXPECT_EQ(whole.Snapshot().lists, 2u);
}

TEST(RecommendationMonitorTest, SerializeRoundTrip) {
  const std::vector<TestItem> items = RandomItems(71, 300, 10, 100);
  const ItemCatalogue catalogue = MakeCatalogue(items, 100);
  for (uint32_t exact_items : {100'000u, 0u}) {
    Options o;
    o.exact_items = exact_items;
    o.exposure_sample_size = 64;
    o.personalization_sample_size = 8;
    RecommendationMonitor monitor = NewMonitor(o);
    const std::vector<Event> events = RandomLists(72, 1000, 300, 10, 100);
    for (const Event& e : events) {
      monitor.ObserveList(catalogue, e.items, e.user);
    }
    const std::vector<absl::string_view> list = {"i1", "i2", "i3"};
    const std::vector<absl::string_view> relevant = {"i2"};
    monitor.ObserveFeedback(catalogue, list, relevant);
    const std::string bytes = monitor.Serialize();
    ASSERT_OK_AND_ASSIGN(RecommendationMonitor back,
                         RecommendationMonitor::Deserialize(bytes));
    EXPECT_EQ(back.Serialize(), bytes);
    ExpectSameMetrics(back.Snapshot(), monitor.Snapshot());
    // And it goes on observing as the original does.
    for (const Event& e : RandomLists(73, 300, 300, 10, 100)) {
      monitor.ObserveList(catalogue, e.items, e.user);
      back.ObserveList(catalogue, e.items, e.user);
    }
    EXPECT_EQ(back.Serialize(), monitor.Serialize());
  }
}

absl::StatusCode CodeOf(const state::v1::RecommendationState& state) {
  return RecommendationMonitor::FromProto(state).status().code();
}

TEST(RecommendationMonitorTest, InconsistentStatesAreDataLoss) {
  const ItemCatalogue catalogue =
      MakeCatalogue({{"a", {"x"}, 1}, {"b", {"y"}, 1}, {"c", {"y"}, 0}}, 2);
  RecommendationMonitor monitor = NewMonitor();
  const std::vector<absl::string_view> list = {"a", "b", "zz"};
  monitor.ObserveListByIds(catalogue, list, "u");
  const std::vector<absl::string_view> relevant = {"a"};
  monitor.ObserveFeedback(catalogue, list, relevant);
  state::v1::RecommendationState good;
  monitor.ToProto(&good);
  ASSERT_OK(RecommendationMonitor::FromProto(good));

  const auto expect_data_loss = [&](auto&& mutate) {
    state::v1::RecommendationState s = good;
    mutate(s);
    EXPECT_EQ(CodeOf(s), absl::StatusCode::kDataLoss) << s.DebugString();
  };
  using S = state::v1::RecommendationState;
  expect_data_loss([](S& s) { s.set_version(2); });
  expect_data_loss([](S& s) { s.set_exposure_sample_size(1); });
  expect_data_loss([](S& s) { s.set_unknown_items(4); });
  expect_data_loss([](S& s) { s.set_diversity_lists(2); });
  expect_data_loss([](S& s) { s.set_sum_diversity(5); });
  expect_data_loss([](S& s) { s.set_sum_novelty(-1); });
  expect_data_loss([](S& s) { s.set_sum_popularity(std::nan("")); });
  expect_data_loss([](S& s) { s.set_head_indexes(0, 3); });  // Past c.
  expect_data_loss([](S& s) { s.set_head_counts(0, 2); });   // Sum.
  expect_data_loss([](S& s) { s.add_head_counts(1); });
  expect_data_loss([](S& s) { s.set_head_indexes(1, 0); });  // Order.
  expect_data_loss([](S& s) { s.set_catalogue_size(0); });
  expect_data_loss([](S& s) { s.mutable_sampled_lists(0)->clear_items(); });
  expect_data_loss([](S& s) { s.mutable_sampled_lists(0)->add_items(0); });
  expect_data_loss([](S& s) { *s.add_sampled_lists() = s.sampled_lists(0); });
  expect_data_loss([](S& s) { s.set_hit_lists(2); });
  expect_data_loss([](S& s) { s.set_serendipitous_hits(2); });
  expect_data_loss([](S& s) { s.set_sum_reciprocal_rank(2); });
  expect_data_loss([](S& s) { s.set_sum_reciprocal_rank(0); });
  expect_data_loss([](S& s) { s.set_hits(9); });
  // A ranking without a ranked head, and a tail sample without a tail.
  expect_data_loss([](S& s) { s.set_ranking_fingerprint(1); });
  expect_data_loss([](S& s) {
    s.add_sampled_items(2);
    s.add_sampled_counts(1);
  });
  // A ranked head: more tail items than the sample holds.
  expect_data_loss([](S& s) {
    s.set_exact_items(1);
    s.set_ranking_fingerprint(1);
    s.set_exposure_sample_size(16);
    for (uint32_t i = 0; i < 17; ++i) {
      s.add_sampled_items(i);
      s.add_sampled_counts(1);
    }
  });
}

TEST(RecommendationMonitorTest, HostileBytesNeverCrash) {
  const std::vector<TestItem> items = RandomItems(81, 50, 5, 10);
  const ItemCatalogue catalogue = MakeCatalogue(items, 10);
  Options o;
  o.exact_items = 20;  // Sample mode, so that both paths are attacked.
  o.exposure_sample_size = 16;
  o.personalization_sample_size = 4;
  RecommendationMonitor monitor = NewMonitor(o);
  for (const Event& e : RandomLists(82, 30, 50, 5, 10)) {
    monitor.ObserveList(catalogue, e.items, e.user);
  }
  const std::vector<absl::string_view> list = {"i1", "i2"};
  const std::vector<absl::string_view> relevant = {"i2"};
  monitor.ObserveFeedback(catalogue, list, relevant);
  const std::string bytes = monitor.Serialize();
  const auto check = [](const std::string& b) {
    const auto result = RecommendationMonitor::Deserialize(b);
    if (result.ok()) {
      // Whatever was accepted is usable.
      (void)result->Snapshot();
      (void)result->Serialize();
    } else {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
    }
  };
  // The never-zero options come last: every truncation is detected.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(
        RecommendationMonitor::Deserialize(bytes.substr(0, n)).status().code(),
        absl::StatusCode::kDataLoss)
        << n;
  }
  for (const std::string& b : testutil::EachBitFlipped(bytes)) check(b);
  for (const std::string& b : testutil::RandomByteStrings(83, 2000, 200)) {
    check(b);
  }
}

}  // namespace
}  // namespace vigie::monitors
