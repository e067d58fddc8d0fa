#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

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

// kText: "2026-01-05T10:00:00.123Z INFO file.cc:12] message".
// kJson: one JSON object per line, for log collectors:
//   {"time":"2026-01-05T10:00:00.123Z","level":"info","source":"file.cc:12",
//    "message":"..."}
// Set once by main, like the level. Default: kText.
enum class LogFormat { kText, kJson };
void SetLogFormat(LogFormat format);

// The line LogLine writes (without its newline), for a given time.
std::string FormatLogLine(LogFormat format, LogLevel level,
                          absl::string_view file, int line,
                          absl::string_view message, absl::Time time);

void LogLine(LogLevel level, absl::string_view file, int line,
             absl::string_view message);

}  // namespace vigie::common

#define VIGIE_LOG(level, ...)                                             \
  ::vigie::common::LogLine(::vigie::common::LogLevel::k##level, __FILE__, \
                           __LINE__, ::absl::StrCat(__VA_ARGS__))
