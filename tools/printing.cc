#include "tools/printing.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vigie::tools {

std::string FormatCount(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string RejectReasonName(v1::RejectReason reason) {
  std::string name = v1::RejectReason_Name(reason);
  if (name.empty()) return absl::StrCat("REASON_", static_cast<int>(reason));
  constexpr absl::string_view kPrefix = "REJECT_REASON_";
  return absl::StartsWith(name, kPrefix) ? name.substr(kPrefix.size()) : name;
}

std::string FormatProgress(absl::string_view verb, absl::string_view unit,
                           const StreamProgress& p) {
  const double seconds = absl::ToDoubleSeconds(p.elapsed);
  const auto rate = static_cast<uint64_t>(
      seconds > 0 ? std::llround(static_cast<double>(p.events_sent) / seconds)
                  : 0);
  std::string out = absl::StrCat(verb, " ", FormatCount(p.records_read));
  if (p.total_records > 0) {
    const auto percent = static_cast<int>(
        100 * std::min(1.0, static_cast<double>(p.records_read) /
                                static_cast<double>(p.total_records)));
    absl::StrAppend(&out, " / ", FormatCount(p.total_records), " ", unit, " (",
                    percent, "%)");
  } else {
    absl::StrAppend(&out, " ", unit);
  }
  absl::StrAppend(&out, ", ", FormatCount(rate), " events/s");
  return out;
}

ProgressPrinter::ProgressPrinter(std::ostream& out, bool terminal,
                                 std::string verb, std::string unit)
    : out_(out),
      terminal_(terminal),
      verb_(std::move(verb)),
      unit_(std::move(unit)) {}

void ProgressPrinter::Update(const StreamProgress& p) {
  bool due;
  if (terminal_) {
    due = !printed_any_ || p.elapsed - last_time_ >= absl::Milliseconds(500);
  } else if (p.total_records > 0) {
    const auto decile = static_cast<int>(
        10 * p.records_read / std::max<uint64_t>(p.total_records, 1));
    due = decile > last_decile_;
    if (due) last_decile_ = decile;
  } else {
    due = p.elapsed - last_time_ >= absl::Seconds(10);
  }
  if (due) Print(p);
}

void ProgressPrinter::Finish(const StreamProgress& p) {
  if (!printed_any_ || p.records_read != last_records_) Print(p);
  if (terminal_ && printed_any_) out_ << "\n";
  out_.flush();
}

void ProgressPrinter::Print(const StreamProgress& p) {
  // "\33[K" clears what a longer previous line left on the terminal.
  if (terminal_) {
    out_ << "\r" << FormatProgress(verb_, unit_, p) << "\33[K";
  } else {
    out_ << FormatProgress(verb_, unit_, p) << "\n";
  }
  out_.flush();
  printed_any_ = true;
  last_records_ = p.records_read;
  last_time_ = p.elapsed;
}

void PrintStreamSummary(const StreamResult& result, absl::string_view unit,
                        absl::string_view location, size_t max_listed,
                        std::ostream& out) {
  const v1::IngestReply& reply = result.reply;
  const std::vector<LocatedRejection> rejections = result.AllRejections();
  std::map<std::string, uint64_t> by_reason;
  for (const LocatedRejection& r : rejections) {
    ++by_reason[RejectReasonName(r.reason)];
  }
  const uint64_t rejected = result.malformed.size() + reply.rejected();
  const std::string unlisted =
      reply.rejected() > static_cast<uint64_t>(reply.rejections_size())
          ? absl::StrCat(", ",
                         reply.rejected() -
                             static_cast<uint64_t>(reply.rejections_size()),
                         " not listed by the server")
          : "";

  out << absl::StrFormat("%-12s %s\n", absl::StrCat(unit, " read:"),
                         FormatCount(result.records_read));
  out << absl::StrFormat("%-12s %s\n",
                         "events sent:", FormatCount(result.events_sent));
  out << absl::StrFormat("%-12s %s (%s predictions, %s outcomes; %s joined)\n",
                         "accepted:", FormatCount(reply.accepted()),
                         FormatCount(reply.predictions()),
                         FormatCount(reply.outcomes()),
                         FormatCount(reply.joined()));
  out << absl::StrFormat("%-12s %s (%s by the client, %s by the server%s)\n",
                         "rejected:", FormatCount(rejected),
                         FormatCount(result.malformed.size()),
                         FormatCount(reply.rejected()), unlisted);
  size_t width = 0;
  for (const auto& [reason, count] : by_reason) {
    width = std::max(width, reason.size());
  }
  for (const auto& [reason, count] : by_reason) {
    out << "  " << reason << std::string(width - reason.size() + 2, ' ')
        << FormatCount(count) << "\n";
  }
  if (rejections.empty()) return;
  out << "rejections:\n";
  for (size_t i = 0; i < rejections.size() && i < max_listed; ++i) {
    const LocatedRejection& r = rejections[i];
    out << "  " << location << " " << r.line << ": "
        << RejectReasonName(r.reason) << ": " << r.message;
    if (!r.prediction_id.empty()) out << " (id " << r.prediction_id << ")";
    out << "\n";
  }
  if (rejections.size() > max_listed) {
    out << "  ... and " << FormatCount(rejections.size() - max_listed)
        << " more\n";
  }
}

}  // namespace vigie::tools
