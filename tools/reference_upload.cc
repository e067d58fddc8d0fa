#include "tools/reference_upload.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/coded_stream.h"
#include "tools/printing.h"
#include "tools/report_text.h"

namespace vigie::tools {
namespace {

// Serialized size of a length-delimited field of `n` bytes whose number
// (1, 2 or 3 here) fits a one-byte tag.
uint64_t FieldSize(uint64_t n) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;
}

uint64_t StringFieldSize(const std::string& s) {
  return s.empty() ? 0 : FieldSize(s.size());
}

std::string FormatBytes(uint64_t n) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  return n % kMiB == 0 ? absl::StrCat(n / kMiB, " MiB")
                       : absl::StrCat(FormatCount(n), " bytes");
}

}  // namespace

absl::StatusOr<ReferenceUpload> ReadReferenceUpload(
    EventSource& source, const std::string& model_id,
    const std::string& description, uint64_t max_bytes) {
  ReferenceUpload upload;
  upload.request.set_model_id(model_id);
  upload.request.set_description(description);
  // Kept as the events come, rather than by ByteSizeLong() at the end, so
  // that a file far too large stops early instead of filling memory.
  uint64_t size = StringFieldSize(model_id) + StringFieldSize(description);
  EventRecord record;
  while (source.Next(&record)) {
    if (record.error) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", record.line, ": ", *record.error));
    }
    for (v1::Event& event : record.events) {
      size += FieldSize(event.ByteSizeLong());
      if (size > max_bytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat("the request would exceed ", FormatBytes(max_bytes),
                         " at line ", record.line));
      }
      *upload.request.add_events() = std::move(event);
      upload.event_lines.push_back(record.line);
    }
  }
  if (upload.request.events().empty()) {
    return absl::InvalidArgumentError("no event to upload");
  }
  return upload;
}

std::string LocateReferenceRejection(const std::string& rejection,
                                     const std::vector<int64_t>& event_lines) {
  return LocateByLine(rejection, "event ", event_lines);
}

}  // namespace vigie::tools
