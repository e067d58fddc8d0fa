#include "services/footprint.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigie::services {

std::optional<uint64_t> ParseWriteBytes(absl::string_view proc_io) {
  for (absl::string_view line : absl::StrSplit(proc_io, '\n')) {
    if (!absl::ConsumePrefix(&line, "write_bytes:")) continue;
    uint64_t bytes = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &bytes)) {
      return bytes;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

ProcessFootprint ReadProcessFootprint() {
  ProcessFootprint footprint;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    footprint.cpu_seconds =
        static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) *
            1e-6;
  }
  std::ifstream io("/proc/self/io");
  if (io) {
    std::stringstream text;
    text << io.rdbuf();
    footprint.written_bytes = ParseWriteBytes(text.str());
  }
  return footprint;
}

}  // namespace vigie::services
