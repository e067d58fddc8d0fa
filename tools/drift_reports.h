#pragma once

#include <cstdint>
#include <ostream>
#include <vector>

#include "vigie/v1/vigie.pb.h"

// Text renderings of a model's reference and of drift against it.

namespace vigie::tools {

// What `vigiectl reference upload` prints: the new version and its counts,
// the events rejected out of those sent (`event_lines`, one per event) with
// the first reasons, located by LocateReferenceRejection, and one line per
// feature profile: kind, count, missing rate, and range, mean and standard
// deviation for a numeric one ("—" for a categorical one), and its number of
// bins.
void PrintReferenceUploadText(const v1::ReferenceInfo& info,
                              const std::vector<int64_t>& event_lines,
                              std::ostream& out);

// What `vigiectl reference show` prints: version, source, creation time,
// frozen window if any, counts; then per feature its kind, count, missing
// rate, numeric summary, and a table of its bins with their proportions.
void PrintReferenceText(const v1::ReferenceInfo& info, std::ostream& out);

// The drift part of `vigiectl metrics`: when `reply` has drift, a section
// "drift against reference vN (source)" with a line per feature (current
// count, method, statistic, p-value, PSI, Jensen-Shannon distance, missing
// and out-of-range rates, DRIFTED or ok); when its concept drift observed
// errors, a line with the detectors' changes. Nothing otherwise.
void PrintDriftText(const v1::GetMetricsReply& reply, std::ostream& out);

}  // namespace vigie::tools
