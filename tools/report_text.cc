#include "tools/report_text.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "tools/parsing.h"

namespace vigie::tools {
namespace {

// Display width of UTF-8 text: its code points (enough for our dashes).
size_t Width(absl::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

void PrintTable(const std::vector<std::vector<std::string>>& rows,
                absl::string_view indent, std::ostream& out,
                absl::string_view align) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  }
  for (const auto& row : rows) {
    std::string line(indent);
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string pad(widths[i] - Width(row[i]), ' ');
      if (i > 0) line += "  ";
      const bool left = i < align.size() ? align[i] == 'l' : i == 0;
      line += left ? row[i] + pad : pad + row[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

std::string FormatTime(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", FromTimestampProto(ts),
                          absl::UTCTimeZone());
}

std::string FormatWindow(const v1::TimeWindow& w) {
  if (!w.has_start() && !w.has_end()) return "all time";
  return absl::StrCat("[", w.has_start() ? FormatTime(w.start()) : "beginning",
                      ", ", w.has_end() ? FormatTime(w.end()) : "end", ")");
}

std::string LocateByLine(const std::string& message, absl::string_view prefix,
                         const std::vector<int64_t>& lines) {
  absl::string_view rest = message;
  if (!absl::ConsumePrefix(&rest, prefix)) return message;
  const size_t colon = rest.find(':');
  uint64_t index = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(rest.substr(0, colon), &index) ||
      index >= lines.size()) {
    return message;
  }
  return absl::StrCat("line ", lines[index], rest.substr(colon));
}

}  // namespace vigie::tools
