#pragma once

#include <ostream>

#include "vigie/v1/vigie.pb.h"

// Text rendering of drift against a model's reference.

namespace vigie::tools {

// The drift part of `vigiectl metrics`: when `reply` has drift, a section
// "drift against reference vN (source)" with a line per feature (current
// count, method, statistic, p-value, PSI, Jensen-Shannon distance, missing
// and out-of-range rates, DRIFTED or ok); when its concept drift observed
// errors, a line with the detectors' changes. Nothing otherwise.
void PrintDriftText(const v1::GetMetricsReply& reply, std::ostream& out);

}  // namespace vigie::tools
