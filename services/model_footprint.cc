#include "services/model_footprint.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "monitors/footprint.h"
#include "rules/footprint_rule.h"
#include "rules/policy.h"
#include "services/rule_inputs.h"

namespace vigie::services {
namespace {

// The declared value, else the reference window's figure.
rules::FootprintTarget Target(const std::optional<double>& declared,
                              const std::optional<double>& from_reference,
                              const std::string& reference_description,
                              const std::optional<double>& budget) {
  rules::FootprintTarget target;
  if (declared.has_value()) {
    target.baseline = declared;
    target.baseline_source = "declared";
  } else if (from_reference.has_value()) {
    target.baseline = from_reference;
    target.baseline_source = reference_description;
  }
  target.budget = budget;
  return target;
}

}  // namespace

rules::FootprintInputs FootprintTargets(
    const ModelConfig& config, const monitors::ModelMetrics* reference,
    const std::string& reference_description) {
  const monitors::FootprintMetrics* then =
      reference != nullptr && reference->footprint.has_value()
          ? &*reference->footprint
          : nullptr;
  rules::FootprintInputs inputs;
  inputs.energy =
      Target(config.footprint.baseline_energy_per_1000,
             then ? then->energy_joules_per_1000 : std::nullopt,
             reference_description, config.footprint.energy_budget_per_1000);
  inputs.carbon =
      Target(config.footprint.baseline_carbon_per_1000,
             then ? then->carbon_grams_per_1000 : std::nullopt,
             reference_description, config.footprint.carbon_budget_per_1000);
  return inputs;
}

bool FullWindow(absl::Duration window, absl::Time end, absl::Time first_pane) {
  return window > absl::ZeroDuration() && first_pane <= end - window;
}

std::vector<rules::Finding> EvaluateFootprintRules(
    const rules::Policy& policy, const std::string& model_id,
    rules::FootprintInputs inputs,
    const std::optional<monitors::FootprintMetrics>& window) {
  inputs.window = window.has_value() ? &*window : nullptr;
  std::vector<rules::Finding> findings;
  for (const rules::Rule& rule : policy.rules) {
    if (!rules::IsFootprintMetric(rule.metric) || !Applies(rule, model_id)) {
      continue;
    }
    for (rules::Finding& finding :
         rules::EvaluateFootprintRule(rule, policy, model_id, inputs)) {
      findings.push_back(std::move(finding));
    }
  }
  return findings;
}

void FootprintToProto(const monitors::FootprintMetrics& m,
                      const rules::FootprintInputs& targets,
                      vigie::v1::Footprint* out) {
  out->set_predictions(m.predictions);
  out->set_costed(m.costed);
  out->set_estimated(m.estimated);
  out->set_carbon_costed(m.carbon_costed);
  if (m.cost_coverage) out->set_cost_coverage(*m.cost_coverage);
  out->set_energy_joules(m.energy_joules);
  out->set_energy_kwh(m.energy_kwh);
  out->set_carbon_grams(m.carbon_grams);
  if (m.energy_joules_per_1000) {
    out->set_energy_joules_per_1000(*m.energy_joules_per_1000);
  }
  if (m.energy_joules_per_1000_interval) {
    out->set_energy_joules_per_1000_lower(
        m.energy_joules_per_1000_interval->lower);
    out->set_energy_joules_per_1000_upper(
        m.energy_joules_per_1000_interval->upper);
  }
  if (m.carbon_grams_per_1000) {
    out->set_carbon_grams_per_1000(*m.carbon_grams_per_1000);
  }
  if (m.carbon_grams_per_1000_interval) {
    out->set_carbon_grams_per_1000_lower(
        m.carbon_grams_per_1000_interval->lower);
    out->set_carbon_grams_per_1000_upper(
        m.carbon_grams_per_1000_interval->upper);
  }
  const rules::FootprintTarget& energy = targets.energy;
  const rules::FootprintTarget& carbon = targets.carbon;
  if (energy.baseline) {
    out->set_baseline_energy_joules_per_1000(*energy.baseline);
    out->set_energy_baseline_source(energy.baseline_source);
  }
  if (carbon.baseline) {
    out->set_baseline_carbon_grams_per_1000(*carbon.baseline);
    out->set_carbon_baseline_source(carbon.baseline_source);
  }
  if (const std::optional<double> change =
          monitors::RelativeChange(m.energy_joules_per_1000, energy.baseline)) {
    out->set_energy_change(*change);
  }
  if (const std::optional<double> change =
          monitors::RelativeChange(m.carbon_grams_per_1000, carbon.baseline)) {
    out->set_carbon_change(*change);
  }
  if (energy.budget) {
    out->set_energy_budget_joules_per_1000(*energy.budget);
    if (m.energy_joules_per_1000) {
      out->set_energy_budget_share(*m.energy_joules_per_1000 / *energy.budget);
    }
  }
  if (carbon.budget) {
    out->set_carbon_budget_grams_per_1000(*carbon.budget);
    if (m.carbon_grams_per_1000) {
      out->set_carbon_budget_share(*m.carbon_grams_per_1000 / *carbon.budget);
    }
  }
}

}  // namespace vigie::services
