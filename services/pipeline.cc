#include "services/pipeline.h"

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/proto_conversions.h"

namespace vigie::services {
namespace {

// Undeclared models are accepted up to this many, so that a client sending
// random model ids cannot grow memory without bound.
constexpr size_t kMaxModels = 10'000;

using Kind = storage::JoinIndex::Kind;

bool Expired(absl::Time since, const ModelConfig& model, absl::Time now) {
  return since + model.label_delay < now;
}

// The index is rebuilt from the store and changed with it, so they can only
// disagree through a bug or a damaged store.
absl::Status IndexMismatch(absl::string_view model_id, absl::string_view id) {
  return absl::InternalError(absl::StrCat("pending event '", id, "' of model '",
                                          model_id,
                                          "' is indexed but not stored"));
}

EventRejection Rejection(vigie::v1::RejectReason reason, std::string message) {
  return EventRejection{reason, std::move(message)};
}

}  // namespace

struct Pipeline::Changes {
  explicit Changes(storage::StateBatch b) : batch(std::move(b)) {}
  storage::StateBatch batch;
  // Pane states before this call first changed them; empty for new panes.
  std::map<std::pair<ModelState*, absl::Time>,
           std::optional<monitors::ModelMonitors>>
      panes;
  // Whole-model aggregate and counters before this call changed them.
  std::map<ModelState*, std::pair<std::optional<monitors::ModelMonitors>,
                                  state::v1::ModelCountersState>>
      models;
  std::optional<state::v1::ModelCountersState> unattributed;
  // Index entries before this call changed them, oldest change first.
  std::vector<
      std::tuple<Kind, storage::JoinIndex::Key, std::optional<absl::Time>>>
      index_undo;
  std::vector<std::string> created_models;
  uint64_t joined = 0;
};

Pipeline::Pipeline(ServerConfig config, storage::StateStore* store,
                   const common::Clock* clock)
    : config_(std::move(config)), store_(store), clock_(clock) {}

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(
    ServerConfig config, storage::StateStore* store,
    const common::Clock* clock) {
  RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<Pipeline> pipeline(
      new Pipeline(std::move(config), store, clock));
  absl::MutexLock lock(&pipeline->mu_);
  RETURN_IF_ERROR(pipeline->Load());
  return pipeline;
}

absl::Status Pipeline::Load() {
  std::optional<EventRejection> refused;
  RETURN_IF_ERROR(store_->ForEachCounters(
      [&](const std::string& model_id,
          const state::v1::ModelCountersState& counters) -> absl::Status {
        if (model_id.empty()) {
          unattributed_ = counters;
          return absl::OkStatus();
        }
        ModelState* model = ResolveModel(model_id, &refused);
        if (model == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("stored state of model '", model_id,
                           "' cannot be loaded: ", refused->message,
                           " (declare the model, or allow undeclared models)"));
        }
        model->counters = counters;
        return absl::OkStatus();
      }));
  uint64_t panes = 0;
  RETURN_IF_ERROR(
      store_->ForEachPane([&](const std::string& model_id, absl::Time start,
                              absl::string_view bytes) -> absl::Status {
        ModelState* model = ResolveModel(model_id, &refused);
        if (model == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("stored pane of model '", model_id,
                           "' cannot be loaded: ", refused->message));
        }
        auto pane =
            monitors::ModelMonitors::Deserialize(bytes, model->config.monitors);
        if (!pane.ok()) {
          return absl::DataLossError(
              absl::StrCat("pane ", absl::FormatTime(start), " of model '",
                           model_id, "': ", pane.status().message()));
        }
        RETURN_IF_ERROR(model->all->Merge(*pane));
        model->panes.insert_or_assign(start, *std::move(pane));
        ++panes;
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(
      store_->ForEachArchive([&](const std::string& model_id, absl::Time until,
                                 absl::string_view bytes) -> absl::Status {
        ModelState* model = ResolveModel(model_id, &refused);
        if (model == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("stored archive of model '", model_id,
                           "' cannot be loaded: ", refused->message));
        }
        auto archive =
            monitors::ModelMonitors::Deserialize(bytes, model->config.monitors);
        if (!archive.ok()) {
          return absl::DataLossError(
              absl::StrCat("archive of model '", model_id,
                           "': ", archive.status().message()));
        }
        RETURN_IF_ERROR(model->all->Merge(*archive));
        model->archive = *std::move(archive);
        model->archived_before = until;
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(store_->ForEachPendingPrediction(
      [&](const std::string& model_id, const std::string& id,
          const state::v1::PendingPrediction& pending) {
        index_.Put(Kind::kPendingPrediction,
                   storage::JoinIndex::KeyOf(model_id, id),
                   FromProtoTime(pending.arrived()));
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(store_->ForEachPendingOutcome(
      [&](const std::string& model_id, const std::string& id,
          const state::v1::PendingOutcome& pending) {
        index_.Put(Kind::kPendingOutcome,
                   storage::JoinIndex::KeyOf(model_id, id),
                   FromProtoTime(pending.arrived()));
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(
      store_->ForEachJoined([&](const std::string& model_id,
                                const std::string& id, absl::Time joined_at) {
        index_.Put(Kind::kJoined, storage::JoinIndex::KeyOf(model_id, id),
                   joined_at);
        return absl::OkStatus();
      }));
  ASSIGN_OR_RETURN(std::vector<vigie::v1::Alert> alerts, store_->LoadAlerts());
  for (vigie::v1::Alert& alert : alerts) {
    std::string fingerprint = alert.fingerprint();
    alerts_.insert_or_assign(std::move(fingerprint), std::move(alert));
  }
  VIGIE_LOG(Info, "loaded ", models_.size(), " models, ", panes, " panes, ",
            index_.size(Kind::kPendingPrediction), " pending predictions, ",
            index_.size(Kind::kPendingOutcome), " pending outcomes, ",
            alerts_.size(), " alerts");
  return absl::OkStatus();
}

Pipeline::ModelState* Pipeline::ResolveModel(
    const std::string& model_id, std::optional<EventRejection>* rejection) {
  if (auto it = models_.find(model_id); it != models_.end()) {
    return it->second.get();
  }
  const ModelConfig* declared = config_.FindModel(model_id);
  if (declared == nullptr && !config_.accept_undeclared_models) {
    *rejection = Rejection(
        vigie::v1::REJECT_REASON_UNKNOWN_MODEL,
        absl::StrCat("model '", model_id,
                     "' is not declared in the "
                     "configuration (and undeclared models are refused)"));
    return nullptr;
  }
  if (models_.size() >= kMaxModels) {
    *rejection = Rejection(
        vigie::v1::REJECT_REASON_UNKNOWN_MODEL,
        absl::StrCat("model '", model_id, "' would exceed the limit of ",
                     kMaxModels, " models"));
    return nullptr;
  }
  auto state = std::make_unique<ModelState>();
  state->config = declared != nullptr ? *declared : config_.default_model;
  state->config.id = model_id;
  auto all = monitors::ModelMonitors::Create(state->config.monitors);
  if (!all.ok()) {
    *rejection = Rejection(
        vigie::v1::REJECT_REASON_UNKNOWN_MODEL,
        absl::StrCat("model '", model_id, "': ", all.status().message()));
    return nullptr;
  }
  state->all = *std::move(all);
  ModelState* raw = state.get();
  models_.emplace(model_id, std::move(state));
  return raw;
}

void Pipeline::Touch(ModelState& model, Changes& changes) {
  changes.models.try_emplace(&model, model.all, model.counters);
}

monitors::ModelMonitors& Pipeline::PaneFor(ModelState& model,
                                           absl::Time event_time,
                                           Changes& changes) {
  const absl::Duration pane = model.config.pane_length;
  const absl::Time start =
      absl::UnixEpoch() + absl::Floor(event_time - absl::UnixEpoch(), pane);
  auto it = model.panes.find(start);
  changes.panes.try_emplace(
      {&model, start},
      it == model.panes.end()
          ? std::nullopt
          : std::optional<monitors::ModelMonitors>(it->second));
  if (it == model.panes.end()) {
    // Options were checked when the model's aggregate was created.
    it = model.panes
             .emplace(start,
                      *monitors::ModelMonitors::Create(model.config.monitors))
             .first;
  }
  return it->second;
}

void Pipeline::CountRejection(ModelState* model, vigie::v1::RejectReason reason,
                              Changes& changes) {
  state::v1::ModelCountersState* counters = &unattributed_;
  if (model != nullptr) {
    Touch(*model, changes);
    counters = &model->counters;
  } else if (!changes.unattributed.has_value()) {
    changes.unattributed = unattributed_;
  }
  counters->set_rejected(counters->rejected() + 1);
  (*counters->mutable_rejected_by_reason())[RejectReasonName(reason)] += 1;
}

void Pipeline::Rollback(Changes& changes) {
  for (auto& [key, original] : changes.panes) {
    auto& [model, start] = key;
    if (original.has_value()) {
      model->panes.insert_or_assign(start, *std::move(original));
    } else {
      model->panes.erase(start);
    }
  }
  for (auto& [model, original] : changes.models) {
    model->all = std::move(original.first);
    model->counters = std::move(original.second);
  }
  if (changes.unattributed.has_value()) unattributed_ = *changes.unattributed;
  for (auto it = changes.index_undo.rbegin(); it != changes.index_undo.rend();
       ++it) {
    const auto& [kind, key, before] = *it;
    if (before.has_value()) {
      index_.Put(kind, key, *before);
    } else {
      index_.Erase(kind, key);
    }
  }
  for (const std::string& id : changes.created_models) models_.erase(id);
}

absl::Time Pipeline::Place(const ModelState& model, absl::Time event_time) {
  const state::v1::ModelCountersState& counters = model.counters;
  if (model.config.allowed_lateness == absl::InfiniteDuration() ||
      !counters.has_watermark()) {
    return event_time;
  }
  const absl::Time watermark = FromProtoTime(counters.watermark());
  // Only kCurrentPane lets a late event this far: kDrop rejected it.
  return event_time < watermark - model.config.allowed_lateness ? watermark
                                                                : event_time;
}

absl::StatusOr<std::optional<EventRejection>> Pipeline::CheckLateness(
    ModelState& model, absl::Time event_time, absl::string_view kind,
    Changes& changes) {
  state::v1::ModelCountersState& counters = model.counters;
  if (model.config.allowed_lateness == absl::InfiniteDuration() ||
      !counters.has_watermark()) {
    return std::nullopt;
  }
  const absl::Time watermark = FromProtoTime(counters.watermark());
  if (event_time >= watermark - model.config.allowed_lateness) {
    return std::nullopt;
  }
  counters.set_late(counters.late() + 1);
  if (model.config.late_events == LatePolicy::kCurrentPane) {
    return std::nullopt;
  }
  counters.set_late_dropped(counters.late_dropped() + 1);
  CountRejection(&model, vigie::v1::REJECT_REASON_TOO_LATE, changes);
  return Rejection(
      vigie::v1::REJECT_REASON_TOO_LATE,
      absl::StrCat("the ", kind, "'s event time ", absl::FormatTime(event_time),
                   " is more than ",
                   absl::FormatDuration(model.config.allowed_lateness),
                   " (the allowed lateness) behind model '", model.config.id,
                   "''s watermark ", absl::FormatTime(watermark)));
}

void Pipeline::IndexPut(Kind kind, const storage::JoinIndex::Key& key,
                        absl::Time since, Changes& changes) {
  changes.index_undo.emplace_back(kind, key, index_.Find(kind, key));
  index_.Put(kind, key, since);
}

void Pipeline::IndexErase(Kind kind, const storage::JoinIndex::Key& key,
                          Changes& changes) {
  changes.index_undo.emplace_back(kind, key, index_.Find(kind, key));
  index_.Erase(kind, key);
}

void Pipeline::Join(ModelState& model, const vigie::v1::Prediction& prediction,
                    const vigie::v1::Outcome& outcome, absl::Time now,
                    Changes& changes) {
  const absl::Time at = model.config.join_time == JoinTime::kPrediction
                            ? FromProtoTime(prediction.event_time())
                            : FromProtoTime(outcome.event_time());
  PaneFor(model, Place(model, at), changes).ObserveJoined(prediction, outcome);
  model.all->ObserveJoined(prediction, outcome);
  changes.batch.PutJoined(model.config.id, prediction.prediction_id(), now);
  IndexPut(
      Kind::kJoined,
      storage::JoinIndex::KeyOf(model.config.id, prediction.prediction_id()),
      now, changes);
  model.counters.set_joined(model.counters.joined() + 1);
  ++changes.joined;
}

std::optional<EventRejection> Pipeline::CheckNotJoined(
    ModelState& model, const storage::JoinIndex::Key& key,
    const std::string& id, absl::string_view kind, Changes& changes) {
  const std::optional<absl::Time> joined_at = index_.Find(Kind::kJoined, key);
  if (!joined_at.has_value()) return std::nullopt;
  const bool is_prediction = kind == "prediction";
  const vigie::v1::RejectReason reason =
      is_prediction ? vigie::v1::REJECT_REASON_DUPLICATE_PREDICTION
                    : vigie::v1::REJECT_REASON_DUPLICATE_OUTCOME;
  CountRejection(&model, reason, changes);
  return Rejection(
      reason,
      absl::StrCat("the ", kind, " of prediction '", id, "' of model '",
                   model.config.id, "' was already joined at ",
                   absl::FormatTime(*joined_at), "; not counted again"));
}

absl::StatusOr<std::optional<EventRejection>> Pipeline::ApplyPrediction(
    vigie::v1::Prediction& prediction, Changes& changes) {
  std::optional<EventRejection> rejection;
  if (prediction.model_id().empty()) {
    CountRejection(nullptr, vigie::v1::REJECT_REASON_MISSING_MODEL_ID, changes);
    return Rejection(vigie::v1::REJECT_REASON_MISSING_MODEL_ID,
                     "model_id is empty");
  }
  const bool known = models_.contains(prediction.model_id());
  ModelState* model = ResolveModel(prediction.model_id(), &rejection);
  if (model == nullptr) {
    CountRejection(nullptr, rejection->reason, changes);
    return rejection;
  }
  if (!known) changes.created_models.push_back(prediction.model_id());
  if ((rejection = ValidatePrediction(model->config, prediction))) {
    CountRejection(model, rejection->reason, changes);
    return rejection;
  }
  const std::string& id = prediction.prediction_id();
  const absl::Time now = clock_->Now();
  const storage::JoinIndex::Key key =
      storage::JoinIndex::KeyOf(model->config.id, id);
  if (std::optional<EventRejection> joined =
          CheckNotJoined(*model, key, id, "prediction", changes)) {
    return joined;
  }
  const std::optional<absl::Time> pending =
      index_.Find(Kind::kPendingPrediction, key);
  Touch(*model, changes);
  state::v1::ModelCountersState& counters = model->counters;
  const absl::Time event_time = FromProtoTime(prediction.event_time());
  ASSIGN_OR_RETURN(std::optional<EventRejection> late,
                   CheckLateness(*model, event_time, "prediction", changes));
  if (late.has_value()) return late;
  if (pending.has_value()) {
    if (!Expired(*pending, model->config, now)) {
      CountRejection(model, vigie::v1::REJECT_REASON_DUPLICATE_PREDICTION,
                     changes);
      return Rejection(
          vigie::v1::REJECT_REASON_DUPLICATE_PREDICTION,
          absl::StrCat("prediction '", id, "' of model '", model->config.id,
                       "' is already waiting for its outcome"));
    }
    // The old one expired unlabelled; the new one takes its place below.
    counters.set_expired_predictions(counters.expired_predictions() + 1);
    counters.set_pending_predictions(counters.pending_predictions() - 1);
  }
  counters.set_predictions(counters.predictions() + 1);
  PaneFor(*model, Place(*model, event_time), changes)
      .ObservePrediction(prediction);
  model->all->ObservePrediction(prediction);
  if (!counters.has_watermark() ||
      event_time > FromProtoTime(counters.watermark())) {
    *counters.mutable_watermark() = ToProtoTime(event_time);
  }

  if (const std::optional<absl::Time> outcome_since =
          index_.Find(Kind::kPendingOutcome, key)) {
    std::optional<state::v1::PendingOutcome> outcome;
    if (!Expired(*outcome_since, model->config, now)) {
      ASSIGN_OR_RETURN(outcome, store_->GetPendingOutcome(
                                    &changes.batch, model->config.id, id));
      if (!outcome.has_value()) return IndexMismatch(model->config.id, id);
    }
    changes.batch.DeletePendingOutcome(model->config.id, id);
    IndexErase(Kind::kPendingOutcome, key, changes);
    counters.set_pending_outcomes(counters.pending_outcomes() - 1);
    if (outcome.has_value()) {
      Join(*model, prediction, outcome->outcome(), now, changes);
      return std::nullopt;
    }
    counters.set_expired_outcomes(counters.expired_outcomes() + 1);
  }
  state::v1::PendingPrediction waiting;
  *waiting.mutable_prediction() = prediction;
  *waiting.mutable_arrived() = ToProtoTime(now);
  changes.batch.PutPendingPrediction(model->config.id, id, waiting);
  IndexPut(Kind::kPendingPrediction, key, now, changes);
  counters.set_pending_predictions(counters.pending_predictions() + 1);
  return std::nullopt;
}

absl::StatusOr<std::optional<EventRejection>> Pipeline::ApplyOutcome(
    const vigie::v1::Outcome& outcome, Changes& changes) {
  std::optional<EventRejection> rejection;
  if (outcome.model_id().empty()) {
    CountRejection(nullptr, vigie::v1::REJECT_REASON_MISSING_MODEL_ID, changes);
    return Rejection(vigie::v1::REJECT_REASON_MISSING_MODEL_ID,
                     "model_id is empty");
  }
  const bool known = models_.contains(outcome.model_id());
  ModelState* model = ResolveModel(outcome.model_id(), &rejection);
  if (model == nullptr) {
    CountRejection(nullptr, rejection->reason, changes);
    return rejection;
  }
  if (!known) changes.created_models.push_back(outcome.model_id());
  if ((rejection = ValidateOutcome(model->config, outcome))) {
    CountRejection(model, rejection->reason, changes);
    return rejection;
  }
  const std::string& id = outcome.prediction_id();
  const absl::Time now = clock_->Now();
  const storage::JoinIndex::Key key =
      storage::JoinIndex::KeyOf(model->config.id, id);
  if (std::optional<EventRejection> joined =
          CheckNotJoined(*model, key, id, "outcome", changes)) {
    return joined;
  }
  const std::optional<absl::Time> waiting_outcome =
      index_.Find(Kind::kPendingOutcome, key);
  Touch(*model, changes);
  state::v1::ModelCountersState& counters = model->counters;
  if (model->config.join_time == JoinTime::kOutcome) {
    ASSIGN_OR_RETURN(std::optional<EventRejection> late,
                     CheckLateness(*model, FromProtoTime(outcome.event_time()),
                                   "outcome", changes));
    if (late.has_value()) return late;
  }
  if (waiting_outcome.has_value()) {
    if (!Expired(*waiting_outcome, model->config, now)) {
      CountRejection(model, vigie::v1::REJECT_REASON_DUPLICATE_OUTCOME,
                     changes);
      return Rejection(vigie::v1::REJECT_REASON_DUPLICATE_OUTCOME,
                       absl::StrCat("an outcome for prediction '", id,
                                    "' of model '", model->config.id,
                                    "' is already waiting for its prediction"));
    }
    counters.set_expired_outcomes(counters.expired_outcomes() + 1);
    counters.set_pending_outcomes(counters.pending_outcomes() - 1);
  }
  counters.set_outcomes(counters.outcomes() + 1);

  if (const std::optional<absl::Time> prediction_since =
          index_.Find(Kind::kPendingPrediction, key)) {
    std::optional<state::v1::PendingPrediction> prediction;
    if (!Expired(*prediction_since, model->config, now)) {
      ASSIGN_OR_RETURN(prediction, store_->GetPendingPrediction(
                                       &changes.batch, model->config.id, id));
      if (!prediction.has_value()) return IndexMismatch(model->config.id, id);
    }
    changes.batch.DeletePendingPrediction(model->config.id, id);
    IndexErase(Kind::kPendingPrediction, key, changes);
    counters.set_pending_predictions(counters.pending_predictions() - 1);
    if (prediction.has_value()) {
      Join(*model, prediction->prediction(), outcome, now, changes);
      return std::nullopt;
    }
    counters.set_expired_predictions(counters.expired_predictions() + 1);
  }
  state::v1::PendingOutcome waiting;
  *waiting.mutable_outcome() = outcome;
  *waiting.mutable_arrived() = ToProtoTime(now);
  changes.batch.PutPendingOutcome(model->config.id, id, waiting);
  IndexPut(Kind::kPendingOutcome, key, now, changes);
  counters.set_pending_outcomes(counters.pending_outcomes() + 1);
  return std::nullopt;
}

absl::StatusOr<vigie::v1::IngestReply> Pipeline::Ingest(
    vigie::v1::IngestRequest& request, uint64_t index_offset) {
  absl::MutexLock lock(&mu_);
  Changes changes(store_->NewBatch());
  vigie::v1::IngestReply reply;
  for (int i = 0; i < request.events_size(); ++i) {
    vigie::v1::Event& event = *request.mutable_events(i);
    absl::StatusOr<std::optional<EventRejection>> result;
    std::string prediction_id;
    switch (event.kind_case()) {
      case vigie::v1::Event::kPrediction:
        prediction_id = event.prediction().prediction_id();
        result = ApplyPrediction(*event.mutable_prediction(), changes);
        break;
      case vigie::v1::Event::kOutcome:
        prediction_id = event.outcome().prediction_id();
        result = ApplyOutcome(event.outcome(), changes);
        break;
      case vigie::v1::Event::KIND_NOT_SET:
        CountRejection(nullptr, vigie::v1::REJECT_REASON_EMPTY_EVENT, changes);
        result = Rejection(vigie::v1::REJECT_REASON_EMPTY_EVENT,
                           "event has neither a prediction nor an outcome");
        break;
    }
    if (!result.ok()) {
      Rollback(changes);
      return result.status();
    }
    if (result->has_value()) {
      vigie::v1::Rejection* rejection = reply.add_rejections();
      rejection->set_index(index_offset + static_cast<uint64_t>(i));
      rejection->set_reason((*result)->reason);
      rejection->set_message(std::move((*result)->message));
      rejection->set_prediction_id(prediction_id);
      reply.set_rejected(reply.rejected() + 1);
      continue;
    }
    reply.set_accepted(reply.accepted() + 1);
    if (event.has_prediction()) {
      reply.set_predictions(reply.predictions() + 1);
    } else {
      reply.set_outcomes(reply.outcomes() + 1);
    }
  }
  reply.set_joined(changes.joined);

  for (const auto& [key, original] : changes.panes) {
    const auto& [model, start] = key;
    changes.batch.PutPane(model->config.id, start,
                          model->panes.at(start).Serialize());
  }
  for (const auto& [model, original] : changes.models) {
    changes.batch.PutCounters(model->config.id, model->counters);
  }
  if (changes.unattributed.has_value()) {
    changes.batch.PutCounters("", unattributed_);
  }
  if (absl::Status status = store_->Commit(changes.batch); !status.ok()) {
    Rollback(changes);
    return status;
  }
  for (const auto& [model, original] : changes.models) {
    // The events are durable; compaction and alerts follow from them and
    // are redone at the next call if they cannot be written now.
    if (absl::Status status = Compact(*model); !status.ok()) {
      VIGIE_LOG(Error, "compaction of model '", model->config.id,
                "' failed: ", status.ToString());
    }
    // The events are durable; an alert that cannot be written now is
    // written at the next evaluation, so the call still succeeds.
    if (absl::Status status = EvaluateRules(*model); !status.ok()) {
      VIGIE_LOG(Error, "rule evaluation of model '", model->config.id,
                "' failed: ", status.ToString());
    }
  }
  return reply;
}

}  // namespace vigie::services
