#include "storage/pending_joins.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "storage/record_codec.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::storage {
namespace {

using google::protobuf::util::MessageDifferencer;
using Kind = PendingJoins::Kind;

constexpr Kind kPrediction = Kind::kPrediction;
constexpr Kind kOutcome = Kind::kOutcome;

// Times as seconds after a fixed, realistic start.
constexpr int64_t kStart = 1'700'000'000;
absl::Time At(int64_t seconds) {
  return absl::FromUnixSeconds(kStart + seconds);
}

IdKey Key(const std::string& id) { return IdKey::Of("m", id); }

vigie::v1::Prediction Prediction(const std::string& id, double score = 0.5) {
  vigie::v1::Prediction prediction;
  prediction.set_model_id("m");
  prediction.set_prediction_id(id);
  prediction.mutable_event_time()->set_seconds(kStart);
  prediction.mutable_binary()->set_score(score);
  (*prediction.mutable_groups())["segment"] = "retail";
  return prediction;
}

vigie::v1::Outcome Outcome(const std::string& id, bool label = true) {
  vigie::v1::Outcome outcome;
  outcome.set_model_id("m");
  outcome.set_prediction_id(id);
  outcome.mutable_event_time()->set_seconds(kStart + 60);
  outcome.set_binary(label);
  return outcome;
}

// The size of `entry` as one record of a block: tag, varint length, bytes.
size_t RecordBytes(const state::v1::PendingEntry& entry) {
  const auto size = static_cast<uint32_t>(entry.ByteSizeLong());
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize32(size) + size;
}

// A pending block as the store holds it.
struct StoredBlock {
  uint32_t number;
  state::v1::PendingBlock block;
  size_t bytes;
  std::set<uint32_t> tombstones;  // All checkpoints' offsets together.
};

class PendingJoinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StateStoreOptions options;
    options.path = dir_.Join("db");
    ASSERT_OK_AND_ASSIGN(store_, StateStore::Open(options));
  }

  // One checkpoint of `joins` alone, as the pipeline takes it: prepare,
  // commit the batch, then let it take effect in memory.
  absl::Status Checkpoint(PendingJoins& joins) {
    StateBatch batch = store_->NewBatch();
    absl::StatusOr<PendingJoins::Checkpoint> checkpoint =
        joins.PrepareCheckpoint(++checkpoints_, batch);
    if (!checkpoint.ok()) return checkpoint.status();
    if (absl::Status status = store_->Commit(batch); !status.ok()) {
      return status;
    }
    joins.CommitCheckpoint(*std::move(checkpoint));
    return absl::OkStatus();
  }

  // A new PendingJoins loaded from the store, as after a restart.
  std::unique_ptr<PendingJoins> Reload(const PendingJoins& before) {
    auto joins = std::make_unique<PendingJoins>(store_.get(), NewIndex());
    EXPECT_OK(joins->Load(before.next_block()));
    return joins;
  }

  std::vector<StoredBlock> StoredBlocks() {
    std::vector<StoredBlock> blocks;
    const absl::Status status = store_->ForEachPendingBlock(
        [&](uint32_t number, absl::string_view bytes,
            const std::vector<std::string>& tombstones) {
          StoredBlock stored{number, {}, bytes.size(), {}};
          EXPECT_TRUE(stored.block.ParseFromArray(
              bytes.data(), static_cast<int>(bytes.size())));
          for (const std::string& t : tombstones) {
            state::v1::PendingTombstones decoded;
            EXPECT_TRUE(decoded.ParseFromString(t));
            stored.tombstones.insert(decoded.offsets().begin(),
                                     decoded.offsets().end());
          }
          blocks.push_back(std::move(stored));
          return absl::OkStatus();
        });
    EXPECT_OK(status);
    return blocks;
  }

  testutil::TempDir dir_;
  // The index the object under test shares, as the pipeline's is shared
  // by PendingJoins and JoinMarks; reloads get fresh ones.
  JoinIndex index_;
  std::deque<JoinIndex> reload_indexes_;
  JoinIndex* NewIndex() { return &reload_indexes_.emplace_back(); }
  std::unique_ptr<StateStore> store_;
  uint64_t checkpoints_ = 0;
};

TEST_F(PendingJoinsTest, AddTakeAndDrop) {
  PendingJoins joins(store_.get(), &index_);
  EXPECT_FALSE(joins.dirty());
  EXPECT_EQ(joins.fresh_bytes(), 0u);

  const vigie::v1::Prediction p1 = Prediction("p1", 0.25);
  const vigie::v1::Outcome o2 = Outcome("p2", true);
  joins.Add(kPrediction, Key("p1"), p1, At(0) + absl::Milliseconds(250));
  joins.Add(kOutcome, Key("p2"), o2, At(1));

  // Since() is to the second, rounded up.
  EXPECT_EQ(joins.Since(kPrediction, Key("p1")), At(1));
  EXPECT_EQ(joins.Since(kOutcome, Key("p2")), At(1));
  // Predictions and outcomes are apart.
  EXPECT_FALSE(joins.Since(kOutcome, Key("p1")).has_value());
  EXPECT_FALSE(joins.Since(kPrediction, Key("p2")).has_value());
  EXPECT_EQ(joins.size(kPrediction), 1u);
  EXPECT_EQ(joins.size(kOutcome), 1u);
  EXPECT_TRUE(joins.dirty());

  // The buffer holds both entries as records of a block.
  state::v1::PendingEntry e1;
  *e1.mutable_prediction() = p1;
  e1.mutable_arrived()->set_seconds(kStart);
  e1.mutable_arrived()->set_nanos(250'000'000);
  state::v1::PendingEntry e2;
  *e2.mutable_outcome() = o2;
  e2.mutable_arrived()->set_seconds(kStart + 1);
  EXPECT_EQ(joins.fresh_bytes(), RecordBytes(e1) + RecordBytes(e2));

  // Take gives back the event and its exact arrival.
  ASSERT_OK_AND_ASSIGN(state::v1::PendingEntry taken,
                       joins.Take(kPrediction, Key("p1")));
  ASSERT_TRUE(taken.has_prediction());
  EXPECT_EQ(taken.prediction().prediction_id(), "p1");
  EXPECT_EQ(taken.prediction().binary().score(), 0.25);
  EXPECT_EQ(taken.prediction().groups().at("segment"), "retail");
  EXPECT_TRUE(MessageDifferencer::Equals(taken, e1)) << taken.DebugString();
  EXPECT_FALSE(joins.Since(kPrediction, Key("p1")).has_value());
  EXPECT_EQ(joins.size(kPrediction), 0u);
  // Nothing left to take.
  EXPECT_EQ(joins.Take(kPrediction, Key("p1")).status().code(),
            absl::StatusCode::kInternal);

  joins.Drop(kOutcome, Key("p2"));
  EXPECT_FALSE(joins.Since(kOutcome, Key("p2")).has_value());
  EXPECT_EQ(joins.size(kOutcome), 0u);
  // Dropping what is not pending is harmless.
  joins.Drop(kOutcome, Key("p2"));
  EXPECT_EQ(joins.size(kOutcome), 0u);
}

TEST_F(PendingJoinsTest, TakePredictionBytesGivesTheStoredPrediction) {
  PendingJoins joins(store_.get(), &index_);
  const vigie::v1::Prediction p1 = Prediction("p1", 0.25);
  const vigie::v1::Prediction p2 = Prediction("p2", 0.75);
  joins.Add(kPrediction, Key("p1"), p1, At(0));
  ASSERT_OK(Checkpoint(joins));                  // p1 now in a stored block.
  joins.Add(kPrediction, Key("p2"), p2, At(1));  // p2 in the buffer.
  joins.Add(kOutcome, Key("p3"), Outcome("p3", true), At(1));

  for (const auto& [key, want] : {std::pair{"p1", &p1}, std::pair{"p2", &p2}}) {
    ASSERT_OK_AND_ASSIGN(absl::string_view bytes,
                         joins.TakePredictionBytes(Key(key)));
    vigie::v1::Prediction taken;
    ASSERT_TRUE(
        taken.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
    EXPECT_TRUE(MessageDifferencer::Equals(taken, *want)) << key;
    EXPECT_FALSE(joins.Since(kPrediction, Key(key)).has_value()) << key;
  }
  EXPECT_EQ(joins.size(kPrediction), 0u);
  // Taken already, or an outcome: not a pending prediction.
  EXPECT_EQ(joins.TakePredictionBytes(Key("p1")).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(joins.TakePredictionBytes(Key("p3")).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(joins.size(kOutcome), 1u);
  // The stored block has nothing pending left: the next checkpoint deletes
  // it, as after Take.
  ASSERT_OK(Checkpoint(joins));
  for (const StoredBlock& block : StoredBlocks()) EXPECT_NE(block.number, 0u);
}

TEST_F(PendingJoinsTest, AddingTheSameKeyTwiceReplaces) {
  PendingJoins joins(store_.get(), &index_);
  // Both in the buffer.
  joins.Add(kPrediction, Key("p1"), Prediction("p1", 0.1), At(0));
  joins.Add(kPrediction, Key("p1"), Prediction("p1", 0.9), At(5));
  EXPECT_EQ(joins.size(kPrediction), 1u);
  EXPECT_EQ(joins.Since(kPrediction, Key("p1")), At(5));
  ASSERT_OK_AND_ASSIGN(auto taken, joins.Take(kPrediction, Key("p1")));
  EXPECT_EQ(taken.prediction().binary().score(), 0.9);
  EXPECT_EQ(joins.size(kPrediction), 0u);

  // The first stored in a block, the second in the buffer.
  joins.Add(kPrediction, Key("p2"), Prediction("p2", 0.1), At(0));
  ASSERT_OK(Checkpoint(joins));
  joins.Add(kPrediction, Key("p2"), Prediction("p2", 0.9), At(5));
  EXPECT_EQ(joins.size(kPrediction), 1u);
  ASSERT_OK(Checkpoint(joins));
  // Block 0 held only the replaced entry: it is gone; block 1 holds the
  // replacement.
  const std::vector<StoredBlock> blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].number, 1u);

  std::unique_ptr<PendingJoins> reloaded = Reload(joins);
  EXPECT_EQ(reloaded->size(kPrediction), 1u);
  EXPECT_EQ(reloaded->Since(kPrediction, Key("p2")), At(5));
  ASSERT_OK_AND_ASSIGN(taken, reloaded->Take(kPrediction, Key("p2")));
  EXPECT_EQ(taken.prediction().binary().score(), 0.9);
}

TEST_F(PendingJoinsTest, CheckpointMovesTheBufferToAStoredBlock) {
  PendingJoins joins(store_.get(), &index_);
  joins.Add(kPrediction, Key("p1"), Prediction("p1", 0.25), At(0));
  joins.Add(kOutcome, Key("p2"), Outcome("p2", false), At(1));
  ASSERT_OK(Checkpoint(joins));

  EXPECT_EQ(joins.fresh_bytes(), 0u);
  EXPECT_FALSE(joins.dirty());
  EXPECT_EQ(joins.next_block(), 1u);
  EXPECT_EQ(joins.size(kPrediction), 1u);
  EXPECT_EQ(joins.size(kOutcome), 1u);
  EXPECT_EQ(joins.Since(kPrediction, Key("p1")), At(0));

  // One block, a PendingBlock of both entries in arrival order.
  const std::vector<StoredBlock> blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].number, 0u);
  EXPECT_TRUE(blocks[0].tombstones.empty());
  ASSERT_EQ(blocks[0].block.entries_size(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(
      blocks[0].block.entries(0).prediction(), Prediction("p1", 0.25)));
  EXPECT_TRUE(MessageDifferencer::Equals(blocks[0].block.entries(1).outcome(),
                                         Outcome("p2", false)));

  // The entries are now read back from the stored block.
  ASSERT_OK_AND_ASSIGN(auto prediction, joins.Take(kPrediction, Key("p1")));
  EXPECT_TRUE(MessageDifferencer::Equals(prediction.prediction(),
                                         Prediction("p1", 0.25)));
  EXPECT_EQ(prediction.arrived().seconds(), kStart);
  ASSERT_OK_AND_ASSIGN(auto outcome, joins.Take(kOutcome, Key("p2")));
  EXPECT_TRUE(
      MessageDifferencer::Equals(outcome.outcome(), Outcome("p2", false)));
  EXPECT_EQ(outcome.arrived().seconds(), kStart + 1);
  EXPECT_EQ(joins.size(kPrediction), 0u);
  EXPECT_EQ(joins.size(kOutcome), 0u);
  // The block has nothing pending left: the next checkpoint deletes it.
  EXPECT_TRUE(joins.dirty());
  ASSERT_OK(Checkpoint(joins));
  EXPECT_TRUE(StoredBlocks().empty());
}

TEST_F(PendingJoinsTest, ReloadFindsExactlyWhatIsStillPending) {
  PendingJoins joins(store_.get(), &index_);
  for (int i = 0; i < 10; ++i) {
    const std::string id = "p" + std::to_string(i);
    joins.Add(kPrediction, Key(id), Prediction(id), At(i));
  }
  ASSERT_OK(Checkpoint(joins));
  ASSERT_OK(joins.Take(kPrediction, Key("p1")));
  ASSERT_OK(joins.Take(kPrediction, Key("p3")));
  joins.Drop(kPrediction, Key("p5"));
  joins.Add(kOutcome, Key("p10"), Outcome("p10"), At(10));
  ASSERT_OK(Checkpoint(joins));

  // Entries p0 to p9 all have the same size, so p1, p3 and p5 sit at 1, 3
  // and 5 record lengths: the tombstones of block 0. p10 went to block 1.
  state::v1::PendingEntry sample;
  *sample.mutable_prediction() = Prediction("p0");
  sample.mutable_arrived()->set_seconds(kStart);
  const auto record = static_cast<uint32_t>(RecordBytes(sample));
  const std::vector<StoredBlock> blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].number, 0u);
  EXPECT_EQ(blocks[0].bytes, 10 * record);
  EXPECT_EQ(blocks[0].tombstones,
            (std::set<uint32_t>{record, 3 * record, 5 * record}));
  EXPECT_EQ(blocks[1].number, 1u);
  EXPECT_TRUE(blocks[1].tombstones.empty());

  std::unique_ptr<PendingJoins> reloaded = Reload(joins);
  EXPECT_EQ(reloaded->size(kPrediction), 7u);
  EXPECT_EQ(reloaded->size(kOutcome), 1u);
  EXPECT_FALSE(reloaded->dirty());
  for (int i = 0; i < 10; ++i) {
    const std::optional<absl::Time> since =
        reloaded->Since(kPrediction, Key("p" + std::to_string(i)));
    if (i == 1 || i == 3 || i == 5) {
      EXPECT_FALSE(since.has_value()) << i;
    } else {
      EXPECT_EQ(since, At(i)) << i;
    }
  }
  ASSERT_OK_AND_ASSIGN(auto p7, reloaded->Take(kPrediction, Key("p7")));
  EXPECT_TRUE(MessageDifferencer::Equals(p7.prediction(), Prediction("p7")));
  ASSERT_OK_AND_ASSIGN(auto p10, reloaded->Take(kOutcome, Key("p10")));
  EXPECT_TRUE(MessageDifferencer::Equals(p10.outcome(), Outcome("p10")));
}

// With ids of 200 bytes, an entry is about 270 bytes: 3,000 of them fill a
// dozen 64 KiB blocks.
TEST_F(PendingJoinsTest, ManyEntriesFillSeveralBlocks) {
  constexpr int kEntries = 3000;
  constexpr size_t kBlockBytes = 64 << 10;
  // Ids of equal length, so that every record has the same size.
  auto id = [](int i) {
    const std::string digits = std::to_string(i);
    return std::string(200 - digits.size(), '0') + digits;
  };
  PendingJoins joins(store_.get(), &index_);
  for (int i = 0; i < kEntries; ++i) {
    joins.Add(kPrediction, Key(id(i)), Prediction(id(i)), At(i));
  }
  state::v1::PendingEntry sample;
  *sample.mutable_prediction() = Prediction(id(0));
  sample.mutable_arrived()->set_seconds(kStart);
  const size_t record = RecordBytes(sample);
  EXPECT_EQ(joins.fresh_bytes(), kEntries * record);

  ASSERT_OK(Checkpoint(joins));
  // A block is closed once it reaches 64 KiB.
  const size_t per_block = (kBlockBytes + record - 1) / record;
  const size_t block_count = (kEntries + per_block - 1) / per_block;
  ASSERT_GE(block_count, 3u);
  EXPECT_EQ(joins.next_block(), block_count);

  std::vector<StoredBlock> blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), block_count);
  int next = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    EXPECT_EQ(blocks[b].number, b);
    const size_t expected = b + 1 < block_count
                                ? per_block
                                : kEntries - (block_count - 1) * per_block;
    EXPECT_EQ(static_cast<size_t>(blocks[b].block.entries_size()), expected);
    EXPECT_EQ(blocks[b].bytes, expected * record);
    // Arrival order across blocks.
    for (const state::v1::PendingEntry& entry : blocks[b].block.entries()) {
      EXPECT_EQ(entry.prediction().prediction_id(), id(next++));
    }
  }
  EXPECT_EQ(next, kEntries);

  // Take all of block 0 and the first 5 entries of block 1.
  const int taken = static_cast<int>(per_block) + 5;
  for (int i = 0; i < taken; ++i) {
    ASSERT_OK_AND_ASSIGN(auto entry, joins.Take(kPrediction, Key(id(i))));
    ASSERT_EQ(entry.prediction().prediction_id(), id(i));
  }
  ASSERT_OK(Checkpoint(joins));
  blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), block_count - 1);
  EXPECT_EQ(blocks[0].number, 1u);
  const auto r = static_cast<uint32_t>(record);
  EXPECT_EQ(blocks[0].tombstones,
            (std::set<uint32_t>{0, r, 2 * r, 3 * r, 4 * r}));
  for (size_t b = 1; b < blocks.size(); ++b) {
    EXPECT_TRUE(blocks[b].tombstones.empty()) << blocks[b].number;
  }

  std::unique_ptr<PendingJoins> reloaded = Reload(joins);
  EXPECT_EQ(reloaded->size(kPrediction), static_cast<size_t>(kEntries - taken));
  EXPECT_FALSE(reloaded->Since(kPrediction, Key(id(0))).has_value());
  EXPECT_FALSE(reloaded->Since(kPrediction, Key(id(taken - 1))).has_value());
  EXPECT_EQ(reloaded->Since(kPrediction, Key(id(taken))), At(taken));
  ASSERT_OK_AND_ASSIGN(auto last,
                       reloaded->Take(kPrediction, Key(id(kEntries - 1))));
  EXPECT_EQ(last.prediction().prediction_id(), id(kEntries - 1));
}

TEST_F(PendingJoinsTest, RollbackUndoesAddTakeAndDrop) {
  PendingJoins joins(store_.get(), &index_);
  joins.Add(kPrediction, Key("stored"), Prediction("stored", 0.1), At(0));
  ASSERT_OK(Checkpoint(joins));
  joins.Add(kPrediction, Key("fresh"), Prediction("fresh", 0.2), At(1));
  const size_t fresh_bytes = joins.fresh_bytes();

  index_.BeginChange();
  joins.BeginChange();
  joins.Add(kPrediction, Key("new"), Prediction("new"), At(2));
  joins.Add(kOutcome, Key("other"), Outcome("other"), At(2));
  joins.Add(kPrediction, Key("fresh"), Prediction("fresh", 0.9), At(2));
  ASSERT_OK(joins.Take(kPrediction, Key("stored")));
  joins.Drop(kPrediction, Key("fresh"));
  EXPECT_EQ(joins.size(kPrediction), 1u);
  EXPECT_EQ(joins.size(kOutcome), 1u);
  joins.RollbackChange();
  index_.RollbackChange();

  EXPECT_EQ(joins.size(kPrediction), 2u);
  EXPECT_EQ(joins.size(kOutcome), 0u);
  EXPECT_EQ(joins.fresh_bytes(), fresh_bytes);
  EXPECT_EQ(joins.Since(kPrediction, Key("stored")), At(0));
  EXPECT_EQ(joins.Since(kPrediction, Key("fresh")), At(1));
  EXPECT_FALSE(joins.Since(kPrediction, Key("new")).has_value());
  EXPECT_FALSE(joins.Since(kOutcome, Key("other")).has_value());

  // The stored entry is pending again: the next checkpoint neither deletes
  // its block nor tombstones it, and a restart finds both entries as they
  // were before the change.
  ASSERT_OK(Checkpoint(joins));
  const std::vector<StoredBlock> blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_TRUE(blocks[0].tombstones.empty());
  ASSERT_EQ(blocks[1].block.entries_size(), 1);
  std::unique_ptr<PendingJoins> reloaded = Reload(joins);
  EXPECT_EQ(reloaded->size(kPrediction), 2u);
  EXPECT_EQ(reloaded->size(kOutcome), 0u);
  ASSERT_OK_AND_ASSIGN(auto stored, reloaded->Take(kPrediction, Key("stored")));
  EXPECT_EQ(stored.prediction().binary().score(), 0.1);
  ASSERT_OK_AND_ASSIGN(auto fresh, reloaded->Take(kPrediction, Key("fresh")));
  EXPECT_EQ(fresh.prediction().binary().score(), 0.2);
}

TEST_F(PendingJoinsTest, RollbackGoesBackToTheLastBeginChange) {
  PendingJoins joins(store_.get(), &index_);
  index_.BeginChange();
  joins.BeginChange();
  joins.Add(kPrediction, Key("kept"), Prediction("kept"), At(0));
  const size_t fresh_bytes = joins.fresh_bytes();
  index_.BeginChange();
  joins.BeginChange();
  joins.Add(kPrediction, Key("undone"), Prediction("undone"), At(1));
  joins.RollbackChange();
  index_.RollbackChange();
  EXPECT_TRUE(joins.Since(kPrediction, Key("kept")).has_value());
  EXPECT_FALSE(joins.Since(kPrediction, Key("undone")).has_value());
  EXPECT_EQ(joins.fresh_bytes(), fresh_bytes);
}

TEST_F(PendingJoinsTest, SweepDropsStoredEntriesOlderThanTheHorizon) {
  PendingJoins joins(store_.get(), &index_);
  joins.Add(kPrediction, Key("a"), Prediction("a"), At(0));
  joins.Add(kOutcome, Key("x"), Outcome("x"), At(50));
  joins.Add(kPrediction, Key("b"), Prediction("b"), At(100));
  joins.Add(kPrediction, Key("c"), Prediction("c"), At(200));
  ASSERT_OK(Checkpoint(joins));
  // Older than the horizon, but still in the buffer: not offered.
  joins.Add(kPrediction, Key("d"), Prediction("d"), At(0));

  std::set<std::string> offered;
  auto offer = [&](bool accept_b) {
    return
        [&offered, accept_b](Kind kind, const state::v1::PendingEntry& entry) {
          const std::string id = kind == kPrediction
                                     ? entry.prediction().prediction_id()
                                     : entry.outcome().prediction_id();
          offered.insert(id);
          return id != "b" || accept_b;
        };
  };
  // c arrived at the horizon itself: not before it, not offered.
  ASSERT_OK_AND_ASSIGN(uint64_t dropped, joins.Sweep(At(200), offer(false)));
  EXPECT_EQ(offered, (std::set<std::string>{"a", "x", "b"}));
  EXPECT_EQ(dropped, 2u);
  EXPECT_FALSE(joins.Since(kPrediction, Key("a")).has_value());
  EXPECT_FALSE(joins.Since(kOutcome, Key("x")).has_value());
  EXPECT_EQ(joins.size(kPrediction), 3u);  // b, c, d.
  EXPECT_EQ(joins.size(kOutcome), 0u);

  // Dropped entries are not offered again.
  offered.clear();
  ASSERT_OK_AND_ASSIGN(dropped, joins.Sweep(At(200), offer(false)));
  EXPECT_EQ(offered, (std::set<std::string>{"b"}));
  EXPECT_EQ(dropped, 0u);

  // The drops are durable: tombstones at the next checkpoint.
  ASSERT_OK(Checkpoint(joins));
  std::unique_ptr<PendingJoins> reloaded = Reload(joins);
  EXPECT_EQ(reloaded->size(kPrediction), 3u);
  EXPECT_EQ(reloaded->size(kOutcome), 0u);
  EXPECT_FALSE(reloaded->Since(kPrediction, Key("a")).has_value());
  EXPECT_FALSE(reloaded->Since(kOutcome, Key("x")).has_value());
  EXPECT_EQ(reloaded->Since(kPrediction, Key("b")), At(100));
  EXPECT_EQ(reloaded->Since(kPrediction, Key("c")), At(200));
  EXPECT_EQ(reloaded->Since(kPrediction, Key("d")), At(0));

  // Once d is stored, a sweep offers it (and b) too.
  offered.clear();
  ASSERT_OK_AND_ASSIGN(dropped, reloaded->Sweep(At(200), offer(true)));
  EXPECT_EQ(offered, (std::set<std::string>{"b", "d"}));
  EXPECT_EQ(dropped, 2u);
  EXPECT_EQ(reloaded->size(kPrediction), 1u);
}

TEST_F(PendingJoinsTest, BlocksOfACheckpointThatNeverCommittedAreDeleted) {
  PendingJoins joins(store_.get(), &index_);
  joins.Add(kPrediction, Key("kept"), Prediction("kept"), At(0));
  ASSERT_OK(Checkpoint(joins));  // Block 0, referred to by next_block 1.
  joins.Add(kPrediction, Key("lost"), Prediction("lost"), At(1));
  // The new block is written ahead; the batch that would make it part of
  // the state is never committed, as when the process dies in between.
  StateBatch batch = store_->NewBatch();
  ASSERT_OK(joins.PrepareCheckpoint(++checkpoints_, batch).status());
  ASSERT_EQ(StoredBlocks().size(), 2u);

  std::unique_ptr<PendingJoins> reloaded = Reload(joins);
  EXPECT_EQ(reloaded->size(kPrediction), 1u);
  EXPECT_TRUE(reloaded->Since(kPrediction, Key("kept")).has_value());
  EXPECT_FALSE(reloaded->Since(kPrediction, Key("lost")).has_value());
  const std::vector<StoredBlock> stored = StoredBlocks();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].number, 0u);
}

TEST_F(PendingJoinsTest, BlockThatDoesNotDecodeIsDataLoss) {
  StateBatch batch = store_->NewBatch();
  std::string block;
  AppendRecord(&block, "\xff\xff\xff");  // A record, but not a PendingEntry.
  batch.PutPendingBlock(0, block);
  batch.PutPendingBlock(1, "not records at all");
  ASSERT_OK(store_->Commit(batch));
  PendingJoins joins(store_.get(), &index_);
  EXPECT_EQ(joins.Load(2).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace vigie::storage

namespace vigie::storage {
namespace {

// Sealed blocks: the stored bytes hold none of the entries' values, a
// reload with the same secret finds every entry, and one with another
// secret refuses the blocks rather than misread them.
TEST_F(PendingJoinsTest, SealedBlocksHideTheirEntriesAndReloadWithTheirKey) {
  ASSERT_OK_AND_ASSIGN(const PrivacyKeys keys,
                       PrivacyKeys::FromSecret(std::string(32, 'k')));
  PendingJoins joins(store_.get(), &index_);
  joins.SealWith(&keys);
  for (int i = 0; i < 5; ++i) {
    const std::string id = "p" + std::to_string(i);
    joins.Add(kPrediction, Key(id), Prediction(id), At(i));
  }
  joins.Add(kOutcome, Key("p9"), Outcome("p9"), At(9));
  ASSERT_OK(Checkpoint(joins));

  size_t blocks = 0;
  ASSERT_OK(store_->ForEachPendingBlock(
      [&](uint32_t, absl::string_view bytes, const std::vector<std::string>&) {
        ++blocks;
        EXPECT_EQ(bytes.find("retail"), absl::string_view::npos);
        EXPECT_EQ(bytes.find("p3"), absl::string_view::npos);
        return absl::OkStatus();
      }));
  EXPECT_EQ(blocks, 1u);

  PendingJoins reloaded(store_.get(), NewIndex());
  reloaded.SealWith(&keys);
  ASSERT_OK(reloaded.Load(joins.next_block()));
  EXPECT_EQ(reloaded.size(kPrediction), 5u);
  ASSERT_OK_AND_ASSIGN(auto p3, reloaded.Take(kPrediction, Key("p3")));
  EXPECT_TRUE(MessageDifferencer::Equals(p3.prediction(), Prediction("p3")));
  ASSERT_OK_AND_ASSIGN(auto p9, reloaded.Take(kOutcome, Key("p9")));
  EXPECT_TRUE(MessageDifferencer::Equals(p9.outcome(), Outcome("p9")));

  ASSERT_OK_AND_ASSIGN(const PrivacyKeys other,
                       PrivacyKeys::FromSecret(std::string(32, 'o')));
  PendingJoins wrong(store_.get(), NewIndex());
  wrong.SealWith(&other);
  EXPECT_EQ(wrong.Load(joins.next_block()).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace vigie::storage
