#include "tools/alert_reports.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace vigie::tools {
namespace {

std::string FormatTime(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime(
      "%Y-%m-%d%ET%H:%M:%SZ",
      absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos()),
      absl::UTCTimeZone());
}

std::string StripPrefix(std::string name, absl::string_view prefix) {
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

// "WARNING FIRING T1 metric  model m attribute=sex  value 0.21 [fp]".
std::string FormatAlert(const v1::Alert& a) {
  std::vector<std::pair<std::string, std::string>> scope(a.scope().begin(),
                                                         a.scope().end());
  std::sort(scope.begin(), scope.end());
  std::string line = absl::StrCat(
      StripPrefix(v1::Severity_Name(a.severity()), "SEVERITY_"), " ",
      StripPrefix(v1::AlertState_Name(a.state()), "ALERT_STATE_"), " ",
      a.rule_id(), " ", a.metric(), "  model ", a.model_id());
  for (const auto& [key, value] : scope) {
    absl::StrAppend(&line, " ", key, "=", value);
  }
  absl::StrAppend(
      &line, absl::StrFormat("  value %.4g [%s]", a.value(), a.fingerprint()));
  std::vector<std::string> notes;
  if (!a.silenced_by().empty()) {
    notes.push_back(
        absl::StrCat("silenced by ", absl::StrJoin(a.silenced_by(), ",")));
  }
  if (!a.acknowledged_by().empty()) {
    notes.push_back(absl::StrCat("acknowledged by ", a.acknowledged_by()));
  }
  if (!notes.empty())
    absl::StrAppend(&line, " (", absl::StrJoin(notes, "; "), ")");
  return line;
}

}  // namespace

std::string FormatAlertUpdate(const v1::AlertUpdate& update) {
  if (update.kind() == v1::ALERT_UPDATE_KIND_SYNCED) {
    return "-- current alerts above, changes below --";
  }
  return absl::StrCat(FormatTime(update.alert().updated_at()), " ",
                      StripPrefix(v1::AlertUpdateKind_Name(update.kind()),
                                  "ALERT_UPDATE_KIND_"),
                      " ", FormatAlert(update.alert()));
}

void PrintSilencesText(const v1::ListSilencesReply& reply, std::ostream& out) {
  if (reply.silences().empty()) {
    out << "no silences\n";
    return;
  }
  bool first = true;
  for (const v1::Silence& s : reply.silences()) {
    if (!first) out << "\n";
    first = false;
    std::vector<std::string> matchers;
    for (const v1::Matcher& m : s.matchers()) {
      matchers.push_back(absl::StrCat(m.name(), "=\"", m.value(), "\""));
    }
    out << s.id() << " "
        << StripPrefix(v1::SilenceState_Name(s.state()), "SILENCE_STATE_")
        << "  " << FormatTime(s.starts_at()) << " to "
        << FormatTime(s.ends_at()) << "\n  matches "
        << absl::StrJoin(matchers, ", ") << "\n  by " << s.created_by();
    if (!s.comment().empty()) out << ": " << s.comment();
    out << "\n";
  }
}

void PrintHistoryText(const v1::ListAlertHistoryReply& reply,
                      std::ostream& out) {
  if (reply.truncated()) {
    out << "(older transitions left out: raise --limit or narrow --since)\n";
  }
  if (reply.transitions().empty()) {
    out << "no transitions\n";
    return;
  }
  for (const v1::Alert& a : reply.transitions()) {
    out << FormatTime(a.updated_at()) << " " << FormatAlert(a) << "\n";
  }
}

}  // namespace vigie::tools
