#include "storage/pending_joins.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/field_reader.h"
#include "common/status_macros.h"
#include "google/protobuf/timestamp.pb.h"
#include "storage/record_codec.h"

namespace vigie::storage {
namespace {

// Blocks are read whole for one join: small enough to read fast, large
// enough that a block's key and metadata are a small share.
constexpr size_t kBlockBytes = 64 << 10;
// New blocks are committed ahead of a checkpoint in batches of this size.
constexpr size_t kBlockBatchBytes = 1 << 20;
// Blocks kept after a read, for the next joins.
constexpr size_t kCachedBlocks = 8;

// What start-up and sweeps need of a stored entry: its kind, pair and
// arrival, read off its wire format (see PendingEntry in state.proto and
// Prediction and Outcome in events.proto) without parsing the event, whose
// features and scores are most of its bytes.
struct Head {
  PendingJoins::Kind kind = PendingJoins::Kind::kPrediction;
  IdKey key;
  uint32_t since = 0;  // ToIndexSeconds.
};

// Field numbers of the ids in vigie.v1.Prediction and vigie.v1.Outcome.
constexpr int kModelIdField = 1;
constexpr int kPredictionIdOfPrediction = 3;
constexpr int kPredictionIdOfOutcome = 2;

std::optional<Head> ReadHead(absl::string_view record) {
  Head head;
  bool has_event = false;
  int64_t seconds = 0;
  int64_t nanos = 0;
  FieldReader entry(record);
  while (entry.Next()) {
    if ((entry.number() == 1 || entry.number() == 2) &&
        entry.wire_type() == FieldReader::kLengthDelimited) {
      head.kind = entry.number() == 1 ? PendingJoins::Kind::kPrediction
                                      : PendingJoins::Kind::kOutcome;
      const int id_field = entry.number() == 1 ? kPredictionIdOfPrediction
                                               : kPredictionIdOfOutcome;
      // Proto3 string fields: the last occurrence wins, absent is empty.
      absl::string_view model_id;
      absl::string_view prediction_id;
      FieldReader event(entry.bytes());
      while (event.Next()) {
        if (event.wire_type() != FieldReader::kLengthDelimited) continue;
        if (event.number() == kModelIdField) model_id = event.bytes();
        if (event.number() == id_field) prediction_id = event.bytes();
      }
      if (event.malformed()) return std::nullopt;
      head.key = IdKey::Of(model_id, prediction_id);
      has_event = true;
    } else if (entry.number() == 3 &&
               entry.wire_type() == FieldReader::kLengthDelimited) {
      FieldReader at(entry.bytes());
      while (at.Next()) {
        if (at.wire_type() != FieldReader::kVarint) continue;
        if (at.number() == 1) seconds = static_cast<int64_t>(at.varint());
        if (at.number() == 2) nanos = static_cast<int32_t>(at.varint());
      }
      if (at.malformed()) return std::nullopt;
    }
  }
  if (entry.malformed() || !has_event) return std::nullopt;
  head.since =
      ToIndexSeconds(absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos));
  return head;
}

JoinIndex::State StateOf(PendingJoins::Kind kind) {
  return kind == PendingJoins::Kind::kPrediction
             ? JoinIndex::State::kPendingPrediction
             : JoinIndex::State::kPendingOutcome;
}

}  // namespace

PendingJoins::PendingJoins(StateStore* store, JoinIndex* index)
    : store_(store), index_(index) {}

std::optional<PendingJoins::Slot> PendingJoins::Lookup(Kind kind,
                                                       const IdKey& key) const {
  const std::optional<JoinIndex::Entry> entry = index_->Find(key);
  if (!entry.has_value() || entry->state != StateOf(kind)) return std::nullopt;
  return Slot{entry->block, entry->offset, entry->since};
}

absl::Status PendingJoins::Load(uint32_t next_block) {
  next_block_ = next_block;
  // Blocks a checkpoint wrote before it failed to commit (see
  // PrepareCheckpoint): nothing refers to them.
  StateBatch orphans = store_->NewBatch();
  RETURN_IF_ERROR(store_->ForEachPendingBlock(
      [&](uint32_t number, absl::string_view stored,
          const std::vector<std::string>& tombstones) -> absl::Status {
        if (number >= next_block_) {
          orphans.DeletePendingBlock(number);
          return absl::OkStatus();
        }
        ASSIGN_OR_RETURN(const std::string bytes,
                         Opened(number, std::string(stored)));
        absl::flat_hash_set<uint32_t> dead;
        for (const std::string& t : tombstones) {
          state::v1::PendingTombstones decoded;
          if (!decoded.ParseFromString(t)) {
            return absl::DataLossError(absl::StrCat(
                "tombstones of pending block ", number, " do not decode"));
          }
          dead.insert(decoded.offsets().begin(), decoded.offsets().end());
        }
        Block block;
        block.oldest = UINT32_MAX;
        RETURN_IF_ERROR(ForEachRecord(bytes, [&](uint32_t offset,
                                                 absl::string_view record) {
          if (dead.contains(offset)) return absl::OkStatus();
          const std::optional<Head> head = ReadHead(record);
          if (!head.has_value()) {
            return absl::DataLossError(
                absl::StrCat("entry at ", offset, " of pending block ", number,
                             " does not decode"));
          }
          SetIndex(head->kind, head->key, Slot{number, offset, head->since});
          ++block.live;
          block.oldest = std::min(block.oldest, head->since);
          return absl::OkStatus();
        }));
        // A block whose entries all died (a crash between the tombstones
        // and the deletion cannot happen: one batch) is deleted at the next
        // checkpoint.
        blocks_.emplace(number, std::move(block));
        return absl::OkStatus();
      }));
  return store_->Commit(orphans);
}

std::optional<absl::Time> PendingJoins::Since(Kind kind,
                                              const IdKey& key) const {
  const std::optional<Slot> slot = Lookup(kind, key);
  if (!slot.has_value()) return std::nullopt;
  return FromIndexSeconds(slot->since);
}

void PendingJoins::SetIndex(Kind kind, const IdKey& key,
                            std::optional<Slot> slot) {
  if (slot.has_value()) {
    index_->Put(key, JoinIndex::Entry{StateOf(kind), slot->block, slot->offset,
                                      slot->since});
  } else {
    index_->Erase(key);
  }
}

void PendingJoins::Kill(const Slot& slot) {
  if (slot.block == kFresh) return;  // The index alone says what is live.
  Block& block = blocks_.at(slot.block);
  block.dead.push_back(slot.offset);
  --block.live;
  Undo undo;
  undo.op = Undo::Op::kKill;
  undo.block = slot.block;
  undo_.push_back(undo);
}

void PendingJoins::Add(Kind kind, const IdKey& key,
                       const google::protobuf::MessageLite& event,
                       absl::Time arrived) {
  Add(kind, key, event.SerializeAsString(), arrived);
}

void PendingJoins::Add(Kind kind, const IdKey& key,
                       absl::string_view event_bytes, absl::Time arrived) {
  // A pair has at most one pending entry (the index holds one state per
  // pair); whatever it had dies.
  if (const std::optional<JoinIndex::Entry> old = index_->Find(key);
      old.has_value() && old->state != JoinIndex::State::kJoined) {
    Kill(Slot{old->block, old->offset, old->since});
  }
  Undo undo;
  undo.op = Undo::Op::kFresh;
  undo.fresh_size = fresh_.size();
  undo.fresh_entries = fresh_entries_.size();
  undo_.push_back(undo);
  // The PendingEntry's bytes, written field by field straight into the
  // buffer: no PendingEntry message, no copy of the event but this one.
  // The arrival is a google.protobuf.Timestamp as protobuf writes it (zero
  // fields left out).
  std::string at;  // At most 17 bytes: no allocation.
  const int64_t seconds = absl::ToUnixSeconds(arrived);  // Rounded down.
  const int64_t nanos =
      absl::ToInt64Nanoseconds(arrived - absl::FromUnixSeconds(seconds));
  if (seconds != 0) AppendVarintField(&at, 1, static_cast<uint64_t>(seconds));
  if (nanos != 0) AppendVarintField(&at, 2, static_cast<uint64_t>(nanos));
  const auto offset = static_cast<uint32_t>(fresh_.size());
  AppendFieldHeader(&fresh_, 1,
                    FieldSize(event_bytes.size()) + FieldSize(at.size()));
  AppendField(&fresh_, kind == Kind::kPrediction ? 1 : 2, event_bytes);
  AppendField(&fresh_, 3, at);
  fresh_entries_.push_back(FreshEntry{key, kind, offset});
  SetIndex(kind, key, Slot{kFresh, offset, ToIndexSeconds(arrived)});
}

absl::StatusOr<state::v1::PendingEntry*> PendingJoins::Take(
    Kind kind, const IdKey& key, google::protobuf::Arena* arena) {
  const std::optional<Slot> found = Lookup(kind, key);
  if (!found.has_value()) {
    return absl::InternalError("taking a pending entry that is not indexed");
  }
  const Slot slot = *found;
  auto* entry =
      google::protobuf::Arena::CreateMessage<state::v1::PendingEntry>(arena);
  if (absl::Status status = Read(slot, entry); !status.ok()) {
    if (arena == nullptr) delete entry;
    return status;
  }
  Kill(slot);
  SetIndex(kind, key, std::nullopt);
  return entry;
}

absl::StatusOr<absl::string_view> PendingJoins::TakePredictionBytes(
    const IdKey& key) {
  const std::optional<Slot> found = Lookup(Kind::kPrediction, key);
  if (!found.has_value()) {
    return absl::InternalError(
        "taking a pending prediction that is not indexed");
  }
  const Slot slot = *found;
  ASSIGN_OR_RETURN(absl::string_view record, ReadRecord(slot));
  std::optional<absl::string_view> prediction;
  FieldReader entry(record);
  while (entry.Next()) {
    if (entry.number() == 1 &&
        entry.wire_type() == FieldReader::kLengthDelimited) {
      prediction = entry.bytes();
    }
  }
  if (entry.malformed() || !prediction.has_value()) {
    return absl::DataLossError(absl::StrCat("pending entry at ", slot.offset,
                                            " of block ", slot.block,
                                            " holds no prediction"));
  }
  Kill(slot);
  SetIndex(Kind::kPrediction, key, std::nullopt);
  return *prediction;
}

absl::StatusOr<state::v1::PendingEntry> PendingJoins::Take(Kind kind,
                                                           const IdKey& key) {
  ASSIGN_OR_RETURN(state::v1::PendingEntry * entry, Take(kind, key, nullptr));
  // Created without an arena: this owns it.
  std::unique_ptr<state::v1::PendingEntry> owned(entry);
  return std::move(*owned);
}

void PendingJoins::Drop(Kind kind, const IdKey& key) {
  const std::optional<Slot> found = Lookup(kind, key);
  if (!found.has_value()) return;
  Kill(*found);
  SetIndex(kind, key, std::nullopt);
}

size_t PendingJoins::size(Kind kind) const {
  return index_->size(StateOf(kind));
}

void PendingJoins::BeginChange() { undo_.clear(); }

void PendingJoins::RollbackChange() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    switch (it->op) {
      case Undo::Op::kFresh:
        fresh_.resize(it->fresh_size);
        fresh_entries_.resize(it->fresh_entries);
        break;
      case Undo::Op::kKill: {
        Block& block = blocks_.at(it->block);
        block.dead.pop_back();
        ++block.live;
        break;
      }
    }
  }
  undo_.clear();
}

namespace {
constexpr absl::string_view kSealPurpose = "pending block";
}  // namespace

std::string PendingJoins::Stored(std::string block) const {
  if (keys_ == nullptr) return block;
  return keys_->Seal(kSealPurpose, block);
}

absl::StatusOr<std::string> PendingJoins::Opened(uint32_t number,
                                                 std::string stored) const {
  if (keys_ == nullptr) return stored;
  absl::StatusOr<std::string> opened = keys_->Open(kSealPurpose, stored);
  if (!opened.ok()) {
    return absl::DataLossError(absl::StrCat("pending block ", number, ": ",
                                            opened.status().message()));
  }
  return opened;
}

absl::StatusOr<const std::string*> PendingJoins::ReadBlock(uint32_t number) {
  for (const auto& [cached, bytes] : cache_) {
    if (cached == number) return &bytes;
  }
  ASSIGN_OR_RETURN(std::string stored, store_->GetPendingBlock(number));
  ASSIGN_OR_RETURN(std::string bytes, Opened(number, std::move(stored)));
  if (cache_.size() >= kCachedBlocks) cache_.pop_front();
  cache_.emplace_back(number, std::move(bytes));
  return &cache_.back().second;
}

absl::StatusOr<absl::string_view> PendingJoins::ReadRecord(const Slot& slot) {
  const std::string* bytes = &fresh_;
  if (slot.block != kFresh) {
    ASSIGN_OR_RETURN(bytes, ReadBlock(slot.block));
  }
  return RecordAt(*bytes, slot.offset);
}

absl::Status PendingJoins::Read(const Slot& slot,
                                state::v1::PendingEntry* entry) {
  ASSIGN_OR_RETURN(absl::string_view record, ReadRecord(slot));
  if (!entry->ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return absl::DataLossError(absl::StrCat("pending entry at ", slot.offset,
                                            " of block ", slot.block,
                                            " does not decode"));
  }
  return absl::OkStatus();
}

bool PendingJoins::dirty() const {
  if (!fresh_entries_.empty()) return true;
  for (const auto& [number, block] : blocks_) {
    if (!block.dead.empty() || block.live == 0) return true;
  }
  return false;
}

absl::StatusOr<PendingJoins::Checkpoint> PendingJoins::PrepareCheckpoint(
    uint64_t number, StateBatch& batch) const {
  Checkpoint checkpoint;
  checkpoint.next_block = next_block_;
  std::string chunk;
  Block written;
  written.oldest = UINT32_MAX;
  // New blocks are committed ahead, a few at a time, rather than in
  // `batch`: a checkpoint after a burst would otherwise hold all of them
  // twice in memory (batch and memtable) at once. Until `batch` commits
  // nothing refers to them; a restart deletes them if it never does.
  StateBatch blocks = store_->NewBatch();
  absl::Status written_ok;
  auto close_chunk = [&] {
    if (chunk.empty()) return;
    blocks.PutPendingBlock(checkpoint.next_block, Stored(chunk));
    if (blocks.bytes() >= kBlockBatchBytes && written_ok.ok()) {
      written_ok = store_->Commit(blocks);
    }
    checkpoint.written.emplace_back(checkpoint.next_block, std::move(written));
    ++checkpoint.next_block;
    chunk.clear();
    written = Block();
    written.oldest = UINT32_MAX;
  };
  for (const FreshEntry& fresh : fresh_entries_) {
    const std::optional<Slot> slot = Lookup(fresh.kind, fresh.key);
    if (!slot.has_value() || !(*slot == Slot{kFresh, fresh.offset, 0})) {
      continue;
    }
    // Entries only ever come from AppendRecord, so they read back.
    const absl::string_view record = *RecordAt(fresh_, fresh.offset);
    checkpoint.moved.push_back(
        {fresh.kind, fresh.key,
         Slot{checkpoint.next_block, static_cast<uint32_t>(chunk.size()),
              slot->since}});
    AppendRecord(&chunk, record);
    ++written.live;
    written.oldest = std::min(written.oldest, slot->since);
    if (chunk.size() >= kBlockBytes) close_chunk();
  }
  close_chunk();
  if (written_ok.ok()) written_ok = store_->Commit(blocks);
  RETURN_IF_ERROR(written_ok);
  for (const auto& [block_number, block] : blocks_) {
    if (block.live == 0) {
      batch.DeletePendingBlock(block_number);
      checkpoint.deleted.push_back(block_number);
    } else if (!block.dead.empty()) {
      state::v1::PendingTombstones tombstones;
      tombstones.mutable_offsets()->Add(block.dead.begin(), block.dead.end());
      batch.PutPendingTombstones(block_number, number,
                                 tombstones.SerializeAsString());
      checkpoint.tombstoned.push_back(block_number);
    }
  }
  return checkpoint;
}

void PendingJoins::CommitCheckpoint(Checkpoint checkpoint) {
  for (const Checkpoint::Moved& moved : checkpoint.moved) {
    SetIndex(moved.kind, moved.key, moved.slot);
  }
  for (auto& [number, block] : checkpoint.written) {
    blocks_.emplace(number, std::move(block));
  }
  for (uint32_t number : checkpoint.deleted) {
    blocks_.erase(number);
    std::erase_if(cache_, [&](const auto& c) { return c.first == number; });
  }
  for (uint32_t number : checkpoint.tombstoned) blocks_.at(number).dead.clear();
  next_block_ = checkpoint.next_block;
  // The buffers fill again to about the same size before the next
  // checkpoint: growing them from nothing each time costs a copy and page
  // faults per doubling. Only an unusually large one gives memory back.
  constexpr size_t kKeptBytes = size_t{32} << 20;
  const size_t fresh_capacity = fresh_.capacity();
  fresh_.clear();
  if (fresh_capacity > kKeptBytes) fresh_.shrink_to_fit();
  const size_t entries_capacity = fresh_entries_.capacity();
  fresh_entries_.clear();
  if (entries_capacity * sizeof(FreshEntry) > kKeptBytes) {
    fresh_entries_.shrink_to_fit();
  }
  undo_.clear();
}

absl::StatusOr<uint64_t> PendingJoins::Sweep(
    absl::Time horizon,
    const std::function<bool(Kind, const state::v1::PendingEntry&)>& expired) {
  const uint32_t limit = ToIndexSeconds(horizon);
  std::vector<uint32_t> candidates;
  for (const auto& [number, block] : blocks_) {
    if (block.live > 0 && block.oldest < limit) candidates.push_back(number);
  }
  std::sort(candidates.begin(), candidates.end());
  uint64_t dropped = 0;
  for (uint32_t number : candidates) {
    ASSIGN_OR_RETURN(const std::string* bytes, ReadBlock(number));
    const std::string copy = *bytes;  // Kill may not evict it, but be safe.
    uint32_t oldest = UINT32_MAX;
    RETURN_IF_ERROR(ForEachRecord(
        copy, [&](uint32_t offset, absl::string_view record) -> absl::Status {
          const std::optional<Head> head = ReadHead(record);
          if (!head.has_value()) {
            return absl::DataLossError(
                absl::StrCat("entry at ", offset, " of pending block ", number,
                             " does not decode"));
          }
          const Kind kind = head->kind;
          const IdKey key = head->key;
          const std::optional<Slot> slot = Lookup(kind, key);
          if (!slot.has_value() || !(*slot == Slot{number, offset, 0})) {
            return absl::OkStatus();  // Joined, expired or replaced.
          }
          if (slot->since >= limit) {
            oldest = std::min(oldest, slot->since);
            return absl::OkStatus();
          }
          // Only an entry old enough to expire is parsed whole, for the
          // caller to count it by group.
          state::v1::PendingEntry entry;
          if (!entry.ParseFromArray(record.data(),
                                    static_cast<int>(record.size()))) {
            return absl::DataLossError(
                absl::StrCat("entry at ", offset, " of pending block ", number,
                             " does not decode"));
          }
          if (expired(kind, entry)) {
            Drop(kind, key);
            ++dropped;
          } else {
            oldest = std::min(oldest, slot->since);
          }
          return absl::OkStatus();
        }));
    blocks_.at(number).oldest = oldest;
  }
  undo_.clear();
  return dropped;
}

}  // namespace vigie::storage
