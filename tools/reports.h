#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "vigie/v1/vigie.pb.h"

// Text and JSON renderings of the server's metrics and alerts.

namespace vigie::tools {

// A header naming the model and the window: with `last`, the sliding window
// asked for and the window the server resolved it to ("model demo, last 2h:
// window [2026-01-05T22:00:00Z, 2026-01-06T00:00:00Z): 2 panes"). Then the
// model's counters, then per attribute a table of its groups
// (predictions, labeled, selection rate, TPR, FPR, FNR, precision; "—" for
// an absent rate; "*" marks a group left out of the gaps) and the gaps with
// the groups that define them. Then calibration, and drift against the
// model's reference (PrintDriftText).
void PrintMetricsText(const v1::GetMetricsReply& reply, std::ostream& out,
                      std::optional<absl::Duration> last = std::nullopt);

// One block per alert: severity, state, rule, metric, model and scope; the
// value with its confidence interval and p-value; the threshold; the groups
// and samples; the citation; the message. "no alerts" when there are none.
void PrintAlertsText(const v1::ListAlertsReply& reply, std::ostream& out);

// "labelia-dsrc@v202301 Q2.4/2.4.d (+Q2.5); AI Act Art. 10, Art. 15".
std::string FormatCitation(const v1::Alert& alert);

// Protocol Buffers' JSON mapping of `message`, indented, with fields at their
// default value printed too (scripts should not have to guess a zero).
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message);

}  // namespace vigie::tools
