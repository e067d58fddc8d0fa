#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::storage {

struct StateStoreOptions {
  // Directory of the RocksDB database; created if missing.
  // Default: "./vigie-data".
  std::string path = "./vigie-data";
  // Size of RocksDB's block cache (shared by all column families).
  // Default: 64 MiB. Range: [1 MiB, 64 GiB].
  size_t block_cache_bytes = size_t{64} << 20;
  // Memory all column families' memtables may take together before RocksDB
  // flushes the largest: without it each of the nine families could hold
  // up to 128 MiB. Default: 128 MiB. Range: [4 MiB, 64 GiB].
  size_t write_buffer_bytes = size_t{128} << 20;
  // Whether each Commit waits for its write-ahead-log record to reach the
  // disk (fsync). false: a committed batch survives a crash of the process
  // (kill -9), not a crash of the machine. Default: false.
  bool sync_commits = false;

  absl::Status Validate() const;
};

class StateStore;

// Mutations applied together by StateStore::Commit, all or none (one
// RocksDB WriteBatch). Reads through StateStore see a batch's own writes.
// Not thread-safe: one owner.
class StateBatch {
 public:
  ~StateBatch();
  StateBatch(StateBatch&&) noexcept;
  StateBatch& operator=(StateBatch&&) noexcept;

  void PutPendingPrediction(absl::string_view model_id,
                            absl::string_view prediction_id,
                            const state::v1::PendingPrediction& pending);
  void DeletePendingPrediction(absl::string_view model_id,
                               absl::string_view prediction_id);
  void PutPendingOutcome(absl::string_view model_id,
                         absl::string_view prediction_id,
                         const state::v1::PendingOutcome& pending);
  void DeletePendingOutcome(absl::string_view model_id,
                            absl::string_view prediction_id);
  // `bytes` is a serialized vigie.state.v1.PaneState.
  void PutPane(absl::string_view model_id, absl::Time pane_start,
               absl::string_view bytes);
  void DeletePane(absl::string_view model_id, absl::Time pane_start);
  // The model's archive: the merge of every pane compacted away, all of
  // which started before `until`. `bytes` is a serialized PaneState.
  void PutArchive(absl::string_view model_id, absl::Time until,
                  absl::string_view bytes);
  // Marks the prediction as joined with its outcome at `joined_at` (wall
  // clock), so that a re-sent prediction or outcome is known as a duplicate.
  void PutJoined(absl::string_view model_id, absl::string_view prediction_id,
                 absl::Time joined_at);
  void DeleteJoined(absl::string_view model_id,
                    absl::string_view prediction_id);
  void PutCounters(absl::string_view model_id,
                   const state::v1::ModelCountersState& counters);
  // The latest state of an alert (by fingerprint), plus, when `transition`,
  // a record in the alert history.
  void PutAlert(const vigie::v1::Alert& alert, bool transition);

  // Number of mutations so far.
  size_t size() const;

 private:
  friend class StateStore;
  struct Rep;
  explicit StateBatch(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// Vigie's durable state in one RocksDB database, one column family per kind:
//   pending_predictions  (model, prediction id) -> PendingPrediction
//   pending_outcomes     (model, prediction id) -> PendingOutcome
//   panes                (model, pane start)    -> PaneState
//   archives             model                  -> (until, PaneState)
//   joined               (model, prediction id) -> join time (8 bytes)
//   counters             model                  -> ModelCountersState
//   alerts               fingerprint            -> Alert (latest)
//   alert_history        (time, fingerprint)    -> Alert (each transition)
// Thread-safe: RocksDB serialises writers; each StateBatch has one owner.
class StateStore {
 public:
  // Opens (creating if missing) the database at options.path.
  // kInvalidArgument for bad options; kUnavailable or kDataLoss from RocksDB.
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(
      const StateStoreOptions& options);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  StateBatch NewBatch() const;
  // Applies every mutation of `batch` atomically, through the write-ahead
  // log, then empties the batch.
  absl::Status Commit(StateBatch& batch);

  // Pending joins, read through `batch` (may be null) and then the database.
  absl::StatusOr<std::optional<state::v1::PendingPrediction>>
  GetPendingPrediction(const StateBatch* batch, absl::string_view model_id,
                       absl::string_view prediction_id) const;
  absl::StatusOr<std::optional<state::v1::PendingOutcome>> GetPendingOutcome(
      const StateBatch* batch, absl::string_view model_id,
      absl::string_view prediction_id) const;

  // When the prediction was joined with its outcome, read through `batch`
  // (may be null); empty if it was not (or its mark was swept).
  absl::StatusOr<std::optional<absl::Time>> GetJoined(
      const StateBatch* batch, absl::string_view model_id,
      absl::string_view prediction_id) const;

  // Iterations over committed state, in key order; stop at the first
  // non-OK status `fn` returns, and return it. kDataLoss for a record that
  // does not decode.
  absl::Status ForEachPane(
      const std::function<absl::Status(const std::string& model_id,
                                       absl::Time pane_start,
                                       absl::string_view bytes)>& fn) const;
  absl::Status ForEachPendingPrediction(
      const std::function<absl::Status(
          const std::string& model_id, const std::string& prediction_id,
          const state::v1::PendingPrediction&)>& fn) const;
  absl::Status ForEachPendingOutcome(
      const std::function<absl::Status(
          const std::string& model_id, const std::string& prediction_id,
          const state::v1::PendingOutcome&)>& fn) const;
  absl::Status ForEachArchive(const std::function<absl::Status(
                                  const std::string& model_id, absl::Time until,
                                  absl::string_view bytes)>& fn) const;
  absl::Status ForEachJoined(
      const std::function<absl::Status(const std::string& model_id,
                                       const std::string& prediction_id,
                                       absl::Time joined_at)>& fn) const;
  absl::Status ForEachCounters(
      const std::function<absl::Status(const std::string& model_id,
                                       const state::v1::ModelCountersState&)>&
          fn) const;
  // Latest state of every alert.
  absl::StatusOr<std::vector<vigie::v1::Alert>> LoadAlerts() const;
  // Alert transitions, oldest first.
  absl::StatusOr<std::vector<vigie::v1::Alert>> LoadAlertHistory() const;

 private:
  struct Rep;
  explicit StateStore(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace vigie::storage
