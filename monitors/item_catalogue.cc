#include "monitors/item_catalogue.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "google/protobuf/util/json_util.h"
#include "monitors/option_range.h"
#include "monitors/stable_hash.h"
#include "vigie/v1/catalogue.pb.h"

namespace vigie::monitors {

absl::Status ItemCatalogueOptions::Validate() const {
  if (absl::Status s = CheckRange("max_items", max_items, 1, 100'000'000);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckRange("max_categories", max_categories, 1, 10'000'000);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("max_categories_per_item",
                                  max_categories_per_item, 1, 4096);
      !s.ok()) {
    return s;
  }
  return CheckRange("max_embedding_dimension", max_embedding_dimension, 1,
                    4096);
}

// Adds items one at a time, checking each against the options and the
// items before it, so that an error can name the item's line or index.
class ItemCatalogue::Builder {
 public:
  // `unit` names positions in errors: "line" or "item".
  Builder(const ItemCatalogueOptions& options, absl::string_view unit)
      : unit_(unit) {
    catalogue_.options_ = options;
    catalogue_.category_offsets_.push_back(0);
    catalogue_.weight_by_count_.push_back(0);
    for (uint32_t k = 1; k <= options.max_categories_per_item; ++k) {
      catalogue_.weight_by_count_.push_back(1 / std::sqrt(k));
    }
  }

  absl::Status AddItem(const v1::CatalogueItem& item, int64_t position);
  absl::Status SetReferenceUsers(uint64_t users, int64_t position);
  absl::StatusOr<ItemCatalogue> Finish();

 private:
  absl::Status Error(int64_t position, absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(unit_, " ", position, ": ", message));
  }
  absl::Status AddCategories(const v1::CatalogueItem& item, int64_t position);
  absl::Status AddEmbedding(const v1::CatalogueItem& item, int64_t position);

  std::string unit_;
  ItemCatalogue catalogue_;
  absl::flat_hash_map<std::string, uint32_t> category_index_;
  std::vector<int64_t> positions_;  // Of each item, for Finish's errors.
  bool reference_set_ = false;
};

absl::Status ItemCatalogue::Builder::AddItem(const v1::CatalogueItem& item,
                                             int64_t position) {
  ItemCatalogue& c = catalogue_;
  if (item.item_id().empty()) return Error(position, "empty item id");
  if (c.ids_.size() >= c.options_.max_items) {
    return Error(
        position,
        absl::StrCat("more than max_items = ", c.options_.max_items, " items"));
  }
  const uint32_t dense = c.size();
  if (!c.index_.try_emplace(item.item_id(), dense).second) {
    return Error(position,
                 absl::StrCat("duplicate item id \"", item.item_id(), "\""));
  }
  if (item.categories_size() > 0 && item.embedding_size() > 0) {
    return Error(position, absl::StrCat("item \"", item.item_id(),
                                        "\" has both categories and an "
                                        "embedding"));
  }
  c.ids_.push_back(item.item_id());
  c.interacting_users_.push_back(item.reference_users());
  c.self_dot_.push_back(0);
  positions_.push_back(position);
  if (absl::Status s = AddCategories(item, position); !s.ok()) return s;
  if (absl::Status s = AddEmbedding(item, position); !s.ok()) return s;
  c.category_offsets_.push_back(static_cast<uint32_t>(c.category_ids_.size()));
  if (c.self_dot_.back() > 0) ++c.items_with_features_;
  return absl::OkStatus();
}

absl::Status ItemCatalogue::Builder::AddCategories(
    const v1::CatalogueItem& item, int64_t position) {
  ItemCatalogue& c = catalogue_;
  if (item.categories_size() == 0) return absl::OkStatus();
  if (c.feature_kind_ == FeatureKind::kEmbedding) {
    return Error(position, absl::StrCat("item \"", item.item_id(),
                                        "\" has categories, earlier items "
                                        "have embeddings"));
  }
  c.feature_kind_ = FeatureKind::kCategories;
  const size_t begin = c.category_ids_.size();
  for (const std::string& label : item.categories()) {
    if (label.empty()) return Error(position, "empty category label");
    auto [it, inserted] = category_index_.try_emplace(
        label, static_cast<uint32_t>(c.category_labels_.size()));
    if (inserted) {
      if (c.category_labels_.size() >= c.options_.max_categories) {
        return Error(position,
                     absl::StrCat("more than max_categories = ",
                                  c.options_.max_categories, " categories"));
      }
      c.category_labels_.push_back(label);
    }
    c.category_ids_.push_back(it->second);
  }
  // Distinct categories, ascending: the category vector is a set.
  auto first = c.category_ids_.begin() + static_cast<ptrdiff_t>(begin);
  std::sort(first, c.category_ids_.end());
  c.category_ids_.erase(std::unique(first, c.category_ids_.end()),
                        c.category_ids_.end());
  const size_t k = c.category_ids_.size() - begin;
  if (k > c.options_.max_categories_per_item) {
    return Error(position, absl::StrCat("item \"", item.item_id(), "\" has ", k,
                                        " categories, over ",
                                        c.options_.max_categories_per_item));
  }
  const double weight = c.weight_by_count_[k];
  c.self_dot_.back() = static_cast<double>(k) * weight * weight;
  c.feature_dimension_ = static_cast<uint32_t>(c.category_labels_.size());
  return absl::OkStatus();
}

absl::Status ItemCatalogue::Builder::AddEmbedding(const v1::CatalogueItem& item,
                                                  int64_t position) {
  ItemCatalogue& c = catalogue_;
  const size_t d = static_cast<size_t>(item.embedding_size());
  if (c.feature_kind_ == FeatureKind::kEmbedding && d == 0) {
    c.embeddings_.resize(c.embeddings_.size() + c.feature_dimension_, 0.0f);
    return absl::OkStatus();
  }
  if (d == 0) return absl::OkStatus();
  if (c.feature_kind_ == FeatureKind::kCategories) {
    return Error(position, absl::StrCat("item \"", item.item_id(),
                                        "\" has an embedding, earlier items "
                                        "have categories"));
  }
  if (c.feature_kind_ == FeatureKind::kNone) {
    if (d > c.options_.max_embedding_dimension) {
      return Error(position, absl::StrCat("embedding dimension ", d, " over ",
                                          c.options_.max_embedding_dimension));
    }
    c.feature_kind_ = FeatureKind::kEmbedding;
    c.feature_dimension_ = static_cast<uint32_t>(d);
    // Items before this one had no features: zero rows.
    c.embeddings_.assign((c.ids_.size() - 1) * d, 0.0f);
  } else if (d != c.feature_dimension_) {
    return Error(position,
                 absl::StrCat("embedding dimension ", d,
                              ", earlier items have ", c.feature_dimension_));
  }
  double norm2 = 0;
  for (float v : item.embedding()) {
    if (!std::isfinite(v)) return Error(position, "non-finite embedding value");
    norm2 += static_cast<double>(v) * v;
  }
  const double inv = norm2 > 0 ? 1 / std::sqrt(norm2) : 0;
  double self = 0;
  for (float v : item.embedding()) {
    const float unit = static_cast<float>(v * inv);
    c.embeddings_.push_back(unit);
    self += static_cast<double>(unit) * unit;
  }
  c.self_dot_.back() = self;
  return absl::OkStatus();
}

absl::Status ItemCatalogue::Builder::SetReferenceUsers(uint64_t users,
                                                       int64_t position) {
  if (reference_set_) return Error(position, "second reference_users line");
  reference_set_ = true;
  catalogue_.reference_users_ = users;
  return absl::OkStatus();
}

absl::StatusOr<ItemCatalogue> ItemCatalogue::Builder::Finish() {
  ItemCatalogue& c = catalogue_;
  if (c.ids_.empty()) {
    return absl::InvalidArgumentError("the catalogue has no items");
  }
  for (uint32_t i = 0; i < c.size(); ++i) {
    if (c.interacting_users_[i] > c.reference_users_) {
      return Error(
          positions_[i],
          absl::StrCat("item \"", c.ids_[i], "\" has ", c.interacting_users_[i],
                       " reference users, over the reference's ",
                       c.reference_users_));
    }
  }
  uint64_t h = 0;
  for (const std::string& id : c.ids_) h = StableHash(id, h);
  c.fingerprint_ = MixBits(h ^ c.ids_.size());
  c.ComputePopularity();
  return std::move(catalogue_);
}

void ItemCatalogue::ComputePopularity() {
  const size_t n = ids_.size();
  reference_.assign(n, Reference());
  const double users = static_cast<double>(reference_users_);
  unseen_novelty_ = reference_users_ > 0 ? std::log2(users + 1) : 0;
  for (size_t i = 0; i < n && reference_users_ > 0; ++i) {
    const uint64_t u = interacting_users_[i];
    const double p = static_cast<double>(u) / users;
    reference_[i] = {p, u > 0 ? -std::log2(p) : unseen_novelty_};
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) {
    return interacting_users_[a] > interacting_users_[b];
  });
  popularity_rank_.assign(n, 0);
  uint64_t h = 0;
  for (size_t r = 0; r < n; ++r) {
    popularity_rank_[order[r]] = static_cast<uint32_t>(r);
    h = MixBits(h ^ order[r]) + 0x9E3779B97F4A7C15u;
  }
  ranking_fingerprint_ = MixBits(h ^ n);
}

ItemCatalogue ItemCatalogue::Empty() {
  ItemCatalogue c;
  c.category_offsets_.push_back(0);
  c.weight_by_count_.push_back(0);
  c.fingerprint_ = MixBits(0);
  c.ComputePopularity();
  return c;
}

absl::StatusOr<ItemCatalogue> ItemCatalogue::FromProto(
    const v1::ItemCatalogue& catalogue, const ItemCatalogueOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (static_cast<uint64_t>(catalogue.items_size()) > options.max_items) {
    return absl::InvalidArgumentError(
        absl::StrCat("the catalogue has ", catalogue.items_size(),
                     " items, over max_items = ", options.max_items));
  }
  Builder builder(options, "item");
  for (int i = 0; i < catalogue.items_size(); ++i) {
    if (absl::Status s = builder.AddItem(catalogue.items(i), i); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s =
          builder.SetReferenceUsers(catalogue.reference_users(), 0);
      !s.ok()) {
    return s;
  }
  return builder.Finish();
}

absl::StatusOr<ItemCatalogue> ItemCatalogue::FromJsonLines(
    absl::string_view contents, const ItemCatalogueOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  Builder builder(options, "line");
  int64_t number = 0;
  v1::CatalogueLine line;
  for (absl::string_view text : absl::StrSplit(contents, '\n')) {
    ++number;
    text = absl::StripAsciiWhitespace(text);
    if (text.empty() || text[0] == '#') continue;
    line.Clear();
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), &line);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", number,
          ": not a CatalogueLine: ", std::string(parsed.message())));
    }
    absl::Status status;
    switch (line.kind_case()) {
      case v1::CatalogueLine::kItem:
        status = builder.AddItem(line.item(), number);
        break;
      case v1::CatalogueLine::kReferenceUsers:
        status = builder.SetReferenceUsers(line.reference_users(), number);
        break;
      case v1::CatalogueLine::KIND_NOT_SET:
        status = absl::InvalidArgumentError(
            absl::StrCat("line ", number, ": neither item nor referenceUsers"));
        break;
    }
    if (!status.ok()) return status;
  }
  return builder.Finish();
}

void ItemCatalogue::ToProto(v1::ItemCatalogue* catalogue) const {
  catalogue->Clear();
  catalogue->set_reference_users(reference_users_);
  catalogue->mutable_items()->Reserve(static_cast<int>(size()));
  for (uint32_t i = 0; i < size(); ++i) {
    v1::CatalogueItem* item = catalogue->add_items();
    item->set_item_id(ids_[i]);
    item->set_reference_users(interacting_users_[i]);
    if (feature_kind_ == FeatureKind::kCategories) {
      for (uint32_t c : categories(i)) {
        item->add_categories(category_labels_[c]);
      }
    } else if (feature_kind_ == FeatureKind::kEmbedding && self_dot_[i] > 0) {
      // The unit vector: the same cosines, and FromProto keeps it (up to a
      // rounding of the norm).
      for (float v : embedding(i)) item->add_embedding(v);
    }
  }
}

absl::Status ItemCatalogue::SetReferencePopularity(
    absl::Span<const uint64_t> interacting_users, uint64_t reference_users) {
  if (interacting_users.size() != ids_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference popularity has ", interacting_users.size(),
                     " items, the catalogue ", ids_.size()));
  }
  for (size_t i = 0; i < interacting_users.size(); ++i) {
    if (interacting_users[i] > reference_users) {
      return absl::InvalidArgumentError(absl::StrCat(
          "item \"", ids_[i], "\" has ", interacting_users[i],
          " reference users, over the reference's ", reference_users));
    }
  }
  interacting_users_.assign(interacting_users.begin(), interacting_users.end());
  reference_users_ = reference_users;
  ComputePopularity();
  return absl::OkStatus();
}

uint32_t ItemCatalogue::Find(absl::string_view item_id) const {
  const auto it = index_.find(item_id);
  return it == index_.end() ? kUnknownItem : it->second;
}

}  // namespace vigie::monitors
