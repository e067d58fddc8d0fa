#pragma once

#include <ostream>

#include "vigie/v1/vigie.pb.h"

// The energy and carbon part of `vigiectl metrics` (referential Q6.1, rule
// E1).

namespace vigie::tools {

// When `reply` has a footprint: the predictions that reported a cost, the
// totals, and a row each for energy and carbon per 1,000 of them with
// their 95% interval, baseline (and its source), change and share of the
// budget ("—" where there is none). Nothing otherwise.
void PrintFootprintText(const v1::GetMetricsReply& reply, std::ostream& out);

}  // namespace vigie::tools
