#include "monitors/drift_stats.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <numeric>
#include <vector>

#include "absl/types/span.h"
#include "monitors/quantile_sketch.h"
#include "monitors/stats.h"

namespace vigie::monitors {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double ToDouble(uint64_t n) { return static_cast<double>(n); }

// Checks two count vectors over the same bins (see the header) and sums
// them; false if they are invalid.
bool SumCounts(absl::Span<const double> a, absl::Span<const double> b,
               double* total_a, double* total_b) {
  if (a.size() != b.size() || a.empty()) return false;
  *total_a = 0;
  *total_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] >= 0 && a[i] < kInf) || !(b[i] >= 0 && b[i] < kInf)) {
      return false;
    }
    *total_a += a[i];
    *total_b += b[i];
  }
  return *total_a > 0 && *total_a<kInf&& * total_b> 0 && *total_b < kInf;
}

// Proportions of two count vectors over the same bins; false if they are
// invalid.
bool ToProportions(absl::Span<const double> reference,
                   absl::Span<const double> current, std::vector<double>* p,
                   std::vector<double>* q) {
  double total_p;
  double total_q;
  if (!SumCounts(reference, current, &total_p, &total_q)) return false;
  p->resize(reference.size());
  q->resize(current.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    (*p)[i] = reference[i] / total_p;
    (*q)[i] = current[i] / total_q;
  }
  return true;
}

// Total weight of a sample, or 0 if a weight is 0 or the sum overflows.
uint64_t TotalWeight(absl::Span<const WeightedValue> sample) {
  uint64_t total = 0;
  for (const WeightedValue& v : sample) {
    if (v.weight == 0 || v.weight > UINT64_MAX - total) return 0;
    total += v.weight;
  }
  return total;
}

// Walks the distinct values of two sorted samples in order, calling
// visit(x, F_a(x), F_b(x)) after all values equal to x.
template <typename Visit>
void WalkCdfs(absl::Span<const WeightedValue> a,
              absl::Span<const WeightedValue> b, double total_a, double total_b,
              Visit visit) {
  size_t i = 0;
  size_t j = 0;
  double cum_a = 0;
  double cum_b = 0;
  while (i < a.size() || j < b.size()) {
    double x;
    if (j == b.size() || (i < a.size() && a[i].value <= b[j].value)) {
      x = a[i].value;
    } else {
      x = b[j].value;
    }
    while (i < a.size() && a[i].value <= x) cum_a += ToDouble(a[i++].weight);
    while (j < b.size() && b[j].value <= x) cum_b += ToDouble(b[j++].weight);
    visit(x, cum_a / total_a, cum_b / total_b);
  }
}

// P(K > t) for Kolmogorov's limiting distribution of sqrt(n) D.
double KolmogorovSurvival(double t) {
  if (!(t > 0)) return 1;
  if (t < 1) {
    // Dual series for the CDF: its terms fall as exp(-(2j - 1)^2 ...), and
    // at t < 1 the CDF is below 0.74, so 1 - CDF loses nothing.
    const double factor = -std::numbers::pi * std::numbers::pi / (8 * t * t);
    double cdf = 0;
    for (int j = 1; j < 100; ++j) {
      const double odd = 2.0 * j - 1;
      const double term = std::exp(factor * odd * odd);
      cdf += term;
      if (term < 1e-300 || term < cdf * 1e-17) break;
    }
    return std::clamp(1 - std::sqrt(2 * std::numbers::pi) / t * cdf, 0.0, 1.0);
  }
  double sum = 0;
  for (int j = 1; j < 100; ++j) {
    const double term = std::exp(-2.0 * j * j * t * t);
    sum += (j % 2 == 1) ? term : -term;
    if (term < 1e-300 || term < sum * 1e-17) break;
  }
  return std::clamp(2 * sum, 0.0, 1.0);
}

// P(D >= h / lcm(n, m)) by the lattice walk of the header: q holds, for
// the current row i, the probability of being at (i, j) having stayed
// strictly inside |i m - j n| < h gcd(n, m).
double ExactKolmogorovSmirnovPValue(uint64_t h, uint64_t n, uint64_t m) {
  const uint64_t g = std::gcd(n, m);
  // |i m - j n| <= n m <= 10^4: plain 64-bit integers.
  const auto outside = [&](uint64_t i, uint64_t j) {
    const uint64_t im = i * m;
    const uint64_t jn = j * n;
    return (im > jn ? im - jn : jn - im) >= h * g;
  };
  // Probability that the next step from (i, j) takes a value of a.
  const auto step_a = [&](uint64_t i, uint64_t j) {
    return ToDouble(n - i) / ToDouble(n - i + m - j);
  };
  std::vector<double> row(m + 1, 0.0);
  double p_outside = 0;
  for (uint64_t i = 0; i <= n; ++i) {
    for (uint64_t j = 0; j <= m; ++j) {
      double arrival;
      if (i == 0 && j == 0) {
        arrival = 1;
      } else {
        // row[j] still holds (i - 1, j); row[j - 1] already holds (i, j - 1).
        arrival = 0;
        if (i > 0 && row[j] > 0) arrival += row[j] * step_a(i - 1, j);
        if (j > 0 && row[j - 1] > 0) {
          arrival += row[j - 1] * (1 - step_a(i, j - 1));
        }
      }
      if (outside(i, j)) {
        p_outside += arrival;
        row[j] = 0;
      } else {
        row[j] = arrival;
      }
    }
  }
  return std::clamp(p_outside, 0.0, 1.0);
}

// ln(x^a e^-x / Gamma(a)) for a, x > 0.
double LogGammaFactor(double a, double x) {
  if (a < 10) return a * std::log(x) - x - std::lgamma(a);
  // With Stirling's series for ln Gamma(a), the terms of order a cancel
  // exactly: the factor is -a phi(x / a) + ln(a / (2 pi)) / 2 - S(a), phi(t)
  // = t - 1 - ln t.
  const double u = (x - a) / a;
  double phi;
  if (std::abs(u) <= 0.3) {
    // u - ln(1 + u) = sum_{j >= 2} (-1)^j u^j / j, without cancellation.
    phi = 0;
    double power = u;
    for (int j = 2; j < 60; ++j) {
      power *= -u;
      const double term = power / j;
      phi -= term;
      if (std::abs(term) < 1e-18 * std::abs(phi)) break;
    }
  } else {
    phi = u - std::log1p(u);
  }
  const double inv = 1 / a;
  const double inv2 = inv * inv;
  // Stirling's correction S(a) = ln Gamma(a) - (a - 1/2) ln a + a - ln(2
  // pi) / 2; at a >= 10 the next term is below 1e-17.
  const double stirling =
      inv * (1.0 / 12 +
             inv2 * (-1.0 / 360 +
                     inv2 * (1.0 / 1260 +
                             inv2 * (-1.0 / 1680 +
                                     inv2 * (1.0 / 1188 +
                                             inv2 * (-691.0 / 360360 +
                                                     inv2 * (1.0 / 156)))))));
  return -a * phi + 0.5 * std::log(a / (2 * std::numbers::pi)) - stirling;
}

// Iterations after which the series or the continued fraction gives up; both
// need O(sqrt(a)) at the worst x, far fewer elsewhere.
constexpr int kMaxGammaIterations = 1'000'000;

// Q(a, x), the upper regularized incomplete gamma function, a, x > 0.
double UpperIncompleteGamma(double a, double x) {
  const double log_factor = LogGammaFactor(a, x);
  if (x < a + 1) {
    // P(a, x) = x^a e^-x / Gamma(a + 1) sum_n x^n / ((a + 1) ... (a + n)).
    double term = 1;
    double sum = 1;
    for (int n = 1; n < kMaxGammaIterations; ++n) {
      term *= x / (a + n);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    const double p = std::exp(log_factor) / a * sum;
    return std::clamp(1 - p, 0.0, 1.0);
  }
  // Q(a, x) = x^a e^-x / Gamma(a) / (x + 1 - a - 1 (1 - a) / (x + 3 - a -
  // 2 (2 - a) / (x + 5 - a - ...))), by the modified Lentz method.
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a;
  double c = 1 / kTiny;
  double d = 1 / b;
  double h = d;
  for (int i = 1; i < kMaxGammaIterations; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-16) break;
  }
  return std::clamp(std::exp(log_factor) * h, 0.0, 1.0);
}

}  // namespace

double PopulationStabilityIndex(absl::Span<const double> reference_counts,
                                absl::Span<const double> current_counts,
                                double epsilon) {
  std::vector<double> p;
  std::vector<double> q;
  if (!(epsilon > 0 && epsilon < kInf) ||
      !ToProportions(reference_counts, current_counts, &p, &q)) {
    return kNaN;
  }
  double psi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double pi = p[i] > 0 ? p[i] : epsilon;
    const double qi = q[i] > 0 ? q[i] : epsilon;
    psi += (qi - pi) * std::log(qi / pi);
  }
  return psi;
}

double JensenShannonDistance(absl::Span<const double> reference_counts,
                             absl::Span<const double> current_counts) {
  std::vector<double> p;
  std::vector<double> q;
  if (!ToProportions(reference_counts, current_counts, &p, &q)) return kNaN;
  double divergence = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double mid = (p[i] + q[i]) / 2;
    if (p[i] > 0) divergence += p[i] * std::log2(p[i] / mid);
    if (q[i] > 0) divergence += q[i] * std::log2(q[i] / mid);
  }
  return std::sqrt(std::clamp(divergence / 2, 0.0, 1.0));
}

double HellingerDistance(absl::Span<const double> reference_counts,
                         absl::Span<const double> current_counts) {
  std::vector<double> p;
  std::vector<double> q;
  if (!ToProportions(reference_counts, current_counts, &p, &q)) return kNaN;
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double gap = std::sqrt(p[i]) - std::sqrt(q[i]);
    sum += gap * gap;
  }
  return std::min(1.0, std::sqrt(sum / 2));
}

double KolmogorovSmirnovStatistic(absl::Span<const WeightedValue> a,
                                  absl::Span<const WeightedValue> b) {
  const uint64_t total_a = TotalWeight(a);
  const uint64_t total_b = TotalWeight(b);
  if (total_a == 0 || total_b == 0) return kNaN;
  double d = 0;
  WalkCdfs(a, b, ToDouble(total_a), ToDouble(total_b),
           [&d](double, double fa, double fb) {
             d = std::max(d, std::abs(fa - fb));
           });
  return std::min(d, 1.0);
}

double KolmogorovSmirnovPValue(double d, uint64_t n, uint64_t m, bool* exact) {
  const bool use_exact = n > 0 && m > 0 &&
                         n <= kMaxExactKolmogorovSmirnovProduct &&
                         m <= kMaxExactKolmogorovSmirnovProduct / n;
  if (exact != nullptr) *exact = use_exact;
  if (n == 0 || m == 0 || std::isnan(d)) return kNaN;
  if (d <= 0) return 1;
  if (d > 1) return 0;
  if (use_exact) {
    const uint64_t lcm = n / std::gcd(n, m) * m;
    const double scaled = std::ceil((d - 1e-9) * ToDouble(lcm));
    if (scaled <= 0) return 1;
    return ExactKolmogorovSmirnovPValue(static_cast<uint64_t>(scaled), n, m);
  }
  const double effective =
      ToDouble(n) / (ToDouble(n) + ToDouble(m)) * ToDouble(m);
  return KolmogorovSurvival(std::sqrt(effective) * d);
}

KsTest KolmogorovSmirnovTest(absl::Span<const WeightedValue> a,
                             absl::Span<const WeightedValue> b) {
  KsTest test;
  test.statistic = KolmogorovSmirnovStatistic(a, b);
  test.p_value = KolmogorovSmirnovPValue(test.statistic, TotalWeight(a),
                                         TotalWeight(b), &test.exact);
  return test;
}

double Wasserstein1(absl::Span<const WeightedValue> a,
                    absl::Span<const WeightedValue> b) {
  const uint64_t total_a = TotalWeight(a);
  const uint64_t total_b = TotalWeight(b);
  if (total_a == 0 || total_b == 0) return kNaN;
  double distance = 0;
  double previous_x = 0;
  double previous_gap = 0;
  WalkCdfs(a, b, ToDouble(total_a), ToDouble(total_b),
           [&](double x, double fa, double fb) {
             // The gap found at the previous value holds up to x.
             distance += previous_gap * (x - previous_x);
             previous_x = x;
             previous_gap = std::abs(fa - fb);
           });
  return distance;
}

ChiSquareTest ChiSquareGoodnessOfFit(absl::Span<const double> observed,
                                     absl::Span<const double> expected) {
  double total_observed;
  double total_expected;
  if (!SumCounts(observed, expected, &total_observed, &total_expected)) {
    return {kNaN, kNaN, kNaN};
  }
  const double scale = total_observed / total_expected;
  double statistic = 0;
  int bins = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (observed[i] == 0 && expected[i] == 0) continue;
    ++bins;
    const double e = expected[i] * scale;
    if (e > 0) {
      const double gap = observed[i] - e;
      statistic += gap * gap / e;
    } else {
      statistic = kInf;
    }
  }
  ChiSquareTest test;
  test.dof = std::max(0, bins - 1);
  if (bins <= 1) {
    test.statistic = 0;
    test.p_value = 1;
  } else {
    test.statistic = statistic;
    test.p_value = ChiSquareSurvival(statistic, test.dof);
  }
  return test;
}

double ChiSquareSurvival(double x, double dof) {
  if (std::isnan(x) || !(dof > 0)) return kNaN;
  if (x <= 0) return 1;
  if (x == kInf) return 0;
  if (dof == kInf) return kNaN;
  return UpperIncompleteGamma(dof / 2, x / 2);
}

}  // namespace vigie::monitors
