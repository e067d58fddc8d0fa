#include "storage/direct_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vigie::storage {
namespace {

// O_DIRECT transfers must be aligned to the device's logical block size,
// 512 or 4096 bytes: 4096 suits both.
constexpr size_t kBlock = 4096;

absl::Status ErrnoError(absl::string_view what, const std::string& path,
                        int error) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(error)));
}

}  // namespace

absl::StatusOr<bool> DirectIoSupported(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/.direct-io-probe");
  const int fd = ::open(
      path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == EINVAL) return false;
    return ErrnoError("cannot create", path, error);
  }
  std::unique_ptr<void, decltype(&std::free)> buffer(
      std::aligned_alloc(kBlock, kBlock), &std::free);
  if (buffer == nullptr) {
    ::close(fd);
    ::unlink(path.c_str());
    return absl::ResourceExhaustedError("cannot allocate a probe block");
  }
  std::memset(buffer.get(), 0, kBlock);
  const ssize_t written = ::write(fd, buffer.get(), kBlock);
  const int write_error = errno;
  ::close(fd);
  ::unlink(path.c_str());
  if (written == static_cast<ssize_t>(kBlock)) return true;
  if (written < 0 && write_error == EINVAL) return false;
  if (written < 0) return ErrnoError("cannot write", path, write_error);
  return absl::InternalError(
      absl::StrCat("short write of ", written, " bytes to ", path));
}

}  // namespace vigie::storage
