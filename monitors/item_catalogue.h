#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vigie::v1 {
class ItemCatalogue;
}

namespace vigie::monitors {

// Bounds on a catalogue, so that one file or API call cannot exhaust
// memory. A catalogue past any of them is rejected (kInvalidArgument).
struct ItemCatalogueOptions {
  // Items. Default: 1,000,000. Range: [1, 100,000,000].
  uint32_t max_items = 1'000'000;
  // Distinct category labels. Default: 100,000. Range: [1, 10,000,000].
  uint32_t max_categories = 100'000;
  // Categories of one item. Default: 64. Range: [1, 4096].
  uint32_t max_categories_per_item = 64;
  // Dimension of the embeddings. Default: 256. Range: [1, 4096].
  uint32_t max_embedding_dimension = 256;

  absl::Status Validate() const;
};

// The items a recommendation model can recommend, each with a unit feature
// vector for diversity and a popularity from a reference period for
// novelty. Items get dense ids 0..size()-1 in catalogue order; the monitors
// work on dense ids, so an event's item id strings are hashed once, by
// Find(), and nothing after.
//
// Features. Either every item with features has categories, or every one
// has an embedding of one common dimension d. Categories: item i's vector
// has 1 / sqrt(k_i) at each of its k_i distinct categories. Embedding: the
// given vector over its Euclidean norm (kept as floats). The cosine of two
// items is then a dot product. An item without categories, or with an
// all-zero embedding, has no features: diversity leaves it out.
//
// Popularity. With U reference users of whom u_i interacted with item i,
// popularity(i) = u_i / U. Novelty(i) = -log2(popularity(i)) (Zhou et al.,
// PNAS 2010, "self-information"). An item no reference user interacted
// with, or an id outside the catalogue, has popularity 0 and novelty
// log2(U + 1): as if one more user had existed and chosen it, just above
// the rarest seen item's log2(U), rather than infinite. Popularity ranks
// order items by u_i descending, ties by dense id.
//
// File format (FromJsonLines): JSON lines, each line one vigie.v1.
// CatalogueLine in Protocol Buffers' JSON mapping; blank lines and lines
// starting with '#' are skipped:
//   {"referenceUsers": 1000}
//   {"item": {"itemId": "a1", "categories": ["jazz", "live"],
//             "referenceUsers": 12}}
//   {"item": {"itemId": "b7", "categories": ["rock"]}}
// Errors name the line: "line 3: duplicate item id \"a1\"".
//
// Memory: per item, its id twice (the id list and the look-up table: about
// 80 bytes for ids of up to 15 bytes), 44 bytes of reference counts,
// popularity, novelty, rank, norm and category offset, plus 4 bytes per
// category or per embedding dimension; about 80 bytes per category label.
// Catalogue-sized arrays are read by every recommended item: a catalogue
// larger than the caches makes ObserveList memory-bound.
// Immutable once built, except SetReferencePopularity; thread-compatible.
class ItemCatalogue {
 public:
  // Find()'s answer for an id outside the catalogue.
  static constexpr uint32_t kUnknownItem = ~uint32_t{0};
  enum class FeatureKind { kNone, kCategories, kEmbedding };

  // kInvalidArgument naming the item (its index) for an empty or duplicate
  // id, mixed or inconsistent features, a non-finite value, reference
  // users of an item above the total, or a bound of `options` exceeded.
  static absl::StatusOr<ItemCatalogue> FromProto(
      const v1::ItemCatalogue& catalogue, const ItemCatalogueOptions& options);
  // Parses a catalogue file's contents (see the class comment); reading the
  // file is the caller's. kInvalidArgument naming the line.
  static absl::StatusOr<ItemCatalogue> FromJsonLines(
      absl::string_view contents, const ItemCatalogueOptions& options);
  // A catalogue of no items, which neither file nor API may give: what a
  // model's lists are resolved against while it has no catalogue (every
  // item is then unknown).
  static ItemCatalogue Empty();
  void ToProto(v1::ItemCatalogue* catalogue) const;

  // Replaces the reference popularity: `interacting_users[i]` reference
  // users of `reference_users` interacted with item i (e.g. learned from a
  // designated period of the stream). kInvalidArgument, and no change, if
  // the span's size is not size() or a count exceeds reference_users.
  absl::Status SetReferencePopularity(
      absl::Span<const uint64_t> interacting_users, uint64_t reference_users);

  // Dense id of `item_id`, or kUnknownItem. One hash of the string.
  uint32_t Find(absl::string_view item_id) const;

  uint32_t size() const { return static_cast<uint32_t>(ids_.size()); }
  const std::string& item_id(uint32_t item) const { return ids_[item]; }
  // A stable hash of the item ids in order: states built against two
  // catalogues with one fingerprint share their dense ids.
  uint64_t fingerprint() const { return fingerprint_; }
  // A stable hash of the items in popularity-rank order: monitors that
  // count the most popular items exactly (recommendation.h) merge only
  // states built with one ranking. Changes with SetReferencePopularity.
  uint64_t ranking_fingerprint() const { return ranking_fingerprint_; }
  const ItemCatalogueOptions& options() const { return options_; }

  FeatureKind feature_kind() const { return feature_kind_; }
  // Categories: distinct labels; embedding: d; none: 0.
  uint32_t feature_dimension() const { return feature_dimension_; }
  // Items with features.
  uint32_t items_with_features() const { return items_with_features_; }
  // The squared norm of item's stored vector: 1 up to float rounding, 0
  // for an item without features.
  double self_dot(uint32_t item) const { return self_dot_[item]; }
  // Categories: the item's category ids, and the weight 1 / sqrt(k) of each.
  absl::Span<const uint32_t> categories(uint32_t item) const {
    return absl::MakeConstSpan(
        category_ids_.data() + category_offsets_[item],
        category_offsets_[item + 1] - category_offsets_[item]);
  }
  double category_weight(uint32_t item) const {
    return weight_by_count_[categories(item).size()];
  }
  // 1 / sqrt(k) for k categories, k up to max_categories_per_item (0 for
  // 0): a table small enough to stay in cache.
  absl::Span<const double> weight_by_count() const { return weight_by_count_; }
  // Embedding: the item's unit vector (all zeros when it has none).
  absl::Span<const float> embedding(uint32_t item) const {
    return absl::MakeConstSpan(
        embeddings_.data() + size_t{item} * feature_dimension_,
        feature_dimension_);
  }
  const std::vector<std::string>& category_labels() const {
    return category_labels_;
  }

  // 0: no reference; popularity and novelty are then not measured.
  uint64_t reference_users() const { return reference_users_; }
  bool has_reference() const { return reference_users_ > 0; }
  uint64_t interacting_users(uint32_t item) const {
    return interacting_users_[item];
  }
  // u_i / U; 0 without a reference.
  double popularity(uint32_t item) const { return reference_[item].popularity; }
  // -log2 of popularity, or UnseenNovelty() for a popularity of 0.
  double novelty(uint32_t item) const { return reference_[item].novelty; }
  double UnseenNovelty() const { return unseen_novelty_; }
  // 0 for the most popular item.
  uint32_t popularity_rank(uint32_t item) const {
    return popularity_rank_[item];
  }
  // Among the k most popular reference items (and interacted with at all).
  bool IsPopular(uint32_t item, uint32_t k) const {
    return popularity_rank_[item] < k && interacting_users_[item] > 0;
  }

 private:
  class Builder;
  ItemCatalogue() = default;
  // Recomputes popularity, novelty, ranks and the ranking fingerprint from
  // the counts.
  void ComputePopularity();

  ItemCatalogueOptions options_;
  std::vector<std::string> ids_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  uint64_t fingerprint_ = 0;
  uint64_t ranking_fingerprint_ = 0;
  FeatureKind feature_kind_ = FeatureKind::kNone;
  uint32_t feature_dimension_ = 0;
  uint32_t items_with_features_ = 0;
  std::vector<double> self_dot_;
  std::vector<std::string> category_labels_;
  std::vector<uint32_t> category_offsets_;  // size() + 1 entries.
  std::vector<uint32_t> category_ids_;
  std::vector<double> weight_by_count_;
  std::vector<float> embeddings_;  // size() * d.
  uint64_t reference_users_ = 0;
  std::vector<uint64_t> interacting_users_;
  // Side by side, as every recommended item reads both.
  struct Reference {
    double popularity = 0;
    double novelty = 0;
  };
  std::vector<Reference> reference_;
  std::vector<uint32_t> popularity_rank_;
  double unseen_novelty_ = 0;
};

}  // namespace vigie::monitors
