#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "monitors/adaptive_conformal.h"
#include "monitors/change_detectors.h"
#include "monitors/item_catalogue.h"
#include "monitors/model_monitors.h"
#include "monitors/prediction_view.h"
#include "rules/alert_tracker.h"
#include "services/config.h"
#include "services/event_bytes.h"
#include "services/event_validation.h"
#include "storage/join_index.h"
#include "storage/join_marks.h"
#include "storage/pending_joins.h"
#include "storage/privacy_keys.h"
#include "storage/state_store.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services {

class PaneExchange;

// The path every event takes, whatever its transport: validate, join the
// prediction with its outcome through the pending-join store, update the
// monitors of the event-time pane, commit, evaluate the policy, record
// alerts. Also answers the queries.
//
// A joined pair counts in the pane of the prediction's event time (or of the
// outcome's, with JoinTime::kOutcome). Label-free counts (selection rate)
// update on the prediction, label-needing ones (confusion counts) on the
// join. An event more than the allowed lateness behind the model's watermark
// is counted late, and dropped or moved to the latest pane.
//
// Durability: an ingest call is first appended, its predictions normalised,
// to the ingest log (one RocksDB write through its write-ahead log, on the
// thread that received the call), then applied in memory in log order (on
// the caller's worker); it returns only once both succeeded. If the write
// fails nothing happened; if applying fails the in-memory state is rolled
// back and the record voided, and the whole call fails, so a retry applies
// it once. A checkpoint writes everything the calls applied since the
// previous one changed (panes, counters, pending joins, join marks) with
// the log position of the next call to apply in one batch, and drops the
// log before it; at start-up the state of the last checkpoint is loaded and
// the log after it replayed, at the wall-clock times the calls were
// received at, so the state comes out as it was (rule evaluation aside,
// which is redone once at the end): a call logged but not yet applied when
// the process died is applied then.
//
// Thread-safe: one mutex serialises ingest; queries share it as readers.
class Pipeline {
 public:
  // Loads the state of the last checkpoint kept in `store`, replays the
  // ingest log after it, and checkpoints. `store` and `clock` must outlive
  // the pipeline. kDataLoss if stored state does not decode under the
  // current configuration; kFailedPrecondition for a database of another
  // format, or state of a model the configuration refuses.
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(
      ServerConfig config, storage::StateStore* store,
      const common::Clock* clock);

  // Applies the request's events (validated and normalised in place).
  // Rejected events are listed in the reply with `index_offset + i` and
  // counted; the others are kept. Fails only when the state cannot be
  // written (kUnavailable, kDataLoss), and then applies nothing.
  absl::StatusOr<vigie::v1::IngestReply> Ingest(
      vigie::v1::IngestRequest& request, uint64_t index_offset)
      ABSL_LOCKS_EXCLUDED(log_mu_, mu_);

  // The same in steps, so that a server can do the first ones, which need
  // no lock ingest's application holds, on the thread that received the
  // call: Receive makes the request's ingest-log record and notes the
  // wall-clock time it is applied at.
  struct Received {
    // The IngestRecord, and the same as the log keeps it: sealed.
    std::string record;
    std::string sealed;
    absl::Time at;
    // By event: where in `record` the prediction's bytes are, validated
    // and normalised; {0, 0} when it must be validated under the lock (not
    // a prediction, an unknown model, or rejected: the rejection is worked
    // out there).
    std::vector<std::pair<uint32_t, uint32_t>> predictions;
    // The join-index key of each event, in order, to prefetch; and the
    // pseudonym of its prediction id it is made from, each
    // PrivacyKeys::kPseudonymChars of one buffer.
    std::vector<storage::IdKey> keys;
    std::string pseudonyms;
    // Kafka ingest: how far the call's messages go in each partition,
    // stored by Log in the same write as the record (kafka_ingest.h).
    std::vector<state::v1::KafkaPositionState> positions;
    // And where each of those partitions stood before the call (a negative
    // next_offset: nowhere yet), put back in the write that voids the record
    // if the call fails to apply: a restart then reads the call's messages
    // again, however soon after the failure it comes.
    std::vector<state::v1::KafkaPositionState> positions_before;
  };
  // Validates and normalises the request's predictions in place, as Ingest
  // would (validation is idempotent: Ingest's own, and a replay's, find
  // the same), and logs the request as normalised. `arrived`, when given,
  // has the bytes each event was parsed from (event_bytes.h): a valid
  // prediction's are copied into the record, with the fields validation
  // set appended, instead of serializing it again, and its view is read
  // from there, so that it may have been parsed without its features. One
  // so parsed that is not valid here is parsed again whole.
  Received Receive(vigie::v1::IngestRequest& request,
                   const ArrivedEvents& arrived = {}) const;
  // `received` must come from Receive(request): Log, then ApplyLogged.
  absl::StatusOr<vigie::v1::IngestReply> Ingest(
      vigie::v1::IngestRequest& request, uint64_t index_offset,
      Received received) ABSL_LOCKS_EXCLUDED(log_mu_, mu_);

  // Writes `received`'s record to the ingest log under the next sequence
  // number: durable once this returns. Then calls enqueue(seq) before any
  // other call can be logged, so that a caller that queues its calls there
  // applies them in log order, as ApplyLogged requires. On failure nothing
  // was logged and enqueue is not called. Takes no lock that ingest's
  // application holds: a server logs a call while the previous one applies.
  absl::Status Log(const Received& received,
                   absl::FunctionRef<void(uint64_t seq)> enqueue)
      ABSL_LOCKS_EXCLUDED(log_mu_);
  // Applies a call Log logged under `seq`; every logged call, in log order,
  // is either applied or abandoned. On failure (the state cannot be read or
  // written) nothing is applied and the record is voided.
  absl::StatusOr<vigie::v1::IngestReply> ApplyLogged(
      vigie::v1::IngestRequest& request, uint64_t index_offset,
      Received received, uint64_t seq) ABSL_LOCKS_EXCLUDED(mu_);
  // Voids a logged call that will not be applied (its stream failed
  // before its turn).
  absl::Status Abandon(uint64_t seq) ABSL_LOCKS_EXCLUDED(mu_);

  // Called, under the pipeline's lock (so it must not block), with each
  // alert stored: its latest state, and whether it is a transition (see
  // rules::AlertChange). Set once at start, it is first called with every
  // alert still firing, as transitions.
  using AlertListener =
      std::function<void(const vigie::v1::Alert& alert, bool transition)>;
  void SetAlertListener(AlertListener listener) ABSL_LOCKS_EXCLUDED(mu_);
  // Where each checkpoint publishes the panes it wrote, and whence
  // GetMetrics with model_wide merges the other replicas' (Kafka ingest
  // over several replicas). Set once at start; must outlive the pipeline's
  // use of it. Null: none.
  void SetPaneExchange(PaneExchange* exchange) ABSL_LOCKS_EXCLUDED(mu_);

  // Evaluates the rules of every model expected to send events
  // (ModelConfig::expect_events_every) whose last evaluation that counts is
  // an evaluation_interval old, whether or not events arrived: so that a
  // missed_windows rule (O2) sees a model that went silent. A declared
  // model that never sent anything counts its silence from the pipeline's
  // start. The server calls this periodically.
  void EvaluateLiveness() ABSL_LOCKS_EXCLUDED(mu_);

  // Writes what changed since the last checkpoint (see the class comment).
  // A no-op when nothing did. On failure nothing is lost: the ingest log
  // still holds every call, and the next checkpoint writes it all.
  absl::Status Checkpoint() ABSL_LOCKS_EXCLUDED(mu_);

  // Drops pending predictions and outcomes older than their model's label
  // delay, counting them as expired, and forgets joins older than the
  // longest label delay (after which a re-sent event is no longer
  // recognised as a duplicate); checkpoints before and after. Returns how
  // many pending events expired.
  absl::StatusOr<uint64_t> SweepExpired() ABSL_LOCKS_EXCLUDED(mu_);

  // What the last start-up found in the ingest log after the checkpoint.
  struct Recovery {
    uint64_t records = 0;
    uint64_t events = 0;
    absl::Duration took;
  };
  Recovery recovery() const { return recovery_; }

  // The checkpoints written since the start (those with nothing to write
  // are not counted), and how long they took in real time.
  struct CheckpointStats {
    uint64_t written = 0;
    absl::Duration last;
    absl::Duration total;
  };
  CheckpointStats checkpoint_stats() const ABSL_LOCKS_EXCLUDED(mu_);
  // The models that have state here, by id.
  std::vector<std::string> ModelIds() const ABSL_LOCKS_EXCLUDED(mu_);

  // kNotFound for a model never seen; kInvalidArgument for a bad window.
  absl::StatusOr<vigie::v1::GetMetricsReply> GetMetrics(
      const vigie::v1::GetMetricsRequest& request) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Evaluates the rules of models changed since their last evaluation
  // first, so that the answer reflects every acknowledged event.
  // The alerts' transitions from the stored history (see the proto).
  // kInvalidArgument for a limit above 100,000; kUnavailable or kDataLoss
  // if the history cannot be read. Reads the whole history: O(transitions).
  absl::StatusOr<vigie::v1::ListAlertHistoryReply> ListAlertHistory(
      const vigie::v1::ListAlertHistoryRequest& request) const;
  vigie::v1::ListAlertsReply ListAlerts(
      const vigie::v1::ListAlertsRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // The configuration the pipeline started with (its policy is the one it
  // started with too; see policy()).
  const ServerConfig& config() const { return config_; }

  // Replaces the alerting policy, which must be valid (kInvalidArgument
  // otherwise, and the running policy stays), and evaluates every model's
  // rules under it at once. Alerts the new policy no longer produces (a
  // rule removed, disabled, or narrowed to other models or attributes) are
  // resolved, or made inactive if they were pending. Alerts kept keep their
  // state and counts.
  absl::Status SetPolicy(rules::Policy policy) ABSL_LOCKS_EXCLUDED(mu_);
  rules::Policy policy() const ABSL_LOCKS_EXCLUDED(mu_);

  // See the RPCs of the same names. UploadReference: kInvalidArgument when
  // no event is usable, kNotFound for a model the configuration refuses,
  // kUnavailable or kDataLoss when it cannot be stored (nothing changed).
  absl::StatusOr<vigie::v1::ReferenceInfo> UploadReference(
      vigie::v1::UploadReferenceRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<vigie::v1::ReferenceInfo> GetReference(
      const vigie::v1::GetReferenceRequest& request) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // PutCatalogue: validated (and normalised) outside the lock, then stored
  // at once as the model's next version, which replaces the current one.
  // kInvalidArgument with ItemCatalogue::FromProto's message, naming the
  // item; kNotFound for a model the configuration refuses;
  // kFailedPrecondition for a model whose task takes no catalogue
  // (ModelConfig::AcceptsCatalogue); kUnavailable or kDataLoss when it
  // cannot be stored. On error the model's catalogue is unchanged.
  absl::StatusOr<vigie::v1::CatalogueInfo> PutCatalogue(
      const vigie::v1::PutCatalogueRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  // kNotFound while the model has no catalogue; kInvalidArgument for a
  // limit above 10,000.
  absl::StatusOr<vigie::v1::CatalogueInfo> GetCatalogue(
      const vigie::v1::GetCatalogueRequest& request) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes everything kept of the model (vigie.proto, PurgeModel), in
  // memory and in the store, checkpointing before and after; open alerts
  // go to the alert listener as resolved first. kNotFound when nothing is
  // kept of it. Interrupted (a crash, a store error), it leaves part of the
  // state: calling it again finishes.
  absl::StatusOr<vigie::v1::PurgeModelReply> PurgeModel(
      const vigie::v1::PurgeModelRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct ModelState {
    ModelConfig config;
    std::map<absl::Time, monitors::ModelMonitors> panes;  // By pane start.
    std::optional<monitors::ModelMonitors> all;  // archive + every pane.
    // Merge of the panes compacted away, all of which started before
    // archived_before.
    std::optional<monitors::ModelMonitors> archive;
    absl::Time archived_before = absl::InfinitePast();
    state::v1::ModelCountersState counters;
    // Since the last checkpoint: panes changed or deleted, and whether the
    // archive changed.
    std::set<absl::Time> dirty_panes;
    bool archive_dirty = false;
    // The frozen reference window (ModelConfig::reference_window), once
    // events are past its end; written at the next checkpoint.
    // Or an uploaded sample (UploadReference), which replaces it. Its
    // stored form without the monitors: version, source, window.
    std::optional<monitors::ModelMonitors> reference;
    state::v1::ReferenceState reference_meta;
    bool reference_dirty = false;
    // Its panes were archived before it could freeze: said once.
    bool reference_lost = false;
    // The drift profile of the reference (built from it when it is set).
    std::optional<monitors::ReferenceProfile> profile;
    // Change detectors on the error stream of the joined pairs; written
    // into counters (error_detectors) at each checkpoint. Their changes'
    // event times are in counters.error_changes.
    std::optional<monitors::ErrorStreamDetectors> detectors;
    // Whether events arrived since the rules were last evaluated, and when
    // that was (see kRuleInterval in pipeline.cc).
    bool rules_due = false;
    absl::Time rules_evaluated_at = absl::InfinitePast();
    absl::Duration rules_cost;  // How long the last evaluation took.
    // Of the last evaluation that counted for `for` (see EvaluateRules).
    absl::Time rules_counted_at = absl::InfinitePast();
    // The pane exchange's PeerActivity::generation of this model at its
    // last evaluation: when it grows, the model-wide windows changed.
    uint64_t peers_generation = 0;
    // Keep last (see pipeline_catalogue.cc): a recommendation model's item
    // catalogue, from PutCatalogue or its catalogue_file; null while it has
    // none. Stored (column family `catalogues`) before it is set here, and
    // loaded at start. Replaced whole, never changed in place: a reader
    // may keep the pointer. Its stored form without the items (version,
    // description, upload time, content digest) in catalogue_meta.
    std::shared_ptr<const monitors::ItemCatalogue> catalogue;
    state::v1::CatalogueState catalogue_meta;
    // The catalogue as stored; `catalogue` is it with the popularity
    // learned from the reference when the model learns it
    // (ModelConfig::learn_popularity, ApplyLearnedPopularity), else the
    // same pointer. popularity_source says which (CatalogueInfo).
    std::shared_ptr<const monitors::ItemCatalogue> stored_catalogue;
    std::string popularity_source;
  };
  // What one Ingest changed, to write in its batch or roll back.
  struct Changes;

  Pipeline(ServerConfig config, storage::StateStore* store,
           const common::Clock* clock);
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadModels() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replays the ingest log from `from_seq`.
  absl::Status Replay(uint64_t from_seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies the events of one ingest call at `now`; with `reply`, lists the
  // rejections. Fails only on an internal error, and then has changed
  // nothing once `changes` are rolled back.
  // `received` (may be null) carries the work Receive did.
  absl::StatusOr<vigie::v1::IngestReply> Apply(
      vigie::v1::IngestRequest& request, uint64_t index_offset, absl::Time now,
      const Received* received, Changes& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a call's record is in the log: remembers what it changed for the
  // next checkpoint and archives panes past retention.
  // `now`: when the call was received.
  void Settle(Changes& changes, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckpointLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes logged record `seq`, which must be the next to apply, and moves
  // past it; in the same write, puts back the Kafka positions of `received`
  // (may be null) as they stood before it. kInternal if it is not the next.
  absl::Status VoidRecord(uint64_t seq, const Received* received)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The state of `model_id`, created for an undeclared model when allowed;
  // null with a rejection otherwise.
  ModelState* ResolveModel(const std::string& model_id,
                           std::optional<EventRejection>* rejection)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Where an event of `event_time` goes: its own time, or the watermark when
  // it is late and the policy is kCurrentPane.
  static absl::Time Place(const ModelState& model, absl::Time event_time);
  // Counts a late event; a TOO_LATE rejection (counted) when the policy
  // drops it.
  absl::StatusOr<std::optional<EventRejection>> CheckLateness(
      ModelState& model, absl::Time event_time, absl::string_view kind,
      Changes& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts a prediction joined with its outcome in the pane of the model's
  // join time, and marks the pair `key` (their model and prediction id)
  // joined.
  void Join(ModelState& model, const monitors::PredictionView& prediction,
            const vigie::v1::Outcome& outcome, const storage::IdKey& key,
            absl::string_view pseudonym, absl::Time now, Changes& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Feeds the error of a joined pair placed at `at` (in `pane`) to the
  // pane's and the model's error tallies and to the model's change
  // detectors; when ADWIN cuts, notes `at` and folds the cut into the
  // model's change episode (counters.error_episode).
  void ObserveError(ModelState& model, monitors::ModelMonitors& pane,
                    const monitors::PredictionView& prediction,
                    const vigie::v1::Outcome& outcome, absl::Time at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Feeds a joined conformal prediction's coverage to the model's adaptive
  // conformal inference (counters.adaptive_conformal).
  void ObserveAdaptiveConformal(ModelState& model,
                                const monitors::PredictionView& prediction,
                                const vigie::v1::Outcome& outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A duplicate rejection (counted) when `id` was already joined, so that an
  // event re-sent after a lost acknowledgement counts once.
  std::optional<EventRejection> CheckNotJoined(ModelState& model,
                                               const storage::IdKey& key,
                                               const std::string& id,
                                               absl::string_view kind,
                                               Changes& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `validated`: the prediction's bytes when Receive validated it.
  // `pseudonym`: the pseudonym of its id when Receive made it, else empty.
  absl::StatusOr<std::optional<EventRejection>> ApplyPrediction(
      vigie::v1::Prediction& prediction, absl::string_view validated,
      absl::string_view pseudonym, absl::Time now, Changes& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<EventRejection>> ApplyOutcome(
      const vigie::v1::Outcome& outcome, absl::string_view pseudonym,
      absl::Time now, Changes& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The privacy secret: the configured file's, else the one kept in the
  // store (made at first start); refused if the state was written under
  // another. Sets keys_.
  absl::Status LoadPrivacyKeys() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pseudonym of an event's prediction id (keys_).
  std::string PseudonymOf(absl::string_view model_id,
                          absl::string_view prediction_id) const;
  // The pane of `event_time`, saved in `changes` before its first change.
  monitors::ModelMonitors& PaneFor(ModelState& model, absl::Time event_time,
                                   Changes& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets model.all anew from its panes and archive (after a rollback).
  static void RebuildAll(ModelState& model);
  void Touch(ModelState& model, Changes& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Rollback(Changes& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountRejection(ModelState* model, vigie::v1::RejectReason reason,
                      Changes& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Freezes `model`'s reference window once its latest pane starts at or
  // after the window's end (before Compact can archive its panes).
  void MaybeFreezeReference(ModelState& model)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds model.profile from model.reference (logging why it cannot).
  static void BuildProfile(ModelState& model);
  // How alerts name the model's reference: "reference window <start> to
  // <end>", or "reference v<N> (upload: <description>)".
  static std::string ReferenceDescription(const ModelState& model);
  // The reference's metadata, and its profiles when `profiles`.
  static vigie::v1::ReferenceInfo ReferenceInfoOf(const ModelState& model,
                                                  bool profiles);
  // A kept version's metadata and profiles, from its stored state.
  static absl::StatusOr<vigie::v1::ReferenceInfo> StoredReferenceInfo(
      const ModelState& model, const state::v1::ReferenceState& stored);
  // Writes `stored` as a version of the model's reference, and deletes the
  // version that falls out of its reference_versions.
  static void PutReferenceVersion(storage::StateBatch& batch,
                                  const ModelState& model,
                                  const state::v1::ReferenceState& stored);
  // Loads the stored catalogues, and each listed model's catalogue_file,
  // stored as a new version when it differs from the stored catalogue (see
  // ModelConfig::catalogue_file). kInvalidArgument or kNotFound naming the
  // file (and line) when one cannot be read.
  absl::Status LoadCatalogues() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `catalogue` (whose normalised form, content digest, description
  // and upload time `stored` holds) as the model's next version, then
  // makes it the model's. Nothing changes if it cannot be stored.
  absl::Status SetCatalogue(ModelState& model,
                            monitors::ItemCatalogue catalogue,
                            state::v1::CatalogueState stored)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `catalogue` the model's stored catalogue, and derives the one its
  // monitors use (ApplyLearnedPopularity).
  static void InstallCatalogue(
      ModelState& model,
      std::shared_ptr<const monitors::ItemCatalogue> catalogue);
  // Sets model.catalogue: the stored catalogue with the reference
  // popularity learned from the model's reference when it learns
  // popularity and its reference counted feedback against these items;
  // else the stored catalogue. Logs when the learned popularity is applied
  // or cannot be.
  static void ApplyLearnedPopularity(ModelState& model);
  // Whether a joined pair placed in the pane starting at `pane` counts for
  // the model's learned popularity: it learns it, has a catalogue, its
  // reference is not frozen yet, and the pane is in its reference window.
  static bool LearnsPopularityIn(const ModelState& model, absl::Time pane);
  // Archives the panes of `model` past its retention or its pane budget
  // (in memory; the next checkpoint writes it).
  void Compact(ModelState& model) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Evaluates the policy on `model` and commits alert changes.
  absl::Status EvaluateRules(ModelState& model)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores alert changes in one batch, updates alerts_, and then tells the
  // listener. Each alert gets the link to its model's report page first.
  absl::Status StoreAlerts(std::vector<rules::AlertChange> changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Evaluates `model`'s rules if events arrived since the last evaluation,
  // and, unless `now_or_never`, that was at least kRuleInterval ago (or
  // kRuleCostShare times its last cost, if longer).
  void MaybeEvaluateRules(ModelState& model, bool now_or_never)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The start of `model`'s since-reference window, and whether its archive
  // belongs in it; kFailedPrecondition when the archive straddles the
  // reference time.
  static absl::StatusOr<bool> SinceReference(const ModelState& model,
                                             absl::Time* start);
  // Merge of the panes of `model` whose start lies in [start, end).
  monitors::ModelMonitors MergePanes(const ModelState& model, absl::Time start,
                                     absl::Time end, uint64_t* panes,
                                     vigie::v1::TimeWindow* covered) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const ServerConfig config_;
  storage::StateStore* const store_;
  const common::Clock* const clock_;

  // Serialises Log: records are written in sequence order, and each
  // enqueued before the next is written.
  absl::Mutex log_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  uint64_t next_log_seq_ ABSL_GUARDED_BY(log_mu_) = 0;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<ModelState>> models_
      ABSL_GUARDED_BY(mu_);
  // Rejections of events with no usable model id, counted apart.
  state::v1::ModelCountersState unattributed_ ABSL_GUARDED_BY(mu_);
  // Set by Load, before the pipeline is shared, and constant after: read
  // without a lock.
  std::optional<storage::PrivacyKeys> keys_;
  // Every pair in flight; shared by pending_ and marks_.
  storage::JoinIndex index_ ABSL_GUARDED_BY(mu_);
  storage::PendingJoins pending_ ABSL_GUARDED_BY(mu_);
  storage::JoinMarks marks_ ABSL_GUARDED_BY(mu_);
  // Ingest log: the sequence number of the next record to apply, and the
  // bytes applied since the last checkpoint.
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t logged_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t checkpoints_ ABSL_GUARDED_BY(mu_) = 0;
  CheckpointStats checkpoint_stats_ ABSL_GUARDED_BY(mu_);
  // Models changed since the last checkpoint.
  std::set<ModelState*> dirty_models_ ABSL_GUARDED_BY(mu_);
  bool unattributed_dirty_ ABSL_GUARDED_BY(mu_) = false;
  Recovery recovery_;
  // When the pipeline was created: the start of the silence of declared
  // models that never sent an event; and, for those, the time of their
  // last liveness evaluation that counted.
  absl::Time created_at_;
  absl::flat_hash_map<std::string, absl::Time> unseen_counted_at_
      ABSL_GUARDED_BY(mu_);
  // The alerting policy in force (config_.policy until SetPolicy).
  rules::Policy policy_ ABSL_GUARDED_BY(mu_);
  // Latest state of every alert, by fingerprint.
  absl::flat_hash_map<std::string, vigie::v1::Alert> alerts_
      ABSL_GUARDED_BY(mu_);
  AlertListener alert_listener_ ABSL_GUARDED_BY(mu_);
  PaneExchange* exchange_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace vigie::services
