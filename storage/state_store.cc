#include "storage/state_store.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/direct_io.h"
#include "storage/keys.h"
#include "storage/rocksdb_status.h"

namespace vigie::storage {
namespace {

// Column families, in the order of their handles.
enum Family : size_t {
  kDefault = 0,
  kMeta,
  kIngestLog,
  kPending,
  kJoinMarks,
  kPanes,
  kCounters,
  kArchives,
  kAlerts,
  kAlertHistory,
  kReferences,
  kReferenceVersions,
  kCatalogues,
  kFamilyCount,
};
constexpr const char* kFamilyNames[kFamilyCount] = {
    "default",    "meta",          "ingest_log", "pending",
    "join_marks", "panes",         "counters",   "archives",
    "alerts",     "alert_history", "references", "reference_versions",
    "catalogues"};

constexpr char kCheckpointKey[] = "checkpoint";
// Prefixes of the meta family's operator records; '/' sorts after
// neither "checkpoint" nor the other prefix's keys, so each is a range.
constexpr char kSilencePrefix[] = "silence/";
constexpr char kAcknowledgementPrefix[] = "ack/";
constexpr char kKafkaPrefix[] = "kafka/";

// Kafka topic names are [a-zA-Z0-9._-]+: '/' cannot occur in them.
std::string KafkaKey(absl::string_view topic, int32_t partition) {
  return absl::StrCat(kKafkaPrefix, topic, "/", partition);
}

template <typename Message>
absl::StatusOr<Message> Decode(absl::string_view bytes,
                               absl::string_view what) {
  Message message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("stored ", what, " does not decode"));
  }
  return message;
}

}  // namespace

absl::Status StateStoreOptions::Validate() const {
  if (path.empty()) return absl::InvalidArgumentError("data path is empty");
  if (write_buffer_bytes < (size_t{4} << 20) ||
      write_buffer_bytes > (size_t{64} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("write_buffer_bytes must be in [4 MiB, 64 GiB], got ",
                     write_buffer_bytes));
  }
  if (ingest_log_buffer_bytes < (size_t{4} << 20) ||
      ingest_log_buffer_bytes > (size_t{64} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ingest_log_buffer_bytes must be in [4 MiB, 64 GiB], got ",
                     ingest_log_buffer_bytes));
  }
  if (block_cache_bytes < (size_t{1} << 20) ||
      block_cache_bytes > (size_t{64} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_cache_bytes must be in [1 MiB, 64 GiB], got ",
                     block_cache_bytes));
  }
  return absl::OkStatus();
}

struct StateStore::Rep {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> families;  // Owned; see ~Rep.
  rocksdb::WriteOptions write_options;
  // The ingest log's memtable size past which a commit that drops the log
  // has it flushed.
  uint64_t ingest_log_flush_bytes = 0;
  bool direct_io = false;

  ~Rep() {
    for (rocksdb::ColumnFamilyHandle* handle : families) {
      db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
  }
};

struct StateBatch::Rep {
  rocksdb::WriteBatch batch;
  const std::vector<rocksdb::ColumnFamilyHandle*>* families = nullptr;
  bool drops_ingest_log = false;  // DeleteIngestRecordsBefore was called.

  rocksdb::ColumnFamilyHandle* family(Family f) const { return (*families)[f]; }
  void Put(Family f, const std::string& key, absl::string_view value) {
    batch.Put(family(f), key, rocksdb::Slice(value.data(), value.size()))
        .PermitUncheckedError();  // Fails only on size overflow (4 GiB).
  }
  void Delete(Family f, const std::string& key) {
    batch.Delete(family(f), key).PermitUncheckedError();
  }
  void DeleteRange(Family f, const std::string& begin, const std::string& end) {
    batch.DeleteRange(family(f), begin, end).PermitUncheckedError();
  }
};

StateBatch::StateBatch(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
StateBatch::~StateBatch() = default;
StateBatch::StateBatch(StateBatch&&) noexcept = default;
StateBatch& StateBatch::operator=(StateBatch&&) noexcept = default;

void StateBatch::PutCheckpoint(const state::v1::CheckpointState& checkpoint) {
  rep_->Put(kMeta, kCheckpointKey, checkpoint.SerializeAsString());
}

void StateBatch::PutIngestRecord(uint64_t seq, absl::string_view bytes) {
  rep_->Put(kIngestLog, SeqKey(seq), bytes);
}

void StateBatch::DeleteIngestRecord(uint64_t seq) {
  rep_->Delete(kIngestLog, SeqKey(seq));
}

void StateBatch::DeleteIngestRecordsBefore(uint64_t seq) {
  rep_->DeleteRange(kIngestLog, SeqKey(0), SeqKey(seq));
  rep_->drops_ingest_log = true;
}

void StateBatch::PutPendingBlock(uint32_t block, absl::string_view bytes) {
  rep_->Put(kPending, BlockKey(block), bytes);
}

void StateBatch::PutPendingTombstones(uint32_t block, uint64_t checkpoint,
                                      absl::string_view bytes) {
  std::string key = BlockKey(block);
  AppendBigEndian(&key, checkpoint, 8);
  rep_->Put(kPending, key, bytes);
}

void StateBatch::DeletePendingBlock(uint32_t block) {
  // The block's key and its tombstones' keys all start with BlockKey(block)
  // and sort before BlockKey(block + 1); the last block has no successor.
  std::string end = BlockKey(block + 1);
  if (block == UINT32_MAX) end = BlockKey(block) + std::string(9, '\xff');
  rep_->DeleteRange(kPending, BlockKey(block), end);
}

void StateBatch::PutJoinMarkBlock(uint32_t block, absl::string_view bytes) {
  rep_->Put(kJoinMarks, BlockKey(block), bytes);
}

void StateBatch::DeleteJoinMarkBlock(uint32_t block) {
  rep_->Delete(kJoinMarks, BlockKey(block));
}

void StateBatch::PutPane(absl::string_view model_id, absl::Time pane_start,
                         absl::string_view bytes) {
  rep_->Put(kPanes, PaneKey(model_id, pane_start), bytes);
}

void StateBatch::DeletePane(absl::string_view model_id, absl::Time pane_start) {
  rep_->Delete(kPanes, PaneKey(model_id, pane_start));
}

void StateBatch::PutArchive(absl::string_view model_id, absl::Time until,
                            absl::string_view bytes) {
  rep_->Put(kArchives, std::string(model_id), TimeKey(until, bytes));
}

void StateBatch::PutCounters(absl::string_view model_id,
                             const state::v1::ModelCountersState& counters) {
  rep_->Put(kCounters, std::string(model_id), counters.SerializeAsString());
}

void StateBatch::PutReference(absl::string_view model_id,
                              const state::v1::ReferenceState& reference) {
  rep_->Put(kReferences, std::string(model_id), reference.SerializeAsString());
}

namespace {
std::string ReferenceVersionKey(absl::string_view model_id, uint32_t version) {
  return ModelIdKey(model_id, BlockKey(version));
}
}  // namespace

void StateBatch::PutReferenceVersion(
    absl::string_view model_id, const state::v1::ReferenceState& reference) {
  rep_->Put(kReferenceVersions,
            ReferenceVersionKey(model_id, reference.version()),
            reference.SerializeAsString());
}

void StateBatch::DeleteReferenceVersion(absl::string_view model_id,
                                        uint32_t version) {
  rep_->Delete(kReferenceVersions, ReferenceVersionKey(model_id, version));
}

void StateBatch::PutCatalogue(absl::string_view model_id,
                              const state::v1::CatalogueState& catalogue) {
  rep_->Put(kCatalogues, std::string(model_id), catalogue.SerializeAsString());
}

void StateBatch::PutKafkaPosition(
    const state::v1::KafkaPositionState& position) {
  rep_->Put(kMeta, KafkaKey(position.topic(), position.partition()),
            position.SerializeAsString());
}

void StateBatch::DeleteKafkaPosition(absl::string_view topic,
                                     int32_t partition) {
  rep_->Delete(kMeta, KafkaKey(topic, partition));
}

void StateBatch::DeleteModel(absl::string_view model_id) {
  // Pane and reference-version keys are the model's length-prefixed id and
  // 8 or 4 bytes: all sort before the prefix followed by nine 0xff bytes.
  const std::string prefix = ModelIdKey(model_id, "");
  const std::string end = prefix + std::string(9, '\xff');
  rep_->DeleteRange(kPanes, prefix, end);
  rep_->DeleteRange(kReferenceVersions, prefix, end);
  const std::string key(model_id);
  rep_->Delete(kArchives, key);
  rep_->Delete(kCounters, key);
  rep_->Delete(kReferences, key);
  rep_->Delete(kCatalogues, key);
}

void StateBatch::DeleteAlert(absl::string_view fingerprint) {
  rep_->Delete(kAlerts, std::string(fingerprint));
}

void StateBatch::DeleteAlertTransition(absl::Time at,
                                       absl::string_view fingerprint) {
  rep_->Delete(kAlertHistory, TimeKey(at, fingerprint));
}

void StateBatch::PutAlert(const vigie::v1::Alert& alert, bool transition) {
  const std::string bytes = alert.SerializeAsString();
  rep_->Put(kAlerts, alert.fingerprint(), bytes);
  if (transition) {
    const absl::Time at = absl::FromUnixSeconds(alert.updated_at().seconds()) +
                          absl::Nanoseconds(alert.updated_at().nanos());
    rep_->Put(kAlertHistory, TimeKey(at, alert.fingerprint()), bytes);
  }
}

size_t StateBatch::size() const {
  return static_cast<size_t>(rep_->batch.Count());
}

size_t StateBatch::bytes() const { return rep_->batch.GetDataSize(); }

StateStore::StateStore(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
StateStore::~StateStore() = default;

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(
    const StateStoreOptions& options) {
  RETURN_IF_ERROR(options.Validate());

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Point reads (a pending block for a join, a checkpoint) mostly hit:
  // Bloom filters still spare a read of each level's data block on the
  // rare miss.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

  rocksdb::ColumnFamilyOptions family_options;
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // LZ4 for the bulk, ZSTD for the cold bottom level: monitor state and
  // protobuf events compress well, and both codecs are in Debian's RocksDB.
  family_options.compression = rocksdb::kLZ4Compression;
  const size_t family_buffer =
      std::min(options.write_buffer_bytes / 4, size_t{16} << 20);
  family_options.write_buffer_size = family_buffer;
  family_options.bottommost_compression = rocksdb::kZSTD;
  // The ingest log: a memtable of its own budget, flushed after the
  // checkpoints that delete its records (Commit), and no compression, as
  // its records are sealed (encrypted) and do not compress.
  rocksdb::ColumnFamilyOptions log_options = family_options;
  log_options.write_buffer_size = options.ingest_log_buffer_bytes;
  log_options.compression = rocksdb::kNoCompression;
  log_options.bottommost_compression = rocksdb::kNoCompression;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Two cores: one background job for flushes and one for compactions.
  db_options.max_background_jobs = 2;
  db_options.db_write_buffer_size =
      options.write_buffer_bytes + options.ingest_log_buffer_bytes;
  // A write-ahead-log file is deleted only once every family's memtable
  // holding its writes is flushed; families written rarely (meta, counters)
  // would keep gigabytes of the ingest log's churn alive. Past this total
  // RocksDB flushes them.
  db_options.max_total_wal_size = 4 * options.write_buffer_bytes;
  // RocksDB creates the directory too, but the probe needs it first.
  bool direct_io = false;
  if (options.direct_io) {
    std::error_code error;
    std::filesystem::create_directories(options.path, error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot create state directory ",
                                              options.path, ": ",
                                              error.message()));
    }
    ASSIGN_OR_RETURN(direct_io, DirectIoSupported(options.path));
  }
  db_options.use_direct_io_for_flush_and_compaction = direct_io;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t f = 0; f < kFamilyCount; ++f) {
    descriptors.emplace_back(kFamilyNames[f],
                             f == kIngestLog ? log_options : family_options);
  }
  auto rep = std::make_unique<Rep>();
  rocksdb::DB* db = nullptr;
  RETURN_IF_ERROR(
      FromRocksDb(rocksdb::DB::Open(db_options, options.path, descriptors,
                                    &rep->families, &db),
                  absl::StrCat("open state store at ", options.path)));
  rep->db.reset(db);
  rep->write_options.sync = options.sync_commits;
  rep->ingest_log_flush_bytes = family_buffer;
  rep->direct_io = direct_io;
  return std::unique_ptr<StateStore>(new StateStore(std::move(rep)));
}

StateBatch StateStore::NewBatch() const {
  auto rep = std::make_unique<StateBatch::Rep>();
  rep->families = &rep_->families;
  return StateBatch(std::move(rep));
}

absl::Status StateStore::Commit(StateBatch& batch) {
  rocksdb::WriteBatch* write = &batch.rep_->batch;
  if (write->Count() == 0) return absl::OkStatus();
  RETURN_IF_ERROR(FromRocksDb(rep_->db->Write(rep_->write_options, write),
                              "commit state batch"));
  batch.rep_->batch.Clear();
  if (batch.rep_->drops_ingest_log) {
    batch.rep_->drops_ingest_log = false;
    FlushDroppedIngestLog();
  }
  return absl::OkStatus();
}

void StateStore::FlushDroppedIngestLog() {
  rocksdb::ColumnFamilyHandle* log = rep_->families[kIngestLog];
  uint64_t size = 0;
  if (!rep_->db->GetIntProperty(
          log, rocksdb::DB::Properties::kCurSizeActiveMemTable, &size) ||
      size < rep_->ingest_log_flush_bytes) {
    return;
  }
  rocksdb::FlushOptions flush;
  flush.wait = false;  // In the background: the commit is done.
  flush.allow_write_stall = true;
  // If RocksDB cannot flush now, it flushes once the memtable is full.
  rep_->db->Flush(flush, log).PermitUncheckedError();
}

absl::Status StateStore::CompactAll() {
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForce;
  for (size_t i = 0; i < rep_->families.size(); ++i) {
    RETURN_IF_ERROR(FromRocksDb(
        rep_->db->CompactRange(options, rep_->families[i], nullptr, nullptr),
        absl::StrCat("compact column family ", kFamilyNames[i])));
  }
  return absl::OkStatus();
}

namespace {

// Reads `key` of `family`. Empty when absent.
absl::StatusOr<std::optional<std::string>> Read(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
    const std::string& key) {
  std::string value;
  rocksdb::Status status = db->Get(rocksdb::ReadOptions(), family, key, &value);
  if (status.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocksDb(status, "read state"));
  return value;
}

// Calls `fn(key, value)` for every record of `family` from `from` on.
absl::Status Scan(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
    const std::function<absl::Status(absl::string_view, absl::string_view)>& fn,
    const std::string& from = "") {
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), family));
  for (it->Seek(from); it->Valid(); it->Next()) {
    RETURN_IF_ERROR(
        fn(absl::string_view(it->key().data(), it->key().size()),
           absl::string_view(it->value().data(), it->value().size())));
  }
  return FromRocksDb(it->status(), "scan state");
}

// Calls `fn(value)` for every record of `family` whose key starts with
// `prefix`.
absl::Status ScanPrefix(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
    absl::string_view prefix,
    const std::function<absl::Status(absl::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), family));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Valid() &&
       it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Next()) {
    RETURN_IF_ERROR(
        fn(absl::string_view(it->value().data(), it->value().size())));
  }
  return FromRocksDb(it->status(), "scan state");
}

}  // namespace

absl::StatusOr<std::optional<state::v1::CheckpointState>>
StateStore::GetCheckpoint() const {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                   Read(rep_->db.get(), rep_->families[kMeta], kCheckpointKey));
  if (!bytes.has_value()) return std::nullopt;
  return Decode<state::v1::CheckpointState>(*bytes, "checkpoint");
}

absl::StatusOr<std::optional<std::string>> StateStore::GetPrivacyValue(
    absl::string_view name) const {
  return Read(rep_->db.get(), rep_->families[kMeta],
              absl::StrCat("privacy/", name));
}

absl::Status StateStore::PutPrivacyValue(absl::string_view name,
                                         absl::string_view value) {
  return FromRocksDb(rep_->db->Put(rep_->write_options, rep_->families[kMeta],
                                   absl::StrCat("privacy/", name),
                                   rocksdb::Slice(value.data(), value.size())),
                     "write privacy value");
}

absl::StatusOr<std::string> StateStore::GetPendingBlock(uint32_t block) const {
  ASSIGN_OR_RETURN(
      std::optional<std::string> bytes,
      Read(rep_->db.get(), rep_->families[kPending], BlockKey(block)));
  if (!bytes.has_value()) {
    return absl::DataLossError(
        absl::StrCat("pending block ", block, " is missing"));
  }
  return *std::move(bytes);
}

absl::StatusOr<std::string> StateStore::GetJoinMarkBlock(uint32_t block) const {
  ASSIGN_OR_RETURN(
      std::optional<std::string> bytes,
      Read(rep_->db.get(), rep_->families[kJoinMarks], BlockKey(block)));
  if (!bytes.has_value()) {
    return absl::DataLossError(
        absl::StrCat("join-mark block ", block, " is missing"));
  }
  return *std::move(bytes);
}

absl::Status StateStore::ForEachIngestRecord(
    uint64_t from_seq,
    const std::function<absl::Status(uint64_t, absl::string_view)>& fn) const {
  return Scan(
      rep_->db.get(), rep_->families[kIngestLog],
      [&](absl::string_view key, absl::string_view value) -> absl::Status {
        std::optional<uint64_t> seq = ReadBigEndian(key, 8);
        if (!seq.has_value() || key.size() != 8) {
          return absl::DataLossError("malformed ingest log key");
        }
        return fn(*seq, value);
      },
      SeqKey(from_seq));
}

absl::Status StateStore::ForEachPendingBlock(
    const std::function<absl::Status(uint32_t, absl::string_view,
                                     const std::vector<std::string>&)>& fn)
    const {
  // A block's key comes first, then its tombstones' (longer, same prefix).
  std::optional<uint32_t> block;
  std::string bytes;
  std::vector<std::string> tombstones;
  auto flush = [&]() -> absl::Status {
    if (!block.has_value()) return absl::OkStatus();
    absl::Status status = fn(*block, bytes, tombstones);
    block.reset();
    tombstones.clear();
    return status;
  };
  RETURN_IF_ERROR(Scan(
      rep_->db.get(), rep_->families[kPending],
      [&](absl::string_view key, absl::string_view value) -> absl::Status {
        std::optional<uint64_t> number = ReadBigEndian(key, 4);
        if (!number.has_value() || (key.size() != 4 && key.size() != 12)) {
          return absl::DataLossError("malformed pending block key");
        }
        if (key.size() == 4) {
          RETURN_IF_ERROR(flush());
          block = static_cast<uint32_t>(*number);
          bytes.assign(value.data(), value.size());
          return absl::OkStatus();
        }
        if (!block.has_value() || *block != *number) {
          return absl::DataLossError(absl::StrCat(
              "tombstones of pending block ", *number, " without the block"));
        }
        tombstones.emplace_back(value);
        return absl::OkStatus();
      }));
  return flush();
}

absl::Status StateStore::ForEachJoinMarkBlock(
    const std::function<absl::Status(uint32_t, absl::string_view)>& fn) const {
  return Scan(rep_->db.get(), rep_->families[kJoinMarks],
              [&](absl::string_view key, absl::string_view value) {
                std::optional<uint64_t> block = ReadBigEndian(key, 4);
                if (!block.has_value() || key.size() != 4) {
                  return absl::DataLossError("malformed join-mark block key");
                }
                return fn(static_cast<uint32_t>(*block), value);
              });
}

absl::Status StateStore::ForEachPane(
    const std::function<absl::Status(const std::string&, absl::Time,
                                     absl::string_view)>& fn) const {
  return Scan(rep_->db.get(), rep_->families[kPanes],
              [&](absl::string_view key, absl::string_view value) {
                std::optional<ModelTime> decoded = DecodePaneKey(key);
                if (!decoded.has_value()) {
                  return absl::DataLossError("malformed pane key");
                }
                return fn(decoded->model_id, decoded->time, value);
              });
}

absl::Status StateStore::ForEachArchive(
    const std::function<absl::Status(const std::string&, absl::Time,
                                     absl::string_view)>& fn) const {
  return Scan(rep_->db.get(), rep_->families[kArchives],
              [&](absl::string_view key, absl::string_view value) {
                std::optional<absl::Time> until = DecodeTimeKey(value);
                if (!until.has_value()) {
                  return absl::DataLossError("malformed archive");
                }
                return fn(std::string(key), *until, value.substr(8));
              });
}

absl::Status StateStore::ForEachReference(
    const std::function<absl::Status(
        const std::string&, const state::v1::ReferenceState&)>& fn) const {
  return Scan(
      rep_->db.get(), rep_->families[kReferences],
      [&](absl::string_view key, absl::string_view value) -> absl::Status {
        ASSIGN_OR_RETURN(auto reference, Decode<state::v1::ReferenceState>(
                                             value, "reference window"));
        return fn(std::string(key), reference);
      });
}

absl::StatusOr<std::optional<state::v1::ReferenceState>>
StateStore::GetReferenceVersion(absl::string_view model_id,
                                uint32_t version) const {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                   Read(rep_->db.get(), rep_->families[kReferenceVersions],
                        ReferenceVersionKey(model_id, version)));
  if (!bytes.has_value()) return std::nullopt;
  return Decode<state::v1::ReferenceState>(*bytes, "reference version");
}

absl::StatusOr<std::vector<state::v1::ReferenceState>>
StateStore::ListReferenceVersions(absl::string_view model_id) const {
  std::vector<state::v1::ReferenceState> versions;
  RETURN_IF_ERROR(ScanPrefix(
      rep_->db.get(), rep_->families[kReferenceVersions],
      ModelIdKey(model_id, ""), [&](absl::string_view value) -> absl::Status {
        ASSIGN_OR_RETURN(
            state::v1::ReferenceState version,
            Decode<state::v1::ReferenceState>(value, "reference version"));
        version.clear_monitors();
        versions.push_back(std::move(version));
        return absl::OkStatus();
      }));
  return versions;
}

absl::StatusOr<std::optional<state::v1::CatalogueState>>
StateStore::GetCatalogue(absl::string_view model_id) const {
  ASSIGN_OR_RETURN(
      std::optional<std::string> bytes,
      Read(rep_->db.get(), rep_->families[kCatalogues], std::string(model_id)));
  if (!bytes.has_value()) return std::nullopt;
  return Decode<state::v1::CatalogueState>(*bytes, "item catalogue");
}

absl::Status StateStore::ForEachCatalogue(
    const std::function<absl::Status(
        const std::string&, const state::v1::CatalogueState&)>& fn) const {
  return Scan(
      rep_->db.get(), rep_->families[kCatalogues],
      [&](absl::string_view key, absl::string_view value) -> absl::Status {
        ASSIGN_OR_RETURN(auto catalogue, Decode<state::v1::CatalogueState>(
                                             value, "item catalogue"));
        return fn(std::string(key), catalogue);
      });
}

absl::Status StateStore::ForEachCounters(
    const std::function<absl::Status(
        const std::string&, const state::v1::ModelCountersState&)>& fn) const {
  return Scan(
      rep_->db.get(), rep_->families[kCounters],
      [&](absl::string_view key, absl::string_view value) -> absl::Status {
        ASSIGN_OR_RETURN(auto counters, Decode<state::v1::ModelCountersState>(
                                            value, "model counters"));
        return fn(std::string(key), counters);
      });
}

absl::StatusOr<std::vector<vigie::v1::Alert>> StateStore::LoadAlerts() const {
  std::vector<vigie::v1::Alert> alerts;
  RETURN_IF_ERROR(Scan(
      rep_->db.get(), rep_->families[kAlerts],
      [&](absl::string_view, absl::string_view value) -> absl::Status {
        ASSIGN_OR_RETURN(auto alert, Decode<vigie::v1::Alert>(value, "alert"));
        alerts.push_back(std::move(alert));
        return absl::OkStatus();
      }));
  return alerts;
}

absl::StatusOr<std::vector<vigie::v1::Alert>> StateStore::LoadAlertHistory()
    const {
  std::vector<vigie::v1::Alert> alerts;
  RETURN_IF_ERROR(
      Scan(rep_->db.get(), rep_->families[kAlertHistory],
           [&](absl::string_view, absl::string_view value) -> absl::Status {
             ASSIGN_OR_RETURN(auto alert,
                              Decode<vigie::v1::Alert>(value, "alert history"));
             alerts.push_back(std::move(alert));
             return absl::OkStatus();
           }));
  return alerts;
}

absl::StatusOr<bool> StateStore::ForgetAlertHistoryBefore(absl::Time before) {
  rocksdb::ColumnFamilyHandle* family = rep_->families[kAlertHistory];
  {
    std::unique_ptr<rocksdb::Iterator> it(
        rep_->db->NewIterator(rocksdb::ReadOptions(), family));
    it->SeekToFirst();
    RETURN_IF_ERROR(FromRocksDb(it->status(), "read the alert history"));
    if (!it->Valid()) return false;
    const std::optional<absl::Time> oldest =
        DecodeTimeKey(absl::string_view(it->key().data(), it->key().size()));
    if (oldest.has_value() && *oldest >= before) return false;
  }
  // Keys are (time, fingerprint), in time order: everything before
  // `before` is below its bare time prefix.
  RETURN_IF_ERROR(FromRocksDb(
      rep_->db->DeleteRange(rep_->write_options, family, rocksdb::Slice(""),
                            TimeKey(before, "")),
      "forget old alert history"));
  return true;
}

absl::Status StateStore::ForEachKafkaPosition(
    const std::function<absl::Status(const state::v1::KafkaPositionState&)>& fn)
    const {
  return ScanPrefix(rep_->db.get(), rep_->families[kMeta], kKafkaPrefix,
                    [&](absl::string_view value) -> absl::Status {
                      ASSIGN_OR_RETURN(auto position,
                                       Decode<state::v1::KafkaPositionState>(
                                           value, "kafka position"));
                      return fn(position);
                    });
}

absl::Status StateStore::PutSilence(const vigie::v1::Silence& silence) {
  return FromRocksDb(rep_->db->Put(rep_->write_options, rep_->families[kMeta],
                                   absl::StrCat(kSilencePrefix, silence.id()),
                                   silence.SerializeAsString()),
                     "write silence");
}

absl::Status StateStore::DeleteSilence(absl::string_view id) {
  return FromRocksDb(
      rep_->db->Delete(rep_->write_options, rep_->families[kMeta],
                       absl::StrCat(kSilencePrefix, id)),
      "delete silence");
}

absl::StatusOr<std::vector<vigie::v1::Silence>> StateStore::LoadSilences()
    const {
  std::vector<vigie::v1::Silence> silences;
  RETURN_IF_ERROR(ScanPrefix(
      rep_->db.get(), rep_->families[kMeta], kSilencePrefix,
      [&](absl::string_view value) -> absl::Status {
        ASSIGN_OR_RETURN(auto silence,
                         Decode<vigie::v1::Silence>(value, "silence"));
        silences.push_back(std::move(silence));
        return absl::OkStatus();
      }));
  return silences;
}

absl::Status StateStore::PutAcknowledgement(
    const state::v1::AcknowledgementState& acknowledgement) {
  return FromRocksDb(rep_->db->Put(rep_->write_options, rep_->families[kMeta],
                                   absl::StrCat(kAcknowledgementPrefix,
                                                acknowledgement.fingerprint()),
                                   acknowledgement.SerializeAsString()),
                     "write acknowledgement");
}

absl::Status StateStore::DeleteAcknowledgement(absl::string_view fingerprint) {
  return FromRocksDb(
      rep_->db->Delete(rep_->write_options, rep_->families[kMeta],
                       absl::StrCat(kAcknowledgementPrefix, fingerprint)),
      "delete acknowledgement");
}

absl::StatusOr<std::vector<state::v1::AcknowledgementState>>
StateStore::LoadAcknowledgements() const {
  std::vector<state::v1::AcknowledgementState> acknowledgements;
  RETURN_IF_ERROR(ScanPrefix(
      rep_->db.get(), rep_->families[kMeta], kAcknowledgementPrefix,
      [&](absl::string_view value) -> absl::Status {
        ASSIGN_OR_RETURN(
            auto acknowledgement,
            Decode<state::v1::AcknowledgementState>(value, "acknowledgement"));
        acknowledgements.push_back(std::move(acknowledgement));
        return absl::OkStatus();
      }));
  return acknowledgements;
}

bool StateStore::direct_io() const { return rep_->direct_io; }

StateStore::Size StateStore::ApproximateSize() const {
  Size size;
  for (rocksdb::ColumnFamilyHandle* family : rep_->families) {
    uint64_t value = 0;
    if (rep_->db->GetIntProperty(family, "rocksdb.total-sst-files-size",
                                 &value)) {
      size.sst_bytes += value;
    }
    if (rep_->db->GetIntProperty(family, "rocksdb.cur-size-all-mem-tables",
                                 &value)) {
      size.memtable_bytes += value;
    }
  }
  return size;
}

}  // namespace vigie::storage
