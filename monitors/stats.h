#pragma once

#include <cstdint>

// Small, exact-as-possible statistics shared by the monitors and the rules:
// normal distribution, binomial proportion intervals and two-proportion
// tests. Pure functions; thread-safe.

namespace vigie::monitors {

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

}  // namespace vigie::monitors
