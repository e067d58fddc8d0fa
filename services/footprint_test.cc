#include "services/footprint.h"

#include <sys/resource.h>

#include <chrono>

#include "gtest/gtest.h"

namespace vigie::services {
namespace {

TEST(FootprintTest, ParsesWriteBytesOfProcIo) {
  EXPECT_EQ(ParseWriteBytes("rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\n"
                            "read_bytes: 4096\nwrite_bytes: 81920\n"
                            "cancelled_write_bytes: 0\n"),
            81920u);
  // cancelled_write_bytes is another field.
  EXPECT_EQ(ParseWriteBytes("cancelled_write_bytes: 5\n"), std::nullopt);
  EXPECT_EQ(ParseWriteBytes("write_bytes: lots\n"), std::nullopt);
  EXPECT_EQ(ParseWriteBytes(""), std::nullopt);
}

TEST(FootprintTest, CpuTimeGrowsWithWork) {
  const double before = ReadProcessFootprint().cpu_seconds;
  // Spin for 50 ms of wall time on this thread: CPU time must follow.
  volatile uint64_t sink = 0;
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
  const double after = ReadProcessFootprint().cpu_seconds;
  EXPECT_GT(after, before);
  // At most the wall time elapsed per thread (a few threads at most here)
  // plus the clock's granularity.
  EXPECT_LT(after - before, 1.0);
}

}  // namespace
}  // namespace vigie::services
