#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "monitors/adaptive_conformal.h"
#include "monitors/calibration.h"
#include "monitors/change_detectors.h"
#include "monitors/change_episode.h"
#include "monitors/drift_report.h"
#include "monitors/fairness.h"
#include "monitors/model_monitors.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/vigie.pb.h"

// Conversions between Vigie's internal values and its API messages.

namespace vigie::services {

absl::Time FromProtoTime(const google::protobuf::Timestamp& time);
google::protobuf::Timestamp ToProtoTime(absl::Time time);

// One attribute's fairness metrics, with its count of predictions missing
// the attribute.
void FairnessToProto(const std::string& attribute,
                     const monitors::FairnessMetrics& metrics, uint64_t missing,
                     vigie::v1::AttributeFairness* out);

void CalibrationToProto(const monitors::CalibrationMetrics& metrics,
                        vigie::v1::Calibration* out);

// The fairness and calibration parts of a GetMetricsReply.
void ModelMetricsToProto(const monitors::ModelMetrics& metrics,
                         vigie::v1::GetMetricsReply* out);

// Drift: a window's features against the reference, a reference's
// profiles, and the error stream's detectors.
void DriftReportToProto(
    const monitors::DriftReport& report,
    google::protobuf::RepeatedPtrField<vigie::v1::FeatureDrift>* out);
void FeatureProfileToProto(const monitors::FeatureProfile& profile,
                           vigie::v1::FeatureProfile* out);
void ConceptDriftToProto(const monitors::ErrorStreamSnapshot& snapshot,
                         const state::v1::ModelCountersState& counters,
                         vigie::v1::ConceptDrift* out);
// The change episode, and the windows of `window` (zero: no rule, left
// unset) it was sustained over.
void ErrorChangeEpisodeToProto(const monitors::ChangeEpisode& episode,
                               absl::Duration window, uint64_t windows,
                               vigie::v1::ErrorChangeEpisode* out);

void CountersToProto(const state::v1::ModelCountersState& counters,
                     vigie::v1::ModelCounters* out);

// Conformal coverage: the model's, and its groups' by attribute (their
// overall scopes are the model's again, and left out); adaptive conformal
// inference; recommendation lists (quality_conversions.cc).
void ConformalToProto(
    const monitors::ConformalMetrics& overall,
    const std::map<std::string, monitors::ConformalMetrics>& by_attribute,
    vigie::v1::Conformal* out);
void AdaptiveConformalToProto(const monitors::AdaptiveConformal& aci,
                              vigie::v1::AdaptiveConformal* out);
void RecommendationToProto(const monitors::RecommendationMetrics& metrics,
                           vigie::v1::Recommendation* out);

}  // namespace vigie::services
