#include "monitors/conformal_gate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace vigie::monitors {
namespace {

// The laws from their definitions, by direct summation in logs.
double LogChoose(double m, double k) {
  return std::lgamma(m + 1) - std::lgamma(k + 1) - std::lgamma(m - k + 1);
}
double LogBeta(double a, double b) {
  return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
}
std::vector<double> BetaBinomialPmf(uint64_t m, double a, double b) {
  std::vector<double> pmf(m + 1);
  const double n = static_cast<double>(m);
  for (uint64_t k = 0; k <= m; ++k) {
    const double x = static_cast<double>(k);
    pmf[k] =
        std::exp(LogChoose(n, x) + LogBeta(x + a, n - x + b) - LogBeta(a, b));
  }
  return pmf;
}
std::vector<double> BinomialPmf(uint64_t m, double p) {
  std::vector<double> pmf(m + 1);
  const double n = static_cast<double>(m);
  for (uint64_t k = 0; k <= m; ++k) {
    const double x = static_cast<double>(k);
    pmf[k] =
        std::exp(LogChoose(n, x) + x * std::log(p) + (n - x) * std::log1p(-p));
  }
  return pmf;
}
std::vector<double> Cdf(const std::vector<double>& pmf) {
  std::vector<double> cdf(pmf.size());
  double sum = 0;
  for (size_t k = 0; k < pmf.size(); ++k) cdf[k] = sum += pmf[k];
  return cdf;
}
uint64_t QuantileOf(const std::vector<double>& cdf, double q) {
  for (size_t k = 0; k < cdf.size(); ++k) {
    if (cdf[k] >= q) return k;
  }
  return cdf.size() - 1;
}

TEST(SplitConformalRankTest, HandWorkedCases) {
  EXPECT_EQ(SplitConformalRank(19, 0.1), 2u);      // floor(20 * 0.1).
  EXPECT_EQ(SplitConformalRank(9, 0.1), 1u);       // floor(1.0).
  EXPECT_EQ(SplitConformalRank(8, 0.1), 0u);       // floor(0.9).
  EXPECT_EQ(SplitConformalRank(99, 0.05), 5u);     // floor(5.0).
  EXPECT_EQ(SplitConformalRank(9, 0.3), 3u);       // 10 * 0.3 is 3 in decimal.
  EXPECT_EQ(SplitConformalRank(1000, 0.1), 100u);  // floor(100.1).
  EXPECT_EQ(SplitConformalRank(1000, 0.0), 0u);
}

// n_cal = 19, alpha = 0.1: l = 2, a = 18, b = 2. For m = 2 by hand:
// P(0) = b (b + 1) / ((a + b)(a + b + 1)) = 6 / 420, P(1) = 2 a b / 420 =
// 72 / 420, P(2) = a (a + 1) / 420 = 342 / 420.
TEST(BetaBinomialTailTest, HandWorkedTwoTestPoints) {
  const CountTail t0 = BetaBinomialTail(2, 18, 2, 0);
  EXPECT_NEAR(t0.cdf_observed, 6.0 / 420, 1e-14);
  EXPECT_NEAR(BetaBinomialTail(2, 18, 2, 1).cdf_observed, 78.0 / 420, 1e-14);
  EXPECT_NEAR(BetaBinomialTail(2, 18, 2, 2).cdf_observed, 1.0, 1e-14);
  // F(0) = 0.0143 >= 0.001, < 0.05; F(1) = 0.186 >= 0.05.
  EXPECT_EQ(t0.quantile_001, 0u);
  EXPECT_EQ(t0.quantile_05, 1u);
  EXPECT_NEAR(t0.mean, 2 * 18.0 / 20, 1e-14);
  // One test point: covered with probability a / (a + b) = 0.9.
  EXPECT_NEAR(BetaBinomialTail(1, 18, 2, 0).cdf_observed, 0.1, 1e-14);
}

TEST(BetaBinomialTailTest, MatchesDirectSummation) {
  struct Case {
    uint64_t m;
    uint64_t n_cal;
    double alpha;
  };
  for (const Case& c :
       {Case{20, 19, 0.1}, Case{500, 1000, 0.1}, Case{300, 99, 0.05},
        Case{2000, 50, 0.2}, Case{5000, 100000, 0.1}, Case{50, 9, 0.1}}) {
    const uint64_t l = SplitConformalRank(c.n_cal, c.alpha);
    const double a = static_cast<double>(c.n_cal + 1 - l);
    const double b = static_cast<double>(l);
    const std::vector<double> cdf = Cdf(BetaBinomialPmf(c.m, a, b));
    for (uint64_t k = 0; k <= c.m; k += std::max<uint64_t>(1, c.m / 97)) {
      const CountTail tail = BetaBinomialTail(c.m, a, b, k);
      // Terms below 1e-20 of the peak are not summed: an absolute error.
      EXPECT_NEAR(tail.cdf_observed, cdf[k], 1e-9 * cdf[k] + 1e-19)
          << "m " << c.m << " n_cal " << c.n_cal << " k " << k;
      EXPECT_EQ(tail.quantile_05, QuantileOf(cdf, 0.05)) << c.m;
      EXPECT_EQ(tail.quantile_001, QuantileOf(cdf, 0.001)) << c.m;
    }
  }
}

// REFERENTIAL.md's noise floor: alpha = 0.1, n_cal = 1,000, m = 500 has
// 5% / 0.1% quantiles 0.872 / 0.844.
TEST(BetaBinomialTailTest, ReferentialNoiseFloor) {
  const CountTail tail = BetaBinomialTail(500, 901, 100, 0);
  EXPECT_NEAR(static_cast<double>(tail.quantile_05) / 500, 0.872, 0.0011);
  EXPECT_NEAR(static_cast<double>(tail.quantile_001) / 500, 0.844, 0.0011);
}

// Split conformal simulated: 19 calibration scores, the interval's
// threshold their ceil(20 * 0.9) = 18th smallest, 20 test scores from the
// same law. The covered count must follow Beta-Binomial(20, 18, 2), and not
// Binomial(20, 0.9).
TEST(BetaBinomialTailTest, MatchesSimulatedSplitConformal) {
  constexpr int kCalibration = 19;
  constexpr uint64_t kTest = 20;
  constexpr int kReplicates = 40000;
  std::mt19937_64 rng(20261201);
  std::exponential_distribution<double> score(1.0);
  std::vector<double> counts(kTest + 1, 0);
  std::vector<double> calibration(kCalibration);
  for (int r = 0; r < kReplicates; ++r) {
    for (double& s : calibration) s = score(rng);
    std::sort(calibration.begin(), calibration.end());
    const double threshold = calibration[17];
    uint64_t covered = 0;
    for (uint64_t i = 0; i < kTest; ++i) covered += score(rng) <= threshold;
    counts[covered] += 1;
  }
  const std::vector<double> pmf = BetaBinomialPmf(kTest, 18, 2);
  double empirical = 0;
  for (uint64_t k = 0; k <= kTest; ++k) {
    const double p = pmf[k];
    const double sd = std::sqrt(p * (1 - p) / kReplicates);
    EXPECT_NEAR(counts[k] / kReplicates, p, 5 * sd + 1e-4) << k;
    // The code's CDF against the simulated one.
    empirical += counts[k] / kReplicates;
    const double cdf = BetaBinomialTail(kTest, 18, 2, k).cdf_observed;
    EXPECT_NEAR(empirical, cdf,
                5 * std::sqrt(cdf * (1 - cdf) / kReplicates) + 1e-4)
        << k;
  }
  // The binomial law is far too narrow: it puts P(X <= 15) near 4%, the
  // simulation near 13%.
  double below = 0;
  for (uint64_t k = 0; k <= 15; ++k) below += counts[k] / kReplicates;
  EXPECT_GT(below, 2 * BinomialTail(kTest, 0.9, 15).cdf_observed);
}

// A window of 5 million from n_cal = 19 spreads over millions of counts:
// the lattice, against the direct sum over every count.
TEST(BetaBinomialTailTest, WideLawOnTheLatticeMatchesDirectSummation) {
  constexpr uint64_t m = 5000000;
  const std::vector<double> cdf = Cdf(BetaBinomialPmf(m, 18, 2));
  const uint64_t q05 = QuantileOf(cdf, 0.05);
  const uint64_t q001 = QuantileOf(cdf, 0.001);
  for (uint64_t k : {q001 / 2, q001, q05, m * 9 / 10, m - 1000}) {
    const CountTail tail = BetaBinomialTail(m, 18, 2, k);
    EXPECT_NEAR(tail.cdf_observed, cdf[k], 1e-5 * cdf[k] + 1e-12) << k;
    EXPECT_NEAR(static_cast<double>(tail.quantile_05), static_cast<double>(q05),
                2);
    EXPECT_NEAR(static_cast<double>(tail.quantile_001),
                static_cast<double>(q001), 2);
  }
}

TEST(BinomialTailTest, MatchesDirectSummation) {
  for (const auto& [m, p] : std::vector<std::pair<uint64_t, double>>{
           {1, 0.9}, {10, 0.9}, {100, 0.95}, {2000, 0.8}, {200000, 0.9}}) {
    const std::vector<double> cdf = Cdf(BinomialPmf(m, p));
    for (uint64_t k = 0; k <= m; k += std::max<uint64_t>(1, m / 101)) {
      const CountTail tail = BinomialTail(m, p, k);
      // Terms below 1e-20 of the peak are not summed: an absolute error.
      EXPECT_NEAR(tail.cdf_observed, cdf[k], 1e-9 * cdf[k] + 1e-19)
          << m << " " << k;
      EXPECT_EQ(tail.quantile_05, QuantileOf(cdf, 0.05)) << m;
      EXPECT_EQ(tail.quantile_001, QuantileOf(cdf, 0.001)) << m;
    }
    EXPECT_NEAR(BinomialTail(m, p, 0).mean, static_cast<double>(m) * p, 1e-6);
  }
}

TEST(BinomialTailTest, EmptyWindow) {
  const CountTail tail = BinomialTail(0, 0.9, 0);
  EXPECT_EQ(tail.cdf_observed, 1);
  EXPECT_EQ(tail.quantile_05, 0u);
}

}  // namespace
}  // namespace vigie::monitors
