#include "bench/ingest/scratch_dir.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vigie::bench {

absl::StatusOr<ScratchDir> ScratchDir::Create(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmpdir =
        std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
    base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  }
  std::string pattern = base + "/vigie-loadgen-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a directory like ", pattern));
  }
  return ScratchDir(std::string(buffer.data()));
}

ScratchDir::ScratchDir(ScratchDir&& other) noexcept
    : path_(std::exchange(other.path_, std::string())) {}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  std::error_code ignored;  // Nothing to do about a leftover folder.
  std::filesystem::remove_all(path_, ignored);
}

std::string ScratchDir::Join(const std::string& name) const {
  return path_ + "/" + name;
}

absl::StatusOr<DiskUsage> MeasureDirectory(const std::string& path) {
  std::error_code error;
  DiskUsage usage;
  for (auto it = std::filesystem::recursive_directory_iterator(path, error);
       !error && it != std::filesystem::recursive_directory_iterator();
       it.increment(error)) {
    // A live database deletes files as it compacts: one gone since it was
    // listed no longer counts.
    std::error_code gone;
    const uint64_t size = it->is_regular_file(gone) ? it->file_size(gone) : 0;
    if (gone) continue;
    usage.total += size;
    const std::filesystem::path extension = it->path().extension();
    if (extension == ".log") usage.wal += size;
    if (extension == ".sst") usage.sst += size;
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot measure ", path, ": ", error.message()));
  }
  return usage;
}

}  // namespace vigie::bench
