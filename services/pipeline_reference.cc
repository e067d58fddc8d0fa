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
  return ReferenceInfoOf(*it->second, /*profiles=*/true);
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
  RETURN_IF_ERROR(store_->Commit(batch));
  model->reference = std::move(sample);
  model->reference_meta = std::move(meta);
  model->reference_dirty = false;  // Stored just now.
  BuildProfile(*model);
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
