#include "monitors/log_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "monitors/stats.h"
#include "vigie/state/v1/conformal.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;

// x as a count in [0, limit]: a plain cast of a double at or past 2^64 is
// undefined, and counts near 2^64 (saturated, or crafted) round there.
uint64_t ToCount(double x, uint64_t limit) {
  if (!(x < static_cast<double>(limit))) return limit;
  return x > 0 ? static_cast<uint64_t>(x) : 0;
}

// Bucket of the largest finite double; +inf is the next index.
constexpr uint32_t kMaxIndex = static_cast<uint32_t>(
    std::bit_cast<uint64_t>(std::numeric_limits<double>::max()) >>
    LogHistogram::kShift);

double Lower(uint32_t index) {
  return std::bit_cast<double>(uint64_t{index} << LogHistogram::kShift);
}

absl::Status ValidateMaxBuckets(uint32_t max_buckets) {
  if (max_buckets < LogHistogram::kMinBuckets ||
      max_buckets > LogHistogram::kMaxBuckets) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_buckets must be in [", LogHistogram::kMinBuckets,
                     ", ", LogHistogram::kMaxBuckets, "], got ", max_buckets));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LogHistogram> LogHistogram::Create(uint32_t max_buckets) {
  if (absl::Status status = ValidateMaxBuckets(max_buckets); !status.ok()) {
    return status;
  }
  return LogHistogram(max_buckets);
}

uint32_t LogHistogram::Widen(uint32_t low, uint32_t high) {
  if (!counts_.empty()) {
    low = std::min(low, offset_);
    high = std::max(high, offset_ + static_cast<uint32_t>(counts_.size()) - 1);
  }
  // The top max_buckets indices below the largest: a function of the
  // values' range only, so that any order of adds and merges agrees.
  if (high - low + 1 > max_buckets_) low = high - max_buckets_ + 1;
  std::vector<uint64_t> widened(high - low + 1, 0);
  uint64_t folded = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    const uint32_t index = offset_ + static_cast<uint32_t>(i);
    if (index < low) folded = SaturatingAdd(folded, counts_[i]);
    uint64_t& to = widened[std::max(index, low) - low];
    to = SaturatingAdd(to, counts_[i]);
  }
  // Values collapsed before sat in the old lowest bucket, now folded too:
  // the collapsed ones are exactly those folded.
  if (!counts_.empty() && offset_ < low) collapsed_ = folded;
  counts_ = std::move(widened);
  offset_ = low;
  return low;
}

bool LogHistogram::AddSlow(double value) {
  if (value == 0) {
    zeros_ = SaturatingAdd(zeros_, 1);
    count_ = SaturatingAdd(count_, 1);
    return true;
  }
  // Negative, NaN, infinite.
  if (!(value > 0) || !std::isfinite(value)) return false;
  // Index 0 (below 2^-1068) joins index 1, so that offset_ >= 1 and zero
  // always takes this path.
  const uint32_t index = std::max<uint32_t>(Index(value), 1);
  const uint32_t low = Widen(index, index);
  if (index < low || Index(value) == 0) {
    collapsed_ = SaturatingAdd(collapsed_, 1);
  }
  ++counts_[std::max(index, low) - low];
  count_ = SaturatingAdd(count_, 1);
  min_positive_ = min_positive_ == 0 ? value : std::min(min_positive_, value);
  max_ = std::max(max_, value);
  return true;
}

absl::Status LogHistogram::Merge(const LogHistogram& other) {
  if (max_buckets_ != other.max_buckets_) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot merge log histograms with ", max_buckets_, " and ",
                     other.max_buckets_, " buckets"));
  }
  if (!other.counts_.empty()) {
    // Copied first: `other` may be *this.
    const std::vector<uint64_t> from = other.counts_;
    const uint32_t from_offset = other.offset_;
    const uint64_t from_collapsed = other.collapsed_;
    const uint32_t low = Widen(
        from_offset, from_offset + static_cast<uint32_t>(from.size()) - 1);
    uint64_t folded = 0;
    for (size_t i = 0; i < from.size(); ++i) {
      const uint32_t index = from_offset + static_cast<uint32_t>(i);
      if (index < low) folded = SaturatingAdd(folded, from[i]);
      uint64_t& to = counts_[std::max(index, low) - low];
      to = SaturatingAdd(to, from[i]);
    }
    // `other`'s collapsed values sit in its lowest bucket, which is either
    // folded now (and counted in `folded`) or our lowest too: a collapsed
    // sketch's lowest index is its top's minus max_buckets - 1, at most ours.
    collapsed_ =
        SaturatingAdd(collapsed_, from_offset < low ? folded : from_collapsed);
    min_positive_ = min_positive_ == 0
                        ? other.min_positive_
                        : std::min(min_positive_, other.min_positive_);
    max_ = std::max(max_, other.max_);
  }
  zeros_ = SaturatingAdd(zeros_, other.zeros_);
  count_ = SaturatingAdd(count_, other.count_);
  return absl::OkStatus();
}

double LogHistogram::ValueAtRank(uint64_t rank) const {
  if (rank == 0 || rank > count_) return 0;
  if (rank <= zeros_) return 0;
  uint64_t remaining = rank - zeros_;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (remaining <= counts_[i]) {
      const uint32_t index = offset_ + static_cast<uint32_t>(i);
      // Lower(index + 1) of the top finite bucket is +inf: the clamp to
      // max_ takes care of it.
      const double mid = Lower(index) / 2 + Lower(index + 1) / 2;
      return std::clamp(mid, min_positive_, max_);
    }
    remaining -= counts_[i];
  }
  return max_;  // Only saturated counts get here.
}

double LogHistogram::Quantile(double q) const {
  if (count_ == 0 || !(q >= 0 && q <= 1)) return 0;
  const double rank = std::ceil(q * static_cast<double>(count_));
  return ValueAtRank(std::max<uint64_t>(1, ToCount(rank, count_)));
}

void LogHistogram::ToProto(state::v1::LogHistogramState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  state->set_max_buckets(max_buckets_);
  state->set_zeros(zeros_);
  state->set_collapsed(collapsed_);
  state->set_min_positive(min_positive_);
  state->set_max(max_);
  state->set_offset(offset_);
  state->mutable_counts()->Add(counts_.begin(), counts_.end());
}

absl::StatusOr<LogHistogram> LogHistogram::FromProto(
    const state::v1::LogHistogramState& state) {
  const auto corrupt = [](auto&&... parts) {
    return absl::DataLossError(absl::StrCat("log histogram state: ", parts...));
  };
  if (state.version() != kStateVersion) {
    return corrupt("version ", state.version(), ", expected ", kStateVersion);
  }
  if (absl::Status status = ValidateMaxBuckets(state.max_buckets());
      !status.ok()) {
    return corrupt(status.message());
  }
  LogHistogram histogram(state.max_buckets());
  const auto& counts = state.counts();
  const size_t size = static_cast<size_t>(counts.size());
  const double lo = state.min_positive();
  const double hi = state.max();
  if (size == 0) {
    if (state.offset() != 0 || lo != 0 || hi != 0 || state.collapsed() != 0) {
      return corrupt("no buckets, yet offset ", state.offset(), ", min ", lo,
                     ", max ", hi, ", collapsed ", state.collapsed());
    }
  } else {
    const uint32_t offset = state.offset();
    if (size > state.max_buckets() || offset < 1 || offset > kMaxIndex ||
        size - 1 > kMaxIndex - offset || counts[0] == 0 ||
        counts[counts.size() - 1] == 0) {
      return corrupt(size, " buckets from ", offset, " (max_buckets ",
                     state.max_buckets(), ")");
    }
    const uint32_t top = offset + static_cast<uint32_t>(size) - 1;
    // The extremes sit in the end buckets, the smallest possibly below the
    // lowest if it was collapsed.
    if (!(lo > 0 && std::isfinite(lo) && hi >= lo && std::isfinite(hi)) ||
        Index(hi) != top ||
        (state.collapsed() == 0 ? std::max<uint32_t>(Index(lo), 1) != offset
                                : Index(lo) > offset)) {
      return corrupt("min ", lo, " and max ", hi, " do not match buckets ",
                     offset, " to ", top);
    }
    if (state.collapsed() > counts[0]) {
      return corrupt(state.collapsed(), " collapsed values in a bucket of ",
                     counts[0]);
    }
    histogram.offset_ = offset;
  }
  uint64_t total = state.zeros();
  for (uint64_t c : counts) total = SaturatingAdd(total, c);
  histogram.counts_.assign(counts.begin(), counts.end());
  histogram.count_ = total;
  histogram.zeros_ = state.zeros();
  histogram.collapsed_ = state.collapsed();
  histogram.min_positive_ = lo;
  histogram.max_ = hi;
  return histogram;
}

}  // namespace vigie::monitors
