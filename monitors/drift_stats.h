#pragma once

#include <cstdint>

#include "absl/types/span.h"
#include "monitors/quantile_sketch.h"

// Distances and tests between a reference and a current distribution, for
// the drift monitors: on bin counts (PSI, Jensen-Shannon, Hellinger,
// chi-square) and on sorted weighted samples such as QuantileSketch::Sorted()
// (Kolmogorov-Smirnov, Wasserstein-1). Pure functions; thread-safe. Invalid
// input (spans of different sizes, no bins, a negative or non-finite count,
// a total of 0, an empty sample) gives NaN, never a crash.

namespace vigie::monitors {

// ---- Bin counts: reference r_i and current c_i over the same bins. ----
// Each is first turned into proportions p_i = r_i / sum r, q_i = c_i / sum c.

// Population stability index, sum_i (q_i - p_i) ln(q_i / p_i), >= 0. A
// proportion of 0 is replaced by `epsilon` first (the rest are left as
// they are), as Evidently does with 0.0001, so an empty bin costs a large
// but finite term. Common reading: < 0.1 stable, 0.1-0.25 some shift,
// > 0.25 a major shift.
double PopulationStabilityIndex(absl::Span<const double> reference_counts,
                                absl::Span<const double> current_counts,
                                double epsilon = 1e-4);

// Jensen-Shannon distance, base 2: sqrt(JS), where JS = (KL(p || m) +
// KL(q || m)) / 2, m = (p + q) / 2 and KL(a || b) = sum_i a_i log2(a_i /
// b_i) over a_i > 0 (scipy.spatial.distance.jensenshannon with base 2). In
// [0, 1]: 0 for equal proportions, 1 for disjoint supports. Empty bins need
// no epsilon.
double JensenShannonDistance(absl::Span<const double> reference_counts,
                             absl::Span<const double> current_counts);

// Hellinger distance sqrt(sum_i (sqrt(p_i) - sqrt(q_i))^2 / 2), which is
// sqrt(1 - sum_i sqrt(p_i q_i)) computed without its cancellation. In
// [0, 1]: 0 for equal proportions, 1 for disjoint supports.
double HellingerDistance(absl::Span<const double> reference_counts,
                         absl::Span<const double> current_counts);

// ---- Samples: values ascending (equal values may repeat), weights > 0,
// as QuantileSketch::Sorted() gives. F_a(x) is the weight of a's values
// <= x over a's total weight. Unsorted input gives meaningless numbers.

// Two-sample Kolmogorov-Smirnov statistic sup_x |F_a(x) - F_b(x)|, in
// [0, 1], evaluated after all values equal to x (ties as scipy's
// ks_2samp). O(|a| + |b|). For sketches that are not exact() it is within
// a.NormalizedRankErrorAllQuantiles() + b.NormalizedRankErrorAllQuantiles()
// of the samples' own statistic (at 98% confidence).
double KolmogorovSmirnovStatistic(absl::Span<const WeightedValue> a,
                                  absl::Span<const WeightedValue> b);

// Samples up to this n m get an exact p-value.
inline constexpr uint64_t kMaxExactKolmogorovSmirnovProduct = 10000;

// Two-sided p-value P(D >= d) of the two-sample KS statistic under H0 (the
// samples come from one continuous distribution), for sample sizes n, m.
//   Exact when n m <= 10,000 (as scipy's ks_2samp(method='exact')): D
//     takes values h / lcm(n, m); the p-value is the share of the C(n + m,
//     n) equally likely orderings of the two samples whose lattice path
//     from (0, 0) to (n, m) reaches |i / n - j / m| >= d, found by a walk
//     over the (n + 1)(m + 1) lattice points that sums the probability of
//     first reaching that boundary, a sum of positive terms, so small
//     p-values keep their relative precision (~1e-13). A d that is not a
//     multiple of 1 / lcm (weighted samples) counts as the next multiple
//     up; one less than 1e-9 below a multiple, as that multiple (rounding).
//   Otherwise the asymptotic Kolmogorov distribution at the effective size
//     e = n m / (n + m): P(K > sqrt(e) d), with P(K > t) = 2 sum_{j >= 1}
//     (-1)^(j - 1) exp(-2 j^2 t^2), or for t < 1 one minus Kolmogorov's
//     dual series sqrt(2 pi) / t sum_{j >= 1} exp(-(2j - 1)^2 pi^2 /
//     (8 t^2)); absolute error under 1e-14 in the limit law, which itself
//     only approximates the finite-sample distribution (no continuity or
//     small-sample correction is applied).
// `exact`, if given, is set to whether the exact method was used. 1 for d
// <= 0, 0 for d > 1; NaN when n or m is 0 or d is NaN.
double KolmogorovSmirnovPValue(double d, uint64_t n, uint64_t m,
                               bool* exact = nullptr);

struct KsTest {
  double statistic;  // KolmogorovSmirnovStatistic(a, b).
  double p_value;    // KolmogorovSmirnovPValue, n and m the total weights.
  bool exact;        // Whether the p-value is exact (n m <= 10,000).
};
// For sketches the sizes are their count(): the p-value treats the
// sketches' distributions as the samples. NaN fields for an empty sample.
KsTest KolmogorovSmirnovTest(absl::Span<const WeightedValue> a,
                             absl::Span<const WeightedValue> b);

// Wasserstein-1 (earth mover's) distance integral |F_a(x) - F_b(x)| dx, in
// the values' unit: exact for step CDFs, summed between consecutive
// distinct values. O(|a| + |b|).
double Wasserstein1(absl::Span<const WeightedValue> a,
                    absl::Span<const WeightedValue> b);

// ---- Chi-square. ----

struct ChiSquareTest {
  double statistic;
  double p_value;
  double dof;
};
// Pearson's goodness of fit of observed counts o_i against expected counts
// e_i, the expected ones first rescaled to the observed total (pass the
// reference counts: Evidently's chi-square drift test, expected = reference
// proportions times the current total): statistic sum_i (o_i - e_i)^2 /
// e_i, p-value ChiSquareSurvival(statistic, dof). Bins where both counts
// are 0 are dropped; dof = (bins left) - 1. A bin with e_i = 0 and o_i > 0
// makes the statistic +inf and the p-value 0; a single bin left gives
// statistic 0, p-value 1, dof 0. NaN fields for spans of different sizes,
// negative or non-finite counts, or a total of 0.
ChiSquareTest ChiSquareGoodnessOfFit(absl::Span<const double> observed,
                                     absl::Span<const double> expected);

// P(X > x) for X chi-square with `dof` > 0 degrees of freedom (not only
// integers): the upper regularized incomplete gamma function Q(a, y), a =
// dof / 2, y = x / 2. A power series gives P = 1 - Q when y < a + 1, a
// continued fraction (modified Lentz) gives Q directly otherwise, so small
// tails keep their relative precision. Their common factor y^a e^-y /
// Gamma(a) is taken in logs, for a >= 10 through Stirling's series so that
// the terms of order a cancel exactly instead of in rounding. Relative error
// below 1e-13 (measured against 50-digit arithmetic for dof from 0.1 to
// 10^5, p-values down to 1e-260). 1 for x <= 0, 0 for x = +inf; NaN for NaN
// arguments, dof <= 0 or infinite.
double ChiSquareSurvival(double x, double dof);

}  // namespace vigie::monitors
