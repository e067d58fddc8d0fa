#include "services/pipeline.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "monitors/change_episode.h"
#include "services/event_bytes.h"
#include "services/minimised_events.h"
#include "services/pane_exchange.h"
#include "services/proto_conversions.h"
#include "storage/record_codec.h"

namespace vigie::services {
namespace {

// Undeclared models are accepted up to this many, so that a client sending
// random model ids cannot grow memory without bound.
constexpr size_t kMaxModels = 10'000;

using Kind = storage::PendingJoins::Kind;

// The format of the database this code writes (CheckpointState.format).
// 3: prediction ids pseudonymised, the ingest log and pending blocks sealed
// (storage/privacy_keys.h).
constexpr uint32_t kStateFormat = 3;
constexpr absl::string_view kIngestLogPurpose = "ingest log";

// Rules are evaluated after an ingest call at most this often per model
// (merging a window's panes and testing every rule costs as much as
// thousands of events), and always before alerts are listed and at each
// checkpoint, so that an alert is at most a checkpoint interval late.
constexpr absl::Duration kRuleInterval = absl::Milliseconds(200);
// And at most so often that they take a twentieth of the time after ingest
// calls: a model with many features and panes can take tens of
// milliseconds to evaluate, which under a heavy stream would otherwise be
// a tenth of the pipeline's time, and its lock held meanwhile.
constexpr int64_t kRuleCostShare = 20;

bool Expired(absl::Time since, const ModelConfig& model, absl::Time now) {
  return since + model.label_delay < now;
}

// Serializes `message` onto the end of `out` as field `field`, computing
// its size once; returns where its bytes start.
size_t AppendMessage(std::string* out, int field,
                     const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  storage::AppendFieldHeader(out, field, size);
  const size_t start = out->size();
  out->resize(start + size);
  message.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out->data() + start));
  return start;
}

// The length of the tag and length at the front of a length-delimited
// field's bytes.
size_t FieldHeaderLength(absl::string_view bytes) {
  size_t n = 1;
  while (n < bytes.size() && (static_cast<uint8_t>(bytes[n]) & 0x80) != 0) ++n;
  return n + 1;
}

EventRejection Rejection(vigie::v1::RejectReason reason, std::string message) {
  return EventRejection{reason, std::move(message)};
}

// The error stream's detections kept per model (ModelCountersState).
constexpr int kMaxErrorChanges = 256;

// The error of a joined pair, as the change detectors watch it:
// classification, 0 or 1 for a right or wrong decision (class); regression,
// the absolute error. Empty when the pair has no comparable label.
std::optional<double> PredictionError(
    const monitors::PredictionView& prediction,
    const vigie::v1::Outcome& outcome) {
  using Output = monitors::PredictionView::Output;
  switch (prediction.output) {
    case Output::kBinary:
      if (!prediction.decision.has_value() ||
          outcome.label_case() != vigie::v1::Outcome::kBinary) {
        return std::nullopt;
      }
      return *prediction.decision == outcome.binary() ? 0.0 : 1.0;
    case Output::kMulticlass:
      if (outcome.label_case() != vigie::v1::Outcome::kClassLabel) {
        return std::nullopt;
      }
      return prediction.predicted_class == outcome.class_label() ? 0.0 : 1.0;
    case Output::kRegression:
      if (!prediction.regression_value.has_value() ||
          outcome.label_case() != vigie::v1::Outcome::kRegression) {
        return std::nullopt;
      }
      return std::abs(*prediction.regression_value - outcome.regression());
    case Output::kRecommendation:
    case Output::kOther:
      break;
  }
  return std::nullopt;
}

}  // namespace

struct Pipeline::Changes {
  // Pending entries read back for joins, freed together after the call.
  google::protobuf::Arena arena;
  // Pane states before this call first changed them; empty for new panes.
  std::map<std::pair<ModelState*, absl::Time>,
           std::optional<monitors::ModelMonitors>>
      panes;
  // Counters and detectors before this call changed them. Not the
  // whole-model aggregate: copying it on every call cost a third of ingest
  // with 20 features' drift sketches (bench/README.md), and a rollback,
  // which is rare, rebuilds it from the restored panes instead.
  struct Saved {
    state::v1::ModelCountersState counters;
    std::optional<monitors::ErrorStreamDetectors> detectors;
  };
  std::map<ModelState*, Saved> models;
  std::optional<state::v1::ModelCountersState> unattributed;
  std::vector<std::string> created_models;
  uint64_t joined = 0;
  // The panes the last events went to, [start, end) of `model`: finding
  // one costs a division and two map look-ups, and the events of a call
  // mostly go to two (that of the predictions' time, and that of the
  // predictions being joined). Panes are only removed after the call
  // (Settle), so the pointers stay valid.
  struct RecentPane {
    const ModelState* model = nullptr;
    absl::Time start;
    absl::Time end;
    monitors::ModelMonitors* pane = nullptr;
  };
  std::array<RecentPane, 2> recent_panes;
  size_t next_recent = 0;  // The one to replace next.
};

Pipeline::Pipeline(ServerConfig config, storage::StateStore* store,
                   const common::Clock* clock)
    : config_(std::move(config)),
      store_(store),
      clock_(clock),
      pending_(store, &index_),
      marks_(store, &index_),
      created_at_(clock->Now()),
      policy_(config_.policy) {}

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(
    ServerConfig config, storage::StateStore* store,
    const common::Clock* clock) {
  RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<Pipeline> pipeline(
      new Pipeline(std::move(config), store, clock));
  absl::MutexLock log_lock(&pipeline->log_mu_);
  absl::MutexLock lock(&pipeline->mu_);
  RETURN_IF_ERROR(pipeline->Load());
  pipeline->next_log_seq_ = pipeline->next_seq_;
  return pipeline;
}

absl::Status Pipeline::Load() {
  const absl::Time started = absl::Now();
  ASSIGN_OR_RETURN(std::optional<state::v1::CheckpointState> checkpoint,
                   store_->GetCheckpoint());
  if (checkpoint.has_value() && checkpoint->format() != kStateFormat) {
    return absl::FailedPreconditionError(
        absl::StrCat("the data folder holds state of format ",
                     checkpoint->format(), ", this server reads format ",
                     kStateFormat, ": start it on a new data folder"));
  }
  if (!checkpoint.has_value()) checkpoint.emplace();
  RETURN_IF_ERROR(LoadPrivacyKeys());
  pending_.SealWith(&*keys_);
  RETURN_IF_ERROR(LoadModels());
  RETURN_IF_ERROR(LoadCatalogues());
  RETURN_IF_ERROR(pending_.Load(checkpoint->next_pending_block()));
  RETURN_IF_ERROR(marks_.Load(checkpoint->next_mark_block()));
  next_seq_ = checkpoint->next_ingest_seq();
  checkpoints_ = checkpoint->number();
  ASSIGN_OR_RETURN(std::vector<vigie::v1::Alert> alerts, store_->LoadAlerts());
  for (vigie::v1::Alert& alert : alerts) {
    std::string fingerprint = alert.fingerprint();
    alerts_.insert_or_assign(std::move(fingerprint), std::move(alert));
  }
  RETURN_IF_ERROR(Replay(checkpoint->next_ingest_seq()));
  recovery_.took = absl::Now() - started;
  VIGIE_LOG(Info, "loaded ", models_.size(), " models, ",
            pending_.size(Kind::kPrediction), " pending predictions, ",
            pending_.size(Kind::kOutcome), " pending outcomes, ", marks_.size(),
            " join marks, ", alerts_.size(), " alerts; replayed ",
            recovery_.records, " ingest calls (", recovery_.events,
            " events) in ", absl::FormatDuration(recovery_.took));
  return absl::OkStatus();
}

absl::Status Pipeline::Replay(uint64_t from_seq) {
  RETURN_IF_ERROR(store_->ForEachIngestRecord(
      from_seq, [&](uint64_t seq, absl::string_view sealed) -> absl::Status {
        absl::StatusOr<std::string> bytes =
            keys_->Open(kIngestLogPurpose, sealed);
        if (!bytes.ok()) {
          return absl::DataLossError(absl::StrCat(
              "ingest log record ", seq, ": ", bytes.status().message()));
        }
        state::v1::IngestRecord record;
        vigie::v1::IngestRequest request;
        // A gap is a voided record: a call logged, then not applied.
        if (seq < next_seq_ || !record.ParseFromString(*bytes) ||
            !request.ParseFromString(record.request())) {
          return absl::DataLossError(
              absl::StrCat("ingest log record ", seq, " (expected ", next_seq_,
                           " or later) is out of order or does not decode"));
        }
        next_seq_ = seq;
        Changes changes;
        index_.BeginChange();
        pending_.BeginChange();
        marks_.BeginChange();
        absl::StatusOr<vigie::v1::IngestReply> applied =
            Apply(request, 0, FromProtoTime(record.received()),
                  /*received=*/nullptr, changes);
        if (!applied.ok()) {
          return absl::DataLossError(absl::StrCat(
              "ingest log record ", seq,
              " cannot be replayed: ", applied.status().message()));
        }
        index_.EndChange();
        Settle(changes, FromProtoTime(record.received()));
        ++next_seq_;
        logged_bytes_ += sealed.size();
        ++recovery_.records;
        recovery_.events += static_cast<uint64_t>(request.events_size());
        return absl::OkStatus();
      }));
  if (recovery_.records == 0) return absl::OkStatus();
  for (auto& [id, model] : models_) {
    if (absl::Status status = EvaluateRules(*model); !status.ok()) {
      VIGIE_LOG(Error, "rule evaluation of model '", id,
                "' failed: ", status.ToString());
    }
  }
  return CheckpointLocked();
}

absl::Status Pipeline::LoadModels() {
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
        if (!counters.error_detectors().empty()) {
          absl::StatusOr<monitors::ErrorStreamDetectors> detectors =
              monitors::ErrorStreamDetectors::Deserialize(
                  counters.error_detectors(), model->config.detectors);
          if (!detectors.ok()) {
            return absl::DataLossError(
                absl::StrCat("error-stream detectors of model '", model_id,
                             "': ", detectors.status().message()));
          }
          model->detectors = *std::move(detectors);
        }
        if (counters.has_error_episode()) {
          absl::Status episode =
              monitors::ChangeEpisode::FromProto(counters.error_episode())
                  .status();
          if (!episode.ok()) {
            return absl::DataLossError(
                absl::StrCat("error change episode of model '", model_id,
                             "': ", episode.message()));
          }
        }
        if (counters.has_adaptive_conformal()) {
          absl::Status aci = monitors::AdaptiveConformal::FromProto(
                                 counters.adaptive_conformal())
                                 .status();
          if (!aci.ok()) {
            return absl::DataLossError(
                absl::StrCat("adaptive conformal inference of model '",
                             model_id, "': ", aci.message()));
          }
        }
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
  RETURN_IF_ERROR(store_->ForEachReference(
      [&](const std::string& model_id,
          const state::v1::ReferenceState& stored) -> absl::Status {
        ModelState* model = ResolveModel(model_id, &refused);
        if (model == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("stored reference window of model '", model_id,
                           "' cannot be loaded: ", refused->message));
        }
        auto reference = monitors::ModelMonitors::Deserialize(
            stored.monitors(), model->config.monitors);
        if (!reference.ok()) {
          return absl::DataLossError(
              absl::StrCat("reference window of model '", model_id,
                           "': ", reference.status().message()));
        }
        model->reference = *std::move(reference);
        model->reference_meta = stored;
        model->reference_meta.clear_monitors();
        // State written before references had versions: a frozen window.
        if (stored.version() == 0) {
          model->reference_meta.set_version(1);
          model->reference_meta.set_source("window");
        }
        BuildProfile(*model);
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
  // A group below privacy.min_group_size is never shown on its own
  // (small_groups.h), so it must not define a gap either, which would show
  // its rate by difference.
  monitors::ModelMonitors::Options& monitors = state->config.monitors;
  monitors.fairness.min_group_size = std::max(monitors.fairness.min_group_size,
                                              config_.privacy.min_group_size);
  monitors.conformal.min_group_size = std::max(
      monitors.conformal.min_group_size, config_.privacy.min_group_size);
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

void Pipeline::RebuildAll(ModelState& model) {
  // The model's options were checked when it was created, and every pane
  // and the archive were made or decoded under them: Merge cannot fail.
  monitors::ModelMonitors all =
      *monitors::ModelMonitors::Create(model.config.monitors);
  for (const auto& [start, pane] : model.panes) all.Merge(pane).IgnoreError();
  if (model.archive.has_value()) all.Merge(*model.archive).IgnoreError();
  model.all = std::move(all);
}

void Pipeline::Touch(ModelState& model, Changes& changes) {
  changes.models.try_emplace(&model,
                             Changes::Saved{model.counters, model.detectors});
}

monitors::ModelMonitors& Pipeline::PaneFor(ModelState& model,
                                           absl::Time event_time,
                                           Changes& changes) {
  for (const Changes::RecentPane& recent : changes.recent_panes) {
    if (recent.model == &model && event_time >= recent.start &&
        event_time < recent.end) {
      return *recent.pane;
    }
  }
  const absl::Duration pane = model.config.pane_length;
  const absl::Time start =
      absl::UnixEpoch() + absl::Floor(event_time - absl::UnixEpoch(), pane);
  auto it = model.panes.find(start);
  // The pane's state before this call, saved once: copying it on every
  // event would cost more than the event itself.
  const std::pair<ModelState*, absl::Time> key{&model, start};
  if (!changes.panes.contains(key)) {
    changes.panes.emplace(
        key, it == model.panes.end()
                 ? std::nullopt
                 : std::optional<monitors::ModelMonitors>(it->second));
  }
  if (it == model.panes.end()) {
    state::v1::ModelCountersState& counters = model.counters;
    if (!counters.has_first_pane() ||
        start < FromProtoTime(counters.first_pane())) {
      *counters.mutable_first_pane() = ToProtoTime(start);
    }
    // Options were checked when the model's aggregate was created.
    it = model.panes
             .emplace(start,
                      *monitors::ModelMonitors::Create(model.config.monitors))
             .first;
  }
  changes.recent_panes[changes.next_recent] = {&model, start, start + pane,
                                               &it->second};
  changes.next_recent = (changes.next_recent + 1) % changes.recent_panes.size();
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
    model->counters = std::move(original.counters);
    model->detectors = std::move(original.detectors);
    // The panes are as they were: the aggregate of them is too, merged in
    // the order Load merges it.
    RebuildAll(*model);
  }
  if (changes.unattributed.has_value()) unattributed_ = *changes.unattributed;
  pending_.RollbackChange();
  marks_.RollbackChange();
  index_.RollbackChange();
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

void Pipeline::ObserveError(ModelState& model, monitors::ModelMonitors& pane,
                            const monitors::PredictionView& prediction,
                            const vigie::v1::Outcome& outcome, absl::Time at) {
  const std::optional<double> error = PredictionError(prediction, outcome);
  if (!error.has_value()) return;
  if (!model.detectors.has_value()) {
    absl::StatusOr<monitors::ErrorStreamDetectors> created =
        monitors::ErrorStreamDetectors::Create(model.config.detectors);
    if (!created.ok()) return;  // The configuration validated the options.
    model.detectors = *std::move(created);
  }
  // Per pane, so that rule error_change_windows has each window's errors.
  pane.ObserveError(*error);
  model.all->ObserveError(*error);
  // ADWIN's changes only: its false alarms are bounded by delta, while
  // Page-Hinkley's default threshold alarms a few times per 100,000
  // stationary errors (its count is reported, not alerted on).
  const std::optional<monitors::AdwinCut> cut =
      model.detectors->Observe(*error);
  if (!cut.has_value()) return;
  auto* times = model.counters.mutable_error_changes();
  *times->Add() = ToProtoTime(at);
  if (times->size() > kMaxErrorChanges) times->DeleteSubrange(0, 1);
  // The episode lives in the counters, so that it is rolled back, written
  // and replayed with them. Load checked it, and FoldCut keeps it valid.
  std::optional<monitors::ChangeEpisode> episode;
  if (model.counters.has_error_episode()) {
    absl::StatusOr<monitors::ChangeEpisode> read =
        monitors::ChangeEpisode::FromProto(model.counters.error_episode());
    if (read.ok()) episode = *read;
  }
  monitors::FoldCut(episode, *cut, at);
  episode->ToProto(model.counters.mutable_error_episode());
}

void Pipeline::ObserveAdaptiveConformal(
    ModelState& model, const monitors::PredictionView& prediction,
    const vigie::v1::Outcome& outcome) {
  const std::optional<monitors::ConformalObservation> conformal =
      model.all->ConformalOf(prediction, outcome);
  if (!conformal.has_value()) return;
  // The tracker lives in the counters, so that it is rolled back, written
  // and replayed with them.
  std::optional<monitors::AdaptiveConformal> aci;
  if (model.counters.has_adaptive_conformal()) {
    absl::StatusOr<monitors::AdaptiveConformal> read =
        monitors::AdaptiveConformal::FromProto(
            model.counters.adaptive_conformal());
    if (read.ok()) aci = *std::move(read);
  }
  if (!aci.has_value()) {
    monitors::AdaptiveConformal::Options options;
    options.target_alpha = conformal->alpha;
    options.gamma = model.config.aci_gamma;
    absl::StatusOr<monitors::AdaptiveConformal> created =
        monitors::AdaptiveConformal::Create(options);
    // Validation and the configuration keep both in range.
    if (!created.ok()) return;
    aci = *std::move(created);
  }
  aci->Observe(conformal->covered);
  aci->ToProto(model.counters.mutable_adaptive_conformal());
}

void Pipeline::Join(ModelState& model,
                    const monitors::PredictionView& prediction,
                    const vigie::v1::Outcome& outcome,
                    const storage::IdKey& key, absl::string_view pseudonym,
                    absl::Time now, Changes& changes) {
  const absl::Time at = model.config.join_time == JoinTime::kPrediction
                            ? prediction.event_time
                            : FromProtoTime(outcome.event_time());
  const absl::Time pane_start = Place(model, at);
  monitors::ModelMonitors& pane = PaneFor(model, pane_start, changes);
  pane.ObserveJoined(prediction, outcome, model.catalogue.get());
  if (LearnsPopularityIn(model, pane_start)) {
    pane.CountInteractions(outcome, *model.catalogue);
  }
  model.all->ObserveJoined(prediction, outcome, model.catalogue.get());
  ObserveError(model, pane, prediction, outcome, at);
  ObserveAdaptiveConformal(model, prediction, outcome);
  marks_.Add(key, model.config.id, pseudonym, now);
  model.counters.set_joined(model.counters.joined() + 1);
  ++changes.joined;
}

std::optional<EventRejection> Pipeline::CheckNotJoined(
    ModelState& model, const storage::IdKey& key, const std::string& id,
    absl::string_view kind, Changes& changes) {
  const std::optional<absl::Time> joined_at = marks_.Find(key);
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
    vigie::v1::Prediction& prediction, absl::string_view validated,
    absl::string_view pseudonym, absl::Time now, Changes& changes) {
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
  if (validated.empty() &&
      (rejection = ValidatePrediction(model->config, prediction))) {
    CountRejection(model, rejection->reason, changes);
    return rejection;
  }
  const std::string& id = prediction.prediction_id();
  std::string made;
  if (pseudonym.empty() || model->config.id != prediction.model_id()) {
    made = PseudonymOf(model->config.id, id);
    pseudonym = made;
  }
  const storage::IdKey key = storage::IdKey::Of(model->config.id, pseudonym);
  if (std::optional<EventRejection> joined =
          CheckNotJoined(*model, key, id, "prediction", changes)) {
    return joined;
  }
  const std::optional<absl::Time> pending =
      pending_.Since(Kind::kPrediction, key);
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
  // Read once for the pane, the since-reference monitors and a join; from
  // the bytes Receive validated, if it did, as the message may lack its
  // features (ParseEvent, event_bytes.h).
  absl::StatusOr<monitors::PredictionView> read =
      validated.empty() ? monitors::PredictionView::Of(prediction)
                        : monitors::PredictionView::Decode(validated);
  if (!read.ok()) return read.status();
  monitors::PredictionView& view = *read;
  // Personalisation keeps a sample of users by hash in the pane state: of
  // their pseudonyms, so that no user id can be looked up there.
  std::string user;
  if (!view.user_id.empty()) {
    user = PseudonymOf(absl::StrCat(model->config.id, "/users"), view.user_id);
    view.user_id = user;
  }
  PaneFor(*model, Place(*model, event_time), changes)
      .ObservePrediction(view, model->catalogue.get());
  model->all->ObservePrediction(view, model->catalogue.get());
  if (!counters.has_watermark() ||
      event_time > FromProtoTime(counters.watermark())) {
    *counters.mutable_watermark() = ToProtoTime(event_time);
    if (counters.watermark_model_version() != prediction.model_version()) {
      counters.set_watermark_model_version(prediction.model_version());
    }
  }

  if (const std::optional<absl::Time> outcome_since =
          pending_.Since(Kind::kOutcome, key)) {
    counters.set_pending_outcomes(counters.pending_outcomes() - 1);
    if (!Expired(*outcome_since, model->config, now)) {
      ASSIGN_OR_RETURN(state::v1::PendingEntry * outcome,
                       pending_.Take(Kind::kOutcome, key, &changes.arena));
      Join(*model, view, outcome->outcome(), key, pseudonym, now, changes);
      return std::nullopt;
    }
    pending_.Drop(Kind::kOutcome, key);
    counters.set_expired_outcomes(counters.expired_outcomes() + 1);
  }
  std::string serialized;
  if (validated.empty()) {
    serialized = prediction.SerializeAsString();
    validated = serialized;
  }
  ASSIGN_OR_RETURN(const std::string minimised,
                   MinimisedPrediction(validated, pseudonym));
  pending_.Add(Kind::kPrediction, key, minimised, now);
  counters.set_pending_predictions(counters.pending_predictions() + 1);
  return std::nullopt;
}

absl::StatusOr<std::optional<EventRejection>> Pipeline::ApplyOutcome(
    const vigie::v1::Outcome& outcome, absl::string_view pseudonym,
    absl::Time now, Changes& changes) {
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
  std::string made;
  if (pseudonym.empty() || model->config.id != outcome.model_id()) {
    made = PseudonymOf(model->config.id, id);
    pseudonym = made;
  }
  const storage::IdKey key = storage::IdKey::Of(model->config.id, pseudonym);
  if (std::optional<EventRejection> joined =
          CheckNotJoined(*model, key, id, "outcome", changes)) {
    return joined;
  }
  const std::optional<absl::Time> waiting_outcome =
      pending_.Since(Kind::kOutcome, key);
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
          pending_.Since(Kind::kPrediction, key)) {
    counters.set_pending_predictions(counters.pending_predictions() - 1);
    if (!Expired(*prediction_since, model->config, now)) {
      // Only the fields the monitors read, not the whole prediction.
      ASSIGN_OR_RETURN(absl::string_view bytes,
                       pending_.TakePredictionBytes(key));
      ASSIGN_OR_RETURN(const monitors::PredictionView prediction,
                       monitors::PredictionView::Decode(bytes));
      Join(*model, prediction, outcome, key, pseudonym, now, changes);
      return std::nullopt;
    }
    pending_.Drop(Kind::kPrediction, key);
    counters.set_expired_predictions(counters.expired_predictions() + 1);
  }
  vigie::v1::Outcome kept = outcome;
  kept.set_prediction_id(std::string(pseudonym));
  pending_.Add(Kind::kOutcome, key, kept, now);
  counters.set_pending_outcomes(counters.pending_outcomes() + 1);
  return std::nullopt;
}

namespace {

// The bytes of event `i`'s prediction if Receive validated it; empty
// otherwise.
absl::string_view ValidatedBytes(const Pipeline::Received* received, int i) {
  if (received == nullptr ||
      static_cast<size_t>(i) >= received->predictions.size()) {
    return {};
  }
  const auto [offset, length] = received->predictions[static_cast<size_t>(i)];
  return absl::string_view(received->record).substr(offset, length);
}

// The pseudonym of event `i`'s prediction id if Receive made it; empty
// otherwise.
absl::string_view PseudonymMade(const Pipeline::Received* received, int i) {
  constexpr size_t kChars = storage::PrivacyKeys::kPseudonymChars;
  if (received == nullptr ||
      (static_cast<size_t>(i) + 1) * kChars > received->pseudonyms.size()) {
    return {};
  }
  return absl::string_view(received->pseudonyms)
      .substr(static_cast<size_t>(i) * kChars, kChars);
}

}  // namespace

absl::StatusOr<vigie::v1::IngestReply> Pipeline::Apply(
    vigie::v1::IngestRequest& request, uint64_t index_offset, absl::Time now,
    const Received* received, Changes& changes) {
  vigie::v1::IngestReply reply;
  // The join index is large and read at random: its look-ups wait on cache
  // and TLB misses unless started ahead. A few events ahead, not the whole
  // request at once, whose lines would be evicted again before their turn.
  constexpr size_t kPrefetchAhead = 8;
  const size_t prefetched = received == nullptr ? 0 : received->keys.size();
  for (size_t i = 0; i < std::min(prefetched, kPrefetchAhead); ++i) {
    index_.Prefetch(received->keys[i]);
  }
  for (int i = 0; i < request.events_size(); ++i) {
    if (const size_t ahead = static_cast<size_t>(i) + kPrefetchAhead;
        ahead < prefetched) {
      index_.Prefetch(received->keys[ahead]);
    }
    vigie::v1::Event& event = *request.mutable_events(i);
    absl::StatusOr<std::optional<EventRejection>> result;
    switch (event.kind_case()) {
      case vigie::v1::Event::kPrediction:
        result = ApplyPrediction(*event.mutable_prediction(),
                                 ValidatedBytes(received, i),
                                 PseudonymMade(received, i), now, changes);
        break;
      case vigie::v1::Event::kOutcome:
        result = ApplyOutcome(event.outcome(), PseudonymMade(received, i), now,
                              changes);
        break;
      case vigie::v1::Event::KIND_NOT_SET:
        CountRejection(nullptr, vigie::v1::REJECT_REASON_EMPTY_EVENT, changes);
        result = Rejection(vigie::v1::REJECT_REASON_EMPTY_EVENT,
                           "event has neither a prediction nor an outcome");
        break;
    }
    if (!result.ok()) return result.status();
    if (result->has_value()) {
      vigie::v1::Rejection* rejection = reply.add_rejections();
      rejection->set_index(index_offset + static_cast<uint64_t>(i));
      rejection->set_reason((*result)->reason);
      rejection->set_message(std::move((*result)->message));
      rejection->set_prediction_id(event.has_prediction()
                                       ? event.prediction().prediction_id()
                                       : event.outcome().prediction_id());
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
  return reply;
}

void Pipeline::Settle(Changes& changes, absl::Time now) {
  for (const auto& [key, original] : changes.panes) {
    const auto& [model, start] = key;
    model->dirty_panes.insert(start);
  }
  for (const auto& [model, original] : changes.models) {
    dirty_models_.insert(model);
    // What liveness rules watch: the model sent something at `now`.
    *model->counters.mutable_last_received() = ToProtoTime(now);
    MaybeFreezeReference(*model);
    Compact(*model);
  }
  if (changes.unattributed.has_value()) unattributed_dirty_ = true;
}

Pipeline::Received Pipeline::Receive(vigie::v1::IngestRequest& request,
                                     const ArrivedEvents& arrived) const {
  Received received;
  received.at = clock_->Now();
  const auto events = static_cast<size_t>(request.events_size());
  received.predictions.assign(events, {0, 0});
  received.keys.reserve(events);
  received.pseudonyms.reserve(events * storage::PrivacyKeys::kPseudonymChars);
  // Validation reads only the configuration, so it runs here, outside the
  // lock, on the thread that received the call.
  std::vector<bool> valid(events);
  // The bytes to copy, by event, if they line up with the parsed events;
  // and what validation set in each valid prediction, serialized.
  absl::Span<const absl::string_view> event_bytes = arrived.bytes;
  if (event_bytes.size() != events) event_bytes = {};
  std::vector<std::string> normalised(event_bytes.empty() ? 0 : events);
  vigie::v1::Prediction set;
  for (size_t i = 0; i < events; ++i) {
    vigie::v1::Event& event = *request.mutable_events(static_cast<int>(i));
    // One key per event, so that Apply prefetches a fixed distance ahead.
    // Of the model id as sent: Apply makes its own for an event whose
    // model resolves otherwise (ApplyPrediction, ApplyOutcome).
    const std::string& model_id = event.has_outcome()
                                      ? event.outcome().model_id()
                                      : event.prediction().model_id();
    keys_->AppendPseudonym(model_id,
                           event.has_outcome()
                               ? event.outcome().prediction_id()
                               : event.prediction().prediction_id(),
                           &received.pseudonyms);
    received.keys.push_back(storage::IdKey::Of(
        model_id, absl::string_view(received.pseudonyms)
                      .substr(i * storage::PrivacyKeys::kPseudonymChars,
                              storage::PrivacyKeys::kPseudonymChars)));
    if (!event.has_prediction() || event.prediction().model_id().empty()) {
      continue;
    }
    const ModelConfig* model = config_.FindModel(event.prediction().model_id());
    if (model == nullptr && !config_.accept_undeclared_models) continue;
    // Rejected ones are worked out again, with their message, under lock.
    set.Clear();
    valid[i] =
        !ValidatePrediction(model != nullptr ? *model : config_.default_model,
                            *event.mutable_prediction(), &set);
    if (valid[i] && !normalised.empty() && set.ByteSizeLong() > 0) {
      normalised[i] = set.SerializeAsString();
    }
  }
  // A prediction parsed without its features and not valid here is
  // validated again under the lock, and logged as parsed: whole, then.
  if (!event_bytes.empty() && arrived.without_features.size() == events) {
    for (size_t i = 0; i < events; ++i) {
      if (valid[i] || !arrived.without_features[i]) continue;
      const absl::string_view bytes = event_bytes[i];
      vigie::v1::Event& event = *request.mutable_events(static_cast<int>(i));
      // It parsed without its features, so it parses with them: ParseEvent
      // leaves out only features protobuf accepts.
      if (!event.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        event.Clear();
      }
    }
  }
  // The IngestRecord, field by field: each event copied from its bytes
  // (a valid prediction, with what validation set appended) or serialized
  // once, into the record; a valid prediction's pending entry is a copy of
  // its bytes there.
  state::v1::IngestRecord head;
  *head.mutable_received() = ToProtoTime(received.at);
  std::string body;
  for (size_t i = 0; i < events; ++i) {
    if (valid[i] && !event_bytes.empty()) {
      if (const std::optional<PredictionSpan> span =
              AppendPredictionEvent(&body, event_bytes[i], normalised[i])) {
        received.predictions[i] = {static_cast<uint32_t>(span->offset),
                                   static_cast<uint32_t>(span->length)};
        continue;
      }
    }
    const size_t start =
        AppendMessage(&body, 1, request.events(static_cast<int>(i)));
    if (!valid[i]) continue;
    const size_t header =
        FieldHeaderLength(absl::string_view(body).substr(start));
    received.predictions[i] = {
        static_cast<uint32_t>(start + header),
        static_cast<uint32_t>(body.size() - start - header)};
  }
  received.record = head.SerializeAsString();
  storage::AppendFieldHeader(&received.record, 2, body.size());
  const auto base = static_cast<uint32_t>(received.record.size());
  received.record += body;
  for (auto& [offset, length] : received.predictions) {
    if (length > 0) offset += base;
  }
  received.sealed = keys_->Seal(kIngestLogPurpose, received.record);
  return received;
}

absl::StatusOr<vigie::v1::IngestReply> Pipeline::Ingest(
    vigie::v1::IngestRequest& request, uint64_t index_offset) {
  return Ingest(request, index_offset, Receive(request));
}

absl::StatusOr<vigie::v1::IngestReply> Pipeline::Ingest(
    vigie::v1::IngestRequest& request, uint64_t index_offset,
    Received received) {
  std::optional<uint64_t> logged;
  RETURN_IF_ERROR(Log(received, [&](uint64_t seq) { logged = seq; }));
  return ApplyLogged(request, index_offset, std::move(received), *logged);
}

absl::Status Pipeline::Log(const Received& received,
                           absl::FunctionRef<void(uint64_t seq)> enqueue) {
  absl::MutexLock lock(&log_mu_);
  storage::StateBatch batch = store_->NewBatch();
  batch.PutIngestRecord(next_log_seq_, received.sealed);
  for (const state::v1::KafkaPositionState& position : received.positions) {
    batch.PutKafkaPosition(position);
  }
  RETURN_IF_ERROR(store_->Commit(batch));
  enqueue(next_log_seq_++);
  return absl::OkStatus();
}

absl::Status Pipeline::VoidRecord(uint64_t seq, const Received* received) {
  if (seq != next_seq_) {
    return absl::InternalError(absl::StrCat("ingest log record ", seq,
                                            " voided out of turn: the next "
                                            "is ",
                                            next_seq_));
  }
  ++next_seq_;
  storage::StateBatch batch = store_->NewBatch();
  batch.DeleteIngestRecord(seq);
  if (received != nullptr) {
    for (const state::v1::KafkaPositionState& before :
         received->positions_before) {
      if (before.next_offset() >= 0) {
        batch.PutKafkaPosition(before);
      } else {
        batch.DeleteKafkaPosition(before.topic(), before.partition());
      }
    }
  }
  // If this fails, a restart applies the call although its caller was told
  // it failed; a retry then finds its events already counted (duplicates
  // are recognised by id), so each still counts once.
  return store_->Commit(batch);
}

absl::Status Pipeline::Abandon(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  return VoidRecord(seq, nullptr);
}

absl::StatusOr<vigie::v1::IngestReply> Pipeline::ApplyLogged(
    vigie::v1::IngestRequest& request, uint64_t index_offset, Received received,
    uint64_t seq) {
  const absl::Time now = received.at;
  absl::MutexLock lock(&mu_);
  if (seq != next_seq_) {
    return absl::InternalError(absl::StrCat("ingest log record ", seq,
                                            " applied out of turn: the next "
                                            "is ",
                                            next_seq_));
  }
  Changes changes;
  index_.BeginChange();
  pending_.BeginChange();
  marks_.BeginChange();
  absl::StatusOr<vigie::v1::IngestReply> reply =
      Apply(request, index_offset, now, &received, changes);
  if (!reply.ok()) {
    Rollback(changes);
    if (absl::Status voided = VoidRecord(seq, &received); !voided.ok()) {
      VIGIE_LOG(Error, "cannot void ingest log record ", seq,
                " after it failed to apply: ", voided.ToString());
    }
    return reply.status();
  }
  ++next_seq_;
  logged_bytes_ += received.record.size();
  index_.EndChange();
  Settle(changes, now);
  for (const auto& [model, original] : changes.models) {
    model->rules_due = true;
    MaybeEvaluateRules(*model, /*now_or_never=*/false);
  }
  if (logged_bytes_ + pending_.fresh_bytes() + marks_.fresh_bytes() >=
      config_.checkpoint_bytes) {
    // The call is durable in the log whether or not this succeeds.
    if (absl::Status status = CheckpointLocked(); !status.ok()) {
      VIGIE_LOG(Error, "checkpoint failed: ", status.ToString());
    }
  }
  return reply;
}

absl::Status Pipeline::Checkpoint() {
  absl::MutexLock lock(&mu_);
  return CheckpointLocked();
}

void Pipeline::MaybeEvaluateRules(ModelState& model, bool now_or_never) {
  if (!model.rules_due) return;
  const absl::Time now = clock_->Now();
  if (!now_or_never &&
      now - model.rules_evaluated_at <
          std::max(kRuleInterval, model.rules_cost * kRuleCostShare)) {
    return;
  }
  model.rules_due = false;
  model.rules_evaluated_at = now;
  // The events are durable; an alert that cannot be written now is written
  // at the next evaluation, so the call that triggered this still succeeds.
  if (absl::Status status = EvaluateRules(model); !status.ok()) {
    VIGIE_LOG(Error, "rule evaluation of model '", model.config.id,
              "' failed: ", status.ToString());
  }
  model.rules_cost = clock_->Now() - now;
}

absl::Status Pipeline::CheckpointLocked() {
  // Alerts follow the state the checkpoint writes, and the other
  // replicas' panes as last received.
  for (auto& [id, model] : models_) {
    if (exchange_ != nullptr &&
        exchange_->Activity(id).generation != model->peers_generation) {
      model->rules_due = true;
    }
    MaybeEvaluateRules(*model, /*now_or_never=*/true);
  }
  if (dirty_models_.empty() && !unattributed_dirty_ && !pending_.dirty() &&
      !marks_.dirty() && logged_bytes_ == 0) {
    return absl::OkStatus();
  }
  const absl::Time began = absl::Now();  // Real time, for the stats.
  storage::StateBatch batch = store_->NewBatch();
  // What the other replicas are told once the batch is committed.
  std::vector<PaneUpdate> published;
  for (ModelState* model : dirty_models_) {
    const std::string& id = model->config.id;
    for (absl::Time start : model->dirty_panes) {
      auto pane = model->panes.find(start);
      std::string bytes;
      if (pane == model->panes.end()) {
        batch.DeletePane(id, start);  // Archived.
      } else {
        bytes = pane->second.Serialize();
        batch.PutPane(id, start, bytes);
      }
      if (exchange_ != nullptr) {
        published.push_back({id, start, false, std::move(bytes)});
      }
    }
    if (model->archive_dirty) {
      std::string bytes = model->archive->Serialize();
      batch.PutArchive(id, model->archived_before, bytes);
      if (exchange_ != nullptr) {
        published.push_back(
            {id, model->archived_before, true, std::move(bytes)});
      }
    }
    if (model->reference_dirty) {
      state::v1::ReferenceState reference = model->reference_meta;
      reference.set_monitors(model->reference->Serialize());
      batch.PutReference(id, reference);
      PutReferenceVersion(batch, *model, reference);
    }
    if (model->detectors.has_value()) {
      model->counters.set_error_detectors(model->detectors->Serialize());
    }
    batch.PutCounters(id, model->counters);
  }
  if (unattributed_dirty_) batch.PutCounters("", unattributed_);
  const uint64_t number = checkpoints_ + 1;
  ASSIGN_OR_RETURN(storage::PendingJoins::Checkpoint pending,
                   pending_.PrepareCheckpoint(number, batch));
  ASSIGN_OR_RETURN(storage::JoinMarks::Checkpoint marks,
                   marks_.PrepareCheckpoint(batch));
  state::v1::CheckpointState checkpoint;
  checkpoint.set_format(kStateFormat);
  checkpoint.set_next_ingest_seq(next_seq_);
  checkpoint.set_next_pending_block(pending.next_block);
  checkpoint.set_next_mark_block(marks.next_block);
  *checkpoint.mutable_taken_at() = ToProtoTime(clock_->Now());
  checkpoint.set_number(number);
  batch.PutCheckpoint(checkpoint);
  batch.DeleteIngestRecordsBefore(next_seq_);
  RETURN_IF_ERROR(store_->Commit(batch));
  pending_.CommitCheckpoint(std::move(pending));
  marks_.CommitCheckpoint(marks);
  for (ModelState* model : dirty_models_) {
    model->dirty_panes.clear();
    model->archive_dirty = false;
    model->reference_dirty = false;
  }
  dirty_models_.clear();
  unattributed_dirty_ = false;
  logged_bytes_ = 0;
  checkpoints_ = number;
  if (exchange_ != nullptr && !published.empty()) exchange_->Publish(published);
  const absl::Duration took = absl::Now() - began;
  ++checkpoint_stats_.written;
  checkpoint_stats_.last = took;
  checkpoint_stats_.total += took;
  return absl::OkStatus();
}

Pipeline::CheckpointStats Pipeline::checkpoint_stats() const {
  absl::ReaderMutexLock lock(&mu_);
  return checkpoint_stats_;
}

std::vector<std::string> Pipeline::ModelIds() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> ids;
  ids.reserve(models_.size());
  for (const auto& [id, model] : models_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace vigie::services
