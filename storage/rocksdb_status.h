#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace vigie::storage {

// The one conversion of RocksDB's status into ours; `context` says what was
// being done ("open ./vigie-data").
absl::Status FromRocksDb(const rocksdb::Status& status,
                         absl::string_view context);

}  // namespace vigie::storage
