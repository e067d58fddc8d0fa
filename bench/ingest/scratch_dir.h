#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace vigie::bench {

// A fresh directory under `parent` (empty: $TMPDIR, else /tmp), removed with
// its contents on destruction. Not thread-safe.
class ScratchDir {
 public:
  static absl::StatusOr<ScratchDir> Create(const std::string& parent);
  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&& other) = delete;
  ~ScratchDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Join(const std::string& name) const;

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;  // Empty once moved from.
};

// The bytes a RocksDB folder takes: apparent sizes of the regular files
// under it, recursively (not blocks).
struct DiskUsage {
  uint64_t total = 0;
  uint64_t wal = 0;  // Write-ahead log files, "*.log".
  uint64_t sst = 0;  // Table files, "*.sst".
};
absl::StatusOr<DiskUsage> MeasureDirectory(const std::string& path);

}  // namespace vigie::bench
