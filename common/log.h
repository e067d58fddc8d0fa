#pragma once

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

// Minimal leveled logging to stderr (this Abseil has no absl/log). One line
// per call, prefixed with UTC time and level, written with a single write so
// that lines of concurrent threads do not interleave. Thread-safe.
//
//   VIGIE_LOG(Info, "listening on ", address);

namespace vigie::common {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below `level` are dropped. Default: kInfo. The one process-wide
// setting in Vigie, set once by main (tests leave it alone).
void SetMinLogLevel(LogLevel level);

void LogLine(LogLevel level, absl::string_view file, int line,
             absl::string_view message);

}  // namespace vigie::common

#define VIGIE_LOG(level, ...)                                             \
  ::vigie::common::LogLine(::vigie::common::LogLevel::k##level, __FILE__, \
                           __LINE__, ::absl::StrCat(__VA_ARGS__))
