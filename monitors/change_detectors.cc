#include "monitors/change_detectors.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "monitors/change_detectors_internal.h"
#include "monitors/stats.h"

namespace vigie::monitors {
namespace {

double ToDouble(uint64_t n) { return static_cast<double>(n); }

bool IsValidValue(double x) {
  return x >= -kMaxDetectorValue && x <= kMaxDetectorValue;
}

}  // namespace

namespace detectors_internal {

absl::Status ValidateAdwinOptions(const Adwin::Options& options) {
  if (!(options.delta > 0 && options.delta < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("adwin delta must be in (0, 1), got ", options.delta));
  }
  if (options.max_buckets_per_row < 2 ||
      options.max_buckets_per_row > Adwin::kMaxBucketsPerRow) {
    return absl::InvalidArgumentError(absl::StrCat(
        "adwin max_buckets_per_row must be in [2, ", Adwin::kMaxBucketsPerRow,
        "], got ", options.max_buckets_per_row));
  }
  if (options.clock < 1 || options.clock > Adwin::kMaxClock) {
    return absl::InvalidArgumentError(
        absl::StrCat("adwin clock must be in [1, ", Adwin::kMaxClock, "], got ",
                     options.clock));
  }
  if (options.min_window < 1 || options.min_window > Adwin::kMaxMinWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("adwin min_window must be in [1, ", Adwin::kMaxMinWindow,
                     "], got ", options.min_window));
  }
  const uint64_t smallest = 2 * static_cast<uint64_t>(options.min_window);
  if (options.max_width != 0 &&
      (options.max_width < smallest || options.max_width > Adwin::kMaxWidth)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "adwin max_width must be 0 or in [2 min_window = ", smallest, ", ",
        Adwin::kMaxWidth, "], got ", options.max_width));
  }
  return absl::OkStatus();
}

absl::Status ValidatePageHinkleyOptions(const PageHinkley::Options& options) {
  if (options.min_instances < 1 ||
      options.min_instances > PageHinkley::kMaxMinInstances) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_hinkley min_instances must be in [1, ",
        PageHinkley::kMaxMinInstances, "], got ", options.min_instances));
  }
  if (!(options.delta >= 0 && options.delta <= kMaxDetectorValue)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_hinkley delta must be in [0, 1e100], got ", options.delta));
  }
  if (!(options.threshold > 0 && options.threshold <= kMaxDetectorValue)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_hinkley threshold must be in (0, 1e100], got ",
                     options.threshold));
  }
  if (!(options.alpha > 0 && options.alpha <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_hinkley alpha must be in (0, 1], got ", options.alpha));
  }
  switch (options.direction) {
    case PageHinkley::Direction::kIncrease:
    case PageHinkley::Direction::kDecrease:
    case PageHinkley::Direction::kBoth:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("page_hinkley direction is not valid");
}

absl::Status ValidateDdmOptions(const Ddm::Options& options) {
  if (options.min_instances < 1 ||
      options.min_instances > Ddm::kMaxMinInstances) {
    return absl::InvalidArgumentError(
        absl::StrCat("ddm min_instances must be in [1, ", Ddm::kMaxMinInstances,
                     "], got ", options.min_instances));
  }
  if (!(options.warning_level > 1 &&
        options.warning_level <= options.drift_level &&
        options.drift_level <= Ddm::kMaxLevel)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ddm levels must satisfy 1 < warning_level <= drift_level <= ",
        Ddm::kMaxLevel, ", got ", options.warning_level, " and ",
        options.drift_level));
  }
  return absl::OkStatus();
}

}  // namespace detectors_internal

// ---------------------------------------------------------------- Adwin

absl::StatusOr<Adwin> Adwin::Create(const Options& options) {
  if (absl::Status status = detectors_internal::ValidateAdwinOptions(options);
      !status.ok()) {
    return status;
  }
  return Adwin(options);
}

std::optional<double> Adwin::mean() const {
  if (width_ == 0) return std::nullopt;
  return total_ / ToDouble(width_);
}

std::optional<double> Adwin::variance() const {
  if (width_ == 0) return std::nullopt;
  return variance_sum_ / ToDouble(width_);
}

int Adwin::num_buckets() const {
  size_t count = 0;
  for (const Row& row : rows_) count += row.size();
  return static_cast<int>(count);
}

bool Adwin::Add(double x) {
  if (!IsValidValue(x)) {
    ignored_ = SaturatingAdd(ignored_, 1);
    return false;
  }
  observed_ = SaturatingAdd(observed_, 1);
  // Welford's update of the window's sums.
  if (width_ == 0) {
    total_ = x;
    variance_sum_ = 0;
  } else {
    const double n = ToDouble(width_);
    const double delta = x - total_ / n;
    total_ += x;
    variance_sum_ += delta * delta * n / (n + 1);
  }
  ++width_;
  if (rows_.empty()) rows_.emplace_back();
  rows_[0].push_back({x, 0});
  Compress();

  // Without a cap, kMaxWidth (2^62, centuries of events) keeps the state
  // within what FromProto accepts.
  const uint64_t cap = options_.max_width != 0 ? options_.max_width : kMaxWidth;
  while (width_ > cap) DropOldestBucket();

  // observed_ % clock, kept without a division per addition.
  if (++ticks_ < options_.clock) return false;
  ticks_ = 0;
  bool cut = false;
  while (width_ >= 2 * static_cast<uint64_t>(options_.min_window) &&
         SomeSplitCuts()) {
    DropOldestBucket();
    cut = true;
  }
  if (cut) detections_ = SaturatingAdd(detections_, 1);
  return cut;
}

void Adwin::Compress() {
  const size_t capacity = static_cast<size_t>(options_.max_buckets_per_row);
  for (size_t i = 0; i < rows_.size() && rows_[i].size() > capacity; ++i) {
    // The two oldest buckets of row i hold 2^i observations each; merged,
    // they are the newest bucket of row i + 1 (Chan et al.'s pairwise
    // update of the squared deviations).
    const Bucket& a = rows_[i][0];
    const Bucket& b = rows_[i][1];
    // With s = 2^i: s s / (2 s) (a / s - b / s)^2 = (a - b)^2 / (2 s).
    const double size = ToDouble(uint64_t{1} << i);
    const double gap = a.total - b.total;
    const Bucket merged{a.total + b.total, a.variance_sum + b.variance_sum +
                                               gap * gap / (2 * size)};
    rows_[i].erase(rows_[i].begin(), rows_[i].begin() + 2);
    if (i + 1 == rows_.size()) rows_.emplace_back();
    rows_[i + 1].push_back(merged);
  }
}

void Adwin::DropOldestBucket() {
  Row& top = rows_.back();
  width_ -= uint64_t{1} << (rows_.size() - 1);
  top.erase(top.begin());
  if (top.empty()) rows_.pop_back();
  // Recomputed rather than downdated, so that rounding cannot build up
  // over cuts.
  RecomputeSums();
}

void Adwin::RecomputeSums() {
  // Oldest bucket first, pairwise (Chan et al.).
  total_ = 0;
  variance_sum_ = 0;
  uint64_t n = 0;
  for (size_t i = rows_.size(); i-- > 0;) {
    const uint64_t size = uint64_t{1} << i;
    for (const Bucket& bucket : rows_[i]) {
      if (n == 0) {
        total_ = bucket.total;
        variance_sum_ = bucket.variance_sum;
      } else {
        const double na = ToDouble(n);
        const double nb = ToDouble(size);
        const double gap = total_ / na - bucket.total / nb;
        variance_sum_ += bucket.variance_sum + gap * gap * na * nb / (na + nb);
        total_ += bucket.total;
      }
      n += size;
    }
  }
}

bool Adwin::SomeSplitCuts() const {
  // |sum0 / n0 - sum1 / n1| > eps, multiplied through by n0 n1 (with
  // 1/m = n / (n0 n1)):
  //   |sum0 n1 - sum1 n0| - 2/3 n L > sqrt(2 n n0 n1 sigma^2 L),
  // L = ln(2 / delta'), and squared: no division or square root per split,
  // which would otherwise be most of an addition's cost. With values of
  // magnitude at most 1e100 and n <= 2^62 no product overflows.
  const double n = ToDouble(width_);
  const double variance = std::max(0.0, variance_sum_ / n);
  const double log_term = std::log(2 * std::log(n) / options_.delta);
  const double bias = 2.0 / 3.0 * n * log_term;
  const double spread = 2 * n * variance * log_term;
  const uint64_t min_side = static_cast<uint64_t>(options_.min_window);
  uint64_t n0 = 0;
  double sum0 = 0;
  // W0 grows from the oldest bucket; the split after the newest bucket
  // leaves W1 empty and is not one.
  for (size_t i = rows_.size(); i-- > 0;) {
    const uint64_t size = uint64_t{1} << i;
    for (const Bucket& bucket : rows_[i]) {
      n0 += size;
      sum0 += bucket.total;
      const uint64_t n1 = width_ - n0;
      if (n1 < min_side) return false;
      if (n0 < min_side) continue;
      const double d0 = ToDouble(n0);
      const double d1 = ToDouble(n1);
      const double excess = std::abs(sum0 * d1 - (total_ - sum0) * d0) - bias;
      if (excess > 0 && excess * excess > spread * d0 * d1) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------- PageHinkley

absl::StatusOr<PageHinkley> PageHinkley::Create(const Options& options) {
  if (absl::Status status =
          detectors_internal::ValidatePageHinkleyOptions(options);
      !status.ok()) {
    return status;
  }
  return PageHinkley(options);
}

std::optional<double> PageHinkley::mean() const {
  if (instances_ == 0) return std::nullopt;
  return mean_;
}

double PageHinkley::statistic() const {
  const double up = sum_increase_ - min_increase_;
  const double down = max_decrease_ - sum_decrease_;
  switch (options_.direction) {
    case Direction::kIncrease:
      return up;
    case Direction::kDecrease:
      return down;
    case Direction::kBoth:
      break;
  }
  return std::max(up, down);
}

void PageHinkley::Reset() {
  instances_ = 0;
  mean_ = 0;
  sum_increase_ = 0;
  min_increase_ = 0;
  sum_decrease_ = 0;
  max_decrease_ = 0;
}

bool PageHinkley::Add(double x) {
  if (!IsValidValue(x)) {
    ignored_ = SaturatingAdd(ignored_, 1);
    return false;
  }
  observed_ = SaturatingAdd(observed_, 1);
  ++instances_;
  mean_ += (x - mean_) / ToDouble(instances_);
  const double deviation = x - mean_;
  sum_increase_ = options_.alpha * sum_increase_ + (deviation - options_.delta);
  min_increase_ = std::min(min_increase_, sum_increase_);
  sum_decrease_ = options_.alpha * sum_decrease_ + (deviation + options_.delta);
  max_decrease_ = std::max(max_decrease_, sum_decrease_);
  if (instances_ < options_.min_instances) return false;
  if (!(statistic() > options_.threshold)) return false;
  detections_ = SaturatingAdd(detections_, 1);
  Reset();
  return true;
}

// ------------------------------------------------------------------ Ddm

absl::StatusOr<Ddm> Ddm::Create(const Options& options) {
  if (absl::Status status = detectors_internal::ValidateDdmOptions(options);
      !status.ok()) {
    return status;
  }
  return Ddm(options);
}

std::optional<double> Ddm::error_rate() const {
  if (instances_ == 0) return std::nullopt;
  return ToDouble(errors_) / ToDouble(instances_);
}

std::optional<double> Ddm::error_rate_stddev() const {
  if (instances_ == 0) return std::nullopt;
  const double p = ToDouble(errors_) / ToDouble(instances_);
  return std::sqrt(p * (1 - p) / ToDouble(instances_));
}

std::optional<double> Ddm::p_min() const {
  if (!has_minimum_) return std::nullopt;
  return p_min_;
}

std::optional<double> Ddm::s_min() const {
  if (!has_minimum_) return std::nullopt;
  return s_min_;
}

DdmState Ddm::Add(bool error) {
  observed_ = SaturatingAdd(observed_, 1);
  ++instances_;
  errors_ += error ? 1 : 0;
  state_ = DdmState::kInControl;
  if (instances_ < options_.min_instances) return state_;
  const double p = ToDouble(errors_) / ToDouble(instances_);
  const double s = std::sqrt(p * (1 - p) / ToDouble(instances_));
  // Only points with 0 < p < 1 (so s > 0) set the minimum: see the header.
  if (s > 0 && (!has_minimum_ || p + s < p_min_ + s_min_)) {
    has_minimum_ = true;
    p_min_ = p;
    s_min_ = s;
  }
  if (!has_minimum_) return state_;
  if (p + s >= p_min_ + options_.drift_level * s_min_) {
    state_ = DdmState::kDrift;
    detections_ = SaturatingAdd(detections_, 1);
    instances_ = 0;
    errors_ = 0;
    has_minimum_ = false;
    p_min_ = 0;
    s_min_ = 0;
  } else if (p + s >= p_min_ + options_.warning_level * s_min_) {
    state_ = DdmState::kWarning;
    warnings_ = SaturatingAdd(warnings_, 1);
  }
  return state_;
}

// ------------------------------------------------- ErrorStreamDetectors

ErrorStreamDetectors::ErrorStreamDetectors(const Options& options, Adwin adwin,
                                           PageHinkley page_hinkley, Ddm ddm)
    : options_(options),
      adwin_(std::move(adwin)),
      page_hinkley_(std::move(page_hinkley)),
      ddm_(std::move(ddm)) {}

absl::StatusOr<ErrorStreamDetectors> ErrorStreamDetectors::Create(
    const Options& options) {
  absl::StatusOr<Adwin> adwin = Adwin::Create(options.adwin);
  if (!adwin.ok()) return adwin.status();
  absl::StatusOr<PageHinkley> page_hinkley =
      PageHinkley::Create(options.page_hinkley);
  if (!page_hinkley.ok()) return page_hinkley.status();
  absl::StatusOr<Ddm> ddm = Ddm::Create(options.ddm);
  if (!ddm.ok()) return ddm.status();
  return ErrorStreamDetectors(options, *std::move(adwin),
                              *std::move(page_hinkley), *std::move(ddm));
}

absl::StatusOr<ErrorStreamDetectors> ErrorStreamDetectors::Create() {
  return Create(Options());
}

std::optional<AdwinCut> ErrorStreamDetectors::Observe(double error) {
  if (!(error >= 0 && error <= kMaxDetectorValue)) {
    ignored_ = SaturatingAdd(ignored_, 1);
    return std::nullopt;
  }
  observed_ = SaturatingAdd(observed_, 1);
  const uint64_t width = adwin_.width();
  const double total = adwin_.mean().value_or(0) * static_cast<double>(width);
  std::optional<AdwinCut> cut;
  if (adwin_.Add(error)) {
    adwin_last_ = observed_;
    // Everything dropped in this addition is W0: ADWIN drops the oldest
    // bucket and tests again until no split cuts. (A max_width cap may drop
    // more of the oldest data in the same addition; it is older still.)
    AdwinCut c;
    c.kept = adwin_.width();
    c.mean_after = adwin_.mean().value_or(0);
    c.dropped = width + 1 - c.kept;
    if (c.dropped > 0) {
      const double dropped_total =
          total + error - c.mean_after * static_cast<double>(c.kept);
      c.mean_before =
          std::max(0.0, dropped_total / static_cast<double>(c.dropped));
      cut = c;
    }
  }
  if (page_hinkley_.Add(error)) page_hinkley_last_ = observed_;
  if (all_binary_ && error != 0 && error != 1) all_binary_ = false;
  if (all_binary_ && ddm_.Add(error == 1) == DdmState::kDrift) {
    ddm_last_ = observed_;
  }
  return cut;
}

DetectorRecord ErrorStreamDetectors::Record(uint64_t detections,
                                            uint64_t last) const {
  DetectorRecord record;
  record.detections = detections;
  if (last != 0) record.last_detection = last;
  record.triggered_by_latest = last != 0 && last == observed_;
  return record;
}

ErrorStreamSnapshot ErrorStreamDetectors::Snapshot() const {
  ErrorStreamSnapshot snapshot;
  snapshot.observed = observed_;
  snapshot.ignored = ignored_;
  snapshot.adwin = Record(adwin_.detections(), adwin_last_);
  snapshot.adwin_width = adwin_.width();
  snapshot.adwin_mean = adwin_.mean();
  snapshot.page_hinkley =
      Record(page_hinkley_.detections(), page_hinkley_last_);
  snapshot.ddm = Record(ddm_.detections(), ddm_last_);
  snapshot.ddm_active = all_binary_;
  snapshot.ddm_state = ddm_.state();
  return snapshot;
}

}  // namespace vigie::monitors
