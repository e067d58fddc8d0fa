#ifndef VIGIE_STORAGE_ROCKSDB_STATUS_H_
#define VIGIE_STORAGE_ROCKSDB_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace vigie::storage {

// The one conversion of RocksDB's status into ours; `context` says what was
// being done ("open ./vigie-data").
absl::Status FromRocksDb(const rocksdb::Status& status,
                         absl::string_view context);

}  // namespace vigie::storage

#endif  // VIGIE_STORAGE_ROCKSDB_STATUS_H_
