#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "monitors/conformal_metrics.h"
#include "monitors/log_histogram.h"

namespace vigie::state::v1 {
class ConformalState;
class ConformalScopeState;
}  // namespace vigie::state::v1

namespace vigie::monitors {

// Conformal predictions a ConformalMonitor watches.
enum class ConformalKind {
  kInterval,  // Regression intervals [lo, hi]: size is hi - lo.
  kSet,       // Classification prediction sets: size is the label count.
};

// One labelled conformal prediction, reduced by the caller.
struct ConformalObservation {
  static constexpr uint32_t kNoGroup = ~uint32_t{0};

  // The outcome is in the interval (lo <= y <= hi) or the set.
  bool covered = false;
  // The set holds every class, or the interval is unbounded on both sides.
  bool full = false;
  // Interval width hi - lo (>= 0; +inf for an unbounded interval), or set
  // size (a whole number).
  double size = 0;
  // Nominal miscoverage: the promised coverage is 1 - alpha. In (0, 1).
  double alpha = 0;
  // Calibration set size n_cal the interval or set was built from; 0 when
  // unknown.
  uint64_t calibration_size = 0;
  // Intervals: the nonconformity score |y - y_hat| (>= 0); NaN when not
  // known. Ignored for sets.
  double score = std::numeric_limits<double>::quiet_NaN();
  // Index from ConformalMonitor::ResolveGroup, or kNoGroup.
  uint32_t group = kNoGroup;
};

// Coverage of conformal prediction intervals or sets over one window, for a
// model and for the groups of one attribute (Mondrian view), with the
// evidence rules K1-K3 need. Per scope (overall, each group): count and
// coverage with its Wilson 95% interval (stats.h; it keeps its coverage
// near 0 and 1, where conformal coverage lives, unlike the Wald interval),
// mean and quantiles of the size, shares of empty and full sets, coverage
// by set size (sets), and the K1 gate (ConformalGate); across groups, the
// coverage gap max - min. For intervals, the score quantile that would
// have given the nominal coverage in this window (ScoreQuantile).
//
//   auto monitor = *ConformalMonitor::Create({});
//   const uint32_t group = monitor.ResolveGroup("female");  // Once a label.
//   ConformalObservation o;
//   o.covered = lo <= y && y <= hi;  o.size = hi - lo;  o.alpha = 0.1;
//   o.calibration_size = 1000;  o.score = std::abs(y - y_hat);
//   o.group = group;
//   monitor.Observe(o);
//   ConformalMetrics metrics = monitor.Snapshot();
//
// Mixed settings. Events may declare different (alpha, n_cal) settings;
// each scope counts per setting (up to max_settings; later new settings
// share an overflow tally, counted but never gated). The gate of a scope
// tests its dominant setting, the one with the most observations there
// (ties: smaller alpha, then smaller n_cal), on those observations only,
// and reports their share: pooling settings would test against no law at
// all. Overall coverage and its interval pool every setting.
//
// Exact: counts are integers and the size histograms merge exactly (see
// LogHistogram), so merging two sub-streams' states gives the whole
// stream's Snapshot() (sums of sizes up to rounding), except that settings
// and groups past their caps overflow in the order they arrive.
// Sizes of intervals: quantiles within 0.79% relative (LogHistogram); of
// sets: exact up to max_set_size.
// Memory: per group, 16 (max_settings + 1) bytes, plus the width histogram
// (8 bytes per bucket spanned, at most 8 max_buckets) or 16 (max_set_size +
// 1) bytes for sets.
// Thread-compatible: const methods may run concurrently; others need a
// single owner.
class ConformalMonitor {
 public:
  // Label of the group that collects the groups past max_groups.
  static constexpr absl::string_view kOverflowGroup = "(other)";
  // Label of ConformalMetrics::overall.
  static constexpr absl::string_view kOverallGroup = "(overall)";

  struct Options {
    // What the predictions are. Default: intervals.
    ConformalKind kind = ConformalKind::kInterval;
    // Distinct groups kept; later new groups share kOverflowGroup.
    // Default: 1000. Range: [1, 100000].
    uint32_t max_groups = 1000;
    // Distinct (alpha, n_cal) settings counted apart. Default: 4. Range:
    // [1, 64].
    uint32_t max_settings = 4;
    // Sets: sizes counted apart, 0 to max_set_size (the last also counts
    // larger sets). Default: 32. Range: [1, 1024].
    uint32_t max_set_size = 32;
    // Intervals: buckets of each width histogram (LogHistogram). Default:
    // 1024 (16 octaves). Range: [64, 16384].
    uint32_t max_buckets = LogHistogram::kDefaultMaxBuckets;
    // Groups with fewer observations are reported but left out of the
    // coverage gap. Default: 0.
    uint64_t min_group_size = 0;

    friend bool operator==(const Options&, const Options&) = default;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<ConformalMonitor> Create(const Options& options);

  // The index of the group labelled `label`, added if new (past max_groups,
  // the overflow group's). Stable for the monitor's life, merges included.
  // kNoGroup for an empty label. O(1) expected, one hash of the label.
  uint32_t ResolveGroup(absl::string_view label);

  // O(1), no allocation once the range of sizes is known. Ignored, and
  // counted in `ignored`: alpha outside (0, 1), a NaN or negative size, a
  // set size that is not a whole number. A negative score is left out of
  // the scores only.
  void Observe(const ConformalObservation& observation);

  // O(groups + buckets). kInvalidArgument if `other` has other options;
  // *this is then unchanged. `other`'s groups and settings new to *this
  // are appended in its order.
  absl::Status Merge(const ConformalMonitor& other);

  // O(groups (settings + buckets)), plus each gate's sum over its law.
  ConformalMetrics Snapshot() const;

  // Intervals: the ceil((n + 1)(1 - alpha))-th smallest of the window's n
  // scores, the split conformal half-width (Lei et al., JASA 2018) that
  // would have covered at least 1 - alpha of them: compared with the
  // intervals in use, the recalibration the window asks for. Within 0.79%
  // relative (LogHistogram). Empty for sets, for no scores, or when that
  // rank exceeds n (too few scores for this alpha).
  std::optional<double> ScoreQuantile(double alpha) const;

  const Options& options() const { return options_; }

  std::string Serialize() const;  // A vigie.state.v1.ConformalState.
  void ToProto(state::v1::ConformalState* state) const;
  // kDataLoss for bytes that are not a valid ConformalState: truncated,
  // garbage, options out of range, duplicate settings or groups, covered >
  // count, groups counting more than the whole, histograms or shares that
  // do not match the counts.
  static absl::StatusOr<ConformalMonitor> Deserialize(absl::string_view bytes);
  static absl::StatusOr<ConformalMonitor> FromProto(
      const state::v1::ConformalState& state);

 private:
  struct Tally {
    uint64_t count = 0;
    uint64_t covered = 0;
  };
  struct Setting {
    double alpha = 0;
    uint64_t calibration_size = 0;
  };
  struct Scope {
    std::vector<Tally> tallies;  // max_settings + 1: the last overflows.
    uint64_t empty = 0;
    uint64_t full = 0;
    uint64_t infinite = 0;
    double sum_size = 0;
    LogHistogram sizes;              // Intervals' finite widths.
    std::vector<Tally> by_set_size;  // Sets: max_set_size + 1.
  };

  explicit ConformalMonitor(const Options& options);
  static absl::Status Validate(const Options& options);
  Scope NewScope() const;
  // Index of the setting, added if new and there is room, else the
  // overflow tally's.
  uint32_t SettingIndex(double alpha, uint64_t calibration_size);
  void ObserveInvalid();
  void Count(Scope& scope, uint32_t setting, const ConformalObservation& o);
  void MergeScope(Scope& to, const Scope& from,
                  const std::vector<uint32_t>& setting_map);
  ConformalScopeMetrics ScopeMetrics(const Scope& scope,
                                     absl::string_view label) const;
  std::optional<ConformalGate> Gate(const Scope& scope, uint64_t total) const;
  void ScopeToProto(const Scope& scope, absl::string_view label,
                    state::v1::ConformalScopeState* out) const;
  absl::StatusOr<Scope> ScopeFromProto(
      const state::v1::ConformalScopeState& in) const;

  static void Bump(uint64_t& count, bool condition) {
    // Saturates rather than wraps, as every count does.
    count += (condition && count != ~uint64_t{0}) ? 1 : 0;
  }

  Options options_;
  std::vector<Setting> settings_;
  // The last setting seen: events of one model rarely change it.
  double last_alpha_ = std::numeric_limits<double>::quiet_NaN();
  uint64_t last_calibration_size_ = 0;
  uint32_t last_setting_ = 0;
  uint64_t ignored_ = 0;
  LogHistogram scores_;
  Scope overall_;
  std::vector<std::string> labels_;  // Parallel to groups_.
  std::vector<Scope> groups_;
  absl::flat_hash_map<std::string, uint32_t> index_;
};

// Inline: it runs once per labelled conformal prediction.
inline void ConformalMonitor::Observe(const ConformalObservation& o) {
  const bool set = options_.kind == ConformalKind::kSet;
  // Written so that NaN fails the tests too.
  if (!(o.alpha > 0 && o.alpha < 1) || !(o.size >= 0) ||
      (set && !(o.size == std::floor(o.size) && std::isfinite(o.size))))
      [[unlikely]] {
    ObserveInvalid();
    return;
  }
  uint32_t setting = last_setting_;
  if (o.alpha != last_alpha_ || o.calibration_size != last_calibration_size_)
      [[unlikely]] {
    setting = SettingIndex(o.alpha, o.calibration_size);
  }
  Count(overall_, setting, o);
  if (o.group < groups_.size()) Count(groups_[o.group], setting, o);
  if (!set && !std::isnan(o.score)) scores_.Add(o.score);
}

inline void ConformalMonitor::Count(Scope& scope, uint32_t setting,
                                    const ConformalObservation& o) {
  Tally& tally = scope.tallies[setting];
  Bump(tally.count, true);
  Bump(tally.covered, o.covered);
  Bump(scope.empty, o.size == 0);
  Bump(scope.full, o.full);
  if (options_.kind == ConformalKind::kSet) {
    const double capped =
        std::min(o.size, static_cast<double>(options_.max_set_size));
    Tally& by_size = scope.by_set_size[static_cast<size_t>(capped)];
    Bump(by_size.count, true);
    Bump(by_size.covered, o.covered);
    scope.sum_size += o.size;
  } else if (o.size != std::numeric_limits<double>::infinity()) [[likely]] {
    scope.sum_size += o.size;
    scope.sizes.Add(o.size);
  } else {
    Bump(scope.infinite, true);
  }
}

}  // namespace vigie::monitors
