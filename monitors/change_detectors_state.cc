// The change detectors' state: vigie.state.v1.ErrorStreamDetectorsState and
// its parts, and their checks on the way back. Every check guards an
// invariant that Add keeps, so a state that passes continues as the
// original would have, and hostile bytes give kDataLoss, never a crash.

#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/change_detectors.h"
#include "monitors/change_detectors_internal.h"
#include "vigie/state/v1/detectors.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;
// Relative slack between the window's sums as kept incrementally and as
// recomputed from the buckets: both are rounded, differently.
constexpr double kSumSlack = 1e-6;

double ToDouble(uint64_t n) { return static_cast<double>(n); }

absl::Status Corrupt(absl::string_view what, absl::string_view detail) {
  return absl::DataLossError(absl::StrCat(what, " state: ", detail));
}

// The status of a failed option check, as data loss.
absl::Status BadOptions(absl::string_view what, const absl::Status& status) {
  return Corrupt(what, absl::StrCat("options: ", status.message()));
}

// Whether `n` detections, each after at least `min_instances` observations
// since the previous reset, and `instances` more fit in `observed`.
bool ResetsFit(uint64_t detections, uint64_t min_instances, uint64_t instances,
               uint64_t observed) {
  if (instances > observed) return false;
  return detections <= (observed - instances) / min_instances;
}

state::v1::PageHinkleyDirection ToProto(PageHinkley::Direction direction) {
  switch (direction) {
    case PageHinkley::Direction::kIncrease:
      return state::v1::PAGE_HINKLEY_DIRECTION_INCREASE;
    case PageHinkley::Direction::kDecrease:
      return state::v1::PAGE_HINKLEY_DIRECTION_DECREASE;
    case PageHinkley::Direction::kBoth:
      return state::v1::PAGE_HINKLEY_DIRECTION_BOTH;
  }
  return state::v1::PAGE_HINKLEY_DIRECTION_UNSPECIFIED;
}

state::v1::DdmLevel ToProto(DdmState level) {
  switch (level) {
    case DdmState::kInControl:
      return state::v1::DDM_LEVEL_IN_CONTROL;
    case DdmState::kWarning:
      return state::v1::DDM_LEVEL_WARNING;
    case DdmState::kDrift:
      return state::v1::DDM_LEVEL_DRIFT;
  }
  return state::v1::DDM_LEVEL_UNSPECIFIED;
}

}  // namespace

// ---------------------------------------------------------------- Adwin

void Adwin::ToProto(state::v1::AdwinState* state) const {
  state->Clear();
  state->set_delta(options_.delta);
  state->set_max_buckets_per_row(
      static_cast<uint32_t>(options_.max_buckets_per_row));
  state->set_clock(static_cast<uint32_t>(options_.clock));
  state->set_min_window(static_cast<uint32_t>(options_.min_window));
  state->set_max_width(options_.max_width);
  state->set_observed(observed_);
  state->set_ignored(ignored_);
  state->set_detections(detections_);
  state->set_width(width_);
  state->set_total(total_);
  state->set_variance_sum(variance_sum_);
  state->mutable_rows()->Reserve(static_cast<int>(rows_.size()));
  for (const Row& row : rows_) {
    state::v1::AdwinRow* out = state->add_rows();
    out->mutable_totals()->Reserve(static_cast<int>(row.size()));
    out->mutable_variance_sums()->Reserve(static_cast<int>(row.size()));
    for (const Bucket& bucket : row) {
      out->add_totals(bucket.total);
      out->add_variance_sums(bucket.variance_sum);
    }
  }
}

absl::StatusOr<Adwin> Adwin::FromProto(const state::v1::AdwinState& state) {
  constexpr absl::string_view kWhat = "adwin";
  // Checked as uint32 first: a huge value must not wrap into range as int.
  if (state.max_buckets_per_row() > uint32_t{kMaxBucketsPerRow} ||
      state.clock() > uint32_t{kMaxClock} ||
      state.min_window() > uint32_t{kMaxMinWindow}) {
    return Corrupt(kWhat, "options out of range");
  }
  Options options;
  options.delta = state.delta();
  options.max_buckets_per_row = static_cast<int>(state.max_buckets_per_row());
  options.clock = static_cast<int>(state.clock());
  options.min_window = static_cast<int>(state.min_window());
  options.max_width = state.max_width();
  if (absl::Status status = detectors_internal::ValidateAdwinOptions(options);
      !status.ok()) {
    return BadOptions(kWhat, status);
  }

  Adwin adwin(options);
  const int num_rows = state.rows_size();
  // 2^62 observations at most: rows 0 to 61 (and a few buckets) hold them.
  if (num_rows > 62) {
    return Corrupt(kWhat, absl::StrCat(num_rows, " rows"));
  }
  const size_t capacity = static_cast<size_t>(options.max_buckets_per_row);
  uint64_t width = 0;
  double abs_total = 0;    // Sum of |bucket total|: the scale of the sums.
  double sum_squares = 0;  // Sum of x^2 over the window, from the buckets.
  adwin.rows_.resize(static_cast<size_t>(num_rows));
  for (int i = 0; i < num_rows; ++i) {
    const state::v1::AdwinRow& row = state.rows(i);
    const size_t size = static_cast<size_t>(row.totals_size());
    const bool last = i + 1 == num_rows;
    if (static_cast<size_t>(row.variance_sums_size()) != size ||
        size > capacity || size < (last ? 1 : capacity - 1)) {
      return Corrupt(
          kWhat,
          absl::StrCat("row ", i, " has ", row.totals_size(), " totals and ",
                       row.variance_sums_size(), " variance sums"));
    }
    const double bucket_size = std::ldexp(1.0, i);
    const double max_total = bucket_size * kMaxDetectorValue;
    // n values in [-a, a] deviate from their mean by at most n a^2 squared.
    const double max_variance_sum =
        bucket_size * kMaxDetectorValue * kMaxDetectorValue;
    Row& out = adwin.rows_[static_cast<size_t>(i)];
    out.reserve(capacity + 1);
    for (size_t j = 0; j < size; ++j) {
      const double total = row.totals(static_cast<int>(j));
      const double variance_sum = row.variance_sums(static_cast<int>(j));
      if (!(std::abs(total) <= max_total) ||
          !(variance_sum >= 0 && variance_sum <= max_variance_sum) ||
          (i == 0 && variance_sum != 0)) {
        return Corrupt(kWhat,
                       absl::StrCat("bucket ", j, " of row ", i, " has total ",
                                    total, " and variance sum ", variance_sum));
      }
      out.push_back({total, variance_sum});
      abs_total += std::abs(total);
      sum_squares += variance_sum + total / bucket_size * total;
    }
    // Checked row by row, so that the sum cannot wrap.
    if (static_cast<uint64_t>(size) > (kMaxWidth >> i) ||
        width + (static_cast<uint64_t>(size) << i) > kMaxWidth) {
      return Corrupt(
          kWhat, absl::StrCat("row ", i, " takes the width past ", kMaxWidth));
    }
    width += static_cast<uint64_t>(size) << i;
  }
  if (width != state.width() || width > state.observed() ||
      (options.max_width != 0 && width > options.max_width)) {
    return Corrupt(
        kWhat, absl::StrCat("width ", state.width(), ", buckets hold ", width,
                            ", observed ", state.observed()));
  }
  if (state.detections() > state.observed()) {
    return Corrupt(kWhat, absl::StrCat(state.detections(), " detections in ",
                                       state.observed(), " observations"));
  }
  adwin.width_ = width;
  adwin.observed_ = state.observed();
  adwin.ticks_ =
      static_cast<int>(state.observed() % static_cast<uint64_t>(options.clock));
  adwin.ignored_ = state.ignored();
  adwin.detections_ = state.detections();
  // The sums as a cut recomputes them, to compare.
  adwin.RecomputeSums();
  const double total = state.total();
  const double variance_sum = state.variance_sum();
  if (!(std::abs(total - adwin.total_) <= kSumSlack * abs_total) ||
      !(variance_sum >= 0 && std::abs(variance_sum - adwin.variance_sum_) <=
                                 kSumSlack * sum_squares)) {
    return Corrupt(kWhat,
                   absl::StrCat("sums ", total, " and ", variance_sum,
                                " do not match the buckets' ", adwin.total_,
                                " and ", adwin.variance_sum_));
  }
  adwin.total_ = total;
  adwin.variance_sum_ = variance_sum;
  return adwin;
}

// ---------------------------------------------------------- PageHinkley

void PageHinkley::ToProto(state::v1::PageHinkleyState* state) const {
  state->Clear();
  state->set_min_instances(options_.min_instances);
  state->set_delta(options_.delta);
  state->set_threshold(options_.threshold);
  state->set_alpha(options_.alpha);
  state->set_direction(monitors::ToProto(options_.direction));
  state->set_observed(observed_);
  state->set_ignored(ignored_);
  state->set_detections(detections_);
  state->set_instances(instances_);
  state->set_mean(mean_);
  state->set_sum_increase(sum_increase_);
  state->set_min_increase(min_increase_);
  state->set_sum_decrease(sum_decrease_);
  state->set_max_decrease(max_decrease_);
}

absl::StatusOr<PageHinkley> PageHinkley::FromProto(
    const state::v1::PageHinkleyState& state) {
  constexpr absl::string_view kWhat = "page_hinkley";
  Options options;
  options.min_instances = state.min_instances();
  options.delta = state.delta();
  options.threshold = state.threshold();
  options.alpha = state.alpha();
  switch (state.direction()) {
    case state::v1::PAGE_HINKLEY_DIRECTION_INCREASE:
      options.direction = Direction::kIncrease;
      break;
    case state::v1::PAGE_HINKLEY_DIRECTION_DECREASE:
      options.direction = Direction::kDecrease;
      break;
    case state::v1::PAGE_HINKLEY_DIRECTION_BOTH:
      options.direction = Direction::kBoth;
      break;
    default:
      return Corrupt(kWhat, absl::StrCat("direction ", state.direction()));
  }
  if (absl::Status status =
          detectors_internal::ValidatePageHinkleyOptions(options);
      !status.ok()) {
    return BadOptions(kWhat, status);
  }
  const uint64_t n = state.instances();
  if (!ResetsFit(state.detections(), options.min_instances, n,
                 state.observed())) {
    return Corrupt(kWhat, absl::StrCat(state.detections(), " detections and ",
                                       n, " instances in ", state.observed(),
                                       " observations"));
  }
  // Each step adds x - mean -/+ delta, at most 3e100 in magnitude.
  const double max_sum = ToDouble(n) * 3 * kMaxDetectorValue;
  const double mean = state.mean();
  const double up = state.sum_increase();
  const double low = state.min_increase();
  const double down = state.sum_decrease();
  const double high = state.max_decrease();
  const bool in_range =
      std::abs(mean) <= kMaxDetectorValue && std::abs(up) <= max_sum &&
      std::abs(down) <= max_sum && low <= 0 && low <= up && low >= -max_sum &&
      high >= 0 && high >= down && high <= max_sum &&
      (n != 0 || (mean == 0 && up == 0 && down == 0 && low == 0 && high == 0));
  if (!in_range) {
    return Corrupt(kWhat, absl::StrCat("mean ", mean, ", sums ", up, " and ",
                                       down, ", extremes ", low, " and ", high,
                                       " after ", n, " instances"));
  }
  PageHinkley detector(options);
  detector.instances_ = n;
  detector.mean_ = mean;
  detector.sum_increase_ = up;
  detector.min_increase_ = low;
  detector.sum_decrease_ = down;
  detector.max_decrease_ = high;
  detector.observed_ = state.observed();
  detector.ignored_ = state.ignored();
  detector.detections_ = state.detections();
  // A statistic past the threshold would have been a detection and reset.
  if (n >= options.min_instances && detector.statistic() > options.threshold) {
    return Corrupt(kWhat, absl::StrCat("statistic ", detector.statistic(),
                                       " is past the threshold"));
  }
  return detector;
}

// ------------------------------------------------------------------ Ddm

void Ddm::ToProto(state::v1::DriftDetectionMethodState* state) const {
  state->Clear();
  state->set_min_instances(options_.min_instances);
  state->set_warning_level(options_.warning_level);
  state->set_drift_level(options_.drift_level);
  state->set_observed(observed_);
  state->set_detections(detections_);
  state->set_warnings(warnings_);
  state->set_instances(instances_);
  state->set_errors(errors_);
  state->set_has_minimum(has_minimum_);
  state->set_p_min(p_min_);
  state->set_s_min(s_min_);
  state->set_level(observed_ == 0 ? state::v1::DDM_LEVEL_UNSPECIFIED
                                  : monitors::ToProto(state_));
}

absl::StatusOr<Ddm> Ddm::FromProto(
    const state::v1::DriftDetectionMethodState& state) {
  constexpr absl::string_view kWhat = "ddm";
  Options options;
  options.min_instances = state.min_instances();
  options.warning_level = state.warning_level();
  options.drift_level = state.drift_level();
  if (absl::Status status = detectors_internal::ValidateDdmOptions(options);
      !status.ok()) {
    return BadOptions(kWhat, status);
  }
  const uint64_t n = state.instances();
  const uint64_t observed = state.observed();
  if (state.errors() > n ||
      !ResetsFit(state.detections(), options.min_instances, n, observed) ||
      state.warnings() > observed - state.detections()) {
    return Corrupt(
        kWhat,
        absl::StrCat(state.errors(), " errors in ", n, " instances, ",
                     state.detections(), " drifts and ", state.warnings(),
                     " warnings in ", observed, " observations"));
  }
  Ddm ddm(options);
  ddm.observed_ = observed;
  ddm.detections_ = state.detections();
  ddm.warnings_ = state.warnings();
  ddm.instances_ = n;
  ddm.errors_ = state.errors();
  ddm.has_minimum_ = state.has_minimum();
  ddm.p_min_ = state.p_min();
  ddm.s_min_ = state.s_min();

  // The minimum: set only from instances >= min_instances with 0 < p < 1,
  // and then at most the current p + s.
  const double p = n == 0 ? 0 : *ddm.error_rate();
  const double s = n == 0 ? 0 : *ddm.error_rate_stddev();
  const bool eligible = n >= options.min_instances && s > 0;
  const bool minimum_ok = state.has_minimum()
                              ? eligible && ddm.p_min_ > 0 && ddm.p_min_ < 1 &&
                                    ddm.s_min_ > 0 && ddm.s_min_ <= 0.5 &&
                                    ddm.p_min_ + ddm.s_min_ <= p + s
                              : !eligible && ddm.p_min_ == 0 && ddm.s_min_ == 0;
  if (!minimum_ok) {
    return Corrupt(
        kWhat,
        absl::StrCat("minimum (", ddm.p_min_, ", ", ddm.s_min_, ") after ", n,
                     " instances with ", state.errors(), " errors"));
  }

  // The last answer follows from the counts, but for a drift (after which
  // the counts restart from 0).
  state::v1::DdmLevel expected;
  if (n == 0) {
    expected = observed == 0 ? state::v1::DDM_LEVEL_UNSPECIFIED
                             : state::v1::DDM_LEVEL_DRIFT;
  } else if (!state.has_minimum()) {
    expected = state::v1::DDM_LEVEL_IN_CONTROL;
  } else {
    const double level = p + s;
    if (level >= ddm.p_min_ + options.drift_level * ddm.s_min_) {
      return Corrupt(kWhat, "counts past the drift level");
    }
    expected = level >= ddm.p_min_ + options.warning_level * ddm.s_min_
                   ? state::v1::DDM_LEVEL_WARNING
                   : state::v1::DDM_LEVEL_IN_CONTROL;
  }
  if (state.level() != expected ||
      (expected == state::v1::DDM_LEVEL_DRIFT && state.detections() == 0) ||
      (expected == state::v1::DDM_LEVEL_WARNING && state.warnings() == 0)) {
    return Corrupt(
        kWhat, absl::StrCat("level ", state.level(), ", expected ", expected));
  }
  switch (expected) {
    case state::v1::DDM_LEVEL_WARNING:
      ddm.state_ = DdmState::kWarning;
      break;
    case state::v1::DDM_LEVEL_DRIFT:
      ddm.state_ = DdmState::kDrift;
      break;
    default:
      ddm.state_ = DdmState::kInControl;
      break;
  }
  return ddm;
}

// ------------------------------------------------- ErrorStreamDetectors

void ErrorStreamDetectors::ToProto(
    state::v1::ErrorStreamDetectorsState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  state->set_observed(observed_);
  state->set_ignored(ignored_);
  state->set_all_binary(all_binary_);
  state->set_adwin_last_detection(adwin_last_);
  state->set_page_hinkley_last_detection(page_hinkley_last_);
  state->set_ddm_last_detection(ddm_last_);
  adwin_.ToProto(state->mutable_adwin());
  page_hinkley_.ToProto(state->mutable_page_hinkley());
  ddm_.ToProto(state->mutable_ddm());
}

std::string ErrorStreamDetectors::Serialize() const {
  state::v1::ErrorStreamDetectorsState state;
  ToProto(&state);
  return state.SerializeAsString();
}

absl::StatusOr<ErrorStreamDetectors> ErrorStreamDetectors::Deserialize(
    absl::string_view bytes, const Options& options) {
  state::v1::ErrorStreamDetectorsState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        "error stream detectors state is not a valid "
        "ErrorStreamDetectorsState");
  }
  return FromProto(state, options);
}

absl::StatusOr<ErrorStreamDetectors> ErrorStreamDetectors::FromProto(
    const state::v1::ErrorStreamDetectorsState& state, const Options& options) {
  constexpr absl::string_view kWhat = "error stream detectors";
  if (state.version() != kStateVersion) {
    return Corrupt(kWhat, absl::StrCat("version ", state.version(),
                                       ", expected ", kStateVersion));
  }
  if (!state.has_adwin() || !state.has_page_hinkley() || !state.has_ddm()) {
    return Corrupt(kWhat, "a detector is missing");
  }
  absl::StatusOr<Adwin> adwin = Adwin::FromProto(state.adwin());
  if (!adwin.ok()) return adwin.status();
  absl::StatusOr<PageHinkley> page_hinkley =
      PageHinkley::FromProto(state.page_hinkley());
  if (!page_hinkley.ok()) return page_hinkley.status();
  absl::StatusOr<Ddm> ddm = Ddm::FromProto(state.ddm());
  if (!ddm.ok()) return ddm.status();
  if (!(adwin->options() == options.adwin) ||
      !(page_hinkley->options() == options.page_hinkley) ||
      !(ddm->options() == options.ddm)) {
    return Corrupt(kWhat,
                   "written under other detector options than the configured "
                   "ones");
  }

  // Every valid error went to ADWIN and Page-Hinkley, and to DDM while all
  // were 0 or 1: the detectors' counts are the stream's.
  const uint64_t observed = state.observed();
  const bool all_binary = state.all_binary();
  if (adwin->observed() != observed || adwin->ignored() != 0 ||
      page_hinkley->observed() != observed || page_hinkley->ignored() != 0 ||
      (all_binary ? ddm->observed() != observed
                  : ddm->observed() >= observed)) {
    return Corrupt(
        kWhat, absl::StrCat(observed,
                            " errors observed, but the "
                            "detectors saw ",
                            adwin->observed(), ", ", page_hinkley->observed(),
                            " and ", ddm->observed()));
  }
  // A detector that detected has a last detection, within what it saw; a
  // DDM whose last answer was a drift detected at its last observation.
  const auto last_ok = [](uint64_t detections, uint64_t last, uint64_t seen) {
    return detections == 0 ? last == 0 : last >= detections && last <= seen;
  };
  const bool ddm_drift_last = ddm->state() == DdmState::kDrift;
  if (!last_ok(adwin->detections(), state.adwin_last_detection(), observed) ||
      !last_ok(page_hinkley->detections(), state.page_hinkley_last_detection(),
               observed) ||
      !last_ok(ddm->detections(), state.ddm_last_detection(),
               ddm->observed()) ||
      ddm_drift_last != (ddm->detections() != 0 &&
                         state.ddm_last_detection() == ddm->observed())) {
    return Corrupt(kWhat, "last detections inconsistent with the counts");
  }

  ErrorStreamDetectors detectors(options, *std::move(adwin),
                                 *std::move(page_hinkley), *std::move(ddm));
  detectors.observed_ = observed;
  detectors.ignored_ = state.ignored();
  detectors.all_binary_ = all_binary;
  detectors.adwin_last_ = state.adwin_last_detection();
  detectors.page_hinkley_last_ = state.page_hinkley_last_detection();
  detectors.ddm_last_ = state.ddm_last_detection();
  return detectors;
}

}  // namespace vigie::monitors
