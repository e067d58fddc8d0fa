#pragma once

#include <cstdint>
#include <limits>

// Small, exact-as-possible statistics shared by the monitors and the rules:
// normal distribution, binomial proportion intervals, two-proportion tests
// and Fisher's exact test. Pure functions; thread-safe.

namespace vigie::monitors {

// a + b, or the largest uint64_t past it: the monitors' counts saturate
// rather than wrap, so that a merge of adversarial (yet valid) states keeps
// their invariants (selected <= predictions, positives <= count) and still
// deserializes.
inline uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  return a > kMax - b ? kMax : a + b;
}

// A two-sided interval.
struct Interval {
  double lower = 0;
  double upper = 0;
};

// Standard normal CDF, Phi(z).
double NormalCdf(double z);

// Inverse of NormalCdf for p in (0, 1) (Acklam's rational approximation
// refined by one Halley step: absolute error below 1e-12).
double NormalQuantile(double p);

// Wilson score interval for a binomial proportion `successes / n` at the
// given two-sided confidence (e.g. 0.95). Requires n > 0 and
// successes <= n. (Wilson, JASA 1927.)
Interval WilsonInterval(uint64_t successes, uint64_t n, double confidence);
// The same with the normal quantile given, z = NormalQuantile(1 - (1 -
// confidence) / 2), for callers that build many intervals at one level.
Interval WilsonIntervalAtZ(uint64_t successes, uint64_t n, double z);

// Comparison of two independent binomial proportions p1 = x1/n1 and
// p2 = x2/n2. Requires n1, n2 > 0.
struct TwoProportionTest {
  double difference = 0;  // p1 - p2.
  double z = 0;           // Pooled-variance z statistic; 0 when p1 == p2.
  double p_value = 1;     // Two-sided p-value of H0: p1 == p2.
  // Newcombe's hybrid score interval for p1 - p2 (Newcombe 1998, method
  // 10), built from the two Wilson intervals at `confidence`.
  Interval difference_interval;
};
TwoProportionTest CompareProportions(uint64_t x1, uint64_t n1, uint64_t x2,
                                     uint64_t n2, double confidence = 0.95);

// Two-sided p-value of Fisher's exact test of independence in the 2x2 table
// [[a, b], [c, d]] (Fisher 1935): given the margins, `a` is hypergeometric,
// and the p-value is the total probability of the tables at most as likely
// as the observed one. As in R's fisher.test, "at most" has a relative
// tolerance of 1e-7, so that tables tied in exact arithmetic are not split
// by rounding. 1 when a margin is 0 (only one table is possible).
//
// Accuracy: each table's probability relative to the most likely one is
// accumulated in logs from the ratio of consecutive hypergeometric terms,
// which keeps a relative error near 1e-13 even for counts in the millions
// (absolute log-factorials, lgamma(n + 1), would lose about 1e-8 there to
// cancellation, too close to the 1e-7 tie tolerance). p-values down to the
// smallest double are returned, not rounded to 0.
// Cost: O(k), k the number of tables walked: from the mode to the observed
// table, then outward until the terms fall e^-60 below both the mode and the
// observed table; at most 2 (min(a, d) + min(b, c) + 1). NaN when min(a, d)
// or min(b, c) exceeds 2^52, where that walk would not end.
double FisherExactTest(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

// Which test TestProportions used.
enum class ProportionTest {
  kTwoProportionZ,  // CompareProportions' pooled z-test.
  kFisherExact,     // FisherExactTest on [[x1, n1 - x1], [x2, n2 - x2]].
};

// Smallest expected cell under which TestProportions uses Fisher's test.
inline constexpr double kMinExpectedCellForZTest = 5;

// p1 = x1/n1 against p2 = x2/n2, choosing the test by the sample: the
// normal approximation behind the z-test is poor when a cell of the 2x2 table
// [[x1, n1 - x1], [x2, n2 - x2]] has a small expected count under equal
// proportions, so when any expected cell (row total * column total / total)
// is below kMinExpectedCellForZTest (Cochran's rule, 1954), Fisher's exact
// test gives the p-value; otherwise the z-test does. The one exception: a
// table whose every margin exceeds 10^6 (it then holds over 2e11
// observations) keeps the z-test, as the exact sum would walk millions of
// tables. Requires n1, n2 > 0 (else: z-test fields, p = 1).
struct ProportionComparison {
  ProportionTest test = ProportionTest::kTwoProportionZ;
  double difference = 0;  // p1 - p2.
  double p_value = 1;     // Two-sided, of H0: p1 == p2.
  // Newcombe's hybrid score interval for p1 - p2 at `confidence`, whichever
  // test gave the p-value (it is built from Wilson intervals, which keep
  // their coverage in small samples).
  Interval difference_interval;
};
ProportionComparison TestProportions(uint64_t x1, uint64_t n1, uint64_t x2,
                                     uint64_t n2, double confidence = 0.95);

}  // namespace vigie::monitors
