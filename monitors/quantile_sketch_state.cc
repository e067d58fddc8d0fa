// QuantileSketch's state: vigie.state.v1.QuantileSketchState, and its
// checks on the way back.

#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/quantile_sketch.h"
#include "vigie/state/v1/sketch.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;
// Levels a sketch of at most kMaxCount values can have: weights sum to the
// count, so the top level's weight 2^h is at most 2^62.
constexpr size_t kMaxLevels = 63;

}  // namespace

void QuantileSketch::ToProto(state::v1::QuantileSketchState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  state->set_count(count());
  state->set_ignored(ignored_);
  if (!empty()) {
    state->set_min(min());
    state->set_max(max());
  }
  state->set_random_state(random_state_);
  state->set_error_variance(error_variance_);
  state->mutable_unsorted()->Add(buffer_.begin(), buffer_.end());
  for (const std::vector<double>& level : levels_) {
    state->add_levels()->mutable_values()->Add(level.begin(), level.end());
  }
  state->set_k(k_);
  state->set_exact_capacity(exact_capacity_);
}

std::string QuantileSketch::Serialize() const {
  state::v1::QuantileSketchState state;
  ToProto(&state);
  return state.SerializeAsString();
}

absl::StatusOr<QuantileSketch> QuantileSketch::Deserialize(
    absl::string_view bytes) {
  state::v1::QuantileSketchState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        "quantile sketch state is not a valid QuantileSketchState");
  }
  return FromProto(state);
}

absl::StatusOr<QuantileSketch> QuantileSketch::FromProto(
    const state::v1::QuantileSketchState& state) {
  const auto corrupt = [](auto&&... parts) {
    return absl::DataLossError(
        absl::StrCat("quantile sketch state: ", parts...));
  };
  if (state.version() != kStateVersion) {
    return corrupt("version ", state.version(), ", expected ", kStateVersion);
  }
  if (absl::Status status =
          ValidateParameters(state.k(), state.exact_capacity());
      !status.ok()) {
    return corrupt(status.message());
  }
  QuantileSketch sketch(state.k(), state.exact_capacity());
  const uint64_t count = state.count();
  if (count > kMaxCount) return corrupt("count ", count, " over ", kMaxCount);
  const bool exact_phase = count <= sketch.exact_capacity_;
  const size_t num_levels = static_cast<size_t>(state.levels_size());
  if (exact_phase != (num_levels == 0)) {
    return corrupt(num_levels, " levels for count ", count,
                   " and exact_capacity ", sketch.exact_capacity_);
  }
  if (num_levels > kMaxLevels) return corrupt(num_levels, " levels");
  if (num_levels > 0 &&
      state.levels(static_cast<int>(num_levels) - 1).values_size() == 0) {
    return corrupt("the top level is empty");
  }
  const size_t buffer_capacity =
      exact_phase ? sketch.exact_capacity_ : kBufferCapacity;
  if (static_cast<size_t>(state.unsorted_size()) > buffer_capacity) {
    return corrupt(state.unsorted_size(), " unsorted values, over ",
                   buffer_capacity);
  }
  const double lo = state.min();
  const double hi = state.max();
  if (count == 0 ? (lo != 0 || hi != 0)
                 : !(std::isfinite(lo) && std::isfinite(hi) && lo <= hi)) {
    return corrupt("min ", lo, " and max ", hi, " for count ", count);
  }
  const auto in_range = [lo, hi](double v) { return v >= lo && v <= hi; };
  for (double v : state.unsorted()) {
    if (!in_range(v))
      return corrupt("unsorted value ", v, " outside [min, max]");
  }
  absl::uint128 total = static_cast<uint64_t>(state.unsorted_size());
  size_t retained_in_levels = 0;
  bool weighted = false;
  sketch.SetNumLevels(num_levels);
  for (size_t h = 0; h < num_levels; ++h) {
    const auto& values = state.levels(static_cast<int>(h)).values();
    for (int i = 0; i < values.size(); ++i) {
      if (!in_range(values[i]) || (i > 0 && values[i] < values[i - 1])) {
        return corrupt("level ", h, " is not sorted within [min, max] at ", i);
      }
    }
    total += absl::uint128(static_cast<uint64_t>(values.size()))
             << static_cast<int>(h);
    retained_in_levels += static_cast<size_t>(values.size());
    weighted = weighted || (h > 0 && !values.empty());
    sketch.levels_[h].assign(values.begin(), values.end());
  }
  if (total != count) {
    return corrupt("weights sum to ", absl::Uint128Low64(total),
                   absl::Uint128High64(total) > 0 ? " (over 2^64)" : "",
                   ", count is ", count);
  }
  if (retained_in_levels > sketch.total_capacity_) {
    return corrupt(retained_in_levels, " values in ", num_levels,
                   " levels, over their capacity ", sketch.total_capacity_);
  }
  sketch.retained_in_levels_ = retained_in_levels;
  const double variance = state.error_variance();
  if (!(std::isfinite(variance) && variance >= 0) ||
      (variance > 0) != weighted) {
    return corrupt("error variance ", variance, weighted ? " with" : " without",
                   " weighted values");
  }
  sketch.buffer_.assign(state.unsorted().begin(), state.unsorted().end());
  sketch.buffer_capacity_ = buffer_capacity;
  sketch.buffer_.reserve(buffer_capacity);
  sketch.flushed_count_ = count - static_cast<uint64_t>(state.unsorted_size());
  sketch.ignored_ = state.ignored();
  if (count > 0) {
    sketch.min_ = lo;
    sketch.max_ = hi;
  }
  sketch.random_state_ = state.random_state();
  sketch.error_variance_ = variance;
  return sketch;
}

}  // namespace vigie::monitors
