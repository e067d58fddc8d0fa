#include "storage/join_marks.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/io/coded_stream.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::storage {
namespace {

// Times as seconds after a fixed, realistic start.
constexpr int64_t kStart = 1'700'000'000;
absl::Time At(int64_t seconds) {
  return absl::FromUnixSeconds(kStart + seconds);
}

IdKey Key(const std::string& id) { return IdKey::Of("m", id); }

// The bytes a mark of model "m" takes in a block: tag, varint length, the
// JoinMark.
size_t MarkBytes(const std::string& id, absl::Time joined_at) {
  state::v1::JoinMark mark;
  mark.set_model_id("m");
  mark.set_prediction_id(id);
  mark.set_joined_at_seconds(absl::ToUnixSeconds(joined_at));
  const auto size = static_cast<uint32_t>(mark.ByteSizeLong());
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize32(size) + size;
}

class JoinMarksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StateStoreOptions options;
    options.path = dir_.Join("db");
    ASSERT_OK_AND_ASSIGN(store_, StateStore::Open(options));
  }

  // One checkpoint of `marks` alone: prepare, commit, take effect.
  absl::Status Checkpoint(JoinMarks& marks) {
    StateBatch batch = store_->NewBatch();
    absl::StatusOr<JoinMarks::Checkpoint> checkpoint =
        marks.PrepareCheckpoint(batch);
    if (!checkpoint.ok()) return checkpoint.status();
    if (absl::Status status = store_->Commit(batch); !status.ok()) {
      return status;
    }
    marks.CommitCheckpoint(*checkpoint);
    return absl::OkStatus();
  }

  // A new JoinMarks loaded from the store, as after a restart.
  std::unique_ptr<JoinMarks> Reload(const JoinMarks& before) {
    auto marks = std::make_unique<JoinMarks>(store_.get(), NewIndex());
    EXPECT_OK(marks->Load(before.next_block()));
    return marks;
  }

  // The stored blocks, each as the marks it holds.
  std::vector<std::pair<uint32_t, state::v1::JoinMarkBlock>> StoredBlocks() {
    std::vector<std::pair<uint32_t, state::v1::JoinMarkBlock>> blocks;
    const absl::Status status = store_->ForEachJoinMarkBlock(
        [&](uint32_t number, absl::string_view bytes) {
          state::v1::JoinMarkBlock block;
          EXPECT_TRUE(block.ParseFromArray(bytes.data(),
                                           static_cast<int>(bytes.size())));
          blocks.emplace_back(number, std::move(block));
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
};

TEST_F(JoinMarksTest, AddAndFind) {
  JoinMarks marks(store_.get(), &index_);
  EXPECT_FALSE(marks.dirty());
  marks.Add(Key("p1"), "m", "p1", At(0));
  // Kept to the second, rounded up.
  marks.Add(Key("p2"), "m", "p2", At(0) + absl::Milliseconds(1));
  EXPECT_EQ(marks.Find(Key("p1")), At(0));
  EXPECT_EQ(marks.Find(Key("p2")), At(1));
  EXPECT_FALSE(marks.Find(Key("p3")).has_value());
  EXPECT_FALSE(marks.Find(IdKey::Of("other", "p1")).has_value());
  EXPECT_EQ(marks.size(), 2u);
  EXPECT_TRUE(marks.dirty());
  EXPECT_EQ(marks.fresh_bytes(),
            MarkBytes("p1", At(0)) + MarkBytes("p2", At(1)));

  // A pair joined again (after an expiry) takes the later time.
  marks.Add(Key("p1"), "m", "p1", At(10));
  EXPECT_EQ(marks.Find(Key("p1")), At(10));
  EXPECT_EQ(marks.size(), 2u);
}

TEST_F(JoinMarksTest, RollbackUndoesAdds) {
  JoinMarks marks(store_.get(), &index_);
  index_.BeginChange();
  marks.BeginChange();
  marks.Add(Key("p1"), "m", "p1", At(0));
  const size_t fresh_bytes = marks.fresh_bytes();
  index_.BeginChange();
  marks.BeginChange();
  marks.Add(Key("p2"), "m", "p2", At(10));
  marks.Add(Key("p1"), "m", "p1", At(20));
  marks.RollbackChange();
  index_.RollbackChange();

  EXPECT_EQ(marks.Find(Key("p1")), At(0));
  EXPECT_FALSE(marks.Find(Key("p2")).has_value());
  EXPECT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks.fresh_bytes(), fresh_bytes);

  // Nothing of the undone marks reaches the store.
  ASSERT_OK(Checkpoint(marks));
  const auto blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), 1u);
  ASSERT_EQ(blocks[0].second.marks_size(), 1);
  EXPECT_EQ(blocks[0].second.marks(0).prediction_id(), "p1");
  EXPECT_EQ(blocks[0].second.marks(0).joined_at_seconds(), kStart);
  std::unique_ptr<JoinMarks> reloaded = Reload(marks);
  EXPECT_EQ(reloaded->size(), 1u);
  EXPECT_EQ(reloaded->Find(Key("p1")), At(0));
}

TEST_F(JoinMarksTest, RollbackOfEverythingSinceACheckpoint) {
  JoinMarks marks(store_.get(), &index_);
  marks.Add(Key("p1"), "m", "p1", At(0));
  ASSERT_OK(Checkpoint(marks));
  index_.BeginChange();
  marks.BeginChange();
  marks.Add(Key("p2"), "m", "p2", At(10));
  marks.RollbackChange();
  index_.RollbackChange();
  EXPECT_EQ(marks.fresh_bytes(), 0u);
  EXPECT_FALSE(marks.dirty());
  EXPECT_EQ(marks.Find(Key("p1")), At(0));
  EXPECT_FALSE(marks.Find(Key("p2")).has_value());
}

TEST_F(JoinMarksTest, CheckpointAndReloadFindMarks) {
  JoinMarks marks(store_.get(), &index_);
  for (int i = 0; i < 100; ++i) {
    const std::string id = "p" + std::to_string(i);
    marks.Add(Key(id), "m", id, At(i));
  }
  ASSERT_OK(Checkpoint(marks));
  EXPECT_EQ(marks.fresh_bytes(), 0u);
  EXPECT_FALSE(marks.dirty());
  EXPECT_EQ(marks.next_block(), 1u);
  EXPECT_EQ(marks.Find(Key("p42")), At(42));

  // A checkpoint with nothing new writes no block.
  ASSERT_OK(Checkpoint(marks));
  EXPECT_EQ(marks.next_block(), 1u);

  marks.Add(Key("q"), "m", "q", At(500));
  ASSERT_OK(Checkpoint(marks));
  EXPECT_EQ(marks.next_block(), 2u);

  const auto blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].first, 0u);
  EXPECT_EQ(blocks[0].second.marks_size(), 100);
  EXPECT_EQ(blocks[1].first, 1u);
  EXPECT_EQ(blocks[1].second.marks_size(), 1);

  std::unique_ptr<JoinMarks> reloaded = Reload(marks);
  EXPECT_EQ(reloaded->size(), 101u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(reloaded->Find(Key("p" + std::to_string(i))), At(i)) << i;
  }
  EXPECT_EQ(reloaded->Find(Key("q")), At(500));
  EXPECT_FALSE(reloaded->dirty());
}

TEST_F(JoinMarksTest, ForgetDropsWholeBlocksOlderThanTheHorizon) {
  JoinMarks marks(store_.get(), &index_);
  // Block 0: joins at 0 to 4 s; block 1: joins at 100 to 104 s.
  for (int i = 0; i < 5; ++i) {
    marks.Add(Key("a" + std::to_string(i)), "m", "a" + std::to_string(i),
              At(i));
  }
  ASSERT_OK(Checkpoint(marks));
  for (int i = 0; i < 5; ++i) {
    marks.Add(Key("b" + std::to_string(i)), "m", "b" + std::to_string(i),
              At(100 + i));
  }
  ASSERT_OK(Checkpoint(marks));

  // Block 0's newest mark is at 4 s: not before a horizon of 4 s.
  ASSERT_OK_AND_ASSIGN(uint64_t forgotten, marks.Forget(At(4)));
  EXPECT_EQ(forgotten, 0u);
  EXPECT_EQ(marks.size(), 10u);
  EXPECT_FALSE(marks.dirty());

  ASSERT_OK_AND_ASSIGN(forgotten, marks.Forget(At(50)));
  EXPECT_EQ(forgotten, 5u);
  EXPECT_EQ(marks.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(marks.Find(Key("a" + std::to_string(i))).has_value()) << i;
    EXPECT_EQ(marks.Find(Key("b" + std::to_string(i))), At(100 + i)) << i;
  }
  // The forgotten block is deleted at the next checkpoint.
  EXPECT_TRUE(marks.dirty());
  ASSERT_OK(Checkpoint(marks));
  const auto blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].first, 1u);

  std::unique_ptr<JoinMarks> reloaded = Reload(marks);
  EXPECT_EQ(reloaded->size(), 5u);
  EXPECT_FALSE(reloaded->Find(Key("a0")).has_value());
  EXPECT_EQ(reloaded->Find(Key("b4")), At(104));
  ASSERT_OK_AND_ASSIGN(forgotten, reloaded->Forget(At(50)));
  EXPECT_EQ(forgotten, 0u);
}

TEST_F(JoinMarksTest, PairJoinedAgainSurvivesForgettingItsOldMark) {
  JoinMarks marks(store_.get(), &index_);
  // Block 0: three pairs joined at 0 s.
  marks.Add(Key("again"), "m", "again", At(0));
  marks.Add(Key("again_fresh"), "m", "again_fresh", At(0));
  marks.Add(Key("once"), "m", "once", At(0));
  ASSERT_OK(Checkpoint(marks));
  // Block 1: "again" joined again at 100 s.
  marks.Add(Key("again"), "m", "again", At(100));
  ASSERT_OK(Checkpoint(marks));
  // Not yet checkpointed: "again_fresh" joined again at 100 s.
  marks.Add(Key("again_fresh"), "m", "again_fresh", At(100));

  // Only "once" had its last join in block 0.
  ASSERT_OK_AND_ASSIGN(uint64_t forgotten, marks.Forget(At(50)));
  EXPECT_EQ(forgotten, 1u);
  EXPECT_FALSE(marks.Find(Key("once")).has_value());
  EXPECT_EQ(marks.Find(Key("again")), At(100));
  EXPECT_EQ(marks.Find(Key("again_fresh")), At(100));

  ASSERT_OK(Checkpoint(marks));
  std::unique_ptr<JoinMarks> reloaded = Reload(marks);
  EXPECT_EQ(reloaded->size(), 2u);
  EXPECT_FALSE(reloaded->Find(Key("once")).has_value());
  EXPECT_EQ(reloaded->Find(Key("again")), At(100));
  EXPECT_EQ(reloaded->Find(Key("again_fresh")), At(100));
}

TEST_F(JoinMarksTest, BlockThatDoesNotDecodeIsDataLoss) {
  StateBatch batch = store_->NewBatch();
  batch.PutJoinMarkBlock(0, "not records at all");
  ASSERT_OK(store_->Commit(batch));
  JoinMarks marks(store_.get(), &index_);
  EXPECT_EQ(marks.Load(1).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace vigie::storage

namespace vigie::storage {
namespace {

// A purge forgets one model's marks, in memory and on disk: a block shared
// with another model is written again with the other's alone, a block of
// the model only is deleted; a reload finds exactly the other's.
TEST_F(JoinMarksTest, ForgetModelDropsItsMarksAndKeepsTheOthers) {
  JoinMarks marks(store_.get(), &index_);
  for (int i = 0; i < 10; ++i) {
    const std::string id = "p" + std::to_string(i);
    marks.Add(IdKey::Of(i % 2 == 0 ? "gone" : "kept", id),
              i % 2 == 0 ? "gone" : "kept", id, At(i));
  }
  ASSERT_OK(Checkpoint(marks));
  marks.Add(IdKey::Of("gone", "alone"), "gone", "alone", At(20));
  ASSERT_OK(Checkpoint(marks));
  ASSERT_EQ(StoredBlocks().size(), 2u);

  ASSERT_OK_AND_ASSIGN(const uint64_t forgotten, marks.ForgetModel("gone"));
  EXPECT_EQ(forgotten, 6u);
  EXPECT_EQ(marks.size(), 5u);
  EXPECT_FALSE(marks.Find(IdKey::Of("gone", "p0")).has_value());
  EXPECT_EQ(marks.Find(IdKey::Of("kept", "p1")), At(1));
  ASSERT_OK(Checkpoint(marks));

  const auto blocks = StoredBlocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].second.marks_size(), 5);
  for (const auto& mark : blocks[0].second.marks()) {
    EXPECT_EQ(mark.model_id(), "kept");
  }
  std::unique_ptr<JoinMarks> reloaded = Reload(marks);
  EXPECT_EQ(reloaded->size(), 5u);
  EXPECT_EQ(reloaded->Find(IdKey::Of("kept", "p9")), At(9));
}

}  // namespace
}  // namespace vigie::storage
