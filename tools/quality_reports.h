#pragma once

#include <ostream>

#include "vigie/v1/vigie.pb.h"

// Text renderings of a model's conformal coverage and recommendation
// quality, the parts of `vigiectl metrics` after drift.

namespace vigie::tools {

// When `reply` has conformal coverage: a section with the model's coverage,
// its interval and the K1 gate (law, quantiles, p-value), the mean size,
// the score quantile and adaptive conformal inference's next alpha; then a
// table per attribute, a row per group, and the coverage gap. Nothing
// otherwise.
void PrintConformalText(const v1::GetMetricsReply& reply, std::ostream& out);

// When `reply` has recommendation metrics: a section with lists, diversity,
// novelty, popularity, coverage, exposure Gini, personalisation, hit rate,
// MRR and serendipity ("—" for a metric the window cannot define).
// Nothing otherwise.
void PrintRecommendationText(const v1::GetMetricsReply& reply,
                             std::ostream& out);

}  // namespace vigie::tools
