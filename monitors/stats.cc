#include "monitors/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace vigie::monitors {
namespace {

constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kSqrt2Pi = 2.50662827463100050242;

// Coefficients of Acklam's rational approximations ("An algorithm for
// computing the inverse normal cumulative distribution function", 2003).
constexpr double kA[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                         -2.759285104469687e+02, 1.383577518672690e+02,
                         -3.066479806614716e+01, 2.506628277459239e+00};
constexpr double kB[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                         -1.556989798598866e+02, 6.680131188771972e+01,
                         -1.328068155288572e+01};
constexpr double kC[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                         -2.400758277161838e+00, -2.549732539343734e+00,
                         4.374664141464968e+00,  2.938163982698783e+00};
constexpr double kD[] = {7.784695709041462e-03, 3.224671290700398e-01,
                         2.445134137142996e+00, 3.754408661907416e+00};
constexpr double kLowTail = 0.02425;

// Acklam's approximation alone: relative error below 1.15e-9.
double AcklamQuantile(double p) {
  if (p < kLowTail) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((kC[0] * q + kC[1]) * q + kC[2]) * q + kC[3]) * q + kC[4]) * q +
            kC[5]) /
           ((((kD[0] * q + kD[1]) * q + kD[2]) * q + kD[3]) * q + 1);
  }
  if (p > 1 - kLowTail) {
    const double q = std::sqrt(-2 * std::log1p(-p));
    return -(((((kC[0] * q + kC[1]) * q + kC[2]) * q + kC[3]) * q + kC[4]) * q +
             kC[5]) /
           ((((kD[0] * q + kD[1]) * q + kD[2]) * q + kD[3]) * q + 1);
  }
  const double q = p - 0.5;
  const double r = q * q;
  return (((((kA[0] * r + kA[1]) * r + kA[2]) * r + kA[3]) * r + kA[4]) * r +
          kA[5]) *
         q /
         (((((kB[0] * r + kB[1]) * r + kB[2]) * r + kB[3]) * r + kB[4]) * r +
          1);
}

double ToDouble(uint64_t n) { return static_cast<double>(n); }

}  // namespace

double NormalCdf(double z) {
  // erfc keeps full relative precision in the lower tail, where
  // 0.5 * (1 + erf(x)) would cancel to 0.
  return 0.5 * std::erfc(-z / kSqrt2);
}

double NormalQuantile(double p) {
  if (std::isnan(p)) return std::numeric_limits<double>::quiet_NaN();
  if (p <= 0) return -std::numeric_limits<double>::infinity();
  if (p >= 1) return std::numeric_limits<double>::infinity();
  const double x = AcklamQuantile(p);
  // One Halley step on Phi(x) - p brings the error to machine precision.
  // In the upper tail, Phi(x) - p is computed as (1 - p) - (1 - Phi(x)),
  // whose second term erfc gives without cancellation.
  const double e =
      p > 0.5 ? (1 - p) - 0.5 * std::erfc(x / kSqrt2) : NormalCdf(x) - p;
  // The density is divided into, not exp(x^2 / 2) multiplied by, because
  // the latter overflows for p below about 1e-300.
  const double density = std::exp(-x * x / 2) / kSqrt2Pi;
  if (!(density > 0)) return x;
  const double u = e / density;
  const double refined = x - u / (1 + x * u / 2);
  return std::isfinite(refined) ? refined : x;
}

Interval WilsonInterval(uint64_t successes, uint64_t n, double confidence) {
  return WilsonIntervalAtZ(successes, n,
                           NormalQuantile(1 - (1 - confidence) / 2));
}

Interval WilsonIntervalAtZ(uint64_t successes, uint64_t n, double z) {
  // Outside the precondition, return the interval that claims nothing.
  if (n == 0) return {0, 1};
  successes = std::min(successes, n);
  const double nn = ToDouble(n);
  const double p = ToDouble(successes) / nn;
  const double z2 = z * z;
  const double denominator = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denominator;
  const double half =
      z / denominator * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  // At p = 0 or 1 one end is exactly 0 or 1; rounding must not move it.
  Interval interval{center - half, center + half};
  interval.lower = successes == 0 ? 0 : std::max(0.0, interval.lower);
  interval.upper = successes == n ? 1 : std::min(1.0, interval.upper);
  return interval;
}

TwoProportionTest CompareProportions(uint64_t x1, uint64_t n1, uint64_t x2,
                                     uint64_t n2, double confidence) {
  TwoProportionTest test;
  if (n1 == 0 || n2 == 0) {
    test.difference_interval = {-1, 1};
    return test;
  }
  x1 = std::min(x1, n1);
  x2 = std::min(x2, n2);
  const double p1 = ToDouble(x1) / ToDouble(n1);
  const double p2 = ToDouble(x2) / ToDouble(n2);
  test.difference = p1 - p2;

  // Pooled proportion in long double: x1 + x2 and n1 + n2 may not be exact
  // in double, and the sum of two uint64 may wrap.
  const long double pooled =
      (static_cast<long double>(x1) + static_cast<long double>(x2)) /
      (static_cast<long double>(n1) + static_cast<long double>(n2));
  const double variance = static_cast<double>(pooled * (1 - pooled)) *
                          (1 / ToDouble(n1) + 1 / ToDouble(n2));
  // Equal proportions (which covers a pooled proportion of 0 or 1) are no
  // evidence of a difference: z = 0, p = 1, rather than 0 / 0.
  if (test.difference != 0 && variance > 0) {
    test.z = test.difference / std::sqrt(variance);
    // 2 * (1 - Phi(|z|)) == erfc(|z| / sqrt 2), without the cancellation
    // that would round tiny p-values to 0.
    test.p_value = std::erfc(std::abs(test.z) / kSqrt2);
  }

  const Interval w1 = WilsonInterval(x1, n1, confidence);
  const Interval w2 = WilsonInterval(x2, n2, confidence);
  test.difference_interval.lower =
      test.difference - std::hypot(p1 - w1.lower, w2.upper - p2);
  test.difference_interval.upper =
      test.difference + std::hypot(w1.upper - p1, p2 - w2.lower);
  return test;
}

double FisherExactTest(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  // The tables with the observed margins are (a + t, b - t, c - t, d + t)
  // for t in [-min(a, d), min(b, c)]; t = 0 is the observed one.
  const uint64_t down = std::min(a, d);
  const uint64_t up = std::min(b, c);
  if (down == 0 && up == 0) return 1;
  // Offsets past 2^52 would stop being exact in double and the walk below
  // would never end.
  constexpr uint64_t kMaxOffset = uint64_t{1} << 52;
  if (down > kMaxOffset || up > kMaxOffset) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double fa = ToDouble(a);
  const double fb = ToDouble(b);
  const double fc = ToDouble(c);
  const double fd = ToDouble(d);
  // log P(t + 1) / P(t), from P(t) proportional to
  // 1 / ((a + t)! (b - t)! (c - t)! (d + t)!). Each quotient is formed before
  // the product so that nothing overflows.
  const auto log_step = [&](double t) {
    return std::log(((fb - t) / (fa + t + 1)) * ((fc - t) / (fd + t + 1)));
  };
  const double lowest = -ToDouble(down);
  const double highest = ToDouble(up);

  // The mode, floor((r1 + 1)(c1 + 1) / (N + 2)) in terms of the top-left
  // cell (long double: the products of margins may not fit a uint64), then
  // nudged to the true maximum should rounding have missed it.
  const long double la = static_cast<long double>(a);
  const long double r1 = la + static_cast<long double>(b);
  const long double c1 = la + static_cast<long double>(c);
  const long double n =
      r1 + static_cast<long double>(c) + static_cast<long double>(d);
  double mode =
      static_cast<double>(std::floor((r1 + 1) * (c1 + 1) / (n + 2)) - la);
  mode = std::clamp(mode, lowest, highest);
  while (mode < highest && log_step(mode) > 0) mode += 1;
  while (mode > lowest && log_step(mode - 1) < 0) mode -= 1;

  // log P(0) / P(mode), walking from the mode as the sums below do, so that
  // the observed table gets bit for bit the value it gets there.
  double log_observed = 0;
  if (mode < 0) {
    for (double t = mode; t < 0; t += 1) log_observed += log_step(t);
  } else {
    for (double t = mode; t > 0; t -= 1) log_observed -= log_step(t - 1);
  }

  // The terms fall monotonically away from the mode (the hypergeometric is
  // log-concave). Past e^-60 below both the mode and the observed table, the
  // rest adds less than 1e-20 relative to either sum.
  const double cutoff = std::min(0.0, log_observed) - 60;
  const double tie = log_observed + std::log1p(1e-7);
  double all = 0;       // Sum of P(t) / P(mode).
  double selected = 0;  // Sum of P(t) / P(0) over P(t) <= P(0) (1 + 1e-7).
  const auto add = [&](double log_term) {
    all += std::exp(log_term);
    if (log_term <= tie) selected += std::exp(log_term - log_observed);
  };
  add(0);
  double log_term = 0;
  for (double t = mode; t < highest && log_term >= cutoff; t += 1) {
    log_term += log_step(t);
    add(log_term);
  }
  log_term = 0;
  for (double t = mode; t > lowest && log_term >= cutoff; t -= 1) {
    log_term -= log_step(t - 1);
    add(log_term);
  }
  // P(0) * selected / all, in logs so that a tiny p-value does not
  // underflow before the division.
  return std::min(1.0,
                  std::exp(log_observed + std::log(selected) - std::log(all)));
}

ProportionComparison TestProportions(uint64_t x1, uint64_t n1, uint64_t x2,
                                     uint64_t n2, double confidence) {
  const TwoProportionTest z = CompareProportions(x1, n1, x2, n2, confidence);
  ProportionComparison out;
  out.difference = z.difference;
  out.p_value = z.p_value;
  out.difference_interval = z.difference_interval;
  if (n1 == 0 || n2 == 0) return out;
  x1 = std::min(x1, n1);
  x2 = std::min(x2, n2);
  // Smallest expected cell: smallest row total times smallest column total
  // over the total (long double: the sums of two uint64 may wrap).
  const long double rows[] = {static_cast<long double>(n1),
                              static_cast<long double>(n2)};
  const long double total = rows[0] + rows[1];
  const long double column =
      static_cast<long double>(x1) + static_cast<long double>(x2);
  const long double smallest_row = std::min(rows[0], rows[1]);
  const long double smallest_column = std::min(column, total - column);
  const long double min_expected = smallest_row * smallest_column / total;
  // Past a million in every margin the exact sum would walk millions of
  // tables; such a table (with an expected cell below 5) holds over 2e11
  // observations, where the z-test is kept.
  constexpr long double kMaxFisherMargin = 1e6;
  if (min_expected < kMinExpectedCellForZTest &&
      std::min(smallest_row, smallest_column) <= kMaxFisherMargin) {
    out.test = ProportionTest::kFisherExact;
    out.p_value = FisherExactTest(x1, n1 - x1, x2, n2 - x2);
  }
  return out;
}

}  // namespace vigie::monitors
