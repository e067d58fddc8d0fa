#include "services/proto_conversions.h"

#include <cstdint>
#include <optional>
#include <string>

#include "proto/proto_time.h"

namespace vigie::services {
namespace {

void IntervalToProto(const monitors::Interval& interval,
                     vigie::v1::Interval* out) {
  out->set_lower(interval.lower);
  out->set_upper(interval.upper);
}

void GapToProto(const monitors::GapValue& gap, vigie::v1::Gap* out) {
  if (gap.value.has_value()) out->set_value(*gap.value);
  out->set_high_group(gap.high_group);
  out->set_low_group(gap.low_group);
  if (gap.test.has_value()) {
    vigie::v1::GapTest* test = out->mutable_test();
    test->set_test(gap.test->test == monitors::ProportionTest::kFisherExact
                       ? "fisher_exact"
                       : "two_proportion_z");
    test->set_p_value(gap.test->p_value);
    test->set_difference(gap.test->difference);
    IntervalToProto(gap.test->difference_interval,
                    test->mutable_difference_interval());
  }
}

void CriterionToProto(const std::string& name,
                      const monitors::CriterionGaps& criterion,
                      vigie::v1::Criterion* out) {
  out->set_name(name);
  GapToProto(criterion.difference, out->mutable_difference());
  GapToProto(criterion.ratio, out->mutable_ratio());
  for (const monitors::GroupGap& group : criterion.by_group) {
    vigie::v1::GroupGap* g = out->add_by_group();
    g->set_group(group.group);
    if (group.difference_to_overall) {
      g->set_difference_to_overall(*group.difference_to_overall);
    }
    if (group.ratio_to_reference) {
      g->set_ratio_to_reference(*group.ratio_to_reference);
    }
  }
}

void GroupToProto(const monitors::GroupRates& group,
                  vigie::v1::GroupMetrics* g) {
  g->set_group(group.group);
  g->set_predictions(group.predictions);
  g->set_selected(group.selected);
  g->set_labeled(group.labeled());
  g->set_true_positives(group.true_positives);
  g->set_false_positives(group.false_positives);
  g->set_true_negatives(group.true_negatives);
  g->set_false_negatives(group.false_negatives);
  g->set_included_in_gaps(group.included_in_gaps);
  const monitors::RateIntervals& ci = group.intervals;
  // Each rate with its interval, under the rate's field name.
  const auto rate = [&](const char* name, const std::optional<double>& value,
                        const std::optional<monitors::Interval>& interval,
                        void (vigie::v1::GroupMetrics::*set)(double)) {
    if (!value.has_value()) return;
    (g->*set)(*value);
    if (interval.has_value()) {
      IntervalToProto(*interval, &(*g->mutable_intervals())[name]);
    }
  };
  using G = vigie::v1::GroupMetrics;
  rate("selection_rate", group.selection_rate, ci.selection_rate,
       &G::set_selection_rate);
  rate("base_rate", group.base_rate, ci.base_rate, &G::set_base_rate);
  rate("true_positive_rate", group.true_positive_rate, ci.true_positive_rate,
       &G::set_true_positive_rate);
  rate("false_positive_rate", group.false_positive_rate, ci.false_positive_rate,
       &G::set_false_positive_rate);
  rate("true_negative_rate", group.true_negative_rate, ci.true_negative_rate,
       &G::set_true_negative_rate);
  rate("false_negative_rate", group.false_negative_rate, ci.false_negative_rate,
       &G::set_false_negative_rate);
  rate("precision", group.precision, ci.precision, &G::set_precision);
  rate("negative_predictive_value", group.negative_predictive_value,
       ci.negative_predictive_value, &G::set_negative_predictive_value);
  rate("false_discovery_rate", group.false_discovery_rate,
       ci.false_discovery_rate, &G::set_false_discovery_rate);
  rate("false_omission_rate", group.false_omission_rate, ci.false_omission_rate,
       &G::set_false_omission_rate);
  rate("accuracy", group.accuracy, ci.accuracy, &G::set_accuracy);
}

}  // namespace

absl::Time FromProtoTime(const google::protobuf::Timestamp& time) {
  return FromTimestamp(time);
}

google::protobuf::Timestamp ToProtoTime(absl::Time time) {
  return ToTimestamp(time);
}

void FairnessToProto(const std::string& attribute,
                     const monitors::FairnessMetrics& metrics, uint64_t missing,
                     vigie::v1::AttributeFairness* out) {
  out->set_attribute(attribute);
  out->set_missing(missing);
  for (const monitors::GroupRates& group : metrics.groups) {
    GroupToProto(group, out->add_groups());
  }
  GroupToProto(metrics.overall, out->mutable_overall());
  const monitors::FairnessGaps& gaps = metrics.gaps;
  GapToProto(gaps.demographic_parity_difference,
             out->mutable_demographic_parity_difference());
  GapToProto(gaps.demographic_parity_ratio,
             out->mutable_demographic_parity_ratio());
  GapToProto(gaps.true_positive_rate_difference,
             out->mutable_true_positive_rate_difference());
  GapToProto(gaps.false_positive_rate_difference,
             out->mutable_false_positive_rate_difference());
  GapToProto(gaps.equalized_odds_difference,
             out->mutable_equalized_odds_difference());
  out->set_reference_group(gaps.reference_group);
  CriterionToProto("demographic_parity", gaps.demographic_parity,
                   out->add_criteria());
  CriterionToProto("equal_opportunity", gaps.equal_opportunity,
                   out->add_criteria());
  CriterionToProto("false_positive_parity", gaps.false_positive_parity,
                   out->add_criteria());
  CriterionToProto("predictive_parity", gaps.predictive_parity,
                   out->add_criteria());
  CriterionToProto("equalized_odds", gaps.equalized_odds, out->add_criteria());
}

void CalibrationToProto(const monitors::CalibrationMetrics& metrics,
                        vigie::v1::Calibration* out) {
  out->set_count(metrics.count);
  out->set_positives(metrics.positives);
  out->set_ignored(metrics.ignored);
  if (metrics.ece) out->set_ece(*metrics.ece);
  if (metrics.mce) out->set_mce(*metrics.mce);
  if (metrics.brier) out->set_brier(*metrics.brier);
  if (metrics.log_loss) out->set_log_loss(*metrics.log_loss);
  if (metrics.null_ece) {
    out->set_null_ece_mean(metrics.null_ece->mean);
    out->set_null_ece_p95(metrics.null_ece->p95);
    out->set_null_ece_p99(metrics.null_ece->p99);
  }
  for (const monitors::CalibrationBin& bin : metrics.bins) {
    vigie::v1::CalibrationBin* b = out->add_bins();
    b->set_lower(bin.lower);
    b->set_upper(bin.upper);
    b->set_count(bin.count);
    b->set_positives(bin.positives);
    if (bin.mean_predicted) b->set_mean_predicted(*bin.mean_predicted);
    if (bin.observed_frequency) {
      b->set_observed_frequency(*bin.observed_frequency);
    }
    if (bin.observed_interval) {
      b->set_observed_lower(bin.observed_interval->lower);
      b->set_observed_upper(bin.observed_interval->upper);
    }
  }
}

void ModelMetricsToProto(const monitors::ModelMetrics& metrics,
                         vigie::v1::GetMetricsReply* out) {
  const auto missing = [&](const std::string& attribute) -> uint64_t {
    auto it = metrics.missing.find(attribute);
    return it == metrics.missing.end() ? 0 : it->second;
  };
  for (const auto& [attribute, fairness] : metrics.fairness) {
    FairnessToProto(attribute, fairness, missing(attribute),
                    out->add_fairness());
  }
  for (const auto& [label, by_attribute] : metrics.fairness_by_class) {
    vigie::v1::ClassFairness* c = out->add_fairness_by_class();
    c->set_class_label(label);
    for (const auto& [attribute, fairness] : by_attribute) {
      FairnessToProto(attribute, fairness, missing(attribute),
                      c->add_fairness());
    }
  }
  if (metrics.calibration) {
    CalibrationToProto(*metrics.calibration, out->mutable_calibration());
  }
  for (const auto& [attribute, groups] : metrics.calibration_by_group) {
    for (const auto& [group, calibration] : groups) {
      vigie::v1::GroupCalibration* g = out->add_calibration_by_group();
      g->set_attribute(attribute);
      g->set_group(group);
      CalibrationToProto(calibration, g->mutable_calibration());
    }
  }
}

void CountersToProto(const state::v1::ModelCountersState& counters,
                     vigie::v1::ModelCounters* out) {
  out->set_predictions(counters.predictions());
  out->set_outcomes(counters.outcomes());
  out->set_joined(counters.joined());
  out->set_pending_predictions(counters.pending_predictions());
  out->set_pending_outcomes(counters.pending_outcomes());
  out->set_expired_predictions(counters.expired_predictions());
  out->set_expired_outcomes(counters.expired_outcomes());
  out->set_rejected(counters.rejected());
  if (counters.has_watermark())
    *out->mutable_watermark() = counters.watermark();
  out->set_late(counters.late());
  out->set_late_dropped(counters.late_dropped());
  out->set_model_version(counters.watermark_model_version());
  for (const auto& [reason, count] : counters.rejected_by_reason()) {
    (*out->mutable_rejected_by_reason())[reason] = count;
  }
}

namespace {

std::string KindName(monitors::FeatureSample::Kind kind) {
  return kind == monitors::FeatureSample::Kind::kNumeric ? "numeric"
                                                         : "categorical";
}

}  // namespace

void DriftReportToProto(
    const monitors::DriftReport& report,
    google::protobuf::RepeatedPtrField<vigie::v1::FeatureDrift>* out) {
  for (const monitors::FeatureDrift& f : report.features) {
    vigie::v1::FeatureDrift* d = out->Add();
    d->set_feature(f.feature);
    d->set_kind(KindName(f.kind));
    d->set_current_count(f.current_count);
    d->set_reference_count(f.reference_count);
    d->set_missing_rate(f.missing_rate);
    d->set_reference_missing_rate(f.reference_missing_rate);
    d->set_out_of_range_rate(f.out_of_range_rate);
    d->set_psi(f.psi);
    d->set_jensen_shannon(f.jensen_shannon);
    d->set_hellinger(f.hellinger);
    for (double p : f.current_proportions) d->add_current_proportions(p);
    if (f.wasserstein_normed) d->set_wasserstein_normed(*f.wasserstein_normed);
    if (f.ks) {
      d->set_ks_statistic(f.ks->statistic);
      d->set_ks_p_value(f.ks->p_value);
    }
    if (f.chi_square) {
      d->set_chi_square(f.chi_square->statistic);
      d->set_chi_square_p_value(f.chi_square->p_value);
    }
    if (f.z) d->set_z(*f.z);
    if (f.z_p_value) d->set_z_p_value(*f.z_p_value);
    d->set_method(f.method);
    d->set_statistic(f.statistic);
    if (f.p_value) d->set_p_value(*f.p_value);
    d->set_drifted(f.drifted);
  }
}

void FeatureProfileToProto(const monitors::FeatureProfile& profile,
                           vigie::v1::FeatureProfile* out) {
  out->set_feature(profile.name);
  out->set_kind(KindName(profile.kind));
  out->set_count(profile.count);
  out->set_missing_rate(profile.missing_rate);
  if (profile.kind == monitors::FeatureSample::Kind::kNumeric) {
    out->set_min(profile.min);
    out->set_max(profile.max);
    out->set_mean(profile.mean);
    out->set_stddev(profile.stddev);
  }
  for (const std::string& label : profile.bin_labels) {
    out->add_bin_labels(label);
  }
  for (double p : profile.proportions) out->add_proportions(p);
}

void ConceptDriftToProto(const monitors::ErrorStreamSnapshot& snapshot,
                         const state::v1::ModelCountersState& counters,
                         vigie::v1::ConceptDrift* out) {
  out->set_errors_observed(snapshot.observed);
  out->set_adwin_changes(snapshot.adwin.detections);
  out->set_page_hinkley_changes(snapshot.page_hinkley.detections);
  out->set_ddm_changes(snapshot.ddm.detections);
  out->set_adwin_width(snapshot.adwin_width);
  out->set_adwin_mean(snapshot.adwin_mean.value_or(0));
  if (snapshot.ddm_active) {
    switch (snapshot.ddm_state) {
      case monitors::DdmState::kInControl:
        out->set_ddm_state("in_control");
        break;
      case monitors::DdmState::kWarning:
        out->set_ddm_state("warning");
        break;
      case monitors::DdmState::kDrift:
        out->set_ddm_state("drift");
        break;
    }
  }
  for (const google::protobuf::Timestamp& at : counters.error_changes()) {
    *out->add_changes() = at;
  }
}

void ErrorChangeEpisodeToProto(const monitors::ChangeEpisode& episode,
                               absl::Duration window, uint64_t windows,
                               vigie::v1::ErrorChangeEpisode* out) {
  *out->mutable_start() = ToProtoTime(episode.start);
  *out->mutable_latest_change() = ToProtoTime(episode.latest_change);
  out->set_mean_before(episode.mean_before);
  out->set_mean_after(episode.mean_after);
  out->set_direction(episode.direction > 0 ? "increase" : "decrease");
  out->set_cuts(episode.cuts);
  if (episode.reverted_at.has_value()) {
    *out->mutable_reverted_at() = ToProtoTime(*episode.reverted_at);
  }
  if (window > absl::ZeroDuration()) {
    const int64_t seconds =
        absl::IDivDuration(window, absl::Seconds(1), &window);
    out->mutable_window()->set_seconds(seconds);
    out->mutable_window()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(window)));
    out->set_windows_sustained(windows);
  }
}

}  // namespace vigie::services
