#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/join_index.h"
#include "storage/state_store.h"

namespace vigie::storage {

// Which predictions were joined with their outcome, and when, so that a
// prediction or outcome re-sent after a lost acknowledgement is recognised
// and counted once. In memory, an index (model, id) -> join time (16 bytes
// and some table overhead per mark); on disk, the marks of each checkpoint
// as one block, never a write per join. Marks are forgotten by whole
// blocks, once the newest mark of a block is older than the horizon the
// caller gives (the longest label delay).
//
// Changes between BeginChange and the next BeginChange can be undone with
// RollbackChange. Thread-compatible.
class JoinMarks {
 public:
  // `index` is shared with PendingJoins; both must outlive this.
  JoinMarks(StateStore* store, JoinIndex* index);

  // Rebuilds the index from the stored blocks; `next_block` from the
  // checkpoint. kDataLoss for a block that does not decode.
  absl::Status Load(uint32_t next_block);

  // When the pair was joined; empty if it was not (or was forgotten).
  std::optional<absl::Time> Find(const IdKey& key) const;
  void Add(const IdKey& key, absl::string_view model_id,
           absl::string_view prediction_id, absl::Time joined_at);
  size_t size() const { return index_->size(JoinIndex::State::kJoined); }

  // A change RollbackChange undoes, with the index's own RollbackChange.
  void BeginChange();
  void RollbackChange();

  // Bytes of marks added since the last checkpoint.
  size_t fresh_bytes() const;
  bool dirty() const { return !fresh_.empty() || !forgotten_.empty(); }

  // Writes the marks added since the last checkpoint as blocks, and deletes
  // the blocks Forget dropped. In memory with CommitCheckpoint once `batch`
  // is committed.
  struct Checkpoint {
    std::vector<std::pair<uint32_t, uint32_t>> written;  // (block, newest).
    size_t fresh_chunks = 0;
    size_t forgotten = 0;
    uint32_t next_block = 0;
  };
  // New blocks are committed ahead as PendingJoins does its own.
  absl::StatusOr<Checkpoint> PrepareCheckpoint(StateBatch& batch) const;
  void CommitCheckpoint(const Checkpoint& checkpoint);
  uint32_t next_block() const { return next_block_; }

  // Forgets the marks of stored blocks whose newest mark is before
  // `horizon`; their blocks are deleted at the next checkpoint. Returns how
  // many marks were forgotten.
  absl::StatusOr<uint64_t> Forget(absl::Time horizon);
  // Forgets every mark of `model_id` (a purge): stored blocks holding some
  // are written again without them at once, or deleted at the next
  // checkpoint when nothing else is left. Marks added since the last
  // checkpoint are not looked at: checkpoint first. Returns how many marks
  // were forgotten.
  absl::StatusOr<uint64_t> ForgetModel(absl::string_view model_id);

 private:
  struct Chunk {
    std::string bytes;  // Records of a JoinMarkBlock.
    uint32_t newest = 0;
  };
  struct Undo {
    size_t chunks = 0;
    size_t last_chunk_bytes = 0;
    uint32_t last_chunk_newest = 0;
  };

  StateStore* const store_;
  JoinIndex* const index_;
  std::vector<Chunk> fresh_;
  std::map<uint32_t, uint32_t> blocks_;  // Block -> newest mark.
  std::vector<uint32_t> forgotten_;      // Blocks to delete.
  uint32_t next_block_ = 0;
  std::vector<Undo> undo_;
  // Chunk buffers of past checkpoints, kept for the next ones: a chunk
  // grown from nothing each time costs a copy per doubling and a page
  // fault per page.
  std::vector<std::string> spare_;
  std::string mark_;  // The mark being added, built without allocating.
};

}  // namespace vigie::storage
