#pragma once

#include <cstdint>

// The laws a window's count of covered outcomes follows under a sound
// conformal predictor, and their lower tails: the maths of rule K1.
// Pure functions; thread-safe.

namespace vigie::monitors {

// l = floor((n_cal + 1) alpha): split conformal's interval at level alpha
// from n_cal calibration scores is the (n_cal + 1 - l)-th smallest score,
// so its coverage given the calibration set is Beta(n_cal + 1 - l, l)
// (Vovk 2012; Angelopoulos and Bates 2021, section 3.3). The product is
// taken with a relative tolerance of 1e-9 so that an alpha written in
// decimal (0.1, whose double is a hair above or below) gives the intended
// integer. 0 means the interval is the whole line: coverage is certain.
uint64_t SplitConformalRank(uint64_t calibration_size, double alpha);

// Lower tail of a count law X on {0, ..., m}.
struct CountTail {
  // P(X <= observed): the one-sided p-value of a shortfall.
  double cdf_observed = 1;
  // Lower quantiles min{k : P(X <= k) >= q}, for q = 5% and 0.1%. A count
  // below quantile_05 has P(X <= count) < 5%.
  uint64_t quantile_05 = 0;
  uint64_t quantile_001 = 0;
  double mean = 0;  // E X.
};

// X ~ Binomial(m, p), 0 < p < 1: the count of covered outcomes among m
// exchangeable ones when each is covered with probability exactly p (the
// nominal 1 - alpha; the test when n_cal is unknown).
CountTail BinomialTail(uint64_t m, double p, uint64_t observed);

// X ~ Beta-Binomial(m, a, b), a, b > 0: P(X = k) = C(m, k) B(k + a, m - k +
// b) / B(a, b). With a = n_cal + 1 - l and b = l, the count of covered
// outcomes among m test points sharing one calibration set.
CountTail BetaBinomialTail(uint64_t m, double a, double b, uint64_t observed);

// Both tails sum the law's terms from its mean outward, each from the
// ratio of consecutive terms, until they fall below 1e-20 of the largest:
// no factorial is formed, and the error is a few 1e-13 relative. P(X <=
// observed) below about 1e-20 comes out as 0. Cost: O(min(m, 80 sd)) for a
// law of standard deviation sd, twice, at most about 2^23 steps (tens of
// ms). A wider law (a Beta-Binomial from a small n_cal spreads over a
// fixed share of {0, ..., m}, so for windows of millions) is summed on a
// lattice of 2^16 cells from its log-probabilities (lgamma) within 40 sd
// of the mean, by the midpoint rule: P within about 1e-16 m log m
// relative (1e-8 at m = 5 million) plus the rule's 1e-7, quantiles within
// a count or two, in tens of ms. A window of more than 2^32 observations,
// which only a crafted or saturated state has, is tested as a window of
// 2^32 with the same coverage: its quantiles, as coverages, are then a
// little wider than its own.

}  // namespace vigie::monitors
