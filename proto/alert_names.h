#pragma once

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

}  // namespace vigie
