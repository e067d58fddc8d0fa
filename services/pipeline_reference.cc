// Pipeline: a model's reference, uploaded or frozen, as the API shows it.

#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/event_validation.h"
#include "services/pipeline.h"
#include "services/proto_conversions.h"

namespace vigie::services {
namespace {

// Reasons listed in an upload's reply; the rest are only counted.
constexpr int kMaxListedRejections = 20;

void Reject(vigie::v1::ReferenceInfo& info, int index, absl::string_view why) {
  info.set_rejected(info.rejected() + 1);
  if (info.rejections_size() < kMaxListedRejections) {
    info.add_rejections(absl::StrCat("event ", index, ": ", why));
  }
}

}  // namespace

void Pipeline::PutReferenceVersion(storage::StateBatch& batch,
                                   const ModelState& model,
                                   const state::v1::ReferenceState& stored) {
  batch.PutReferenceVersion(model.config.id, stored);
  // Versions are numbered without gaps: the one that falls out of the kept
  // range is the only one to delete.
  if (stored.version() > model.config.reference_versions) {
    batch.DeleteReferenceVersion(
        model.config.id, stored.version() - model.config.reference_versions);
  }
}

vigie::v1::ReferenceInfo Pipeline::ReferenceInfoOf(const ModelState& model,
                                                   bool profiles) {
  vigie::v1::ReferenceInfo info;
  info.set_model_id(model.config.id);
  const state::v1::ReferenceState& meta = model.reference_meta;
  info.set_version(meta.version());
  info.set_source(meta.source());
  *info.mutable_created_at() = meta.created_at();
  if (meta.has_start()) *info.mutable_window()->mutable_start() = meta.start();
  if (meta.has_end()) *info.mutable_window()->mutable_end() = meta.end();
  if (model.reference.has_value()) {
    info.set_predictions(model.reference->drift().predictions());
    info.set_labels(model.reference->drift().labels());
  }
  if (profiles && model.profile.has_value()) {
    for (const monitors::FeatureProfile& profile : model.profile->features()) {
      FeatureProfileToProto(profile, info.add_features());
    }
  }
  return info;
}

absl::StatusOr<vigie::v1::ReferenceInfo> Pipeline::GetReference(
    const vigie::v1::GetReferenceRequest& request) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = models_.find(request.model_id());
  if (it == models_.end() || !it->second->reference.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("model '", request.model_id(),
                     "' has no reference: upload one (UploadReference, "
                     "vigiectl reference upload), or configure its "
                     "reference_window"));
  }
  const ModelState& model = *it->second;
  ASSIGN_OR_RETURN(std::vector<state::v1::ReferenceState> kept,
                   store_->ListReferenceVersions(model.config.id));
  vigie::v1::ReferenceInfo info;
  if (request.version() == 0 ||
      request.version() == model.reference_meta.version()) {
    info = ReferenceInfoOf(model, /*profiles=*/true);
  } else {
    ASSIGN_OR_RETURN(
        std::optional<state::v1::ReferenceState> stored,
        store_->GetReferenceVersion(model.config.id, request.version()));
    if (!stored.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("model '", model.config.id, "' keeps no reference v",
                       request.version(), " (it keeps its last ",
                       model.config.reference_versions,
                       " versions: reference_versions; the current one is v",
                       model.reference_meta.version(), ")"));
    }
    ASSIGN_OR_RETURN(info, StoredReferenceInfo(model, *stored));
  }
  // Stored before versions were kept, the current one may be missing.
  bool current_listed = false;
  for (const state::v1::ReferenceState& version : kept) {
    current_listed |= version.version() == model.reference_meta.version();
  }
  if (!current_listed) kept.push_back(model.reference_meta);
  for (const state::v1::ReferenceState& version : kept) {
    vigie::v1::ReferenceVersion* out = info.add_versions();
    out->set_version(version.version());
    out->set_source(version.source());
    *out->mutable_created_at() = version.created_at();
    if (version.has_start())
      *out->mutable_window()->mutable_start() = version.start();
    if (version.has_end())
      *out->mutable_window()->mutable_end() = version.end();
  }
  return info;
}

absl::StatusOr<vigie::v1::ReferenceInfo> Pipeline::StoredReferenceInfo(
    const ModelState& model, const state::v1::ReferenceState& stored) {
  absl::StatusOr<monitors::ModelMonitors> monitors =
      monitors::ModelMonitors::Deserialize(stored.monitors(),
                                           model.config.monitors);
  if (!monitors.ok()) {
    return absl::DataLossError(
        absl::StrCat("reference v", stored.version(), " of model '",
                     model.config.id, "': ", monitors.status().message()));
  }
  ASSIGN_OR_RETURN(
      monitors::ReferenceProfile profile,
      monitors::ReferenceProfile::Build(monitors->drift(), model.config.drift));
  vigie::v1::ReferenceInfo info;
  info.set_model_id(model.config.id);
  info.set_version(stored.version());
  info.set_source(stored.source());
  *info.mutable_created_at() = stored.created_at();
  if (stored.has_start())
    *info.mutable_window()->mutable_start() = stored.start();
  if (stored.has_end()) *info.mutable_window()->mutable_end() = stored.end();
  info.set_predictions(monitors->drift().predictions());
  info.set_labels(monitors->drift().labels());
  for (const monitors::FeatureProfile& feature : profile.features()) {
    FeatureProfileToProto(feature, info.add_features());
  }
  return info;
}

absl::StatusOr<vigie::v1::ReferenceInfo> Pipeline::UploadReference(
    vigie::v1::UploadReferenceRequest& request) {
  if (request.model_id().empty()) {
    return absl::InvalidArgumentError("model_id is required");
  }
  absl::MutexLock lock(&mu_);
  std::optional<EventRejection> refused;
  ModelState* model = ResolveModel(request.model_id(), &refused);
  if (model == nullptr) return absl::NotFoundError(refused->message);
  ASSIGN_OR_RETURN(monitors::ModelMonitors sample,
                   monitors::ModelMonitors::Create(model->config.monitors));
  vigie::v1::ReferenceInfo info;
  // Predictions first, so that an outcome may come before its prediction.
  std::map<std::string, const vigie::v1::Prediction*> predictions;
  for (int i = 0; i < request.events_size(); ++i) {
    vigie::v1::Event& event = *request.mutable_events(i);
    if (!event.has_prediction()) continue;
    vigie::v1::Prediction& prediction = *event.mutable_prediction();
    if (prediction.model_id() != request.model_id()) {
      Reject(info, i,
             absl::StrCat("prediction for model '", prediction.model_id(),
                          "', not '", request.model_id(), "'"));
      continue;
    }
    if (std::optional<EventRejection> r =
            ValidatePrediction(model->config, prediction)) {
      Reject(info, i,
             absl::StrCat(RejectReasonName(r->reason), ": ", r->message));
      continue;
    }
    if (!predictions.emplace(prediction.prediction_id(), &prediction).second) {
      Reject(info, i,
             absl::StrCat("prediction id '", prediction.prediction_id(),
                          "' given twice"));
      continue;
    }
    sample.ObservePrediction(prediction);
  }
  for (int i = 0; i < request.events_size(); ++i) {
    const vigie::v1::Event& event = request.events(i);
    if (event.has_prediction()) continue;
    if (!event.has_outcome()) {
      Reject(info, i, "neither a prediction nor an outcome");
      continue;
    }
    const vigie::v1::Outcome& outcome = event.outcome();
    if (outcome.model_id() != request.model_id()) {
      Reject(info, i,
             absl::StrCat("outcome for model '", outcome.model_id(), "', not '",
                          request.model_id(), "'"));
      continue;
    }
    if (std::optional<EventRejection> r =
            ValidateOutcome(model->config, outcome)) {
      Reject(info, i,
             absl::StrCat(RejectReasonName(r->reason), ": ", r->message));
      continue;
    }
    auto it = predictions.find(outcome.prediction_id());
    if (it == predictions.end()) {
      Reject(info, i,
             absl::StrCat("no prediction '", outcome.prediction_id(),
                          "' in this upload"));
      continue;
    }
    sample.ObserveJoined(*it->second, outcome);
    if (model->config.learn_popularity && model->catalogue != nullptr) {
      // A sample of recommendation feedback teaches popularity too.
      sample.CountInteractions(outcome, *model->catalogue);
    }
    predictions.erase(it);  // A second outcome for it is refused.
  }
  if (sample.drift().predictions() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no usable prediction in the upload (", info.rejected(),
        " events rejected: ", absl::StrJoin(info.rejections(), "; "), ")"));
  }
  state::v1::ReferenceState meta;
  meta.set_version(model->reference_meta.version() + 1);
  meta.set_source(absl::StrCat("upload: ", request.description().empty()
                                               ? "no description"
                                               : request.description()));
  *meta.mutable_created_at() = ToProtoTime(clock_->Now());
  state::v1::ReferenceState stored = meta;
  stored.set_monitors(sample.Serialize());
  storage::StateBatch batch = store_->NewBatch();
  batch.PutReference(model->config.id, stored);
  PutReferenceVersion(batch, *model, stored);
  RETURN_IF_ERROR(store_->Commit(batch));
  model->reference = std::move(sample);
  model->reference_meta = std::move(meta);
  model->reference_dirty = false;  // Stored just now.
  BuildProfile(*model);
  ApplyLearnedPopularity(*model);
  VIGIE_LOG(Info, "model '", model->config.id, "': reference v",
            model->reference_meta.version(), " uploaded (",
            model->reference->drift().predictions(), " predictions, ",
            model->reference->drift().labels(), " labels, ", info.rejected(),
            " events rejected)");
  // Drift rules compare with the new reference from now on.
  model->rules_due = true;
  MaybeEvaluateRules(*model, /*now_or_never=*/true);
  vigie::v1::ReferenceInfo reply = ReferenceInfoOf(*model, /*profiles=*/true);
  reply.set_rejected(info.rejected());
  *reply.mutable_rejections() = info.rejections();
  return reply;
}

}  // namespace vigie::services
