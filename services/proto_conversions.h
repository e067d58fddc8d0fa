#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "monitors/calibration.h"
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

void CountersToProto(const state::v1::ModelCountersState& counters,
                     vigie::v1::ModelCounters* out);

}  // namespace vigie::services
