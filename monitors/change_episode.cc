#include "monitors/change_episode.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/timestamp.pb.h"
#include "proto/proto_time.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::monitors {
namespace {

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("error change state: ", what));
}

// Timestamps within protobuf's range (years 1 to 9999), as the pipeline
// writes them.
constexpr int64_t kMinSeconds = -62'135'596'800;
constexpr int64_t kMaxSeconds = 253'402'300'799;

absl::StatusOr<absl::Time> FromTimestamp(const google::protobuf::Timestamp& t,
                                         absl::string_view field) {
  if (t.seconds() < kMinSeconds || t.seconds() > kMaxSeconds || t.nanos() < 0 ||
      t.nanos() > 999'999'999) {
    return Corrupt(absl::StrCat(field, " is not a valid time"));
  }
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

int DirectionOf(const AdwinCut& cut) {
  return cut.mean_after >= cut.mean_before ? 1 : -1;
}

}  // namespace

void ErrorTally::Observe(double error) {
  if (!(error >= 0 && error <= kMaxDetectorValue)) return;
  ++count;
  sum += error;
  sum_squares += error * error;
}

void ErrorTally::Merge(const ErrorTally& other) {
  count += other.count;
  sum += other.sum;
  sum_squares += other.sum_squares;
}

std::optional<double> ErrorTally::mean() const {
  if (count == 0) return std::nullopt;
  return sum / static_cast<double>(count);
}

std::optional<double> ErrorTally::variance() const {
  if (count == 0) return std::nullopt;
  const double m = sum / static_cast<double>(count);
  // Rounding may take E[x^2] - m^2 a hair below zero.
  return std::max(0.0, sum_squares / static_cast<double>(count) - m * m);
}

void ErrorTally::ToProto(state::v1::ErrorTallyState* state) const {
  state->set_count(count);
  state->set_sum(sum);
  state->set_sum_squares(sum_squares);
}

absl::StatusOr<ErrorTally> ErrorTally::FromProto(
    const state::v1::ErrorTallyState& state) {
  ErrorTally tally;
  tally.count = state.count();
  tally.sum = state.sum();
  tally.sum_squares = state.sum_squares();
  if (!std::isfinite(tally.sum) || !std::isfinite(tally.sum_squares) ||
      tally.sum < 0 || tally.sum_squares < 0) {
    return Corrupt("error sums must be finite and >= 0");
  }
  if (tally.count == 0 && (tally.sum != 0 || tally.sum_squares != 0)) {
    return Corrupt("error sums without errors");
  }
  const double n = static_cast<double>(tally.count);
  if (tally.sum > n * kMaxDetectorValue) {
    return Corrupt("error sum above count times the largest error");
  }
  // Cauchy-Schwarz: sum^2 <= n sum_squares, up to rounding.
  if (tally.count > 0 &&
      tally.sum * (tally.sum / n) > tally.sum_squares * (1 + 1e-9) + 1e-300) {
    return Corrupt("sum of squared errors below sum^2 / count");
  }
  return tally;
}

void ChangeEpisode::ToProto(state::v1::ErrorChangeEpisodeState* state) const {
  *state->mutable_start() = ToTimestamp(start);
  *state->mutable_latest_change() = ToTimestamp(latest_change);
  *state->mutable_last_cut() = ToTimestamp(last_cut);
  state->set_mean_before(mean_before);
  state->set_mean_after(mean_after);
  state->set_direction(direction);
  state->set_cuts(cuts);
  state->set_residue(residue);
  if (reverted_at.has_value()) {
    *state->mutable_reverted_at() = ToTimestamp(*reverted_at);
  }
}

absl::StatusOr<ChangeEpisode> ChangeEpisode::FromProto(
    const state::v1::ErrorChangeEpisodeState& state) {
  ChangeEpisode episode;
  absl::StatusOr<absl::Time> t = FromTimestamp(state.start(), "start");
  if (!t.ok()) return t.status();
  episode.start = *t;
  t = FromTimestamp(state.latest_change(), "latest_change");
  if (!t.ok()) return t.status();
  episode.latest_change = *t;
  t = FromTimestamp(state.last_cut(), "last_cut");
  if (!t.ok()) return t.status();
  episode.last_cut = *t;
  if (state.has_reverted_at()) {
    t = FromTimestamp(state.reverted_at(), "reverted_at");
    if (!t.ok()) return t.status();
    episode.reverted_at = *t;
  }
  episode.mean_before = state.mean_before();
  episode.mean_after = state.mean_after();
  episode.direction = state.direction();
  episode.cuts = state.cuts();
  episode.residue = state.residue();
  for (double mean : {episode.mean_before, episode.mean_after}) {
    if (!(mean >= 0 && mean <= kMaxDetectorValue)) {
      return Corrupt(absl::StrCat("mean error ", mean, " out of range"));
    }
  }
  if (episode.direction != 1 && episode.direction != -1) {
    return Corrupt(
        absl::StrCat("direction must be 1 or -1, got ", episode.direction));
  }
  if (episode.cuts == 0) return Corrupt("an episode has at least one cut");
  // No order of the times is checked: cuts are at the event times of
  // joined pairs, which need not arrive in order.
  return episode;
}

void FoldCut(std::optional<ChangeEpisode>& episode, const AdwinCut& cut,
             absl::Time at) {
  const int direction = DirectionOf(cut);
  if (episode.has_value()) {
    ChangeEpisode& e = *episode;
    const bool shedding = cut.dropped <= e.residue;
    e.cuts += 1;
    e.last_cut = at;
    e.residue = cut.kept;
    if (!e.open()) {
      // Shedding the excursion the episode was: nothing new.
      if (shedding) return;
    } else if (direction == e.direction) {
      // The same change better measured once the old data are gone, or
      // the error moving further the same way.
      if (!shedding) e.latest_change = at;
      e.mean_after = cut.mean_after;
      return;
    } else {
      // A step back: the end of the episode when the new level is nearer
      // the one before it (shedding cuts measure that level better).
      if (std::abs(cut.mean_after - e.mean_before) <=
          std::abs(cut.mean_after - e.mean_after)) {
        e.reverted_at = at;
      }
      return;
    }
  }
  ChangeEpisode e;
  e.start = at;
  e.latest_change = at;
  e.last_cut = at;
  e.mean_before = cut.mean_before;
  e.mean_after = cut.mean_after;
  e.direction = direction;
  e.cuts = 1;
  e.residue = cut.kept;
  episode = e;
}

uint64_t WindowIndex(absl::Time end, absl::Duration window, absl::Time t) {
  if (t >= end) return 1;
  // ceil((end - t) / window): t = end - k window lies in window k.
  absl::Duration remainder;
  const int64_t whole =
      absl::IDivDuration(end - t - absl::Nanoseconds(1), window, &remainder);
  return static_cast<uint64_t>(whole) + 1;
}

double ChangeBound(const ErrorTally& errors, double delta) {
  if (errors.count == 0) return std::numeric_limits<double>::infinity();
  const double n = static_cast<double>(errors.count);
  const double log_term = std::log(2 / delta);
  return std::sqrt(2 * *errors.variance() * log_term / n) +
         2 * log_term / (3 * n);
}

SustainedChange Sustained(
    const ChangeEpisode& episode, absl::Time end, absl::Duration window,
    const std::map<uint64_t, ErrorTally>& errors_by_window, uint64_t min_count,
    double delta) {
  SustainedChange result;
  if (!episode.open()) return result;
  const uint64_t start = WindowIndex(end, window, episode.start);
  const uint64_t latest = WindowIndex(end, window, episode.latest_change);
  if (min_count == 0) min_count = 1;
  // Windows without errors are undecided: only those with errors, and
  // those of the change's marks, need a look, so that an old episode with
  // short windows costs no more than its data.
  std::set<uint64_t> indices = {latest, start};
  for (const auto& [index, errors] : errors_by_window) {
    if (index >= 1 && index <= start) indices.insert(index);
  }
  uint64_t windows = 0;
  bool found_latest = false;
  for (const uint64_t index : indices) {
    WindowJudgement judged;
    judged.index = index;
    if (auto it = errors_by_window.find(index); it != errors_by_window.end()) {
      judged.errors = it->second;
    }
    judged.bound = ChangeBound(judged.errors, delta);
    const std::optional<double> mean = judged.errors.mean();
    if (index == latest || index == start) {
      judged.verdict = WindowVerdict::kChangeFound;
    } else if (judged.errors.count < min_count) {
      judged.verdict = WindowVerdict::kUndecided;
    } else if (episode.direction * (*mean - episode.mean_before) >
               judged.bound) {
      judged.verdict = WindowVerdict::kChanged;
    } else {
      judged.verdict = WindowVerdict::kBack;
    }
    result.judged.push_back(judged);
    if (judged.verdict == WindowVerdict::kBack) break;
    if (judged.verdict != WindowVerdict::kUndecided) ++windows;
    if (index >= latest) found_latest = true;
  }
  result.windows = found_latest ? windows : 0;
  return result;
}

}  // namespace vigie::monitors
