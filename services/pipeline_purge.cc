// A model's state deleted on request (PurgeModel): the right to erasure of
// what Vigie keeps (referential Q1.5; GDPR art. 17), and a retired model.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "proto/proto_time.h"
#include "services/pane_exchange.h"
#include "services/pipeline.h"

namespace vigie::services {

absl::StatusOr<vigie::v1::PurgeModelReply> Pipeline::PurgeModel(
    const vigie::v1::PurgeModelRequest& request) {
  const std::string& id = request.model_id();
  if (id.empty()) return absl::InvalidArgumentError("model_id is required");
  absl::MutexLock lock(&mu_);
  vigie::v1::PurgeModelReply reply;
  reply.set_model_id(id);
  auto model = models_.find(id);
  std::vector<std::string> fingerprints;
  for (const auto& [fingerprint, alert] : alerts_) {
    if (alert.model_id() == id) fingerprints.push_back(fingerprint);
  }
  if (model == models_.end() && fingerprints.empty()) {
    return absl::NotFoundError(
        absl::StrCat("Vigie keeps nothing of model '", id, "'"));
  }
  // Everything ingested so far in the store, so that the sweeps below see
  // all of the model's pending entries and marks, and the ingest log holds
  // none of its events once the last checkpoint is taken.
  RETURN_IF_ERROR(CheckpointLocked());

  const absl::Time now = clock_->Now();
  for (const std::string& fingerprint : fingerprints) {
    vigie::v1::Alert& alert = alerts_.at(fingerprint);
    if (alert.state() == vigie::v1::ALERT_STATE_FIRING ||
        alert.state() == vigie::v1::ALERT_STATE_PENDING) {
      alert.set_state(vigie::v1::ALERT_STATE_RESOLVED);
      *alert.mutable_updated_at() = ToTimestamp(now);
      *alert.mutable_resolved_at() = ToTimestamp(now);
      alert.set_message(absl::StrCat("model '", id, "' was purged"));
      if (alert_listener_) alert_listener_(alert, /*transition=*/true);
      reply.set_alerts_resolved(reply.alerts_resolved() + 1);
    }
  }

  ASSIGN_OR_RETURN(
      const uint64_t pending,
      pending_.Sweep(
          absl::InfiniteFuture(), [&](storage::PendingJoins::Kind,
                                      const state::v1::PendingEntry& entry) {
            return (entry.has_outcome() ? entry.outcome().model_id()
                                        : entry.prediction().model_id()) == id;
          }));
  reply.set_pending(pending);
  ASSIGN_OR_RETURN(const uint64_t marks, marks_.ForgetModel(id));
  reply.set_join_marks(marks);

  storage::StateBatch batch = store_->NewBatch();
  batch.DeleteModel(id);
  for (const std::string& fingerprint : fingerprints) {
    batch.DeleteAlert(fingerprint);
  }
  ASSIGN_OR_RETURN(const std::vector<vigie::v1::Alert> history,
                   store_->LoadAlertHistory());
  for (const vigie::v1::Alert& transition : history) {
    if (transition.model_id() != id) continue;
    batch.DeleteAlertTransition(FromTimestamp(transition.updated_at()),
                                transition.fingerprint());
    reply.set_alert_transitions(reply.alert_transitions() + 1);
  }
  ASSIGN_OR_RETURN(const std::vector<state::v1::ReferenceState> versions,
                   store_->ListReferenceVersions(id));
  reply.set_reference_versions(versions.size());
  RETURN_IF_ERROR(store_->Commit(batch));

  for (const std::string& fingerprint : fingerprints)
    alerts_.erase(fingerprint);
  reply.set_alerts(fingerprints.size());
  std::vector<PaneUpdate> deleted;
  if (model != models_.end()) {
    const ModelState& state = *model->second;
    // The other replicas merge what this one published of the model into
    // their model-wide windows: each of its panes, and its archive, is
    // published again as deleted (once the checkpoint below is written).
    if (exchange_ != nullptr) {
      for (const auto& [start, pane] : state.panes) {
        deleted.push_back({id, start, false, ""});
      }
      if (state.archive.has_value()) {
        deleted.push_back({id, state.archived_before, true, ""});
      }
    }
    reply.set_predictions(state.counters.predictions());
    reply.set_outcomes(state.counters.outcomes());
    reply.set_panes(state.panes.size() + (state.archive.has_value() ? 1 : 0));
    dirty_models_.erase(model->second.get());
    models_.erase(model);
  }
  // The pending entries' tombstones and the marks' deleted blocks.
  RETURN_IF_ERROR(CheckpointLocked());
  if (!deleted.empty()) exchange_->Publish(deleted);
  VIGIE_LOG(Info, "purged model '", id, "': ", reply.predictions(),
            " predictions, ", reply.outcomes(), " outcomes, ", reply.panes(),
            " panes, ", reply.alerts(), " alerts (", reply.alerts_resolved(),
            " resolved first), ", reply.alert_transitions(),
            " alert transitions, ", reply.pending(), " pending events, ",
            reply.join_marks(), " join marks");
  return reply;
}

}  // namespace vigie::services
