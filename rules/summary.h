#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vigie/v1/vigie.pb.h"

// An alert's one-line summary, from the rule's `summary` template: what a
// product owner reads first in a notification. Placeholders in braces are
// replaced by the alert's fields:
//   {rule} {model} {model_version} {metric} {value} (4 decimals, or a
//   whole number as such) {scope} (e.g. "race", or
//   "the model") {severity} {state} {threshold} {comparison}
//   {interval} ("[0.0612, 0.1420]" or "n/a") {p_value} {high_group}
//   {low_group} {element} {referential} {ai_act_articles} {window}
// and "{{" / "}}" stand for literal braces.

namespace vigie::rules {

// The summary rules get when they give no template.
inline constexpr absl::string_view kDefaultSummary =
    "{metric} of model {model} for {scope} is {value}: {severity} "
    "({comparison} {threshold}, rule {rule}, {element})";

// kInvalidArgument naming the first unknown placeholder or unbalanced brace.
absl::Status ValidateSummary(absl::string_view summary);

// `summary` (kDefaultSummary when empty; it must be valid) filled in with
// `alert`'s fields.
std::string RenderSummary(absl::string_view summary,
                          const vigie::v1::Alert& alert);

}  // namespace vigie::rules
