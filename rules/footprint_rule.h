#pragma once

// Rule E1's kind (kFootprintPer1000, policy.h): the energy and carbon of a
// model's predictions per 1,000 of them, against the model's baseline and
// budget (referential Q6.1: 6.1.b, 6.1.c, 6.1.e). Pure, as the rest of the
// folder: the caller fills the inputs from the footprint monitor's
// snapshots and the model's configuration.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "monitors/footprint.h"
#include "rules/evaluator.h"
#include "rules/policy.h"

namespace vigie::rules {

// What one quantity (energy in joules, or carbon in grams of CO2e) per
// 1,000 predictions is compared with.
struct FootprintTarget {
  // The model's declared baseline, else its frozen reference window's
  // figure; empty without either.
  std::optional<double> baseline;
  // "declared", or the reference window's description.
  std::string baseline_source;
  // The model's declared budget; empty: none.
  std::optional<double> budget;
};

// What the footprint rule reads. (Every field has a default initializer,
// so that {&window} initialises the first alone.)
struct FootprintInputs {
  // The footprint over the rule's window; null when no prediction in it
  // was counted.
  const monitors::FootprintMetrics* window = nullptr;
  // Whether the model's panes cover the whole window (its first pane
  // starts no later than the window): E1's minimum sample is one full
  // window, since a partial one is no fair comparison with a baseline.
  bool full_window = false;
  // Whether the model has a reference window, whose figures become the
  // baselines it does not declare once frozen.
  bool reference_expected = false;
  FootprintTarget energy = {};
  FootprintTarget carbon = {};
};

// The scopes of the findings: pseudo-features, as "@prediction" is.
inline constexpr const char* kEnergyScope = "@energy";
inline constexpr const char* kCarbonScope = "@carbon";

// What a footprint rule takes (Rule::Validate): comparison above, a
// window, no attributes, features, baseline (the model's configuration
// gives it) or minimum samples; levels with a value in [0, 100] (a
// relative change) and an optional budget_share in (0, 10].
absl::Status ValidateFootprintRule(const Rule& rule);

// Evaluates a footprint rule on `inputs`, as the overrides make it for the
// model and each scope: one finding per quantity that has a baseline or a
// budget, or that the window measured while a reference window is expected
// (so a model with no targets, or that reports no costs, gets none),
// feature kEnergyScope or kCarbonScope.
// - The value is the window's figure per 1,000 predictions with the
//   quantity (joules, or grams), its interval the 95% one, baseline the
//   target's baseline.
// - A level holds when value / baseline - 1 >= its value, or when it sets
//   budget_share and value >= budget_share x budget. threshold is the
//   lowest figure at which the reported level (the warning one when
//   healthy) holds.
// - insufficient_data, saying why: a window not yet full of the model's
//   data, no figure in the window, or neither a baseline nor a budget (the
//   reference window not frozen yet, or without that figure).
std::vector<Finding> EvaluateFootprintRule(const Rule& base,
                                           const Policy& policy,
                                           const std::string& model_id,
                                           const FootprintInputs& inputs);

}  // namespace vigie::rules
