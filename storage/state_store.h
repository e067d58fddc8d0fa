#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vigie/state/v1/catalogue.pb.h"
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
  // Memory the column families' memtables may take together before RocksDB
  // flushes the largest, the ingest log's aside; one family's memtable is
  // flushed at a quarter of it (at most 16 MiB). Default: 64 MiB. Range:
  // [4 MiB, 64 GiB].
  size_t write_buffer_bytes = size_t{64} << 20;
  // Memory the ingest log's memtable may take, on top of
  // write_buffer_bytes. A commit that drops the log before a sequence
  // number (a checkpoint) has that memtable flushed once it holds a quarter
  // of write_buffer_bytes (at most 16 MiB): its records are deleted by then,
  // so the flush writes none of them. Sized above the log that accumulates
  // between two checkpoints (the server gives it twice checkpoint_bytes),
  // the log reaches the disk once, through the write-ahead log, instead of
  // also in SST files that compaction then deletes. Default: 128 MiB.
  // Range: [4 MiB, 64 GiB].
  size_t ingest_log_buffer_bytes = size_t{128} << 20;
  // Whether each Commit waits for its write-ahead-log record to reach the
  // disk (fsync). false: a committed batch survives a crash of the process
  // (kill -9), not a crash of the machine. Default: false.
  bool sync_commits = false;
  // Whether flushes and compactions write table files, and compactions
  // read them, with direct I/O, past the operating system's page cache,
  // where the file system of `path` allows it (StateStore::direct_io says
  // whether it did). Those files are written once and read back by
  // compaction alone, or through the block cache: copying them into the
  // page cache only costs CPU and evicts what reads need (bench/README.md).
  // Default: true.
  bool direct_io = true;

  absl::Status Validate() const;
};

class StateStore;

// Mutations applied together by StateStore::Commit, all or none (one
// RocksDB WriteBatch). Not thread-safe: one owner.
class StateBatch {
 public:
  ~StateBatch();
  StateBatch(StateBatch&&) noexcept;
  StateBatch& operator=(StateBatch&&) noexcept;

  // Where the state stands after a checkpoint (meta family).
  void PutCheckpoint(const state::v1::CheckpointState& checkpoint);
  // One acknowledged ingest call (a serialized IngestRecord) under its
  // sequence number.
  void PutIngestRecord(uint64_t seq, absl::string_view bytes);
  // Voids one record: a call logged but then not applied.
  void DeleteIngestRecord(uint64_t seq);
  // Drops the ingest log before `seq`: what a checkpoint has absorbed.
  void DeleteIngestRecordsBefore(uint64_t seq);
  // A block of pending entries (a serialized PendingBlock).
  void PutPendingBlock(uint32_t block, absl::string_view bytes);
  // The offsets of `block` that checkpoint number `checkpoint` found joined
  // or expired (a serialized PendingTombstones).
  void PutPendingTombstones(uint32_t block, uint64_t checkpoint,
                            absl::string_view bytes);
  // Drops a block and its tombstones: none of its entries is pending.
  void DeletePendingBlock(uint32_t block);
  // A block of join marks (a serialized JoinMarkBlock).
  void PutJoinMarkBlock(uint32_t block, absl::string_view bytes);
  void DeleteJoinMarkBlock(uint32_t block);
  // `bytes` is a serialized vigie.state.v1.PaneState.
  void PutPane(absl::string_view model_id, absl::Time pane_start,
               absl::string_view bytes);
  void DeletePane(absl::string_view model_id, absl::Time pane_start);
  // The model's archive: the merge of every pane compacted away, all of
  // which started before `until`. `bytes` is a serialized PaneState.
  void PutArchive(absl::string_view model_id, absl::Time until,
                  absl::string_view bytes);
  void PutCounters(absl::string_view model_id,
                   const state::v1::ModelCountersState& counters);
  // The model's current reference: its frozen reference window, or its
  // last upload.
  void PutReference(absl::string_view model_id,
                    const state::v1::ReferenceState& reference);
  // One version of the model's reference, kept beside the current one so
  // that earlier versions can still be read (and compared) after a new
  // one replaced them; under reference.version().
  void PutReferenceVersion(absl::string_view model_id,
                           const state::v1::ReferenceState& reference);
  void DeleteReferenceVersion(absl::string_view model_id, uint32_t version);
  // The model's item catalogue (only the current version is kept: this
  // replaces the one before).
  void PutCatalogue(absl::string_view model_id,
                    const state::v1::CatalogueState& catalogue);
  // How far Kafka ingest has read a partition; written with the ingest-log
  // record of the messages before it.
  void PutKafkaPosition(const state::v1::KafkaPositionState& position);
  void DeleteKafkaPosition(absl::string_view topic, int32_t partition);
  // Everything the model-keyed families hold of `model_id`: its panes,
  // archive, counters, reference and kept reference versions, and
  // catalogue.
  void DeleteModel(absl::string_view model_id);
  // An alert's latest state, and one of its transitions (at its
  // updated_at).
  void DeleteAlert(absl::string_view fingerprint);
  void DeleteAlertTransition(absl::Time at, absl::string_view fingerprint);
  // The latest state of an alert (by fingerprint), plus, when `transition`,
  // a record in the alert history.
  void PutAlert(const vigie::v1::Alert& alert, bool transition);

  // Number of mutations so far, and their size in bytes.
  size_t size() const;
  size_t bytes() const;

 private:
  friend class StateStore;
  struct Rep;
  explicit StateBatch(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// Vigie's durable state in one RocksDB database, one column family per kind:
//   meta           "checkpoint"            -> CheckpointState
//   ingest_log     sequence number         -> IngestRecord
//   pending        block                   -> PendingBlock
//                  (block, checkpoint)     -> PendingTombstones
//   join_marks     block                   -> JoinMarkBlock
//   panes          (model, pane start)     -> PaneState
//   archives       model                   -> (until, PaneState)
//   counters       model                   -> ModelCountersState
//   alerts         fingerprint             -> Alert (latest)
//   alert_history  (time, fingerprint)     -> Alert (each transition)
//   references     model                   -> ReferenceState (current)
//   reference_versions (model, version)    -> ReferenceState
//   catalogues     model                   -> CatalogueState (current)
//   meta           "silence/" + id         -> vigie.v1.Silence
//                  "ack/" + fingerprint    -> AcknowledgementState
//                  "kafka/" + topic + "/" + partition -> KafkaPositionState
//                  "privacy/secret", "privacy/fingerprint" -> bytes
// Numbers are big-endian, so that byte order is numeric order.
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
  // log, then empties the batch. After one with DeleteIngestRecordsBefore,
  // asks RocksDB to flush the ingest log's memtable in the background (see
  // StateStoreOptions::ingest_log_buffer_bytes).
  absl::Status Commit(StateBatch& batch);
  // Flushes and compacts every column family fully, bottommost level
  // included: drops overwritten values and deletions now rather than when
  // RocksDB gets to them. For measurements of the state's footprint; the
  // server itself leaves compaction to RocksDB.
  absl::Status CompactAll();

  // The last checkpoint; empty for a new database.
  absl::StatusOr<std::optional<state::v1::CheckpointState>> GetCheckpoint()
      const;

  // The privacy secret Vigie made itself, when the configuration names
  // none, and the fingerprint of the secret the state was written under
  // (meta family, "privacy/secret" and "privacy/fingerprint").
  absl::StatusOr<std::optional<std::string>> GetPrivacyValue(
      absl::string_view name) const;
  absl::Status PutPrivacyValue(absl::string_view name, absl::string_view value);
  // A pending block; kDataLoss if it is missing.
  absl::StatusOr<std::string> GetPendingBlock(uint32_t block) const;
  // A join-mark block; kDataLoss if it is missing.
  absl::StatusOr<std::string> GetJoinMarkBlock(uint32_t block) const;

  // Iterations over committed state, in key order; stop at the first
  // non-OK status `fn` returns, and return it. kDataLoss for a record that
  // does not decode.
  absl::Status ForEachIngestRecord(
      uint64_t from_seq,
      const std::function<absl::Status(uint64_t seq, absl::string_view bytes)>&
          fn) const;
  // Each pending block with the tombstones written for it.
  absl::Status ForEachPendingBlock(
      const std::function<
          absl::Status(uint32_t block, absl::string_view bytes,
                       const std::vector<std::string>& tombstones)>& fn) const;
  absl::Status ForEachJoinMarkBlock(
      const std::function<absl::Status(uint32_t block,
                                       absl::string_view bytes)>& fn) const;
  absl::Status ForEachPane(
      const std::function<absl::Status(const std::string& model_id,
                                       absl::Time pane_start,
                                       absl::string_view bytes)>& fn) const;
  absl::Status ForEachArchive(const std::function<absl::Status(
                                  const std::string& model_id, absl::Time until,
                                  absl::string_view bytes)>& fn) const;
  absl::Status ForEachReference(
      const std::function<absl::Status(const std::string& model_id,
                                       const state::v1::ReferenceState&)>& fn)
      const;
  // One stored version of a model's reference; empty when not kept.
  absl::StatusOr<std::optional<state::v1::ReferenceState>> GetReferenceVersion(
      absl::string_view model_id, uint32_t version) const;
  // The stored versions of a model's reference, oldest first, without
  // their monitors (the metadata a listing shows).
  absl::StatusOr<std::vector<state::v1::ReferenceState>> ListReferenceVersions(
      absl::string_view model_id) const;
  // A model's item catalogue; empty when it has none.
  absl::StatusOr<std::optional<state::v1::CatalogueState>> GetCatalogue(
      absl::string_view model_id) const;
  // Every stored catalogue, by model id (what start-up loads).
  absl::Status ForEachCatalogue(
      const std::function<absl::Status(const std::string& model_id,
                                       const state::v1::CatalogueState&)>& fn)
      const;
  absl::Status ForEachCounters(
      const std::function<absl::Status(const std::string& model_id,
                                       const state::v1::ModelCountersState&)>&
          fn) const;
  // Latest state of every alert.
  absl::StatusOr<std::vector<vigie::v1::Alert>> LoadAlerts() const;
  // Alert transitions, oldest first.
  absl::StatusOr<std::vector<vigie::v1::Alert>> LoadAlertHistory() const;
  // Deletes the alert transitions recorded before `before` (their
  // updated_at), in one range deletion, written only when the oldest is
  // older: true when it was.
  absl::StatusOr<bool> ForgetAlertHistoryBefore(absl::Time before);

  // Every stored Kafka position.
  absl::Status ForEachKafkaPosition(
      const std::function<absl::Status(const state::v1::KafkaPositionState&)>&
          fn) const;
  // Silences and acknowledgements: what operators decided, each written
  // alone through the write-ahead log (not with a checkpoint), so that it
  // is durable once the call that made it returns. Put replaces the record
  // of the same id (fingerprint); Delete of a missing one is a no-op.
  absl::Status PutSilence(const vigie::v1::Silence& silence);
  absl::Status DeleteSilence(absl::string_view id);
  // Every silence kept, by id.
  absl::StatusOr<std::vector<vigie::v1::Silence>> LoadSilences() const;
  absl::Status PutAcknowledgement(
      const state::v1::AcknowledgementState& acknowledgement);
  absl::Status DeleteAcknowledgement(absl::string_view fingerprint);
  // Every acknowledgement kept, by fingerprint.
  absl::StatusOr<std::vector<state::v1::AcknowledgementState>>
  LoadAcknowledgements() const;

  // What the database holds now, from RocksDB's own accounting: the bytes
  // of its table files (all column families) and of its memtables.
  struct Size {
    uint64_t sst_bytes = 0;
    uint64_t memtable_bytes = 0;
  };
  Size ApproximateSize() const;

  // Whether flushes and compactions use direct I/O: StateStoreOptions::
  // direct_io, if the file system allows it.
  bool direct_io() const;

 private:
  // Commit's flush of the ingest log's memtable after a checkpoint.
  void FlushDroppedIngestLog();
  struct Rep;
  explicit StateStore(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace vigie::storage
