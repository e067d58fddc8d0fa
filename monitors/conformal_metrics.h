#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "monitors/stats.h"

// What ConformalMonitor::Snapshot reports. Empty optionals mean "no data",
// never NaN.

namespace vigie::monitors {

// Rule K1's evidence for one scope: the observations of its dominant
// (alpha, n_cal) setting against the law their covered count follows under
// a sound conformal predictor (conformal_gate.h).
//
// n_cal known: with l = floor((n_cal + 1) alpha), coverage given the
// calibration set is Beta(n_cal + 1 - l, l), so the covered count of m test
// points is Beta-Binomial(m, n_cal + 1 - l, l); l = 0 means the interval is
// the whole line (coverage certain). n_cal unknown: Binomial(m, 1 - alpha),
// the nominal coverage taken as exact.
// A window whose coverage is below quantile_05 (p_value < 5%) is K1's
// warning; below quantile_001, its critical level.
struct ConformalGate {
  double alpha = 0;
  uint64_t calibration_size = 0;  // 0: unknown, binomial law.
  bool beta_binomial = false;     // Which law.
  uint64_t rank = 0;              // l, when beta_binomial.
  uint64_t count = 0;             // m: observations with this setting.
  uint64_t covered = 0;
  // count / the scope's count: below 1 when settings are mixed.
  double share = 0;
  double coverage = 0;           // covered / count.
  double expected_coverage = 0;  // The law's mean / m.
  // Lower 5% and 0.1% quantiles of the law, as coverages (count / m).
  double quantile_05 = 0;
  double quantile_001 = 0;
  // P(covered count <= observed) under the law: one-sided, small when
  // coverage falls short.
  double p_value = 1;
};

// Observations of one set size (sets).
struct CoverageBySetSize {
  uint32_t size = 0;
  bool and_larger = false;  // The last size counted apart: >= size.
  uint64_t count = 0;
  uint64_t covered = 0;
  double coverage = 0;  // covered / count (count > 0 here).
};

// One scope: a group, or all observations (label kOverallGroup).
struct ConformalScopeMetrics {
  std::string group;
  uint64_t count = 0;
  uint64_t covered = 0;
  // All empty while count == 0.
  std::optional<double> coverage;
  std::optional<Interval> coverage_interval;  // Wilson, 95%.
  uint64_t empty = 0;     // Size 0: empty sets, zero-width intervals.
  uint64_t full = 0;      // Every class; intervals unbounded both sides.
  uint64_t infinite = 0;  // Intervals of infinite width.
  std::optional<double> empty_share;
  std::optional<double> full_share;
  // Of the finite sizes; empty when there are none. Sets' quantiles are
  // exact (a size of max_set_size or more reads as max_set_size);
  // intervals' within 0.79% relative.
  std::optional<double> mean_size;
  std::optional<double> median_size;
  std::optional<double> p90_size;
  std::optional<double> p99_size;
  // Sets: coverage by set size, for sizes with observations, ascending.
  std::vector<CoverageBySetSize> by_set_size;
  // K1/K3: empty while count == 0.
  std::optional<ConformalGate> gate;
};

struct ConformalMetrics {
  // Observations ignored as invalid.
  uint64_t ignored = 0;
  ConformalScopeMetrics overall;
  // Sorted by group label; the overflow group included.
  std::vector<ConformalScopeMetrics> groups;
  // Coverage gap across groups, max - min, over the groups (overflow group
  // excluded) with at least max(1, min_group_size) observations; empty
  // with fewer than two such groups.
  std::optional<double> coverage_gap;
  std::string max_coverage_group;
  std::string min_coverage_group;
  // Intervals: scores observed, and ScoreQuantile at the overall gate's
  // alpha (empty when it is empty).
  uint64_t scores = 0;
  std::optional<double> score_quantile;
};

}  // namespace vigie::monitors
