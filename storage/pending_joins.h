#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/message_lite.h"
#include "storage/join_index.h"
#include "storage/privacy_keys.h"
#include "storage/state_store.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::storage {

// Predictions waiting for their outcome, and outcomes waiting for their
// prediction, kept so that pending joins never cost a RocksDB write per
// event:
//   - an entry is appended to an in-memory buffer as it arrives (the ingest
//     log makes it durable meanwhile);
//   - a checkpoint writes the buffer's entries still pending as blocks of
//     about 64 KiB keyed by a block number (arrival order), and, for older
//     blocks, the offsets of entries joined or expired since as tombstones;
//     a block with nothing pending left is deleted whole. In the common case
//     of outcomes that arrive within a checkpoint interval, an entry is never
//     written anywhere but the ingest log;
//   - in memory there is only an index, (model, id) -> (block, offset,
//     arrival), 24 bytes and some table overhead per entry, rebuilt from the
//     blocks and tombstones at start-up.
// A join reads its entry back from the buffer, or from its block (the last
// few blocks read are cached: outcomes tend to come in prediction order).
//
// Changes between BeginChange and the next BeginChange can be undone with
// RollbackChange, so that a failed ingest call leaves nothing behind.
// Thread-compatible.
class PendingJoins {
 public:
  enum class Kind { kPrediction, kOutcome };

  // `index` is shared with JoinMarks; both must outlive this.
  PendingJoins(StateStore* store, JoinIndex* index);

  // Blocks are written sealed with `keys` (which must outlive this), and
  // read back opened: a pending prediction carries its group attributes
  // and output, which are the subject's. Call before Load; null (the
  // default) writes them in the clear, for tests of the rest.
  void SealWith(const PrivacyKeys* keys) { keys_ = keys; }

  // Rebuilds the index from the stored blocks; `next_block` from the
  // checkpoint. kDataLoss for a block that does not decode.
  absl::Status Load(uint32_t next_block);

  // When the pair's entry of `kind` arrived; empty if none is pending.
  std::optional<absl::Time> Since(Kind kind, const IdKey& key) const;
  // Makes `event` (a vigie.v1.Prediction for kPrediction, an Outcome for
  // kOutcome), arrived at `arrived`, the pending entry of `kind` for `key`,
  // replacing any pending entry of the pair, of either kind (the caller
  // joins a prediction with its outcome rather than keep both pending).
  void Add(Kind kind, const IdKey& key,
           const google::protobuf::MessageLite& event, absl::Time arrived);
  // The same with the event already serialized.
  void Add(Kind kind, const IdKey& key, absl::string_view event_bytes,
           absl::Time arrived);
  // Reads the pending entry and removes it. kInternal if there is none,
  // kDataLoss or kUnavailable if its block cannot be read.
  absl::StatusOr<state::v1::PendingEntry> Take(Kind kind, const IdKey& key);
  // The same, parsed into `arena`: a join then frees nothing one by one.
  absl::StatusOr<state::v1::PendingEntry*> Take(Kind kind, const IdKey& key,
                                                google::protobuf::Arena* arena);
  // The pending prediction of `key` as the bytes of its vigie.v1.Prediction,
  // removed as Take removes it: a join reads only the fields the monitors
  // need (monitors::PredictionView::Decode) rather than parse it whole.
  // Valid until the next call on this object. Errors as Take's, and
  // kDataLoss if the pair's entry holds no prediction.
  absl::StatusOr<absl::string_view> TakePredictionBytes(const IdKey& key);
  // Removes the pending entry without reading it (it expired).
  void Drop(Kind kind, const IdKey& key);
  size_t size(Kind kind) const;

  // Starts a change that RollbackChange can undo, together with the
  // index's own RollbackChange (its entries are journaled there).
  void BeginChange();
  void RollbackChange();

  // Bytes of entries appended since the last checkpoint.
  size_t fresh_bytes() const { return fresh_.size(); }
  // Whether a checkpoint has anything to write.
  bool dirty() const;

  // What a checkpoint writes: the buffer's pending entries as new blocks
  // (committed at once, in small batches, numbered past the stored
  // checkpoint's next block so that nothing refers to them yet), then in
  // `batch` tombstones and deletions of blocks with nothing pending. Takes
  // effect in memory with CommitCheckpoint, once `batch` is committed; a
  // checkpoint that failed is simply dropped (Load deletes its blocks).
  struct Checkpoint;
  // `number` tells this checkpoint's tombstones from earlier ones.
  absl::StatusOr<Checkpoint> PrepareCheckpoint(uint64_t number,
                                               StateBatch& batch) const;
  void CommitCheckpoint(Checkpoint checkpoint);
  uint32_t next_block() const { return next_block_; }

  // Offers each entry of the stored blocks that has waited since before
  // `horizon` to `expired`, and drops those it returns true for. Entries
  // appended since the last checkpoint are not offered: checkpoint first.
  // Returns how many were dropped.
  absl::StatusOr<uint64_t> Sweep(
      absl::Time horizon,
      const std::function<bool(Kind, const state::v1::PendingEntry&)>& expired);

 private:
  // Where an entry is: its block (kFresh: the in-memory buffer) and the
  // byte offset of its record in it, and when it arrived.
  struct Slot {
    uint32_t block = 0;
    uint32_t offset = 0;
    uint32_t since = 0;  // ToIndexSeconds.
    bool operator==(const Slot& other) const {
      return block == other.block && offset == other.offset;
    }
  };
  static constexpr uint32_t kFresh = JoinIndex::kMaxBlock;
  struct FreshEntry {
    IdKey key;
    Kind kind;
    uint32_t offset;
  };
  struct Block {
    uint32_t live = 0;    // Entries still pending.
    uint32_t oldest = 0;  // Earliest arrival among them (ToIndexSeconds).
    // Offsets found dead since the last checkpoint: its tombstones.
    // A block with nothing live is deleted at the next checkpoint.
    std::vector<uint32_t> dead;
  };
  struct Undo {
    enum class Op { kFresh, kKill } op = Op::kFresh;
    size_t fresh_size = 0;     // kFresh.
    size_t fresh_entries = 0;  // kFresh.
    uint32_t block = 0;        // kKill.
  };

  // The pair's pending entry of `kind`, if that is its state.
  std::optional<Slot> Lookup(Kind kind, const IdKey& key) const;
  void SetIndex(Kind kind, const IdKey& key, std::optional<Slot> slot);
  // Records that the entry at `slot` is no longer pending.
  void Kill(const Slot& slot);
  absl::Status Read(const Slot& slot, state::v1::PendingEntry* entry);
  // The record of `slot`: valid until fresh_ grows or cache_ changes.
  absl::StatusOr<absl::string_view> ReadRecord(const Slot& slot);
  absl::StatusOr<const std::string*> ReadBlock(uint32_t block);

  // A stored block's bytes as written (sealed with keys_, if set), and
  // back.
  std::string Stored(std::string block) const;
  absl::StatusOr<std::string> Opened(uint32_t number, std::string stored) const;

  StateStore* const store_;
  JoinIndex* const index_;
  const PrivacyKeys* keys_ = nullptr;
  // Entries appended since the last checkpoint: records of a PendingBlock.
  std::string fresh_;
  std::vector<FreshEntry> fresh_entries_;
  absl::flat_hash_map<uint32_t, Block> blocks_;
  uint32_t next_block_ = 0;
  std::vector<Undo> undo_;
  // The blocks read last, for joins of entries that arrived together.
  std::deque<std::pair<uint32_t, std::string>> cache_;
};

struct PendingJoins::Checkpoint {
  struct Moved {
    Kind kind;
    IdKey key;
    Slot slot;
  };
  std::vector<Moved> moved;  // Buffer entries and their new blocks.
  std::vector<std::pair<uint32_t, Block>> written;  // New blocks.
  std::vector<uint32_t> deleted;                    // Blocks deleted.
  std::vector<uint32_t> tombstoned;                 // Blocks given tombstones.
  uint32_t next_block = 0;
};

}  // namespace vigie::storage
