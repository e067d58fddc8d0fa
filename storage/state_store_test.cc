#include "storage/state_store.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "storage/direct_io.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::storage {
namespace {

using google::protobuf::util::MessageDifferencer;

// Serialized PendingTombstones with `offsets`.
std::string Tombstones(std::initializer_list<uint32_t> offsets) {
  state::v1::PendingTombstones tombstones;
  tombstones.mutable_offsets()->Add(offsets.begin(), offsets.end());
  return tombstones.SerializeAsString();
}

// A pending block as ForEachPendingBlock shows it.
struct SeenBlock {
  uint32_t block;
  std::string bytes;
  std::vector<std::string> tombstones;
  bool operator==(const SeenBlock&) const = default;
};

std::vector<SeenBlock> PendingBlocks(const StateStore& store) {
  std::vector<SeenBlock> blocks;
  const absl::Status status = store.ForEachPendingBlock(
      [&](uint32_t block, absl::string_view bytes,
          const std::vector<std::string>& tombstones) {
        blocks.push_back({block, std::string(bytes), tombstones});
        return absl::OkStatus();
      });
  EXPECT_OK(status);
  return blocks;
}

std::vector<std::pair<uint32_t, std::string>> JoinMarkBlocks(
    const StateStore& store) {
  std::vector<std::pair<uint32_t, std::string>> blocks;
  const absl::Status status =
      store.ForEachJoinMarkBlock([&](uint32_t block, absl::string_view bytes) {
        blocks.emplace_back(block, std::string(bytes));
        return absl::OkStatus();
      });
  EXPECT_OK(status);
  return blocks;
}

std::vector<uint64_t> IngestSeqs(const StateStore& store, uint64_t from) {
  std::vector<uint64_t> seqs;
  const absl::Status status = store.ForEachIngestRecord(
      from, [&](uint64_t seq, absl::string_view bytes) {
        // Each record was written as "r<seq>".
        EXPECT_EQ(bytes, "r" + std::to_string(seq));
        seqs.push_back(seq);
        return absl::OkStatus();
      });
  EXPECT_OK(status);
  return seqs;
}

class StateStoreTest : public ::testing::Test {
 protected:
  StateStoreOptions Options() const {
    StateStoreOptions options;
    options.path = dir_.Join("db");
    return options;
  }
  testutil::TempDir dir_;
};

TEST_F(StateStoreTest, RejectsBadOptions) {
  StateStoreOptions options = Options();
  options.path = "";
  EXPECT_EQ(StateStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options();
  options.block_cache_bytes = 10;
  EXPECT_EQ(StateStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options();
  options.ingest_log_buffer_bytes = 1 << 20;
  EXPECT_EQ(StateStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A checkpoint's commit, which deletes the log it absorbed, has the log's
// memtable flushed: the records it deleted are not written to SST files,
// those after it are.
TEST_F(StateStoreTest, TheLogACheckpointDeletedIsNotFlushed) {
  StateStoreOptions options = Options();
  options.write_buffer_bytes = size_t{4} << 20;  // Flush past 1 MiB.
  options.ingest_log_buffer_bytes = size_t{64} << 20;
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(options));
  // 40 records of 100,000 bytes that do not compress.
  std::mt19937_64 random(7);
  constexpr size_t kRecordBytes = 100'000;
  for (uint64_t seq = 0; seq < 40; ++seq) {
    std::string record(kRecordBytes, '\0');
    for (char& c : record) c = static_cast<char>(random());
    StateBatch batch = store->NewBatch();
    batch.PutIngestRecord(seq, record);
    ASSERT_OK(store->Commit(batch));
  }
  // Nothing flushed yet: the log's memtable has room for all of it.
  EXPECT_EQ(store->ApproximateSize().sst_bytes, 0u);
  StateBatch checkpoint = store->NewBatch();
  checkpoint.DeleteIngestRecordsBefore(20);
  ASSERT_OK(store->Commit(checkpoint));
  // The flush runs in the background. RocksDB counts a table file once its
  // flush has installed it, never while it is being written, so the first
  // non-zero figure is the whole flush.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (store->ApproximateSize().sst_bytes == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const uint64_t flushed = store->ApproximateSize().sst_bytes;
  EXPECT_GE(flushed, 20 * kRecordBytes);            // Records 20 to 39...
  EXPECT_LT(flushed, 20 * kRecordBytes * 11 / 10);  // ...and no others.
  // And the log still reads as committed: records 20 to 39.
  std::vector<uint64_t> left;
  ASSERT_OK(
      store->ForEachIngestRecord(0, [&](uint64_t seq, absl::string_view bytes) {
        EXPECT_EQ(bytes.size(), kRecordBytes);
        left.push_back(seq);
        return absl::OkStatus();
      }));
  ASSERT_EQ(left.size(), 20u);
  EXPECT_EQ(left.front(), 20u);
}

// Direct I/O is used where the file system allows it, and only when asked.
TEST_F(StateStoreTest, DirectIoWhereTheFileSystemAllowsIt) {
  ASSERT_OK_AND_ASSIGN(const bool supported, DirectIoSupported(dir_.path()));
  {
    ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
    EXPECT_EQ(store->direct_io(), supported);
  }
  StateStoreOptions buffered = Options();
  buffered.direct_io = false;
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(buffered));
  EXPECT_FALSE(store->direct_io());
}

// Table files written by flushes and rewritten by compactions, with direct
// I/O where the file system allows it, read back whole after a reopen.
TEST_F(StateStoreTest, TableFilesReadBackAfterFlushesAndCompactions) {
  StateStoreOptions options = Options();
  options.write_buffer_bytes = size_t{4} << 20;  // Flush past 1 MiB.
  std::mt19937_64 random(11);
  const auto pane_bytes = [&random](size_t size) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(random() % 7);  // Compresses.
    return bytes;
  };
  std::vector<std::string> written;
  {
    ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(options));
    for (int round = 0; round < 3; ++round) {
      StateBatch batch = store->NewBatch();
      for (int pane = 0; pane < 400; ++pane) {
        // Odd sizes, so that no file ends on a block boundary by chance.
        std::string bytes = pane_bytes(4001 + static_cast<size_t>(pane % 13));
        batch.PutPane("m", absl::FromUnixSeconds(3600 * pane), bytes);
        if (round == 2) written.push_back(std::move(bytes));
      }
      ASSERT_OK(store->Commit(batch));
    }
    ASSERT_OK(store->CompactAll());
    EXPECT_GT(store->ApproximateSize().sst_bytes, 0u);
  }
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(options));
  size_t seen = 0;
  ASSERT_OK(store->ForEachPane(
      [&](const std::string& model, absl::Time start, absl::string_view bytes) {
        EXPECT_EQ(model, "m");
        const int64_t pane = absl::ToUnixSeconds(start) / 3600;
        EXPECT_EQ(bytes, written.at(static_cast<size_t>(pane))) << pane;
        ++seen;
        return absl::OkStatus();
      }));
  EXPECT_EQ(seen, written.size());
}

TEST_F(StateStoreTest, CheckpointRoundTrip) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  ASSERT_OK_AND_ASSIGN(auto none, store->GetCheckpoint());
  EXPECT_FALSE(none.has_value());

  state::v1::CheckpointState checkpoint;
  checkpoint.set_format(2);
  checkpoint.set_next_ingest_seq(42);
  checkpoint.set_next_pending_block(7);
  checkpoint.set_next_mark_block(3);
  checkpoint.mutable_taken_at()->set_seconds(1'700'000'000);
  checkpoint.set_number(5);
  StateBatch batch = store->NewBatch();
  batch.PutCheckpoint(checkpoint);
  EXPECT_EQ(batch.size(), 1u);
  ASSERT_OK(store->Commit(batch));
  // A committed batch is emptied, ready for the next one.
  EXPECT_EQ(batch.size(), 0u);

  ASSERT_OK_AND_ASSIGN(auto read, store->GetCheckpoint());
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(*read, checkpoint))
      << read->DebugString();
}

TEST_F(StateStoreTest, IngestLogIsReadFromASequenceNumber) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  for (uint64_t seq = 0; seq < 10; ++seq) {
    batch.PutIngestRecord(seq, "r" + std::to_string(seq));
  }
  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(IngestSeqs(*store, 0),
            (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));

  // A checkpoint absorbed records 0 to 5.
  batch.DeleteIngestRecordsBefore(6);
  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(IngestSeqs(*store, 0), (std::vector<uint64_t>{6, 7, 8, 9}));
  EXPECT_EQ(IngestSeqs(*store, 8), (std::vector<uint64_t>{8, 9}));
  EXPECT_TRUE(IngestSeqs(*store, 10).empty());
}

TEST_F(StateStoreTest, PendingBlocksComeWithTheirTombstones) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  batch.PutPendingBlock(1, "block one");
  batch.PutPendingBlock(2, "block two");
  batch.PutPendingTombstones(1, 3, Tombstones({0, 40}));
  ASSERT_OK(store->Commit(batch));
  batch.PutPendingTombstones(1, 5, Tombstones({80}));
  ASSERT_OK(store->Commit(batch));

  // Block 1's tombstones in checkpoint order; block 2 has none.
  EXPECT_EQ(PendingBlocks(*store),
            (std::vector<SeenBlock>{
                {1, "block one", {Tombstones({0, 40}), Tombstones({80})}},
                {2, "block two", {}}}));
  ASSERT_OK_AND_ASSIGN(std::string bytes, store->GetPendingBlock(1));
  EXPECT_EQ(bytes, "block one");

  // Deleting block 1 takes its tombstones with it and leaves block 2.
  batch.DeletePendingBlock(1);
  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(PendingBlocks(*store),
            (std::vector<SeenBlock>{{2, "block two", {}}}));
  EXPECT_EQ(store->GetPendingBlock(1).status().code(),
            absl::StatusCode::kDataLoss);
  // Were its tombstones left behind, a new block 1 would show them.
  batch.PutPendingBlock(1, "block one again");
  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(PendingBlocks(*store),
            (std::vector<SeenBlock>{{1, "block one again", {}},
                                    {2, "block two", {}}}));
}

TEST_F(StateStoreTest, MissingPendingBlockIsDataLoss) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  EXPECT_EQ(store->GetPendingBlock(0).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(StateStoreTest, BlockNumbersIterateInNumericOrder) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  // 256 is 0x100: little-endian or text keys would put it before 2.
  batch.PutPendingBlock(256, "c");
  batch.PutPendingBlock(2, "b");
  batch.PutPendingBlock(0, "a");
  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(
      PendingBlocks(*store),
      (std::vector<SeenBlock>{{0, "a", {}}, {2, "b", {}}, {256, "c", {}}}));
}

TEST_F(StateStoreTest, LastBlockNumberCanBeDeleted) {
  // The block after UINT32_MAX does not exist: its deletion range must
  // still cover its tombstones, and nothing before it.
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  batch.PutPendingBlock(UINT32_MAX - 1, "before");
  batch.PutPendingBlock(UINT32_MAX, "last");
  batch.PutPendingTombstones(UINT32_MAX, UINT64_MAX, Tombstones({1}));
  ASSERT_OK(store->Commit(batch));
  batch.DeletePendingBlock(UINT32_MAX);
  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(PendingBlocks(*store),
            (std::vector<SeenBlock>{{UINT32_MAX - 1, "before", {}}}));
}

TEST_F(StateStoreTest, TombstonesWithoutTheirBlockAreDataLoss) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  batch.PutPendingTombstones(4, 1, Tombstones({0}));
  ASSERT_OK(store->Commit(batch));
  const absl::Status status = store->ForEachPendingBlock(
      [](uint32_t, absl::string_view, const std::vector<std::string>&) {
        return absl::OkStatus();
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
}

TEST_F(StateStoreTest, JoinMarkBlocks) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  EXPECT_EQ(store->GetJoinMarkBlock(0).status().code(),
            absl::StatusCode::kDataLoss);
  StateBatch batch = store->NewBatch();
  batch.PutJoinMarkBlock(1, "marks one");
  batch.PutJoinMarkBlock(0, "marks zero");
  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(JoinMarkBlocks(*store),
            (std::vector<std::pair<uint32_t, std::string>>{{0, "marks zero"},
                                                           {1, "marks one"}}));
  ASSERT_OK_AND_ASSIGN(std::string bytes, store->GetJoinMarkBlock(1));
  EXPECT_EQ(bytes, "marks one");

  batch.DeleteJoinMarkBlock(0);
  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(JoinMarkBlocks(*store),
            (std::vector<std::pair<uint32_t, std::string>>{{1, "marks one"}}));
  EXPECT_EQ(store->GetJoinMarkBlock(0).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(StateStoreTest, StateSurvivesReopen) {
  state::v1::CheckpointState checkpoint;
  checkpoint.set_format(2);
  checkpoint.set_next_ingest_seq(2);
  checkpoint.set_number(1);
  {
    ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
    StateBatch batch = store->NewBatch();
    batch.PutCheckpoint(checkpoint);
    batch.PutIngestRecord(2, "r2");
    batch.PutIngestRecord(3, "r3");
    batch.PutPendingBlock(0, "pending");
    batch.PutPendingTombstones(0, 1, Tombstones({7}));
    batch.PutJoinMarkBlock(0, "marks");
    batch.PutPane("m", absl::FromUnixSeconds(7200), "late");
    batch.PutPane("m", absl::FromUnixSeconds(3600), "early");
    batch.PutPane("a", absl::FromUnixSeconds(0), "other model");
    state::v1::ModelCountersState counters;
    counters.set_predictions(3);
    batch.PutCounters("m", counters);
    vigie::v1::Alert alert;
    alert.set_fingerprint("f1");
    alert.set_rule_id("F3");
    alert.mutable_updated_at()->set_seconds(10);
    batch.PutAlert(alert, /*transition=*/true);
    alert.set_state(vigie::v1::ALERT_STATE_RESOLVED);
    alert.mutable_updated_at()->set_seconds(20);
    batch.PutAlert(alert, /*transition=*/true);
    ASSERT_OK(store->Commit(batch));
  }
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));

  ASSERT_OK_AND_ASSIGN(auto read, store->GetCheckpoint());
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(*read, checkpoint));
  EXPECT_EQ(IngestSeqs(*store, 0), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(PendingBlocks(*store),
            (std::vector<SeenBlock>{{0, "pending", {Tombstones({7})}}}));
  EXPECT_EQ(JoinMarkBlocks(*store),
            (std::vector<std::pair<uint32_t, std::string>>{{0, "marks"}}));

  std::vector<std::pair<std::string, std::string>> panes;
  ASSERT_OK(store->ForEachPane([&](const std::string& model, absl::Time start,
                                   absl::string_view bytes) {
    panes.emplace_back(model + "@" + std::to_string(absl::ToUnixSeconds(start)),
                       std::string(bytes));
    return absl::OkStatus();
  }));
  // Models in key order (length-prefixed, equal lengths: "a" < "m"), then
  // panes oldest first.
  ASSERT_EQ(panes.size(), 3u);
  EXPECT_EQ(panes[0].first, "a@0");
  EXPECT_EQ(panes[1].first, "m@3600");
  EXPECT_EQ(panes[1].second, "early");
  EXPECT_EQ(panes[2].first, "m@7200");

  uint64_t predictions = 0;
  ASSERT_OK(store->ForEachCounters(
      [&](const std::string& model, const state::v1::ModelCountersState& c) {
        EXPECT_EQ(model, "m");
        predictions = c.predictions();
        return absl::OkStatus();
      }));
  EXPECT_EQ(predictions, 3u);

  ASSERT_OK_AND_ASSIGN(auto alerts, store->LoadAlerts());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state(), vigie::v1::ALERT_STATE_RESOLVED);
  ASSERT_OK_AND_ASSIGN(auto history, store->LoadAlertHistory());
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].updated_at().seconds(), 10);
  EXPECT_EQ(history[1].updated_at().seconds(), 20);
}

TEST_F(StateStoreTest, AlertHistoryIsForgottenPastItsRetention) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  // Three transitions of one alert, and one of another, at 10, 20, 20 and
  // 30 s.
  StateBatch batch = store->NewBatch();
  const std::pair<const char*, int64_t> transitions[] = {
      {"a", 10}, {"a", 20}, {"b", 20}, {"a", 30}};
  for (const auto& [fingerprint, seconds] : transitions) {
    vigie::v1::Alert alert;
    alert.set_fingerprint(fingerprint);
    alert.mutable_updated_at()->set_seconds(seconds);
    batch.PutAlert(alert, /*transition=*/true);
  }
  ASSERT_OK(store->Commit(batch));
  // Nothing older than 5 s: nothing written.
  ASSERT_OK_AND_ASSIGN(
      bool forgot, store->ForgetAlertHistoryBefore(absl::FromUnixSeconds(5)));
  EXPECT_FALSE(forgot);
  // Before 20 s: only the first goes; both transitions at 20 s stay.
  ASSERT_OK_AND_ASSIGN(
      forgot, store->ForgetAlertHistoryBefore(absl::FromUnixSeconds(20)));
  EXPECT_TRUE(forgot);
  ASSERT_OK_AND_ASSIGN(auto history, store->LoadAlertHistory());
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].updated_at().seconds(), 20);
  EXPECT_EQ(history[2].updated_at().seconds(), 30);
  // The latest states are not history: both alerts are still there.
  ASSERT_OK_AND_ASSIGN(auto alerts, store->LoadAlerts());
  EXPECT_EQ(alerts.size(), 2u);
  // After a reopen, the same.
  store.reset();
  ASSERT_OK_AND_ASSIGN(store, StateStore::Open(Options()));
  ASSERT_OK_AND_ASSIGN(history, store->LoadAlertHistory());
  EXPECT_EQ(history.size(), 3u);
}

TEST_F(StateStoreTest, PanesMoveToTheArchive) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  batch.PutPane("m", absl::FromUnixSeconds(3600), "old");
  batch.PutPane("m", absl::FromUnixSeconds(7200), "new");
  ASSERT_OK(store->Commit(batch));
  batch.DeletePane("m", absl::FromUnixSeconds(3600));
  batch.PutArchive("m", absl::FromUnixSeconds(7200), "merged");
  ASSERT_OK(store->Commit(batch));

  std::vector<int64_t> panes;
  ASSERT_OK(store->ForEachPane(
      [&](const std::string&, absl::Time start, absl::string_view) {
        panes.push_back(absl::ToUnixSeconds(start));
        return absl::OkStatus();
      }));
  EXPECT_EQ(panes, std::vector<int64_t>{7200});
  int archives = 0;
  ASSERT_OK(store->ForEachArchive(
      [&](const std::string& model, absl::Time until, absl::string_view bytes) {
        EXPECT_EQ(model, "m");
        EXPECT_EQ(until, absl::FromUnixSeconds(7200));
        EXPECT_EQ(bytes, "merged");
        ++archives;
        return absl::OkStatus();
      }));
  EXPECT_EQ(archives, 1);
}

TEST_F(StateStoreTest, IterationStopsAtTheFirstError) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  batch.PutPane("m", absl::FromUnixSeconds(1), "x");
  batch.PutPane("m", absl::FromUnixSeconds(2), "y");
  ASSERT_OK(store->Commit(batch));
  int calls = 0;
  const absl::Status status = store->ForEachPane(
      [&](const std::string&, absl::Time, absl::string_view) {
        ++calls;
        return absl::CancelledError("stop");
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST_F(StateStoreTest, SecondOpenOfTheSameFolderIsRefusedClearly) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  const auto second = StateStore::Open(Options());
  EXPECT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("open state store"),
            absl::string_view::npos);
}

TEST_F(StateStoreTest, CataloguesSurviveReopenAndOnlyTheCurrentIsKept) {
  // Model "recs": version 1, then version 2 with 3 items; model "alt": one
  // item. Only version 2 of "recs" is left.
  state::v1::CatalogueState second;
  second.set_version(2);
  second.set_description("items export 2026-11");
  second.mutable_uploaded_at()->set_seconds(1'767'571'200);
  second.set_content_digest(0xFEDCBA9876543210u);
  second.mutable_catalogue()->set_reference_users(50);
  for (const char* id : {"a", "b", "c"}) {
    vigie::v1::CatalogueItem* item = second.mutable_catalogue()->add_items();
    item->set_item_id(id);
    item->add_categories("jazz");
    item->set_reference_users(7);
  }
  {
    ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
    state::v1::CatalogueState first;
    first.set_version(1);
    first.mutable_catalogue()->add_items()->set_item_id("old");
    StateBatch batch = store->NewBatch();
    batch.PutCatalogue("recs", first);
    ASSERT_OK(store->Commit(batch));
    batch.PutCatalogue("recs", second);
    state::v1::CatalogueState alt;
    alt.set_version(1);
    alt.mutable_catalogue()->add_items()->set_item_id("x");
    batch.PutCatalogue("alt", alt);
    ASSERT_OK(store->Commit(batch));
  }
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  ASSERT_OK_AND_ASSIGN(std::optional<state::v1::CatalogueState> read,
                       store->GetCatalogue("recs"));
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(*read, second));
  EXPECT_EQ(read->catalogue().items_size(), 3);
  ASSERT_OK_AND_ASSIGN(std::optional<state::v1::CatalogueState> none,
                       store->GetCatalogue("nobody"));
  EXPECT_FALSE(none.has_value());

  std::vector<std::pair<std::string, uint32_t>> all;
  ASSERT_OK(store->ForEachCatalogue(
      [&](const std::string& model, const state::v1::CatalogueState& c) {
        all.emplace_back(model, c.version());
        return absl::OkStatus();
      }));
  EXPECT_EQ(all, (std::vector<std::pair<std::string, uint32_t>>{{"alt", 1},
                                                                {"recs", 2}}));
}

TEST_F(StateStoreTest, KafkaPositionsAreWrittenWithTheirRecord) {
  auto position = [](const std::string& topic, int32_t partition,
                     int64_t next) {
    state::v1::KafkaPositionState p;
    p.set_topic(topic);
    p.set_partition(partition);
    p.set_next_offset(next);
    return p;
  };
  {
    ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
    StateBatch batch = store->NewBatch();
    batch.PutIngestRecord(0, "record");
    batch.PutKafkaPosition(position("events", 0, 10));
    batch.PutKafkaPosition(position("events", 12, 7));
    batch.PutKafkaPosition(position("events.v2", 1, 3));
    ASSERT_OK(store->Commit(batch));
    batch.PutKafkaPosition(position("events", 0, 25));
    batch.DeleteKafkaPosition("events.v2", 1);
    ASSERT_OK(store->Commit(batch));
  }
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  std::vector<std::tuple<std::string, int32_t, int64_t>> read;
  ASSERT_OK(
      store->ForEachKafkaPosition([&](const state::v1::KafkaPositionState& p) {
        read.emplace_back(p.topic(), p.partition(), p.next_offset());
        return absl::OkStatus();
      }));
  std::sort(read.begin(), read.end());
  EXPECT_EQ(read, (std::vector<std::tuple<std::string, int32_t, int64_t>>{
                      {"events", 0, 25}, {"events", 12, 7}}));
  // The checkpoint key and the operators' records are not positions.
  ASSERT_OK(store->PutSilence(vigie::v1::Silence()));
  int positions = 0;
  ASSERT_OK(
      store->ForEachKafkaPosition([&](const state::v1::KafkaPositionState&) {
        ++positions;
        return absl::OkStatus();
      }));
  EXPECT_EQ(positions, 2);
}

TEST_F(StateStoreTest, SilencesAndAcknowledgementsSurviveReopen) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
    for (const char* id : {"b", "a", "c"}) {
      vigie::v1::Silence silence;
      silence.set_id(id);
      silence.set_created_by("ops");
      ASSERT_OK(store->PutSilence(silence));
    }
    ASSERT_OK(store->DeleteSilence("c"));
    ASSERT_OK(store->DeleteSilence("never-was"));
    state::v1::AcknowledgementState ack;
    ack.set_fingerprint("f1");
    ack.set_by("alice");
    ASSERT_OK(store->PutAcknowledgement(ack));
    ack.set_fingerprint("f2");
    ASSERT_OK(store->PutAcknowledgement(ack));
    ASSERT_OK(store->DeleteAcknowledgement("f2"));
    // A checkpoint in the same family is no silence.
    StateBatch batch = store->NewBatch();
    batch.PutCheckpoint(state::v1::CheckpointState());
    ASSERT_OK(store->Commit(batch));
  }
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  ASSERT_OK_AND_ASSIGN(std::vector<vigie::v1::Silence> silences,
                       store->LoadSilences());
  ASSERT_EQ(silences.size(), 2u);
  EXPECT_EQ(silences[0].id(), "a");
  EXPECT_EQ(silences[1].id(), "b");
  EXPECT_EQ(silences[1].created_by(), "ops");
  ASSERT_OK_AND_ASSIGN(std::vector<state::v1::AcknowledgementState> acks,
                       store->LoadAcknowledgements());
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].fingerprint(), "f1");
  EXPECT_EQ(acks[0].by(), "alice");
}

}  // namespace
}  // namespace vigie::storage

namespace vigie::storage {
namespace {

// A purge deletes one model's state and nothing of another's, even one
// whose id starts with the purged one's.
TEST_F(StateStoreTest, DeleteModelLeavesOtherModelsWhole) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  state::v1::ReferenceState reference;
  reference.set_version(1);
  state::v1::CatalogueState catalogue;
  state::v1::ModelCountersState counters;
  counters.set_predictions(1);
  StateBatch batch = store->NewBatch();
  for (const std::string model : {"m", "mm", "a"}) {
    batch.PutPane(model, absl::FromUnixSeconds(0), "p0");
    batch.PutPane(model, absl::FromUnixSeconds(3600), "p1");
    batch.PutArchive(model, absl::FromUnixSeconds(0), "archive");
    batch.PutCounters(model, counters);
    batch.PutReference(model, reference);
    batch.PutReferenceVersion(model, reference);
    batch.PutCatalogue(model, catalogue);
  }
  vigie::v1::Alert alert;
  alert.set_fingerprint("f-m");
  alert.mutable_updated_at()->set_seconds(10);
  batch.PutAlert(alert, /*transition=*/true);
  alert.set_fingerprint("f-a");
  batch.PutAlert(alert, /*transition=*/true);
  ASSERT_OK(store->Commit(batch));

  StateBatch purge = store->NewBatch();
  purge.DeleteModel("m");
  purge.DeleteAlert("f-m");
  purge.DeleteAlertTransition(absl::FromUnixSeconds(10), "f-m");
  ASSERT_OK(store->Commit(purge));

  std::multiset<std::string> models;
  auto note = [&](const std::string& what, const std::string& model) {
    models.insert(what + ":" + model);
    return absl::OkStatus();
  };
  ASSERT_OK(store->ForEachPane(
      [&](const std::string& model, absl::Time, absl::string_view) {
        return note("pane", model);
      }));
  ASSERT_OK(store->ForEachArchive(
      [&](const std::string& model, absl::Time, absl::string_view) {
        return note("archive", model);
      }));
  ASSERT_OK(store->ForEachCounters(
      [&](const std::string& model, const state::v1::ModelCountersState&) {
        return note("counters", model);
      }));
  ASSERT_OK(store->ForEachReference(
      [&](const std::string& model, const state::v1::ReferenceState&) {
        return note("reference", model);
      }));
  ASSERT_OK(store->ForEachCatalogue(
      [&](const std::string& model, const state::v1::CatalogueState&) {
        return note("catalogue", model);
      }));
  for (const std::string model : {"m", "mm", "a"}) {
    ASSERT_OK_AND_ASSIGN(auto versions, store->ListReferenceVersions(model));
    for (size_t i = 0; i < versions.size(); ++i) {
      ASSERT_OK(note("version", model));
    }
  }
  EXPECT_EQ(models, (std::multiset<std::string>{
                        "pane:a", "pane:a", "pane:mm", "pane:mm", "archive:a",
                        "archive:mm", "counters:a", "counters:mm",
                        "reference:a", "reference:mm", "catalogue:a",
                        "catalogue:mm", "version:a", "version:mm"}));
  ASSERT_OK_AND_ASSIGN(auto alerts, store->LoadAlerts());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].fingerprint(), "f-a");
  ASSERT_OK_AND_ASSIGN(auto history, store->LoadAlertHistory());
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].fingerprint(), "f-a");
}

}  // namespace
}  // namespace vigie::storage
