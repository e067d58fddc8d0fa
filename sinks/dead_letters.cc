#include "sinks/dead_letters.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/json_escape.h"
#include "sinks/alert_json.h"

namespace vigie::sinks {
namespace {

// `text` as a JSON string literal.
std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", common::JsonEscape(text), "\"");
}

}  // namespace

absl::Status DeadLetterFile::Write(absl::string_view sink,
                                   absl::Span<const vigie::v1::Alert> alerts,
                                   const absl::Status& error, absl::Time at) {
  absl::MutexLock lock(&mu_);
  std::ofstream out(path_, std::ios::app);
  if (!out) return absl::UnavailableError("cannot open " + path_);
  const std::string time =
      absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", at, absl::UTCTimeZone());
  for (const vigie::v1::Alert& alert : alerts) {
    out << "{\"at\":" << Quoted(time) << ",\"sink\":" << Quoted(sink)
        << ",\"error\":" << Quoted(error.ToString())
        << ",\"alert\":" << AlertToJson(alert) << "}\n";
  }
  out.flush();
  if (!out) return absl::UnavailableError("cannot write " + path_);
  return absl::OkStatus();
}

}  // namespace vigie::sinks
