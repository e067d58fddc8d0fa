#include "bench/ingest/rocksdb_baseline.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/ingest/scratch_dir.h"
#include "common/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "storage/keys.h"
#include "storage/rocksdb_status.h"

namespace vigie::bench {

using storage::FromRocksDb;

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
PredictionRecords(const IngestLoadOptions& options) {
  std::vector<std::pair<std::string, std::string>> records;
  records.reserve(static_cast<size_t>(options.predictions));
  RETURN_IF_ERROR(ForEachEvent(options, [&](v1::Event& event) {
    if (!event.has_prediction()) return;
    const v1::Prediction& p = event.prediction();
    records.emplace_back(storage::ModelIdKey(p.model_id(), p.prediction_id()),
                         p.SerializeAsString());
  }));
  return records;
}

absl::StatusOr<PutBaseline> RunPutBaseline(
    const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& records) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocksDb(rocksdb::DB::Open(options, path, &raw),
                              absl::StrCat("open ", path)));
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write;  // WAL on, no fsync: as the server commits.
  write.sync = false;
  write.disableWAL = false;

  PutBaseline result;
  const absl::Time start = absl::Now();
  for (const auto& [key, value] : records) {
    RETURN_IF_ERROR(FromRocksDb(db->Put(write, key, value), "put"));
  }
  result.elapsed = absl::Now() - start;
  for (const auto& [key, value] : records) {
    result.key_bytes += key.size();
    result.value_bytes += value.size();
  }
  result.puts = records.size();
  RETURN_IF_ERROR(FromRocksDb(db->Close(), "close"));
  db.reset();
  ASSIGN_OR_RETURN(result.disk, MeasureDirectory(path));
  return result;
}

}  // namespace vigie::bench
