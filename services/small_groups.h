#pragma once

#include <cstdint>

#include "vigie/v1/vigie.pb.h"

// Small groups are never shown on their own (referential Q1.5; issue 11):
// a group with fewer than k predictions (privacy.min_group_size) has its
// figures withheld wherever Vigie reports them (GetMetrics, and so
// /metrics, vigiectl and the report page; alerts), and is reported as
// "fewer than k". It still counts in the overall figures. A group with
// enough predictions but fewer than k labelled ones has its outcome
// figures withheld. A gap is reported only when both groups that define it
// are shown; the pipeline also keeps such groups out of the gaps it
// computes (fairness and conformal min_group_size at least k).

namespace vigie::services {

// Withholds in place; sets reply.min_reported_group_size to k.
void SuppressSmallGroups(uint64_t k, vigie::v1::GetMetricsReply& reply);
// The same for an alert's group samples.
void SuppressSmallGroups(uint64_t k, vigie::v1::Alert& alert);

}  // namespace vigie::services
