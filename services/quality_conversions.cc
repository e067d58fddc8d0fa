// GetMetrics' conformal and recommendation parts (proto_conversions.h).

#include <optional>
#include <string>

#include "monitors/adaptive_conformal.h"
#include "monitors/conformal_metrics.h"
#include "monitors/recommendation.h"
#include "services/proto_conversions.h"
#include "vigie/v1/quality.pb.h"

namespace vigie::services {
namespace {

template <typename Setter>
void SetIf(const std::optional<double>& value, Setter set) {
  if (value.has_value()) set(*value);
}

void GateToProto(const monitors::ConformalGate& gate,
                 vigie::v1::ConformalGate* out) {
  out->set_alpha(gate.alpha);
  out->set_calibration_size(gate.calibration_size);
  out->set_law(gate.beta_binomial ? "beta-binomial" : "binomial");
  out->set_rank(gate.rank);
  out->set_count(gate.count);
  out->set_covered(gate.covered);
  out->set_share(gate.share);
  out->set_coverage(gate.coverage);
  out->set_expected_coverage(gate.expected_coverage);
  out->set_quantile_05(gate.quantile_05);
  out->set_quantile_001(gate.quantile_001);
  out->set_p_value(gate.p_value);
}

void ScopeToProto(const monitors::ConformalScopeMetrics& scope,
                  vigie::v1::ConformalCoverage* out) {
  out->set_group(scope.group);
  out->set_count(scope.count);
  out->set_covered(scope.covered);
  SetIf(scope.coverage, [&](double v) { out->set_coverage(v); });
  if (scope.coverage_interval.has_value()) {
    out->set_coverage_lower(scope.coverage_interval->lower);
    out->set_coverage_upper(scope.coverage_interval->upper);
  }
  out->set_empty(scope.empty);
  out->set_full(scope.full);
  out->set_infinite(scope.infinite);
  SetIf(scope.empty_share, [&](double v) { out->set_empty_share(v); });
  SetIf(scope.full_share, [&](double v) { out->set_full_share(v); });
  SetIf(scope.mean_size, [&](double v) { out->set_mean_size(v); });
  SetIf(scope.median_size, [&](double v) { out->set_median_size(v); });
  SetIf(scope.p90_size, [&](double v) { out->set_p90_size(v); });
  SetIf(scope.p99_size, [&](double v) { out->set_p99_size(v); });
  for (const monitors::CoverageBySetSize& size : scope.by_set_size) {
    vigie::v1::CoverageBySetSize* s = out->add_by_set_size();
    s->set_size(size.size);
    s->set_and_larger(size.and_larger);
    s->set_count(size.count);
    s->set_covered(size.covered);
    s->set_coverage(size.coverage);
  }
  if (scope.gate.has_value()) GateToProto(*scope.gate, out->mutable_gate());
}

}  // namespace

void ConformalToProto(
    const monitors::ConformalMetrics& overall,
    const std::map<std::string, monitors::ConformalMetrics>& by_attribute,
    vigie::v1::Conformal* out) {
  out->set_ignored(overall.ignored);
  ScopeToProto(overall.overall, out->mutable_overall());
  out->set_scores(overall.scores);
  SetIf(overall.score_quantile, [&](double v) { out->set_score_quantile(v); });
  for (const auto& [attribute, metrics] : by_attribute) {
    vigie::v1::AttributeConformal* a = out->add_by_attribute();
    a->set_attribute(attribute);
    for (const monitors::ConformalScopeMetrics& group : metrics.groups) {
      ScopeToProto(group, a->add_groups());
    }
    SetIf(metrics.coverage_gap, [&](double v) { a->set_coverage_gap(v); });
    a->set_max_coverage_group(metrics.max_coverage_group);
    a->set_min_coverage_group(metrics.min_coverage_group);
  }
}

void AdaptiveConformalToProto(const monitors::AdaptiveConformal& aci,
                              vigie::v1::AdaptiveConformal* out) {
  out->set_target_alpha(aci.target_alpha());
  out->set_gamma(aci.gamma());
  out->set_steps(aci.steps());
  out->set_misses(aci.misses());
  out->set_next_alpha(aci.alpha());
  SetIf(aci.miss_rate(), [&](double v) { out->set_miss_rate(v); });
  SetIf(aci.MissRateBound(), [&](double v) { out->set_miss_rate_bound(v); });
}

void RecommendationToProto(const monitors::RecommendationMetrics& m,
                           vigie::v1::Recommendation* out) {
  out->set_lists(m.lists);
  out->set_items(m.items);
  out->set_unknown_items(m.unknown_items);
  out->set_catalogue_size(m.catalogue_size);
  out->set_diversity_lists(m.diversity_lists);
  SetIf(m.diversity, [&](double v) { out->set_diversity(v); });
  out->set_novelty_lists(m.novelty_lists);
  SetIf(m.novelty, [&](double v) { out->set_novelty(v); });
  SetIf(m.average_popularity,
        [&](double v) { out->set_average_popularity(v); });
  out->set_distinct_items(m.distinct_items);
  SetIf(m.coverage, [&](double v) { out->set_coverage(v); });
  out->set_coverage_relative_error(m.coverage_relative_error);
  SetIf(m.exposure_gini, [&](double v) { out->set_exposure_gini(v); });
  out->set_exposure_exact(m.exposure_exact);
  out->set_personalization_users(m.personalization_users);
  SetIf(m.personalization, [&](double v) { out->set_personalization(v); });
  out->set_feedback_lists(m.feedback_lists);
  out->set_hits(m.hits);
  out->set_serendipitous_hits(m.serendipitous_hits);
  SetIf(m.hit_rate, [&](double v) { out->set_hit_rate(v); });
  SetIf(m.mrr, [&](double v) { out->set_mrr(v); });
  SetIf(m.serendipity, [&](double v) { out->set_serendipity(v); });
}

}  // namespace vigie::services
