// Pipeline: a recommendation model's item catalogue, put through the API or
// loaded from its catalogue_file, stored and versioned (only the current
// version is kept), and the reference popularity a model may learn from its
// stream's feedback instead of taking the catalogue's.

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "monitors/stable_hash.h"
#include "services/pipeline.h"
#include "services/proto_conversions.h"
#include "vigie/v1/catalogue.pb.h"

namespace vigie::services {
namespace {

// GetCatalogue's items: the default and the largest limit.
constexpr uint32_t kDefaultItemLimit = 1'000;
constexpr uint32_t kMaxItemLimit = 10'000;

const char* FeatureKindName(monitors::ItemCatalogue::FeatureKind kind) {
  switch (kind) {
    case monitors::ItemCatalogue::FeatureKind::kCategories:
      return "categories";
    case monitors::ItemCatalogue::FeatureKind::kEmbedding:
      return "embedding";
    case monitors::ItemCatalogue::FeatureKind::kNone:
      break;
  }
  return "none";
}

// The stored form of `catalogue` (normalised by ToProto) with its digest.
state::v1::CatalogueState StoredForm(const monitors::ItemCatalogue& catalogue,
                                     std::string description,
                                     absl::Time uploaded_at) {
  state::v1::CatalogueState stored;
  catalogue.ToProto(stored.mutable_catalogue());
  stored.set_content_digest(
      monitors::StableHash(stored.catalogue().SerializeAsString()));
  stored.set_description(std::move(description));
  *stored.mutable_uploaded_at() = ToProtoTime(uploaded_at);
  return stored;
}

// The first `limit` items of `catalogue`, as ToProto writes them.
void FirstItems(const monitors::ItemCatalogue& catalogue, uint32_t limit,
                vigie::v1::ItemCatalogue* out) {
  using Kind = monitors::ItemCatalogue::FeatureKind;
  out->set_reference_users(catalogue.reference_users());
  const uint32_t n = std::min(catalogue.size(), limit);
  out->mutable_items()->Reserve(static_cast<int>(n));
  for (uint32_t i = 0; i < n; ++i) {
    vigie::v1::CatalogueItem* item = out->add_items();
    item->set_item_id(catalogue.item_id(i));
    item->set_reference_users(catalogue.interacting_users(i));
    if (catalogue.feature_kind() == Kind::kCategories) {
      for (uint32_t c : catalogue.categories(i)) {
        item->add_categories(catalogue.category_labels()[c]);
      }
    } else if (catalogue.feature_kind() == Kind::kEmbedding &&
               catalogue.self_dot(i) > 0) {
      for (float v : catalogue.embedding(i)) item->add_embedding(v);
    }
  }
}

vigie::v1::CatalogueInfo InfoOf(const std::string& model_id,
                                const state::v1::CatalogueState& meta,
                                const monitors::ItemCatalogue& catalogue) {
  vigie::v1::CatalogueInfo info;
  info.set_model_id(model_id);
  info.set_version(meta.version());
  info.set_items(catalogue.size());
  info.set_feature_kind(FeatureKindName(catalogue.feature_kind()));
  info.set_feature_dimension(catalogue.feature_dimension());
  info.set_items_with_features(catalogue.items_with_features());
  info.set_reference_users(catalogue.reference_users());
  info.set_fingerprint(catalogue.fingerprint());
  info.set_description(meta.description());
  *info.mutable_uploaded_at() = meta.uploaded_at();
  return info;
}

constexpr char kCataloguePopularity[] = "catalogue";

}  // namespace

void Pipeline::InstallCatalogue(
    ModelState& model,
    std::shared_ptr<const monitors::ItemCatalogue> catalogue) {
  model.stored_catalogue = std::move(catalogue);
  ApplyLearnedPopularity(model);
}

void Pipeline::ApplyLearnedPopularity(ModelState& model) {
  const bool learned_before = model.catalogue != model.stored_catalogue;
  model.catalogue = model.stored_catalogue;
  model.popularity_source = kCataloguePopularity;
  if (!model.config.learn_popularity || model.catalogue == nullptr ||
      !model.reference.has_value()) {
    return;
  }
  const monitors::ItemInteractions* counted = model.reference->interactions();
  if (counted == nullptr || counted->events() == 0) {
    VIGIE_LOG(Warning, "model '", model.config.id, "': its ",
              ReferenceDescription(model),
              " holds no recommendation feedback counted against its "
              "catalogue: the catalogue's own popularity stays in use");
    return;
  }
  absl::StatusOr<monitors::ItemCatalogue> learned =
      counted->Apply(*model.stored_catalogue);
  if (!learned.ok()) {
    VIGIE_LOG(Warning, "model '", model.config.id,
              "': the popularity learned from its ",
              ReferenceDescription(model), " does not apply to catalogue v",
              model.catalogue_meta.version(), " (", learned.status().message(),
              "): the catalogue's own popularity stays in use");
    return;
  }
  model.catalogue =
      std::make_shared<const monitors::ItemCatalogue>(*std::move(learned));
  model.popularity_source =
      absl::StrCat("learned: ", ReferenceDescription(model), ", ",
                   counted->events(), " feedback events");
  if (!learned_before) {
    VIGIE_LOG(Info, "model '", model.config.id, "': reference popularity ",
              model.popularity_source);
  }
}

bool Pipeline::LearnsPopularityIn(const ModelState& model, absl::Time pane) {
  const ModelConfig& config = model.config;
  if (!config.learn_popularity || model.catalogue == nullptr ||
      model.reference.has_value() || !model.counters.has_first_pane()) {
    return false;
  }
  // The window MaybeFreezeReference merges.
  const absl::Time start = config.reference_time.value_or(
      FromProtoTime(model.counters.first_pane()));
  return pane >= start && pane < start + config.reference_window;
}

absl::Status Pipeline::SetCatalogue(ModelState& model,
                                    monitors::ItemCatalogue catalogue,
                                    state::v1::CatalogueState stored) {
  stored.set_version(model.catalogue_meta.version() + 1);
  storage::StateBatch batch = store_->NewBatch();
  batch.PutCatalogue(model.config.id, stored);
  RETURN_IF_ERROR(store_->Commit(batch));
  stored.clear_catalogue();
  model.catalogue_meta = std::move(stored);
  InstallCatalogue(model, std::make_shared<const monitors::ItemCatalogue>(
                              std::move(catalogue)));
  VIGIE_LOG(Info, "model '", model.config.id, "': catalogue v",
            model.catalogue_meta.version(), " stored (",
            model.catalogue->size(), " items, ",
            FeatureKindName(model.catalogue->feature_kind()), "; ",
            model.catalogue_meta.description(), ")");
  return absl::OkStatus();
}

absl::Status Pipeline::LoadCatalogues() {
  absl::flat_hash_map<std::string, state::v1::CatalogueState> stored;
  RETURN_IF_ERROR(
      store_->ForEachCatalogue([&](const std::string& model_id,
                                   const state::v1::CatalogueState& catalogue) {
        stored.insert_or_assign(model_id, catalogue);
        return absl::OkStatus();
      }));
  std::optional<EventRejection> refused;
  // Configured files first: a stored catalogue that one replaces need not
  // be decoded at all.
  for (const ModelConfig& config : config_.models) {
    if (config.catalogue_file.empty()) continue;
    ASSIGN_OR_RETURN(monitors::ItemCatalogue catalogue,
                     LoadCatalogueFile(config, config_.catalogue));
    state::v1::CatalogueState file = StoredForm(
        catalogue, absl::StrCat("catalogue_file: ", config.catalogue_file),
        clock_->Now());
    ModelState* model = ResolveModel(config.id, &refused);
    if (model == nullptr) {
      return absl::FailedPreconditionError(refused->message);
    }
    auto it = stored.find(config.id);
    if (it != stored.end()) {
      model->catalogue_meta = std::move(it->second);
      model->catalogue_meta.clear_catalogue();
      stored.erase(it);
    }
    if (model->catalogue_meta.version() > 0 &&
        model->catalogue_meta.content_digest() == file.content_digest()) {
      // The stored catalogue is the file's: no new version.
      InstallCatalogue(*model, std::make_shared<const monitors::ItemCatalogue>(
                                   std::move(catalogue)));
      continue;
    }
    RETURN_IF_ERROR(
        SetCatalogue(*model, std::move(catalogue), std::move(file)));
  }
  for (auto& [model_id, catalogue_state] : stored) {
    ModelState* model = ResolveModel(model_id, &refused);
    if (model == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("stored catalogue of model '", model_id,
                       "' cannot be loaded: ", refused->message));
    }
    if (absl::Status accepts = model->config.AcceptsCatalogue();
        !accepts.ok()) {
      VIGIE_LOG(Warning, "stored catalogue of model '", model_id,
                "' kept although ", accepts.message());
    }
    absl::StatusOr<monitors::ItemCatalogue> catalogue =
        monitors::ItemCatalogue::FromProto(catalogue_state.catalogue(),
                                           config_.catalogue);
    if (!catalogue.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "stored catalogue v", catalogue_state.version(), " of model '",
          model_id, "' is outside the configured catalogue bounds (",
          catalogue.status().message(),
          "): raise them (configuration key `catalogue`)"));
    }
    model->catalogue_meta = std::move(catalogue_state);
    model->catalogue_meta.clear_catalogue();
    InstallCatalogue(*model, std::make_shared<const monitors::ItemCatalogue>(
                                 *std::move(catalogue)));
  }
  return absl::OkStatus();
}

absl::StatusOr<vigie::v1::CatalogueInfo> Pipeline::PutCatalogue(
    const vigie::v1::PutCatalogueRequest& request) {
  const std::string& model_id = request.model_id();
  if (model_id.empty()) {
    return absl::InvalidArgumentError("model_id is required");
  }
  // What the configuration says of the model, before the costly parse,
  // which runs outside the lock.
  const ModelConfig* declared = config_.FindModel(model_id);
  if (declared == nullptr && !config_.accept_undeclared_models) {
    return absl::NotFoundError(
        absl::StrCat("model '", model_id,
                     "' is not declared in the configuration (and undeclared "
                     "models are refused)"));
  }
  ModelConfig config = declared != nullptr ? *declared : config_.default_model;
  config.id = model_id;
  RETURN_IF_ERROR(config.AcceptsCatalogue());
  ASSIGN_OR_RETURN(monitors::ItemCatalogue catalogue,
                   monitors::ItemCatalogue::FromProto(request.catalogue(),
                                                      config_.catalogue));
  state::v1::CatalogueState stored = StoredForm(
      catalogue,
      request.description().empty() ? "no description" : request.description(),
      clock_->Now());
  absl::MutexLock lock(&mu_);
  std::optional<EventRejection> refused;
  ModelState* model = ResolveModel(model_id, &refused);
  if (model == nullptr) return absl::NotFoundError(refused->message);
  RETURN_IF_ERROR(
      SetCatalogue(*model, std::move(catalogue), std::move(stored)));
  vigie::v1::CatalogueInfo info =
      InfoOf(model_id, model->catalogue_meta, *model->catalogue);
  info.set_popularity_source(model->popularity_source);
  return info;
}

absl::StatusOr<vigie::v1::CatalogueInfo> Pipeline::GetCatalogue(
    const vigie::v1::GetCatalogueRequest& request) const {
  if (request.limit() > kMaxItemLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit must be at most ", kMaxItemLimit, ", got ", request.limit()));
  }
  std::shared_ptr<const monitors::ItemCatalogue> catalogue;
  state::v1::CatalogueState meta;
  std::string popularity_source;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = models_.find(request.model_id());
    if (it != models_.end()) {
      catalogue = it->second->catalogue;
      meta = it->second->catalogue_meta;
      popularity_source = it->second->popularity_source;
    }
  }
  // Outside the lock: the catalogue is immutable, and shared.
  if (catalogue == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "model '", request.model_id(),
        "' has no catalogue: put one (PutCatalogue, vigiectl catalogue "
        "upload), or configure its catalogue_file"));
  }
  vigie::v1::CatalogueInfo info = InfoOf(request.model_id(), meta, *catalogue);
  info.set_popularity_source(std::move(popularity_source));
  if (request.include_items()) {
    FirstItems(*catalogue,
               request.limit() == 0 ? kDefaultItemLimit : request.limit(),
               info.mutable_catalogue());
  }
  return info;
}

}  // namespace vigie::services
