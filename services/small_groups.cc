#include "services/small_groups.h"

#include <string>

#include "absl/container/flat_hash_set.h"

namespace vigie::services {
namespace {

using vigie::v1::GroupMetrics;

// The groups of one attribute whose figures are withheld: all of them
// (`hidden`), or their outcome figures only (`outcomes_hidden`, which
// includes `hidden`).
struct Withheld {
  absl::flat_hash_set<std::string> hidden;
  absl::flat_hash_set<std::string> outcomes_hidden;
};

void Suppress(uint64_t k, GroupMetrics& group, Withheld& withheld) {
  const bool few_predictions = group.predictions() < k;
  const bool few_labels = group.labeled() < k;
  if (few_predictions) withheld.hidden.insert(group.group());
  if (few_labels) withheld.outcomes_hidden.insert(group.group());
  if (few_predictions && few_labels) {
    const std::string label = group.group();
    group.Clear();
    group.set_group(label);
    group.set_suppressed(true);
    return;
  }
  // One side is large enough (with join_time: outcome, a window may hold a
  // group's outcomes and not its predictions): the other side withheld.
  if (few_predictions && group.predictions() > 0) {
    group.clear_predictions();
    group.clear_selected();
    group.clear_selection_rate();
    group.mutable_intervals()->erase("selection_rate");
    group.set_selection_suppressed(true);
  }
  if (few_labels && group.labeled() > 0) {
    GroupMetrics kept;
    kept.set_group(group.group());
    kept.set_predictions(group.predictions());
    kept.set_selected(group.selected());
    if (group.has_selection_rate()) {
      kept.set_selection_rate(group.selection_rate());
    }
    kept.set_included_in_gaps(group.included_in_gaps());
    if (auto it = group.intervals().find("selection_rate");
        it != group.intervals().end()) {
      (*kept.mutable_intervals())["selection_rate"] = it->second;
    }
    kept.set_outcomes_suppressed(true);
    group = std::move(kept);
  }
}

// Clears a gap defined by a withheld group.
void Check(const absl::flat_hash_set<std::string>& withheld,
           vigie::v1::Gap* gap) {
  if (withheld.contains(gap->high_group()) ||
      withheld.contains(gap->low_group())) {
    gap->Clear();
  }
}

void Suppress(uint64_t k, vigie::v1::AttributeFairness& attribute) {
  Withheld withheld;
  for (GroupMetrics& group : *attribute.mutable_groups()) {
    Suppress(k, group, withheld);
  }
  if (withheld.outcomes_hidden.empty()) return;
  // Selection rates: demographic parity. Every other gap is of outcomes.
  Check(withheld.hidden, attribute.mutable_demographic_parity_difference());
  Check(withheld.hidden, attribute.mutable_demographic_parity_ratio());
  Check(withheld.outcomes_hidden,
        attribute.mutable_true_positive_rate_difference());
  Check(withheld.outcomes_hidden,
        attribute.mutable_false_positive_rate_difference());
  Check(withheld.outcomes_hidden,
        attribute.mutable_equalized_odds_difference());
  for (vigie::v1::Criterion& criterion : *attribute.mutable_criteria()) {
    const absl::flat_hash_set<std::string>& hidden =
        criterion.name() == "demographic_parity" ? withheld.hidden
                                                 : withheld.outcomes_hidden;
    Check(hidden, criterion.mutable_difference());
    Check(hidden, criterion.mutable_ratio());
    auto* by_group = criterion.mutable_by_group();
    for (int i = by_group->size() - 1; i >= 0; --i) {
      if (hidden.contains(by_group->Get(i).group())) {
        by_group->DeleteSubrange(i, 1);
      }
    }
  }
}

void Suppress(uint64_t k, vigie::v1::PerformanceScope& scope) {
  const bool few_predictions = scope.predictions() < k;
  const bool few_labels = scope.labelled() < k;
  if (few_predictions && few_labels) {
    vigie::v1::PerformanceScope kept;
    kept.set_attribute(scope.attribute());
    kept.set_group(scope.group());
    kept.set_suppressed(true);
    scope = std::move(kept);
    return;
  }
  if (few_labels && scope.labelled() > 0) {
    scope.clear_labelled();
    scope.clear_true_positives();
    scope.clear_false_positives();
    scope.clear_true_negatives();
    scope.clear_false_negatives();
    scope.clear_realised();
    scope.set_outcomes_suppressed(true);
  }
  if (few_predictions && scope.predictions() > 0) {
    scope.clear_predictions();
    scope.clear_positive_decisions();
    scope.clear_extrapolated();
    scope.clear_expected_true_positives();
    scope.clear_expected_false_positives();
    scope.clear_expected_true_negatives();
    scope.clear_expected_false_negatives();
    scope.clear_estimated();
    scope.set_estimate_suppressed(true);
  }
}

}  // namespace

void SuppressSmallGroups(uint64_t k, vigie::v1::GetMetricsReply& reply) {
  if (reply.has_performance_estimate()) {
    for (vigie::v1::PerformanceScope& scope :
         *reply.mutable_performance_estimate()->mutable_groups()) {
      Suppress(k, scope);
    }
  }
  reply.set_min_reported_group_size(k);
  for (vigie::v1::AttributeFairness& attribute : *reply.mutable_fairness()) {
    Suppress(k, attribute);
  }
  for (vigie::v1::ClassFairness& by_class :
       *reply.mutable_fairness_by_class()) {
    for (vigie::v1::AttributeFairness& attribute :
         *by_class.mutable_fairness()) {
      Suppress(k, attribute);
    }
  }
  for (vigie::v1::GroupCalibration& group :
       *reply.mutable_calibration_by_group()) {
    if (group.calibration().count() < k) {
      group.clear_calibration();
      group.set_suppressed(true);
    }
  }
  if (reply.has_conformal()) {
    for (vigie::v1::AttributeConformal& attribute :
         *reply.mutable_conformal()->mutable_by_attribute()) {
      absl::flat_hash_set<std::string> hidden;
      for (vigie::v1::ConformalCoverage& group : *attribute.mutable_groups()) {
        if (group.count() >= k) continue;
        const std::string label = group.group();
        group.Clear();
        group.set_group(label);
        group.set_suppressed(true);
        hidden.insert(label);
      }
      if (hidden.contains(attribute.max_coverage_group()) ||
          hidden.contains(attribute.min_coverage_group())) {
        attribute.clear_coverage_gap();
        attribute.clear_max_coverage_group();
        attribute.clear_min_coverage_group();
      }
    }
  }
}

void SuppressSmallGroups(uint64_t k, vigie::v1::Alert& alert) {
  alert.set_min_reported_group_size(k);
  for (vigie::v1::GroupSample& sample : *alert.mutable_samples()) {
    if (sample.predictions() >= k) continue;
    const std::string label = sample.group();
    sample.Clear();
    sample.set_group(label);
    sample.set_suppressed(true);
  }
}

}  // namespace vigie::services
