#include "storage/direct_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::storage {
namespace {

// The kernel's own answer, asked the long way: a file opened with O_DIRECT
// and one aligned block written through it.
bool KernelWritesDirectly(const std::string& dir) {
  const std::string path = dir + "/independent";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0600);
  if (fd < 0) return false;
  void* block = nullptr;
  bool written = false;
  if (posix_memalign(&block, 4096, 4096) == 0) {
    std::memset(block, 7, 4096);
    written = ::write(fd, block, 4096) == 4096;
    std::free(block);
  }
  ::close(fd);
  ::unlink(path.c_str());
  return written;
}

TEST(DirectIoTest, AgreesWithTheKernelAndLeavesNothingBehind) {
  testutil::TempDir dir;
  ASSERT_OK_AND_ASSIGN(const bool supported, DirectIoSupported(dir.path()));
  EXPECT_EQ(supported, KernelWritesDirectly(dir.path()));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(DirectIoTest, ADirectoryThatIsNotThereIsAnError) {
  testutil::TempDir dir;
  const std::string missing = dir.Join("missing");
  const absl::StatusOr<bool> supported = DirectIoSupported(missing);
  ASSERT_FALSE(supported.ok());
  EXPECT_NE(supported.status().message().find(missing), std::string::npos)
      << supported.status();
}

}  // namespace
}  // namespace vigie::storage
