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
  // Outside the precondition, return the interval that claims nothing.
  if (n == 0) return {0, 1};
  successes = std::min(successes, n);
  const double z = NormalQuantile(1 - (1 - confidence) / 2);
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

}  // namespace vigie::monitors
