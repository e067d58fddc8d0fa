#include "storage/join_marks.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/record_codec.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::storage {
namespace {

// A checkpoint writes its marks in blocks of about this size.
constexpr size_t kChunkBytes = 1 << 20;

// Calls `fn(key, mark)` for each mark of a stored block.
template <typename Fn>
absl::Status ForEachMark(uint32_t number, absl::string_view bytes, Fn fn) {
  return ForEachRecord(
      bytes, [&](uint32_t, absl::string_view record) -> absl::Status {
        state::v1::JoinMark mark;
        if (!mark.ParseFromArray(record.data(),
                                 static_cast<int>(record.size()))) {
          return absl::DataLossError(absl::StrCat("a mark of join-mark block ",
                                                  number, " does not decode"));
        }
        fn(IdKey::Of(mark.model_id(), mark.prediction_id()), mark);
        return absl::OkStatus();
      });
}

uint32_t SecondsOf(const state::v1::JoinMark& mark) {
  return ToIndexSeconds(absl::FromUnixSeconds(mark.joined_at_seconds()));
}

}  // namespace

JoinMarks::JoinMarks(StateStore* store, JoinIndex* index)
    : store_(store), index_(index) {}

namespace {

JoinIndex::Entry MarkEntry(uint32_t seconds) {
  JoinIndex::Entry entry;
  entry.state = JoinIndex::State::kJoined;
  entry.since = seconds;
  return entry;
}

// When the pair was joined, if that is its state.
std::optional<uint32_t> JoinedAt(const JoinIndex& index, const IdKey& key) {
  const std::optional<JoinIndex::Entry> entry = index.Find(key);
  if (!entry.has_value() || entry->state != JoinIndex::State::kJoined) {
    return std::nullopt;
  }
  return entry->since;
}

}  // namespace

absl::Status JoinMarks::Load(uint32_t next_block) {
  next_block_ = next_block;
  // Blocks of a checkpoint that failed to commit: nothing refers to them.
  StateBatch orphans = store_->NewBatch();
  RETURN_IF_ERROR(store_->ForEachJoinMarkBlock(
      [&](uint32_t number, absl::string_view bytes) -> absl::Status {
        if (number >= next_block_) {
          orphans.DeleteJoinMarkBlock(number);
          return absl::OkStatus();
        }
        uint32_t newest = 0;
        RETURN_IF_ERROR(
            ForEachMark(number, bytes,
                        [&](const IdKey& key, const state::v1::JoinMark& mark) {
                          index_->Put(key, MarkEntry(SecondsOf(mark)));
                          newest = std::max(newest, SecondsOf(mark));
                        }));
        blocks_.emplace(number, newest);
        return absl::OkStatus();
      }));
  return store_->Commit(orphans);
}

std::optional<absl::Time> JoinMarks::Find(const IdKey& key) const {
  const std::optional<uint32_t> seconds = JoinedAt(*index_, key);
  if (!seconds.has_value()) return std::nullopt;
  return FromIndexSeconds(*seconds);
}

void JoinMarks::Add(const IdKey& key, absl::string_view model_id,
                    absl::string_view prediction_id, absl::Time joined_at) {
  Undo undo;
  undo.chunks = fresh_.size();
  if (!fresh_.empty()) {
    undo.last_chunk_bytes = fresh_.back().bytes.size();
    undo.last_chunk_newest = fresh_.back().newest;
  }
  undo_.push_back(std::move(undo));

  const uint32_t seconds = ToIndexSeconds(joined_at);
  // A JoinMark's bytes, field by field: one per join, so building and
  // serializing a message would be a noticeable share of ingest.
  mark_.clear();
  AppendField(&mark_, 1, model_id);
  AppendField(&mark_, 2, prediction_id);
  AppendVarintField(&mark_, 3, seconds);
  if (fresh_.empty() || fresh_.back().bytes.size() >= kChunkBytes) {
    Chunk& chunk = fresh_.emplace_back();
    if (!spare_.empty()) {
      chunk.bytes = std::move(spare_.back());
      spare_.pop_back();
    } else {
      // A chunk closes past kChunkBytes: room for one more mark of the
      // largest ids without growing.
      chunk.bytes.reserve(kChunkBytes + 4096);
    }
  }
  AppendRecord(&fresh_.back().bytes, mark_);
  fresh_.back().newest = std::max(fresh_.back().newest, seconds);
  index_->Put(key, MarkEntry(seconds));
}

void JoinMarks::BeginChange() { undo_.clear(); }

void JoinMarks::RollbackChange() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    fresh_.resize(it->chunks);
    if (!fresh_.empty() && it->chunks > 0) {
      fresh_.back().bytes.resize(it->last_chunk_bytes);
      fresh_.back().newest = it->last_chunk_newest;
    }
  }
  // An Add that opened a chunk leaves it empty when undone.
  while (!fresh_.empty() && fresh_.back().bytes.empty()) fresh_.pop_back();
  undo_.clear();
}

size_t JoinMarks::fresh_bytes() const {
  size_t bytes = 0;
  for (const Chunk& chunk : fresh_) bytes += chunk.bytes.size();
  return bytes;
}

absl::StatusOr<JoinMarks::Checkpoint> JoinMarks::PrepareCheckpoint(
    StateBatch& batch) const {
  Checkpoint checkpoint;
  checkpoint.next_block = next_block_;
  for (const Chunk& chunk : fresh_) {
    if (chunk.bytes.empty()) continue;
    // Committed ahead, one block per batch; see PendingJoins.
    StateBatch block = store_->NewBatch();
    block.PutJoinMarkBlock(checkpoint.next_block, chunk.bytes);
    RETURN_IF_ERROR(store_->Commit(block));
    checkpoint.written.emplace_back(checkpoint.next_block, chunk.newest);
    ++checkpoint.next_block;
  }
  checkpoint.fresh_chunks = fresh_.size();
  for (uint32_t number : forgotten_) batch.DeleteJoinMarkBlock(number);
  checkpoint.forgotten = forgotten_.size();
  return checkpoint;
}

void JoinMarks::CommitCheckpoint(const Checkpoint& checkpoint) {
  for (const auto& [number, newest] : checkpoint.written) {
    blocks_.emplace(number, newest);
  }
  constexpr size_t kSpareChunks = 4;
  for (size_t i = 0; i < checkpoint.fresh_chunks; ++i) {
    if (spare_.size() >= kSpareChunks) break;
    std::string& bytes = fresh_[i].bytes;
    bytes.clear();  // Keeps its capacity.
    spare_.push_back(std::move(bytes));
  }
  fresh_.erase(fresh_.begin(), fresh_.begin() + static_cast<ptrdiff_t>(
                                                    checkpoint.fresh_chunks));
  forgotten_.erase(
      forgotten_.begin(),
      forgotten_.begin() + static_cast<ptrdiff_t>(checkpoint.forgotten));
  next_block_ = checkpoint.next_block;
  undo_.clear();
}

absl::StatusOr<uint64_t> JoinMarks::Forget(absl::Time horizon) {
  const uint32_t limit = ToIndexSeconds(horizon);
  uint64_t forgotten = 0;
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    if (it->second >= limit) {
      ++it;
      continue;
    }
    const uint32_t number = it->first;
    ASSIGN_OR_RETURN(std::string bytes, store_->GetJoinMarkBlock(number));
    RETURN_IF_ERROR(ForEachMark(
        number, bytes, [&](const IdKey& key, const state::v1::JoinMark& mark) {
          // A later mark of the same pair (joined again after an expiry)
          // stays.
          const std::optional<uint32_t> seconds = JoinedAt(*index_, key);
          if (seconds.has_value() && *seconds == SecondsOf(mark)) {
            index_->Erase(key);
            ++forgotten;
          }
        }));
    forgotten_.push_back(number);
    it = blocks_.erase(it);
  }
  return forgotten;
}

absl::StatusOr<uint64_t> JoinMarks::ForgetModel(absl::string_view model_id) {
  uint64_t forgotten = 0;
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    const uint32_t number = it->first;
    ASSIGN_OR_RETURN(std::string bytes, store_->GetJoinMarkBlock(number));
    std::string kept;
    uint64_t dropped = 0;
    RETURN_IF_ERROR(ForEachRecord(
        bytes, [&](uint32_t, absl::string_view record) -> absl::Status {
          state::v1::JoinMark mark;
          if (!mark.ParseFromArray(record.data(),
                                   static_cast<int>(record.size()))) {
            return absl::DataLossError(absl::StrCat(
                "a mark of join-mark block ", number, " does not decode"));
          }
          if (mark.model_id() != model_id) {
            AppendRecord(&kept, record);
            return absl::OkStatus();
          }
          const IdKey key = IdKey::Of(mark.model_id(), mark.prediction_id());
          const std::optional<uint32_t> seconds = JoinedAt(*index_, key);
          if (seconds.has_value() && *seconds == SecondsOf(mark)) {
            index_->Erase(key);
            ++forgotten;
          }
          ++dropped;
          return absl::OkStatus();
        }));
    if (dropped == 0) {
      ++it;
      continue;
    }
    if (kept.empty()) {
      forgotten_.push_back(number);
      it = blocks_.erase(it);
      continue;
    }
    StateBatch rewrite = store_->NewBatch();
    rewrite.PutJoinMarkBlock(number, kept);
    RETURN_IF_ERROR(store_->Commit(rewrite));
    ++it;
  }
  return forgotten;
}

}  // namespace vigie::storage
