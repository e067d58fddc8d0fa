#include "monitors/conformal_gate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

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

// The lower tail of a unimodal law on {0, ..., m} whose consecutive terms
// have the ratio ratio(k) = P(k + 1) / P(k) > 0, for k < m. The terms are
// relative to the one nearest the mean, so they never underflow where they
// matter, and normalised by their total.
template <typename Ratio>
CountTail Tail(uint64_t m, double mean, uint64_t observed, Ratio ratio) {
  CountTail tail;
  tail.mean = mean;
  if (m == 0) return tail;
  const uint64_t start =
      std::min(m, static_cast<uint64_t>(std::max(0.0, std::floor(mean + 0.5))));
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

}  // namespace

uint64_t SplitConformalRank(uint64_t calibration_size, double alpha) {
  if (!(alpha > 0 && alpha < 1)) return 0;
  const double product = (ToDouble(calibration_size) + 1) * alpha;
  const double l = std::floor(product * (1 + kRankTolerance));
  // l <= n_cal keeps the Beta law's first parameter n_cal + 1 - l >= 1.
  return std::min(static_cast<uint64_t>(l), calibration_size);
}

CountTail BinomialTail(uint64_t m, double p, uint64_t observed) {
  const double n = ToDouble(m);
  const double odds = p / (1 - p);
  return Tail(m, n * p, observed, [n, odds](uint64_t k) {
    const double x = ToDouble(k);
    return (n - x) / (x + 1) * odds;
  });
}

CountTail BetaBinomialTail(uint64_t m, double a, double b, uint64_t observed) {
  const double n = ToDouble(m);
  return Tail(m, n * a / (a + b), observed, [n, a, b](uint64_t k) {
    const double x = ToDouble(k);
    return (n - x) / (x + 1) * ((x + a) / (n - x - 1 + b));
  });
}

}  // namespace vigie::monitors
