#pragma once

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "vigie/v1/vigie.pb.h"

// The names of alert severities and states as Vigie writes them everywhere
// (logs, Alertmanager labels, silence matchers, vigiectl, summaries):
// lowercase, as Prometheus labels are.

namespace vigie {

inline absl::string_view SeverityName(vigie::v1::Severity severity) {
  switch (severity) {
    case vigie::v1::SEVERITY_INSUFFICIENT_DATA:
      return "insufficient_data";
    case vigie::v1::SEVERITY_WARNING:
      return "warning";
    case vigie::v1::SEVERITY_CRITICAL:
      return "critical";
    default:
      return "unspecified";
  }
}

inline absl::string_view AlertStateName(vigie::v1::AlertState state) {
  switch (state) {
    case vigie::v1::ALERT_STATE_FIRING:
      return "firing";
    case vigie::v1::ALERT_STATE_RESOLVED:
      return "resolved";
    case vigie::v1::ALERT_STATE_PENDING:
      return "pending";
    case vigie::v1::ALERT_STATE_INACTIVE:
      return "inactive";
    default:
      return "unspecified";
  }
}

// An alert's group samples, as every reader shows them: "f: 520
// predictions, 130 positives, 360 negatives; x: fewer than 10 predictions"
// (a group withheld for its size, services/small_groups.h).
inline std::string AlertSamples(const vigie::v1::Alert& alert) {
  std::vector<std::string> parts;
  for (const vigie::v1::GroupSample& s : alert.samples()) {
    if (s.suppressed()) {
      parts.push_back(absl::StrCat(s.group(), ": fewer than ",
                                   alert.min_reported_group_size(),
                                   " predictions"));
      continue;
    }
    parts.push_back(absl::StrCat(s.group(), ": ", s.predictions(),
                                 " predictions, ", s.positives(),
                                 " positives, ", s.negatives(), " negatives"));
  }
  return absl::StrJoin(parts, "; ");
}

// The commitment an alert cites, as every reader shows it:
// "labelia-dsrc@v202301 Q2.4/2.4.d (+Q2.5); AI Act Art. 10, Art. 15".
inline std::string AlertCitation(const vigie::v1::Alert& alert) {
  std::string out = absl::StrCat(alert.referential(), " ", alert.element());
  if (!alert.related_elements().empty()) {
    absl::StrAppend(&out, " (+", absl::StrJoin(alert.related_elements(), ", "),
                    ")");
  }
  if (!alert.ai_act_articles().empty()) {
    absl::StrAppend(&out, "; AI Act ",
                    absl::StrJoin(alert.ai_act_articles(), ", "));
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

}  // namespace vigie
