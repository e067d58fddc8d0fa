#pragma once

#include <ostream>

#include "vigie/v1/vigie.pb.h"

// The text of a binary model's performance estimate in `vigiectl metrics`.

namespace vigie::tools {

// When `reply` has a performance estimate: a section naming the
// calibration map, then for the model and each group its predictions and
// outcomes so far and a row per metric (accuracy, precision, recall, F1)
// with the estimated value and its 95% interval beside the realised one
// ("—" when undefined). Nothing otherwise.
void PrintPerformanceText(const v1::GetMetricsReply& reply, std::ostream& out);

}  // namespace vigie::tools
