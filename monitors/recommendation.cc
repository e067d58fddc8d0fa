#include "monitors/recommendation.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "monitors/item_catalogue.h"
#include "monitors/option_range.h"
#include "monitors/recommendation_internal.h"
#include "monitors/stable_hash.h"
#include "monitors/stats.h"

namespace vigie::monitors {
namespace {

// Relevant and recommended items past which feedback is matched through
// hash maps rather than by comparing every pair.
constexpr size_t kQuadraticPairs = 64;

// A value standing for `weight` items.
struct Weighted {
  double value = 0;
  double weight = 0;
};

// The Gini of a population given as weighted values: sum over pairs of
// w_i w_j |x_i - x_j| / (2 W^2 mean), which sorted ascending is
// sum_i w_i x_i (W_below(i) - W_above(i)) / (W sum_i w_i x_i); with unit
// weights the textbook sum_i (2i - n - 1) x_(i) / (n sum x). Empty for a
// zero total.
std::optional<double> WeightedGini(std::vector<Weighted> values) {
  std::sort(
      values.begin(), values.end(),
      [](const Weighted& a, const Weighted& b) { return a.value < b.value; });
  double total_weight = 0;
  double total = 0;
  for (const Weighted& v : values) {
    total_weight += v.weight;
    total += v.weight * v.value;
  }
  if (!(total > 0)) return std::nullopt;
  double below = 0;
  double sum = 0;
  for (const Weighted& v : values) {
    const double above = total_weight - below - v.weight;
    sum += v.weight * v.value * (below - above);
    below += v.weight;
  }
  return std::clamp(sum / (total_weight * total), 0.0, 1.0);
}

}  // namespace

absl::Status RecommendationMonitor::ValidateOptions(const Options& options) {
  if (absl::Status s =
          CheckRange("exact_items", options.exact_items, 0, 10'000'000);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("exposure_sample_size",
                                  options.exposure_sample_size, 16, 1 << 20);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("personalization_sample_size",
                                  options.personalization_sample_size, 2, 4096);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("max_sampled_list_length",
                                  options.max_sampled_list_length, 1, 1000);
      !s.ok()) {
    return s;
  }
  return CheckRange("serendipity_top_k", options.serendipity_top_k, 0,
                    100'000'000);
}

absl::StatusOr<RecommendationMonitor> RecommendationMonitor::Create(
    const Options& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  return RecommendationMonitor(options);
}

bool RecommendationMonitor::Accepts(const ItemCatalogue& catalogue) const {
  if (catalogue_size_ == 0) return true;
  const uint64_t ranking = catalogue.size() > options_.exact_items
                               ? catalogue.ranking_fingerprint()
                               : 0;
  return fingerprint_ == catalogue.fingerprint() &&
         catalogue_size_ == catalogue.size() && ranking_fingerprint_ == ranking;
}

bool RecommendationMonitor::Bind(const ItemCatalogue& catalogue) {
  const uint64_t ranking = catalogue.size() > options_.exact_items
                               ? catalogue.ranking_fingerprint()
                               : 0;
  if (catalogue_size_ != 0) {
    return fingerprint_ == catalogue.fingerprint() &&
           catalogue_size_ == catalogue.size() &&
           ranking_fingerprint_ == ranking;
  }
  catalogue_size_ = catalogue.size();
  fingerprint_ = catalogue.fingerprint();
  ranking_fingerprint_ = ranking;
  exposure_.assign(head_size(), 0);
  return true;
}

void RecommendationMonitor::ExposeSampled(uint32_t item) {
  const uint64_t hash = internal::ItemHash(item);
  if (hash > item_threshold_) return;
  if (auto it = sampled_items_.find(item); it != sampled_items_.end()) {
    ++it->second;
    return;
  }
  OfferItem(item, hash, 1);
}

void RecommendationMonitor::OfferItem(uint32_t item, uint64_t hash,
                                      uint64_t count) {
  const auto by_hash = [](const std::pair<uint64_t, uint32_t>& a,
                          const std::pair<uint64_t, uint32_t>& b) {
    return a.first < b.first;
  };
  const size_t k = options_.exposure_sample_size;
  if (sampled_items_.size() >= k) {
    if (hash >= item_threshold_) return;
    // Evict the largest hash: it can no longer be among the k smallest.
    std::pop_heap(item_heap_.begin(), item_heap_.end(), by_hash);
    sampled_items_.erase(item_heap_.back().second);
    item_heap_.pop_back();
  }
  sampled_items_.emplace(item, count);
  item_heap_.emplace_back(hash, item);
  std::push_heap(item_heap_.begin(), item_heap_.end(), by_hash);
  if (sampled_items_.size() >= k) item_threshold_ = item_heap_.front().first;
}

void RecommendationMonitor::AddDiversity(const ItemCatalogue& catalogue,
                                         absl::Span<const uint32_t> items) {
  const uint32_t size = catalogue_size_;
  if (scratch_.size() < catalogue.feature_dimension()) {
    scratch_.assign(catalogue.feature_dimension(), 0);
  }
  double* sums = scratch_.data();
  double self = 0;     // sum |u(i)|^2: 1 per item up to rounding.
  double squares = 0;  // |S|^2.
  uint32_t m = 0;
  if (catalogue.feature_kind() == ItemCatalogue::FeatureKind::kCategories) {
    // Weights from the small per-count table, and |u|^2 = k w^2: no
    // per-item array beyond the categories themselves.
    const absl::Span<const double> weights = catalogue.weight_by_count();
    for (uint32_t item : items) {
      if (item >= size) continue;
      const absl::Span<const uint32_t> categories = catalogue.categories(item);
      if (categories.empty()) continue;
      const double w = weights[categories.size()];
      ++m;
      self += static_cast<double>(categories.size()) * w * w;
      for (uint32_t c : categories) sums[c] += w;
    }
    // Each category's sum is read once, then cleared for the next list.
    for (uint32_t item : items) {
      if (item >= size) continue;
      for (uint32_t c : catalogue.categories(item)) {
        squares += sums[c] * sums[c];
        sums[c] = 0;
      }
    }
  } else {
    const size_t d = catalogue.feature_dimension();
    for (uint32_t item : items) {
      if (item >= size) continue;
      // Precomputed: summing the squares here would chain every addition
      // of the vector on the previous one.
      const double norm = catalogue.self_dot(item);
      if (norm == 0) continue;
      ++m;
      self += norm;
      const float* u = catalogue.embedding(item).data();
      for (size_t j = 0; j < d; ++j) sums[j] += static_cast<double>(u[j]);
    }
    for (size_t j = 0; j < d; ++j) {
      squares += sums[j] * sums[j];
      sums[j] = 0;
    }
  }
  if (m < 2) return;
  const double pairs = static_cast<double>(m) * static_cast<double>(m - 1);
  ++diversity_lists_;
  sum_diversity_ += 1 - (squares - self) / pairs;
}

void RecommendationMonitor::ObserveList(const ItemCatalogue& catalogue,
                                        absl::Span<const uint32_t> items,
                                        absl::string_view user_id) {
  if (!Bind(catalogue)) {
    ++catalogue_mismatches_;
    return;
  }
  ++lists_;
  items_ += items.size();
  const uint32_t size = catalogue_size_;
  // The head is the whole catalogue (counted by dense id), or its most
  // popular items (by rank) with a sample for the rest.
  const bool whole = size <= options_.exact_items;
  const uint32_t head = head_size();
  double popularity = 0;
  double novelty = 0;
  uint64_t unknown = 0;
  for (uint32_t item : items) {
    if (item >= size) {
      ++unknown;
      novelty += catalogue.UnseenNovelty();
      continue;
    }
    if (whole) {
      ++exposure_[item];
    } else if (const uint32_t rank = catalogue.popularity_rank(item);
               rank < head) {
      ++exposure_[rank];
    } else {
      ExposeSampled(item);
    }
    popularity += catalogue.popularity(item);
    novelty += catalogue.novelty(item);
  }
  unknown_items_ += unknown;
  if (!items.empty() && catalogue.has_reference()) {
    const double n = static_cast<double>(items.size());
    ++novelty_lists_;
    sum_novelty_ += novelty / n;
    sum_popularity_ += popularity / n;
  }
  if (items.size() >= 2 && catalogue.items_with_features() > 0) {
    AddDiversity(catalogue, items);
  }
  if (!user_id.empty()) {
    const uint64_t user_hash = StableHash(user_id);
    if (sampled_lists_.size() < options_.personalization_sample_size ||
        user_hash <= user_threshold_) {
      SampleList(user_hash, items);
    }
  }
}

void RecommendationMonitor::ObserveListByIds(
    const ItemCatalogue& catalogue,
    absl::Span<const absl::string_view> item_ids, absl::string_view user_id) {
  absl::InlinedVector<uint32_t, 32> items;
  items.reserve(item_ids.size());
  for (absl::string_view id : item_ids) items.push_back(catalogue.Find(id));
  ObserveList(catalogue, items, user_id);
}

void RecommendationMonitor::SampleList(uint64_t user_hash,
                                       absl::Span<const uint32_t> items) {
  const uint64_t list_hash = internal::ListHash(items);
  const auto at = FindUser(user_hash);
  if (at != sampled_lists_.end() && at->user_hash == user_hash &&
      at->list_hash <= list_hash) {
    return;
  }
  SampledList list;
  list.user_hash = user_hash;
  list.list_hash = list_hash;
  for (uint32_t item : items) {
    if (list.items.size() >= options_.max_sampled_list_length) break;
    if (item < catalogue_size_) list.items.push_back(item);
  }
  std::sort(list.items.begin(), list.items.end());
  list.items.erase(std::unique(list.items.begin(), list.items.end()),
                   list.items.end());
  // A list with no catalogue item has nothing to compare.
  if (list.items.empty()) return;
  OfferList(std::move(list));
}

std::vector<RecommendationMonitor::SampledList>::iterator
RecommendationMonitor::FindUser(uint64_t user_hash) {
  return std::lower_bound(
      sampled_lists_.begin(), sampled_lists_.end(), user_hash,
      [](const SampledList& s, uint64_t h) { return s.user_hash < h; });
}

void RecommendationMonitor::OfferList(SampledList list) {
  const auto at = FindUser(list.user_hash);
  if (at != sampled_lists_.end() && at->user_hash == list.user_hash) {
    if (list.list_hash < at->list_hash) *at = std::move(list);
    return;
  }
  const size_t s = options_.personalization_sample_size;
  if (sampled_lists_.size() >= s) {
    if (at == sampled_lists_.end()) return;  // Above every kept user.
    sampled_lists_.insert(at, std::move(list));
    sampled_lists_.pop_back();
  } else {
    sampled_lists_.insert(at, std::move(list));
  }
  if (sampled_lists_.size() >= s) {
    user_threshold_ = sampled_lists_.back().user_hash;
  }
}

void RecommendationMonitor::MergeSampledLists(
    const std::vector<SampledList>& other) {
  // Both ascending by user: one pass, keeping the first s users and, for a
  // user in both, the list of smaller hash.
  const size_t s = options_.personalization_sample_size;
  std::vector<SampledList> merged;
  merged.reserve(std::min(s, sampled_lists_.size() + other.size()));
  auto a = sampled_lists_.begin();
  auto b = other.begin();
  while (merged.size() < s && (a != sampled_lists_.end() || b != other.end())) {
    if (b == other.end() ||
        (a != sampled_lists_.end() && a->user_hash < b->user_hash)) {
      merged.push_back(std::move(*a++));
    } else if (a == sampled_lists_.end() || b->user_hash < a->user_hash) {
      merged.push_back(*b++);
    } else {
      merged.push_back(b->list_hash < a->list_hash ? *b : std::move(*a));
      ++a;
      ++b;
    }
  }
  sampled_lists_ = std::move(merged);
  if (sampled_lists_.size() >= s) {
    user_threshold_ = sampled_lists_.back().user_hash;
  }
}

void RecommendationMonitor::ObserveFeedback(
    const ItemCatalogue& catalogue,
    absl::Span<const absl::string_view> recommended,
    absl::Span<const absl::string_view> relevant) {
  ++feedback_lists_;
  feedback_items_ += recommended.size();
  // First rank (1-based) of each distinct relevant item recommended.
  absl::InlinedVector<std::pair<absl::string_view, size_t>, 8> found;
  if (recommended.size() * relevant.size() <= kQuadraticPairs) {
    for (size_t r = 0; r < relevant.size(); ++r) {
      if (std::find(
              relevant.begin(), relevant.begin() + static_cast<ptrdiff_t>(r),
              relevant[r]) != relevant.begin() + static_cast<ptrdiff_t>(r)) {
        continue;  // Counted already.
      }
      const auto at =
          std::find(recommended.begin(), recommended.end(), relevant[r]);
      if (at != recommended.end()) {
        found.emplace_back(relevant[r],
                           static_cast<size_t>(at - recommended.begin()) + 1);
      }
    }
  } else {
    absl::flat_hash_map<absl::string_view, size_t> first_rank;
    for (size_t i = 0; i < recommended.size(); ++i) {
      first_rank.try_emplace(recommended[i], i + 1);
    }
    absl::flat_hash_set<absl::string_view> seen;
    for (absl::string_view id : relevant) {
      if (!seen.insert(id).second) continue;
      if (auto it = first_rank.find(id); it != first_rank.end()) {
        found.emplace_back(id, it->second);
      }
    }
  }
  if (found.empty()) return;
  ++hit_lists_;
  size_t best = found.front().second;
  for (const auto& [id, rank] : found) {
    best = std::min(best, rank);
    ++hits_;
    const uint32_t item = catalogue.Find(id);
    if (item == ItemCatalogue::kUnknownItem ||
        !catalogue.IsPopular(item, options_.serendipity_top_k)) {
      ++serendipitous_hits_;
    }
  }
  sum_reciprocal_rank_ += 1 / static_cast<double>(best);
}

absl::Status RecommendationMonitor::Merge(const RecommendationMonitor& other) {
  if (this == &other) {
    const RecommendationMonitor copy = other;
    return Merge(copy);
  }
  const Options& a = options_;
  const Options& b = other.options_;
  if (a.exact_items != b.exact_items ||
      a.exposure_sample_size != b.exposure_sample_size ||
      a.personalization_sample_size != b.personalization_sample_size ||
      a.max_sampled_list_length != b.max_sampled_list_length ||
      a.serendipity_top_k != b.serendipity_top_k) {
    return absl::InvalidArgumentError(
        "cannot merge recommendation monitors with different options");
  }
  if (catalogue_size_ != 0 && other.catalogue_size_ != 0 &&
      (catalogue_size_ != other.catalogue_size_ ||
       fingerprint_ != other.fingerprint_ ||
       ranking_fingerprint_ != other.ranking_fingerprint_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge recommendation monitors of two catalogues or "
        "popularity rankings (",
        catalogue_size_, " and ", other.catalogue_size_, " items)"));
  }
  if (catalogue_size_ == 0 && other.catalogue_size_ != 0) {
    catalogue_size_ = other.catalogue_size_;
    fingerprint_ = other.fingerprint_;
    ranking_fingerprint_ = other.ranking_fingerprint_;
    exposure_.assign(head_size(), 0);
  }
  lists_ = SaturatingAdd(lists_, other.lists_);
  items_ = SaturatingAdd(items_, other.items_);
  unknown_items_ = SaturatingAdd(unknown_items_, other.unknown_items_);
  catalogue_mismatches_ =
      SaturatingAdd(catalogue_mismatches_, other.catalogue_mismatches_);
  diversity_lists_ = SaturatingAdd(diversity_lists_, other.diversity_lists_);
  sum_diversity_ += other.sum_diversity_;
  novelty_lists_ = SaturatingAdd(novelty_lists_, other.novelty_lists_);
  sum_novelty_ += other.sum_novelty_;
  sum_popularity_ += other.sum_popularity_;
  for (size_t i = 0; i < other.exposure_.size(); ++i) {
    exposure_[i] = SaturatingAdd(exposure_[i], other.exposure_[i]);
  }
  for (const auto& [item, count] : other.sampled_items_) {
    if (auto it = sampled_items_.find(item); it != sampled_items_.end()) {
      it->second = SaturatingAdd(it->second, count);
    } else {
      OfferItem(item, internal::ItemHash(item), count);
    }
  }
  MergeSampledLists(other.sampled_lists_);
  feedback_lists_ = SaturatingAdd(feedback_lists_, other.feedback_lists_);
  hit_lists_ = SaturatingAdd(hit_lists_, other.hit_lists_);
  sum_reciprocal_rank_ += other.sum_reciprocal_rank_;
  feedback_items_ = SaturatingAdd(feedback_items_, other.feedback_items_);
  hits_ = SaturatingAdd(hits_, other.hits_);
  serendipitous_hits_ =
      SaturatingAdd(serendipitous_hits_, other.serendipitous_hits_);
  return absl::OkStatus();
}

RecommendationMetrics RecommendationMonitor::Snapshot() const {
  RecommendationMetrics m;
  m.lists = lists_;
  m.items = items_;
  m.unknown_items = unknown_items_;
  m.catalogue_mismatches = catalogue_mismatches_;
  m.catalogue_size = catalogue_size_;
  m.diversity_lists = diversity_lists_;
  if (diversity_lists_ > 0) {
    m.diversity = sum_diversity_ / static_cast<double>(diversity_lists_);
  }
  m.novelty_lists = novelty_lists_;
  if (novelty_lists_ > 0) {
    const double n = static_cast<double>(novelty_lists_);
    m.novelty = sum_novelty_ / n;
    m.average_popularity = sum_popularity_ / n;
  }

  if (catalogue_size_ > 0) {
    const double c = static_cast<double>(catalogue_size_);
    std::vector<Weighted> values;
    values.reserve(exposure_.size() + sampled_items_.size() + 1);
    double distinct = 0;
    for (uint64_t count : exposure_) {
      values.push_back({static_cast<double>(count), 1});
      distinct += count > 0 ? 1 : 0;
    }
    // The tail: exact while the sample holds every distinct tail item.
    const double tail = c - static_cast<double>(exposure_.size());
    const size_t k = options_.exposure_sample_size;
    double tail_distinct = static_cast<double>(sampled_items_.size());
    if (sampled_items_.size() >= k) {
      // KMV: the k-th smallest of D uniform hashes is about k / D.
      const double kth = (static_cast<double>(item_threshold_) + 1) * 0x1p-64;
      tail_distinct = std::min(tail, static_cast<double>(k - 1) / kth);
      m.exposure_exact = false;
    }
    if (!sampled_items_.empty()) {
      const double weight =
          tail_distinct / static_cast<double>(sampled_items_.size());
      for (const auto& [item, count] : sampled_items_) {
        values.push_back({static_cast<double>(count), weight});
      }
    }
    values.push_back({0, tail - tail_distinct});
    distinct += tail_distinct;
    m.distinct_items = distinct;
    m.coverage = distinct / c;
    if (!m.exposure_exact) {
      m.coverage_relative_error =
          tail_distinct / distinct / std::sqrt(static_cast<double>(k - 2));
    }
    m.exposure_gini = WeightedGini(std::move(values));
  }

  m.personalization_users = static_cast<uint32_t>(sampled_lists_.size());
  if (sampled_lists_.size() >= 2) {
    double sum = 0;
    double pairs = 0;
    for (size_t i = 0; i < sampled_lists_.size(); ++i) {
      const std::vector<uint32_t>& a = sampled_lists_[i].items;
      for (size_t j = i + 1; j < sampled_lists_.size(); ++j) {
        const std::vector<uint32_t>& b = sampled_lists_[j].items;
        size_t common = 0;
        for (size_t x = 0, y = 0; x < a.size() && y < b.size();) {
          if (a[x] < b[y]) {
            ++x;
          } else if (b[y] < a[x]) {
            ++y;
          } else {
            ++common, ++x, ++y;
          }
        }
        sum += static_cast<double>(common) /
               std::sqrt(static_cast<double>(a.size()) *
                         static_cast<double>(b.size()));
        ++pairs;
      }
    }
    m.personalization = 1 - sum / pairs;
  }

  m.feedback_lists = feedback_lists_;
  m.hits = hits_;
  m.serendipitous_hits = serendipitous_hits_;
  if (feedback_lists_ > 0) {
    const double n = static_cast<double>(feedback_lists_);
    m.hit_rate = static_cast<double>(hit_lists_) / n;
    m.mrr = sum_reciprocal_rank_ / n;
  }
  if (feedback_items_ > 0) {
    m.serendipity = static_cast<double>(serendipitous_hits_) /
                    static_cast<double>(feedback_items_);
  }
  return m;
}

}  // namespace vigie::monitors
