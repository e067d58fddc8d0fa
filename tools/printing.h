#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/client.h"

// Text that vigiectl prints about streams: progress lines and the summary.

namespace vigie::tools {

// 12345 -> "12,345".
std::string FormatCount(uint64_t n);

// "REJECT_REASON_INVALID_SCORE" -> "INVALID_SCORE".
std::string RejectReasonName(v1::RejectReason reason);

// "replayed 3,500 / 7,214 rows (48%), 12,345 events/s"; without the total
// and percentage when the total is unknown.
std::string FormatProgress(absl::string_view verb, absl::string_view unit,
                           const StreamProgress& progress);

// Decides when to print progress, taking time from StreamProgress::elapsed.
// On a terminal, redraws one line ('\r') at most every 0.5 s; elsewhere (a
// log file, CI) prints a line at each 10% of the total, or every 10 s when
// the total is unknown. Not thread-safe.
class ProgressPrinter {
 public:
  // `verb` and `unit` as in FormatProgress; `out` must outlive *this.
  ProgressPrinter(std::ostream& out, bool terminal, std::string verb,
                  std::string unit);
  void Update(const StreamProgress& progress);
  // Prints the final state if not yet shown, and ends a terminal's line.
  void Finish(const StreamProgress& progress);

 private:
  void Print(const StreamProgress& progress);

  std::ostream& out_;
  bool terminal_;
  std::string verb_;
  std::string unit_;
  bool printed_any_ = false;
  uint64_t last_records_ = 0;
  absl::Duration last_time_ = absl::ZeroDuration();
  int last_decile_ = 0;
};

// The end-of-stream summary: records read, events sent, accepted, rejected
// by reason, then up to `max_listed` rejections as "line 12: INVALID_SCORE:
// ..." (`location` replacing "line") and "... and N more".
// `unit` names the records ("rows", "lines", "events").
void PrintStreamSummary(const StreamResult& result, absl::string_view unit,
                        absl::string_view location, size_t max_listed,
                        std::ostream& out);

}  // namespace vigie::tools
