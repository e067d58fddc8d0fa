#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "monitors/fairness.h"
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

void CountersToProto(const state::v1::ModelCountersState& counters,
                     vigie::v1::ModelCounters* out);

}  // namespace vigie::services
