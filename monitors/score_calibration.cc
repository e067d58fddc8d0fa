#include "monitors/score_calibration.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vigie::monitors {
namespace {

// Sums of a run of bins being pooled.
struct Run {
  uint64_t labelled = 0;
  uint64_t positives = 0;
  std::vector<int> bins;
};

// Whether a's frequency exceeds b's, exactly: a.p / a.n > b.p / b.n.
bool Above(const Run& a, const Run& b) {
  return absl::uint128(a.positives) * b.labelled >
         absl::uint128(b.positives) * a.labelled;
}

}  // namespace

absl::string_view CalibrationMethodName(CalibrationMethod method) {
  return method == CalibrationMethod::kIsotonic ? "isotonic" : "histogram";
}

absl::StatusOr<CalibrationMethod> ParseCalibrationMethod(
    absl::string_view name) {
  if (name == "isotonic") return CalibrationMethod::kIsotonic;
  if (name == "histogram") return CalibrationMethod::kHistogram;
  return absl::InvalidArgumentError(absl::StrCat(
      "calibration must be isotonic or histogram, got '", name, "'"));
}

absl::StatusOr<ScoreCalibration> ScoreCalibration::Learn(
    absl::Span<const uint64_t> labelled, absl::Span<const uint64_t> positives,
    CalibrationMethod method) {
  if (labelled.size() != positives.size() || labelled.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a calibration map needs two or more bins of pairs and positives, got ",
        labelled.size(), " and ", positives.size()));
  }
  std::vector<Run> runs;
  for (size_t b = 0; b < labelled.size(); ++b) {
    if (positives[b] > labelled[b]) {
      return absl::InvalidArgumentError(
          absl::StrCat("bin ", b, " has ", positives[b], " positives of ",
                       labelled[b], " pairs"));
    }
    if (labelled[b] == 0) continue;
    runs.push_back(Run{labelled[b], positives[b], {static_cast<int>(b)}});
    if (method != CalibrationMethod::kIsotonic) continue;
    // Pool adjacent violators: while the run before is above the last one,
    // merge them; the pooled frequency is the count-weighted mean.
    while (runs.size() >= 2 && Above(runs[runs.size() - 2], runs.back())) {
      Run last = std::move(runs.back());
      runs.pop_back();
      Run& previous = runs.back();
      previous.labelled += last.labelled;
      previous.positives += last.positives;
      previous.bins.insert(previous.bins.end(), last.bins.begin(),
                           last.bins.end());
    }
  }
  if (runs.empty()) {
    return absl::FailedPreconditionError(
        "no labelled pair to learn a calibration map from");
  }
  ScoreCalibration map;
  const int num_bins = static_cast<int>(labelled.size());
  map.block_of_.assign(labelled.size(), -1);
  map.extrapolated_.assign(labelled.size(), false);
  for (size_t k = 0; k < runs.size(); ++k) {
    map.blocks_.push_back(
        Block{runs[k].labelled, static_cast<double>(runs[k].positives) /
                                    static_cast<double>(runs[k].labelled)});
    map.labelled_ += runs[k].labelled;
    for (int b : runs[k].bins) map.block_of_[b] = static_cast<int>(k);
  }
  // Empty bins borrow the nearest labelled bin's block, the lower on a tie.
  for (int b = 0; b < num_bins; ++b) {
    if (map.block_of_[b] >= 0) continue;
    map.extrapolated_[b] = true;
    for (int d = 1; d < num_bins; ++d) {
      if (b - d >= 0 && labelled[b - d] > 0) {
        map.block_of_[b] = map.block_of_[b - d];
        break;
      }
      if (b + d < num_bins && labelled[b + d] > 0) {
        map.block_of_[b] = map.block_of_[b + d];
        break;
      }
    }
  }
  return map;
}

}  // namespace vigie::monitors
