// The write of a checkpoint into a real RocksDB on disk, through
// storage::StateStore, with the records Pipeline::CheckpointLocked writes
// (services/pipeline.cc): for each model with a changed pane, the pane's
// state serialized (a vigie.state.v1.PaneState) and put, and the model's
// counters; then the CheckpointState (the ingest-log position and block
// numbers it stands at) and the deletion of the ingest log it absorbed; all
// in one batch, committed through the write-ahead log. The checkpoint
// itself lives in services/, whose Pipeline also evaluates rules and
// publishes panes before writing: this times the storage-level write of the
// same records, serialization included.
//
// Beside it, a bare baseline: the same bytes, already serialized, in one
// rocksdb::WriteBatch on a database with RocksDB's default options.
//
// Times are real (wall-clock) times: a checkpoint holds the pipeline's
// lock until RocksDB has written its batch, waiting on the disk with sync.
//
// Every database lives in a fresh folder under $TMPDIR (else /tmp), removed
// when the benchmark ends. Arguments: models with a changed pane (one
// pane each, the current hour: a checkpoint is taken every second by
// default, so a pane changes between two), and whether commits fsync
// (storage's sync_commits; off by default).

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/fixtures/model_events.h"
#include "bench/ingest/scratch_dir.h"
#include "benchmark/benchmark.h"
#include "monitors/model_monitors.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "storage/keys.h"
#include "storage/state_store.h"
#include "vigie/state/v1/state.pb.h"

namespace {

using vigie::monitors::ModelMonitors;

// Ingest-log records written between two checkpoints (untimed), so that
// the checkpoint's range deletion covers real records: 10 requests of 40
// kB. A second of real ingest logs about 100 times as much, but writing it
// before each of thousands of timed checkpoints would take the run hours
// and charge ingest's memtable flushes to the checkpoint.
constexpr int kRecordsBetweenCheckpoints = 10;
constexpr size_t kRecordBytes = 40 * 1000;

// Four hour panes of 100,000 joined predictions (their sketches past the
// exact phase), from differently shifted streams; model m has pane m % 4.
// Built once and shared by every run: filling them takes seconds.
const std::vector<ModelMonitors>& Panes() {
  static const auto* const panes = [] {
    auto* built = new std::vector<ModelMonitors>();
    for (uint64_t p = 0; p < 4; ++p) {
      built->push_back(vigie::bench::FillPane(
          vigie::bench::MakeLabeledPredictions(
              4096, /*seed=*/p + 1, /*shift=*/0.05 * static_cast<double>(p)),
          100'000));
    }
    return built;
  }();
  return *panes;
}

vigie::state::v1::ModelCountersState Counters() {
  vigie::state::v1::ModelCountersState counters;
  counters.set_predictions(3'600'000);
  counters.set_outcomes(3'400'000);
  counters.set_joined(3'400'000);
  counters.set_pending_predictions(200'000);
  counters.mutable_watermark()->set_seconds(1'767'229'200);
  return counters;
}

std::string ModelId(int64_t m) { return absl::StrCat("model-", m); }

const absl::Time kPaneStart = absl::FromUnixSeconds(1'767'225'600);

// Fills the ingest log as ingest does between two checkpoints.
void LogIngest(vigie::storage::StateStore& store, uint64_t& next_seq,
               const std::string& record) {
  vigie::storage::StateBatch batch = store.NewBatch();
  for (int i = 0; i < kRecordsBetweenCheckpoints; ++i) {
    batch.PutIngestRecord(next_seq++, record);
  }
  if (!store.Commit(batch).ok()) std::abort();
}

// Both programs' arguments: models checkpointed, and whether the write is
// synced. The disk's time is what is measured, so real time.
void CheckpointArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"models", "sync"})
      ->Args({1, 0})
      ->Args({10, 0})
      ->Args({100, 0})
      ->Args({1, 1})
      ->Args({10, 1})
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

void BM_CheckpointWrite(benchmark::State& state) {
  const int64_t models = state.range(0);
  const std::vector<ModelMonitors>& panes = Panes();
  const vigie::state::v1::ModelCountersState counters = Counters();
  auto scratch = *vigie::bench::ScratchDir::Create("");
  vigie::storage::StateStoreOptions options;
  options.path = scratch.Join("db");
  options.sync_commits = state.range(1) != 0;
  std::unique_ptr<vigie::storage::StateStore> store =
      *vigie::storage::StateStore::Open(options);
  const std::string record(kRecordBytes, 'r');
  uint64_t next_seq = 0;
  uint64_t number = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    LogIngest(*store, next_seq, record);
    state.ResumeTiming();
    vigie::storage::StateBatch batch = store->NewBatch();
    for (int64_t m = 0; m < models; ++m) {
      const std::string pane =
          panes[static_cast<size_t>(m) % panes.size()].Serialize();
      batch.PutPane(ModelId(m), kPaneStart, pane);
      batch.PutCounters(ModelId(m), counters);
    }
    vigie::state::v1::CheckpointState checkpoint;
    checkpoint.set_format(2);
    checkpoint.set_next_ingest_seq(next_seq);
    checkpoint.set_number(++number);
    checkpoint.mutable_taken_at()->set_seconds(1'767'229'200);
    batch.PutCheckpoint(checkpoint);
    batch.DeleteIngestRecordsBefore(next_seq);
    bytes += static_cast<int64_t>(batch.bytes());
    if (!store->Commit(batch).ok()) {
      state.SkipWithError("commit failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());  // Checkpoints.
  state.SetBytesProcessed(bytes);
  state.counters["pane_bytes"] =
      static_cast<double>(panes[0].Serialize().size());
}
BENCHMARK(BM_CheckpointWrite)->Apply(CheckpointArgs);

// The floor: the same keys and already-serialized values in one
// rocksdb::WriteBatch on a database of default options (one column family),
// the ingest log deleted with a range deletion as StateStore does.
void BM_CheckpointWriteBaseline(benchmark::State& state) {
  const int64_t models = state.range(0);
  const std::vector<ModelMonitors>& panes = Panes();
  std::vector<std::string> pane_bytes;
  for (const ModelMonitors& pane : panes)
    pane_bytes.push_back(pane.Serialize());
  const std::string counters = Counters().SerializeAsString();
  auto scratch = *vigie::bench::ScratchDir::Create("");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, scratch.Join("db"), &raw).ok()) {
    state.SkipWithError("cannot open RocksDB");
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write_options;
  write_options.sync = state.range(1) != 0;
  const std::string record(kRecordBytes, 'r');
  uint64_t next_seq = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    rocksdb::WriteBatch log;
    for (int i = 0; i < kRecordsBetweenCheckpoints; ++i) {
      if (!log.Put(vigie::storage::SeqKey(next_seq++), record).ok()) {
        std::abort();
      }
    }
    if (!db->Write(rocksdb::WriteOptions(), &log).ok()) std::abort();
    state.ResumeTiming();
    rocksdb::WriteBatch batch;
    bool ok = true;
    for (int64_t m = 0; m < models; ++m) {
      ok &= batch
                .Put(vigie::storage::PaneKey(ModelId(m), kPaneStart),
                     pane_bytes[static_cast<size_t>(m) % pane_bytes.size()])
                .ok();
      ok &= batch.Put(absl::StrCat("counters/", ModelId(m)), counters).ok();
    }
    ok &= batch.Put("checkpoint", absl::StrCat(next_seq)).ok();
    ok &= batch
              .DeleteRange(vigie::storage::SeqKey(0),
                           vigie::storage::SeqKey(next_seq))
              .ok();
    bytes += static_cast<int64_t>(batch.GetDataSize());
    if (!ok || !db->Write(write_options, &batch).ok()) {
      state.SkipWithError("write failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());  // Checkpoints.
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_CheckpointWriteBaseline)->Apply(CheckpointArgs);

}  // namespace
