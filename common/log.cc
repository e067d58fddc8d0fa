#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_escape.h"

namespace vigie::common {
namespace {

// Logging is the one accepted process-wide setting; atomic so that reading
// it on every line costs nothing and races with nothing.
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> log_format{static_cast<int>(LogFormat::kText)};

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

absl::string_view BaseName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

void SetMinLogLevel(LogLevel level) {
  min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void SetLogFormat(LogFormat format) {
  log_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

std::string FormatLogLine(LogFormat format, LogLevel level,
                          absl::string_view file, int line,
                          absl::string_view message, absl::Time time) {
  const std::string when =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  if (format == LogFormat::kJson) {
    return absl::StrCat("{\"time\":\"", when, "\",\"level\":\"",
                        absl::AsciiStrToLower(LevelName(level)),
                        "\",\"source\":\"", JsonEscape(BaseName(file)), ":",
                        line, "\",\"message\":\"", JsonEscape(message), "\"}");
  }
  return absl::StrCat(when, " ", LevelName(level), " ", BaseName(file), ":",
                      line, "] ", message);
}

void LogLine(LogLevel level, absl::string_view file, int line,
             absl::string_view message) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) {
    return;
  }
  const std::string text = absl::StrCat(
      FormatLogLine(
          static_cast<LogFormat>(log_format.load(std::memory_order_relaxed)),
          level, file, line, message, absl::Now()),
      "\n");
  // One write(2) per line keeps concurrent lines whole; a short write to a
  // closed stderr is not worth failing over.
  const ssize_t written = ::write(STDERR_FILENO, text.data(), text.size());
  (void)written;
}

}  // namespace vigie::common
