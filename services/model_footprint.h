#pragma once

// A model's footprint (referential Q6.1) as rule E1 and GetMetrics see it:
// its baselines (declared, else its frozen reference window's) and
// budgets, the rule's evaluation, and the API message. Not Vigie's own
// footprint, which is footprint.h.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "monitors/footprint.h"
#include "monitors/model_monitors.h"
#include "rules/evaluator.h"
#include "rules/footprint_rule.h"
#include "rules/policy.h"
#include "services/config.h"
#include "vigie/v1/footprint.pb.h"

namespace vigie::services {

// The targets of `config`'s footprint: each baseline as declared, else the
// figure of `reference` (the reference window's metrics, null without one)
// with `reference_description` as its source; the budgets as declared.
rules::FootprintInputs FootprintTargets(
    const ModelConfig& config, const monitors::ModelMetrics* reference,
    const std::string& reference_description);

// Whether a window of length `window` ending at `end` is full of a model's
// data, the earliest of whose panes starts at `first_pane`: rule E1's
// minimum sample.
bool FullWindow(absl::Duration window, absl::Time end, absl::Time first_pane);

// The findings of `policy`'s footprint rules that apply to `model_id`, on
// `window` (the window's footprint, null without one) against `targets`.
std::vector<rules::Finding> EvaluateFootprintRules(
    const rules::Policy& policy, const std::string& model_id,
    rules::FootprintInputs inputs,
    const std::optional<monitors::FootprintMetrics>& window);

// GetMetricsReply.footprint: the window's figures, and its trend against
// `targets`.
void FootprintToProto(const monitors::FootprintMetrics& metrics,
                      const rules::FootprintInputs& targets,
                      vigie::v1::Footprint* out);

}  // namespace vigie::services
