#include "monitors/conformal_gate.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace vigie::monitors {
namespace {

// Terms below this fraction of the largest are left out.
constexpr double kNegligibleTerm = 1e-20;
// Terms summed on each side of the mean at most, so that a window of
// billions (or a crafted state) cannot stall a snapshot: about 0.1 s.
constexpr uint64_t kMaxSteps = uint64_t{1} << 24;
// Relative tolerance on (n_cal + 1) alpha before its floor.
constexpr double kRankTolerance = 1e-9;

double ToDouble(uint64_t n) { return static_cast<double>(n); }

// x as a count in [0, limit]: a plain cast of a double at or past 2^64 is
// undefined, and counts near 2^64 (saturated, or crafted) round there.
uint64_t ToCount(double x, uint64_t limit) {
  if (!(x < static_cast<double>(limit))) return limit;
  return x > 0 ? static_cast<uint64_t>(x) : 0;
}

// The lower tail of a unimodal law on {0, ..., m} whose consecutive terms
// have the ratio ratio(k) = P(k + 1) / P(k) > 0, for k < m. The terms are
// relative to the one nearest the mean, so they never underflow where they
// matter, and normalised by their total.
template <typename Ratio>
CountTail Tail(uint64_t m, double mean, uint64_t observed, Ratio ratio) {
  CountTail tail;
  tail.mean = mean;
  if (m == 0) return tail;
  const uint64_t start = ToCount(std::floor(mean + 0.5), m);
  // Pass 1: the range of significant terms and their total.
  double total = 1;
  double peak = 1;
  uint64_t high = start;
  for (double w = 1; high < m && high - start < kMaxSteps;) {
    const double next = w * ratio(high);
    if (!(next >= kNegligibleTerm * peak)) break;
    w = next;
    ++high;
    total += w;
    peak = std::max(peak, w);
  }
  uint64_t low = start;
  double w_low = 1;
  while (low > 0 && start - low < kMaxSteps) {
    const double next = w_low / ratio(low - 1);
    if (!(next >= kNegligibleTerm * peak)) break;
    w_low = next;
    --low;
    total += w_low;
    peak = std::max(peak, w_low);
  }
  // Pass 2: cumulate from the bottom. Recomputing the terms upward repeats
  // pass 1's products, so the two agree to rounding.
  bool found_05 = false;
  bool found_001 = false;
  tail.cdf_observed = observed < low ? 0 : 1;
  double cumulative = 0;
  double w = w_low;
  for (uint64_t k = low;; ++k) {
    cumulative += w;
    const double cdf = cumulative / total;
    if (!found_001 && cdf >= 0.001) {
      tail.quantile_001 = k;
      found_001 = true;
    }
    if (!found_05 && cdf >= 0.05) {
      tail.quantile_05 = k;
      found_05 = true;
    }
    if (k == observed) tail.cdf_observed = std::min(1.0, cdf);
    if (k >= high || (found_05 && k >= observed)) break;
    w *= ratio(k);
  }
  // Rounding may leave the total a hair above the last cumulative sum.
  if (!found_05) tail.quantile_05 = high;
  if (!found_001) tail.quantile_001 = high;
  return tail;
}

// Windows larger than this are tested scaled down to it (see Scaled).
constexpr uint64_t kMaxExactWindow = uint64_t{1} << 32;
// A law wider than this many counts is summed on a lattice instead.
constexpr double kLatticeRange = 0x1p22;
// Points of that lattice.
constexpr double kLatticePoints = 0x1p16;
// Half-width of the lattice's range, in standard deviations.
constexpr double kLatticeSds = 40;

// The lower tail of a wide law (sd in the tens of thousands of counts or
// more) from its log-probabilities on about 2^16 cells spanning at most
// 80 sd: each cell stands for `stride` consecutive counts, weighted by the
// probability at its middle (the midpoint rule), and the cumulative sum is
// interpolated inside a cell. The stride is under 1.3e-3 sd, where the rule
// is good to about 1e-7; log_pmf's lgamma terms, large for a large m, lose
// about 1e-16 m log m. The mass beyond 40 sd of the mean is negligible.
template <typename LogPmf>
CountTail LatticeTail(uint64_t m, double mean, double sd, uint64_t observed,
                      LogPmf log_pmf) {
  CountTail tail;
  tail.mean = mean;
  const double n = ToDouble(m);
  const double low = std::floor(std::max(0.0, mean - kLatticeSds * sd));
  const double high = std::min(n, std::ceil(mean + kLatticeSds * sd));
  const double stride =
      std::max(1.0, std::ceil((high - low + 1) / kLatticePoints));
  const auto points = static_cast<size_t>((high - low) / stride) + 1;
  // Cell j holds the counts [first(j), first(j) + size(j)); the last one
  // stops at `high`.
  const auto first = [&](size_t j) {
    return low + stride * static_cast<double>(j);
  };
  const auto size = [&](size_t j) {
    return std::min(stride, high + 1 - first(j));
  };
  std::vector<double> weights(points);
  double peak = -std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < points; ++j) {
    // At the middle of the cell's counts: the midpoint rule, whose error is
    // second order in the stride.
    weights[j] = log_pmf(first(j) + (size(j) - 1) / 2);
    peak = std::max(peak, weights[j]);
  }
  double total = 0;
  for (size_t j = 0; j < points; ++j) {
    weights[j] = std::exp(weights[j] - peak) * size(j);
    total += weights[j];
  }
  const double obs = ToDouble(observed);
  tail.cdf_observed = obs < low ? 0 : 1;
  // The first count at which the cumulative share reaches q, in cell j.
  const auto in_cell = [&](size_t j, double before, double q) {
    const double inside =
        std::ceil((q * total - before) / weights[j] * size(j));
    return ToCount(std::min(high, first(j) + std::max(0.0, inside - 1)), m);
  };
  bool found_05 = false;
  bool found_001 = false;
  double cumulative = 0;
  for (size_t j = 0; j < points; ++j) {
    const double after = cumulative + weights[j];
    if (!found_001 && after >= 0.001 * total) {
      tail.quantile_001 = in_cell(j, cumulative, 0.001);
      found_001 = true;
    }
    if (!found_05 && after >= 0.05 * total) {
      tail.quantile_05 = in_cell(j, cumulative, 0.05);
      found_05 = true;
    }
    if (obs >= first(j) && obs < first(j) + size(j)) {
      const double share = (obs - first(j) + 1) / size(j);
      tail.cdf_observed =
          std::min(1.0, (cumulative + share * weights[j]) / total);
    }
    cumulative = after;
  }
  if (!found_05) tail.quantile_05 = ToCount(high, m);
  if (!found_001) tail.quantile_001 = ToCount(high, m);
  return tail;
}

double LogChoose(double n, double k) {
  return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1);
}

}  // namespace

uint64_t SplitConformalRank(uint64_t calibration_size, double alpha) {
  if (!(alpha > 0 && alpha < 1)) return 0;
  const double product = (ToDouble(calibration_size) + 1) * alpha;
  const double l = std::floor(product * (1 + kRankTolerance));
  // l <= n_cal keeps the Beta law's first parameter n_cal + 1 - l >= 1.
  return ToCount(l, calibration_size);
}

namespace {

CountTail UnscaledBinomialTail(uint64_t m, double p, uint64_t observed) {
  const double n = ToDouble(m);
  const double sd = std::sqrt(n * p * (1 - p));
  if (std::min(n, 2 * kLatticeSds * sd) > kLatticeRange) {
    const double log_p = std::log(p);
    const double log_q = std::log1p(-p);
    return LatticeTail(m, n * p, sd, observed, [=](double k) {
      return LogChoose(n, k) + k * log_p + (n - k) * log_q;
    });
  }
  const double odds = p / (1 - p);
  return Tail(m, n * p, observed, [n, odds](uint64_t k) {
    const double x = ToDouble(k);
    return (n - x) / (x + 1) * odds;
  });
}

CountTail UnscaledBetaBinomialTail(uint64_t m, double a, double b,
                                   uint64_t observed) {
  const double n = ToDouble(m);
  const double sd =
      std::sqrt(n * a * b * (a + b + n) / ((a + b) * (a + b) * (a + b + 1)));
  if (std::min(n, 2 * kLatticeSds * sd) > kLatticeRange) {
    // log B(k + a, m - k + b) without the constant log B(a, b) and log
    // Gamma(m + a + b): the lattice normalises its weights anyway.
    return LatticeTail(m, n * a / (a + b), sd, observed, [=](double k) {
      return LogChoose(n, k) + std::lgamma(k + a) + std::lgamma(n - k + b);
    });
  }
  return Tail(m, n * a / (a + b), observed, [n, a, b](uint64_t k) {
    const double x = ToDouble(k);
    return (n - x) / (x + 1) * ((x + a) / (n - x - 1 + b));
  });
}

// A window past kMaxExactWindow is tested as the window of kMaxExactWindow
// with the same coverage: lgamma's rounding (about 1e-16 m log m in the
// log-probabilities) would swamp the lattice beyond it.
template <typename TailOf>
CountTail Scaled(uint64_t m, uint64_t observed, TailOf tail_of) {
  if (m <= kMaxExactWindow) return tail_of(m, observed);
  const double scale = ToDouble(kMaxExactWindow) / ToDouble(m);
  CountTail tail =
      tail_of(kMaxExactWindow,
              ToCount(std::round(ToDouble(observed) * scale), kMaxExactWindow));
  tail.mean /= scale;
  tail.quantile_05 = ToCount(ToDouble(tail.quantile_05) / scale, m);
  tail.quantile_001 = ToCount(ToDouble(tail.quantile_001) / scale, m);
  return tail;
}

}  // namespace

CountTail BinomialTail(uint64_t m, double p, uint64_t observed) {
  return Scaled(m, observed, [p](uint64_t n, uint64_t x) {
    return UnscaledBinomialTail(n, p, x);
  });
}

CountTail BetaBinomialTail(uint64_t m, double a, double b, uint64_t observed) {
  return Scaled(m, observed, [a, b](uint64_t n, uint64_t x) {
    return UnscaledBetaBinomialTail(n, a, b, x);
  });
}

}  // namespace vigie::monitors
