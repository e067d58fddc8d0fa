#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "monitors/change_detectors.h"

namespace vigie::state::v1 {
class ErrorTallyState;
class ErrorChangeEpisodeState;
}  // namespace vigie::state::v1

// How long a change of a model's error stream lasts: the episodes ADWIN's
// cuts make, the errors of each window, and the number of consecutive
// windows over which a change was sustained (rule error_change_windows,
// the critical level of the default policy's D4).
//
// Why episodes: ADWIN cuts its window several times after one jump, while
// it sheds the data from before it, so counting cuts cannot tell a
// sustained change from a single one. An episode folds those cuts into one
// change, with the error's level before and after it; each window since is
// then judged against the level before.
//
// Pure values; deterministic; thread-compatible.

namespace vigie::monitors {

// Count, sum and sum of squares of errors in [0, kMaxDetectorValue]. Exact
// and mergeable (up to rounding), the empty tally being the identity.
struct ErrorTally {
  uint64_t count = 0;
  double sum = 0;
  double sum_squares = 0;

  // O(1). Values outside [0, kMaxDetectorValue] (and NaN) are ignored, as
  // the detectors ignore them.
  void Observe(double error);
  void Merge(const ErrorTally& other);
  std::optional<double> mean() const;      // Empty while count is 0.
  std::optional<double> variance() const;  // Population; empty if no data.

  void ToProto(state::v1::ErrorTallyState* state) const;
  // kDataLoss for a tally no stream can give: sums not finite, negative,
  // non-zero without a count, above count * kMaxDetectorValue, or a sum of
  // squares below sum^2 / count (less rounding).
  static absl::StatusOr<ErrorTally> FromProto(
      const state::v1::ErrorTallyState& state);

  bool operator==(const ErrorTally&) const = default;
};

// The latest change of the error stream, built from ADWIN's cuts by
// FoldCut:
//  - the first cut opens it: start, the level before (the mean of the data
//    it dropped) and after (the mean of the window it kept), the direction;
//  - a cut dropping no more than `residue`, the observations ADWIN kept at
//    the previous cut, is ADWIN shedding the data it kept from before that
//    cut; any other cut is a new change;
//  - in an open episode, a cut the same way moves mean_after (and, if a
//    new change, latest_change: the error moved further); a cut the other
//    way ends the episode (reverted) when its level is nearer mean_before
//    than mean_after, and is otherwise a partial step back (the episode
//    goes on);
//  - after a reverted episode, shedding cuts are part of it, and a new
//    change opens a new episode.
struct ChangeEpisode {
  absl::Time start;
  absl::Time latest_change;
  absl::Time last_cut;
  double mean_before = 0;
  double mean_after = 0;
  int direction = 1;  // +1: the error rose; -1: it fell.
  uint64_t cuts = 0;
  uint64_t residue = 0;
  std::optional<absl::Time> reverted_at;

  bool open() const { return !reverted_at.has_value(); }

  void ToProto(state::v1::ErrorChangeEpisodeState* state) const;
  // kDataLoss for an episode FoldCut cannot make: means not finite or
  // negative, a direction other than +1 or -1, no cut, times out of order,
  // or times out of range.
  static absl::StatusOr<ChangeEpisode> FromProto(
      const state::v1::ErrorChangeEpisodeState& state);

  bool operator==(const ChangeEpisode&) const = default;
};

// Folds the cut ADWIN made at the pair of event time `at` into `episode`
// (opened when empty). O(1).
void FoldCut(std::optional<ChangeEpisode>& episode, const AdwinCut& cut,
             absl::Time at);

// The index of the window of length `window` holding `t`, counting back
// from the one ending at `end`: 1 for [end - window, end), 2 for the one
// before, and so on (1 for t >= end). `window` must be positive.
uint64_t WindowIndex(absl::Time end, absl::Duration window, absl::Time t);

// The bound a window's mean error must exceed, beyond the level before a
// change, to count as still changed: the variance-based (Bernstein-type)
// deviation ADWIN cuts on, for one sample of n errors against a fixed level,
//   eps = sqrt(2 sigma^2 ln(2/delta) / n) + 2 ln(2/delta) / (3 n),
// sigma^2 the window's population variance (for errors in [0, 1], the
// mean of n of them lies that far from its expectation with probability at
// most about delta). Infinite when the tally is empty.
double ChangeBound(const ErrorTally& errors, double delta);

enum class WindowVerdict {
  kChangeFound,  // ADWIN found the episode's change (or a further one) here.
  kChanged,      // Beyond the level before by more than the bound.
  kUndecided,    // Fewer errors than the minimum: neither adds nor ends.
  kBack,         // Not beyond it: the change ended before this window.
};

struct WindowJudgement {
  uint64_t index = 0;  // As WindowIndex counts.
  ErrorTally errors;
  double bound = 0;
  WindowVerdict verdict = WindowVerdict::kUndecided;
};

struct SustainedChange {
  // Consecutive windows, ending with window 1, over which the change was
  // sustained: 0 without an open episode, or when a window since the
  // latest change is back at the old level.
  uint64_t windows = 0;
  // Newest (window 1) first; windows without errors and not holding a
  // change are undecided and left out.
  std::vector<WindowJudgement> judged;
};

// The number of consecutive windows of length `window`, ending with the one
// that ends at `end`, over which `episode` was sustained. Walking back from
// window 1: a window with fewer than `min_count` errors (at least 1) is
// undecided, skipped; one whose mean lies beyond mean_before, in the
// episode's direction, by more than ChangeBound(delta) adds 1; one holding
// the episode's latest change or start adds 1 whatever its mean (ADWIN found
// the change there, perhaps late in it); any other stops the walk. The walk
// ends at the episode's start window. A reverted episode gives 0; so does
// a walk stopped before it found a window of the latest change (the error
// is back at its old level since then). `errors_by_window` maps window
// indices to their errors (missing: none). O(entries of errors_by_window).
SustainedChange Sustained(
    const ChangeEpisode& episode, absl::Time end, absl::Duration window,
    const std::map<uint64_t, ErrorTally>& errors_by_window, uint64_t min_count,
    double delta);

}  // namespace vigie::monitors
