#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "monitors/item_catalogue.h"

namespace vigie::state::v1 {
class RecommendationState;
}

namespace vigie::monitors {

// A window's recommendation metrics. Each optional is empty while its
// count is too small to define it, never NaN.
struct RecommendationMetrics {
  uint64_t lists = 0;                 // Lists observed.
  uint64_t items = 0;                 // Recommended items in them.
  uint64_t unknown_items = 0;         // Of those, outside the catalogue.
  uint64_t catalogue_mismatches = 0;  // Lists ignored: another catalogue.
  uint32_t catalogue_size = 0;        // 0 while no list was observed.

  uint64_t diversity_lists = 0;     // Lists with >= 2 items with features.
  std::optional<double> diversity;  // Mean intra-list diversity.
  uint64_t novelty_lists = 0;       // Non-empty lists with a reference.
  std::optional<double> novelty;    // Mean novelty, bits.
  std::optional<double> average_popularity;  // Mean popularity.

  // Distinct items recommended: exact, or the sample's estimate.
  double distinct_items = 0;
  std::optional<double> coverage;       // distinct_items / catalogue_size.
  std::optional<double> exposure_gini;  // Over the whole catalogue.
  bool exposure_exact = true;           // False once the tail sample is full.
  // Relative standard error of distinct_items, hence of coverage: 0 while
  // exact, else at most 1 / sqrt(k - 2) for a sample of k (the tail's
  // share of distinct_items times that).
  double coverage_relative_error = 0;

  uint32_t personalization_users = 0;     // Users in the sample.
  std::optional<double> personalization;  // Needs 2 users.

  uint64_t feedback_lists = 0;        // Lists with feedback.
  uint64_t hits = 0;                  // Relevant items recommended.
  uint64_t serendipitous_hits = 0;    // Of those, not popular.
  std::optional<double> hit_rate;     // Share of lists with a hit.
  std::optional<double> mrr;          // Mean reciprocal rank of the first hit.
  std::optional<double> serendipity;  // serendipitous_hits / items.
};

// Quality of one recommendation model's lists over a pane: diversity,
// novelty, catalogue coverage, exposure concentration, popularity and
// personalisation of the lists, and, from feedback, hit rate, MRR and
// serendipity. Rules R1-R3 compare diversity, novelty, coverage and Gini
// with a frozen baseline window.
//
//   ItemCatalogue catalogue = ...;  // Dense ids, features, popularity.
//   RecommendationMonitor monitor = *RecommendationMonitor::Create({});
//   ids.clear();
//   for (const auto& id : list.item_ids()) ids.push_back(catalogue.Find(id));
//   monitor.ObserveList(catalogue, ids, user_id);
//   monitor.ObserveFeedback(catalogue, recommended_ids, relevant_ids);
//
// Definitions, for a list L of n items (rank order) resolved against the
// catalogue; u(i) is an item's unit feature vector, p(i) its reference
// popularity, nov(i) = -log2 p(i) its novelty (item_catalogue.h: unseen and
// unknown items have p = 0 and novelty log2(U + 1)):
//   diversity(L) = 1 - mean over pairs i < j of u(i).u(j), over the m >= 2
//                  items of L with features (Ziegler et al., WWW 2005;
//                  Smyth and McClave 2001). Computed as 1 - (|S|^2 -
//                  sum |u(i)|^2) / (m (m - 1)), S = sum u(i): O(m f), not
//                  O(m^2 f). In [0, 1] for categories, [0, 2] for
//                  embeddings. A repeated item is a pair of cosine 1.
//   novelty(L) = mean over L of nov(i); popularity(L) = mean of p(i)
//                  (average recommendation popularity, Abdollahpouri et
//                  al., FLAIRS 2019). Both averaged over lists.
//   coverage = distinct catalogue items recommended / catalogue size.
//   exposure Gini = sum_i (2i - C - 1) x_(i) / (C sum x) over the C
//                  catalogue items' recommendation counts x ascending
//                  (never-recommended items count 0).
//   personalisation = 1 - mean over pairs of sampled users (a, b) of
//                  |A n B| / sqrt(|A| |B|), A and B their lists' distinct
//                  catalogue items (1 - |A n B| / k for lists of k).
//   hit rate = share of feedback lists with a relevant item; MRR = mean of
//                  1 / rank of the first relevant item (0 if none);
//   serendipity = relevant recommended items outside the serendipity_top_k
//                  most popular reference items, over recommended items
//                  (Ge et al., RecSys 2010, with popularity as the
//                  expected recommender).
//
// Bounds, costs and memory per metric (n items per list, f categories or
// embedding dimensions per item):
//   diversity, novelty, popularity: exact up to rounding; O(n f) per list;
//     24 bytes of state, plus a working array of 8 bytes per category or
//     dimension (not state).
//   coverage and Gini, catalogue size C <= exact_items: exact counts, O(1)
//     per item, 8 C bytes; Snapshot O(C log C).
//   coverage and Gini, C > exact_items: exact counts for the head, the
//     exact_items most popular reference items (catalogue ranks; by dense
//     id without a reference), where most exposure usually goes, and for
//     the tail a bottom-k sample of the distinct tail items recommended, by
//     a fixed hash of the dense id (k = exposure_sample_size), holding each
//     sampled item's exact count (an item whose hash is below the final
//     threshold was admitted at its first occurrence, in every pane). Exact
//     while at most k distinct tail items were recommended. Beyond, the
//     distinct tail items D_t = (k - 1) / h_k (h_k the k-th smallest hash
//     in [0, 1]: KMV, Bar-Yossef et al. 2002; Beyer et al., SIGMOD 2007),
//     unbiased with relative standard error 1 / sqrt(k - 2) (1.6% for k =
//     4096), which bounds coverage's; the Gini is that of the head's exact
//     counts, the sampled counts each standing for D_t / k tail items, and
//     the never-recommended tail items as zeros (weighted sorted formula).
//     Its error is the sample's on the tail's share of the inequality: on
//     Zipf(1) exposure (10^6 items recommended, over 200,000 items) with k
//     = 4096, 0.0006 with a 1,000-item head from a reference ranked like
//     the exposure, 0.06 (low) with no head, as a uniform sample of items
//     rarely holds the few that take most exposure (recommendation_test.cc
//     asserts 0.01 and 0.07). O(1) per head item and unsampled tail item,
//     one hash-map probe per sampled one; 8 bytes per head item, 24 per
//     sampled one.
//   personalisation: a bottom-s sample of users by a fixed hash of the user
//     id (s = personalization_sample_size), each with one list (the one with
//     the smallest hash of its content, so the choice is independent of
//     order), truncated to max_sampled_list_length items, kept sorted by
//     user hash. O(1) per list for an unsampled user (one hash of its id
//     and a compare), O(log s + s + n log n) when sampled (rare once full:
//     about s ln(U / s) insertions for U users); Merge O(s n); 4 bytes per
//     item plus 40 per user; Snapshot O(s^2 n).
//   hit rate, MRR, serendipity: exact; O(n r) per feedback for r relevant
//     items (a hash map past 64 pairs); 48 bytes.
//
// Measured (bench/monitors/recommendation_benchmark.cc, Release, CPU time,
// one core of a quiet 2-core machine; bench/README.md): ObserveList of 10
// items of a 10,000-item catalogue, with diversity, novelty, exact exposure
// and the personalisation sample, 3.8 million lists a second with
// categories (1 to 3 of 50 per item) and 3.4 million with 32-dimension
// embeddings (1.3 MB of vectors); 1.0 million for 200,000 items past
// exact_items, where the catalogue's arrays no longer fit in cache; 1.4
// million through ObserveListByIds, whose string look-ups cost the most.
//
// Merge. Exact metrics merge exactly; both samples are deterministic
// functions of the set of (user, list) and (item, count) observations, so
// merging the states of sub-streams gives the whole stream's state in any
// order. Everything here is deterministic: a replay rebuilds it. States
// merge only when built against one catalogue (same items in the same
// order) and, when C > exact_items, one popularity ranking.
// Thread-compatible: const methods may run concurrently; others need a
// single owner.
class RecommendationMonitor {
 public:
  struct Options {
    // Catalogue items with exact exposure counts, 8 bytes each: all of a
    // catalogue up to this size, else its most popular reference items.
    // Default: 100,000 (800 kB). Range: [0, 10,000,000].
    uint32_t exact_items = 100'000;
    // k of the exposure sample of the other items. Default: 4096. Range:
    // [16, 1,048,576].
    uint32_t exposure_sample_size = 4096;
    // Users in the personalisation sample; Snapshot compares every pair.
    // Default: 256. Range: [2, 4096].
    uint32_t personalization_sample_size = 256;
    // Items kept per sampled list. Default: 100. Range: [1, 1000].
    uint32_t max_sampled_list_length = 100;
    // Serendipity: relevant items outside this many most popular reference
    // items count. Default: 100. Range: [0, 100,000,000].
    uint32_t serendipity_top_k = 100;

    friend bool operator==(const Options&, const Options&) = default;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<RecommendationMonitor> Create(const Options& options);

  // One recommended list: `items` are dense ids from catalogue.Find (those
  // equal to kUnknownItem or past the catalogue are counted unknown), best
  // first; `user_id` keys the personalisation sample (empty: left out of
  // it). The first list binds the monitor to the catalogue's fingerprint;
  // a list against a catalogue with another fingerprint is ignored and
  // counted in catalogue_mismatches. Allocation-free except when the list
  // enters the personalisation or exposure sample. Cost: see above.
  void ObserveList(const ItemCatalogue& catalogue,
                   absl::Span<const uint32_t> items, absl::string_view user_id);
  // The same from item id strings: one catalogue look-up per item.
  void ObserveListByIds(const ItemCatalogue& catalogue,
                        absl::Span<const absl::string_view> item_ids,
                        absl::string_view user_id);
  // The outcome of one list: `recommended` as it was shown, best first, and
  // the items the user interacted with. Matched by id, so items outside the
  // catalogue can hit (and are not popular). A relevant item counts once,
  // at its best rank; relevant items not recommended are not hits.
  void ObserveFeedback(const ItemCatalogue& catalogue,
                       absl::Span<const absl::string_view> recommended,
                       absl::Span<const absl::string_view> relevant);

  // kInvalidArgument if `other` has other options or is bound to another
  // catalogue; *this is then unchanged. O(state of both).
  absl::Status Merge(const RecommendationMonitor& other);

  RecommendationMetrics Snapshot() const;
  const Options& options() const { return options_; }
  uint64_t catalogue_fingerprint() const { return fingerprint_; }
  // Whether lists against `catalogue` would be observed: the monitor is
  // unbound, or bound to this catalogue (and ranking, when it counts).
  bool Accepts(const ItemCatalogue& catalogue) const;

  std::string Serialize() const;  // A vigie.state.v1.RecommendationState.
  void ToProto(state::v1::RecommendationState* state) const;
  // kDataLoss for bytes that are not a valid state: truncated, garbage,
  // another version, options out of range, items past the catalogue, counts
  // that do not add up, unsorted or oversized samples.
  static absl::StatusOr<RecommendationMonitor> Deserialize(
      absl::string_view bytes);
  static absl::StatusOr<RecommendationMonitor> FromProto(
      const state::v1::RecommendationState& state);

 private:
  struct SampledList {
    uint64_t user_hash = 0;
    uint64_t list_hash = 0;
    std::vector<uint32_t> items;  // Distinct, ascending.
  };

  explicit RecommendationMonitor(const Options& options) : options_(options) {}
  static absl::Status ValidateOptions(const Options& options);
  // Items with exact counts.
  uint32_t head_size() const {
    return std::min(catalogue_size_, options_.exact_items);
  }
  // Binds to `catalogue` if unbound; false if bound to another.
  bool Bind(const ItemCatalogue& catalogue);
  void ExposeSampled(uint32_t item);
  // Adds the list's diversity if it has two items with features.
  void AddDiversity(const ItemCatalogue& catalogue,
                    absl::Span<const uint32_t> items);
  void SampleList(uint64_t user_hash, absl::Span<const uint32_t> items);
  // The first sampled list whose user hash is not below `user_hash`.
  std::vector<SampledList>::iterator FindUser(uint64_t user_hash);
  // Inserts or updates a sampled list, keeping the bottom s users.
  void OfferList(SampledList list);
  // O(s): the union of two samples, cut to the bottom s users.
  void MergeSampledLists(const std::vector<SampledList>& other);
  // Inserts `item` with `count` into the exposure sample, evicting the
  // largest hash when full.
  void OfferItem(uint32_t item, uint64_t hash, uint64_t count);

  Options options_;
  uint32_t catalogue_size_ = 0;
  uint64_t fingerprint_ = 0;
  // The catalogue's ranking fingerprint when the head is ranked (C >
  // exact_items), else 0.
  uint64_t ranking_fingerprint_ = 0;
  uint64_t lists_ = 0;
  uint64_t items_ = 0;
  uint64_t unknown_items_ = 0;
  uint64_t catalogue_mismatches_ = 0;
  uint64_t diversity_lists_ = 0;
  double sum_diversity_ = 0;
  uint64_t novelty_lists_ = 0;
  double sum_novelty_ = 0;
  double sum_popularity_ = 0;
  // Head counts: by dense id when the head is the whole catalogue, else by
  // popularity rank.
  std::vector<uint64_t> exposure_;
  // Tail sample: counts by dense id; a max-heap of (hash, id) of the same
  // items; the largest hash kept once full (items above it are not
  // sampled), else the largest uint64_t.
  absl::flat_hash_map<uint32_t, uint64_t> sampled_items_;
  std::vector<std::pair<uint64_t, uint32_t>> item_heap_;
  uint64_t item_threshold_ = ~uint64_t{0};
  // Personalisation sample, ascending by user hash, and the largest user
  // hash kept once full.
  std::vector<SampledList> sampled_lists_;
  uint64_t user_threshold_ = ~uint64_t{0};
  uint64_t feedback_lists_ = 0;
  uint64_t hit_lists_ = 0;
  double sum_reciprocal_rank_ = 0;
  uint64_t feedback_items_ = 0;
  uint64_t hits_ = 0;
  uint64_t serendipitous_hits_ = 0;
  // Working memory of AddDiversity, all zeros between calls; not state.
  std::vector<double> scratch_;
};

}  // namespace vigie::monitors
