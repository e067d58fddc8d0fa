#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "vigie/v1/vigie.pb.h"

// Pieces that the text reports of vigiectl share.

namespace vigie::tools {

// Printed in place of an absent value.
inline constexpr absl::string_view kAbsent = "—";

// Prints `rows` as columns two spaces apart, each line after `indent`,
// trailing spaces trimmed. `align` has a character per column, 'l' for
// left-aligned and 'r' for right-aligned; the columns past its end are
// aligned by default: the first left, the others right. Widths count UTF-8
// code points, so that "—" is one column wide.
void PrintTable(const std::vector<std::vector<std::string>>& rows,
                absl::string_view indent, std::ostream& out,
                absl::string_view align = "");

// A server's error about the index-th element of an uploaded file ("item 2:
// ..." for `prefix` "item "), located in the file: "line 7: ..." with
// lines[index]; `message` unchanged when it names no element of `lines`.
std::string LocateByLine(const std::string& message, absl::string_view prefix,
                         const std::vector<int64_t>& lines);

// RFC 3339 in UTC with "Z", as the JSON mapping writes times
// ("2026-01-05T00:00:00Z", with a fraction only when there is one).
std::string FormatTime(const google::protobuf::Timestamp& ts);

// "[2026-01-05T00:00:00Z, 2026-01-06T00:00:00Z)", "beginning" or "end" for
// an open side, "all time" when both are open.
std::string FormatWindow(const v1::TimeWindow& w);

}  // namespace vigie::tools
