#include "monitors/drift_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "monitors/quantile_sketch.h"

namespace vigie::monitors {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Relative closeness for values that may be tiny.
void ExpectRelativeNear(double actual, double expected, double tolerance) {
  EXPECT_NEAR(actual, expected, tolerance * std::abs(expected))
      << "expected " << expected;
}

std::vector<double> RandomCounts(std::mt19937_64& rng, int bins, int scale) {
  std::uniform_int_distribution<int> count(0, scale);
  std::vector<double> counts(static_cast<size_t>(bins));
  for (double& c : counts) c = count(rng);
  counts[0] += 1;  // Never all zero.
  return counts;
}

std::vector<double> Proportions(const std::vector<double>& counts) {
  double total = 0;
  for (double c : counts) total += c;
  std::vector<double> p;
  for (double c : counts) p.push_back(c / total);
  return p;
}

// A sample as sorted weighted values of weight 1, ties merged.
std::vector<WeightedValue> Weighted(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::vector<WeightedValue> out;
  for (double v : values) {
    if (!out.empty() && out.back().value == v) {
      ++out.back().weight;
    } else {
      out.push_back({v, 1});
    }
  }
  return out;
}

// ---- PSI, Jensen-Shannon, Hellinger. ----

TEST(PopulationStabilityIndexTest, HandWorked) {
  // p = (1/2, 1/2), q = (1/4, 3/4): (-1/4) ln(1/2) + (1/4) ln(3/2) = ln(3) / 4.
  EXPECT_NEAR(PopulationStabilityIndex({50, 50}, {25, 75}), std::log(3) / 4,
              1e-15);
  EXPECT_EQ(PopulationStabilityIndex({3, 5, 2}, {30, 50, 20}), 0);
}

TEST(PopulationStabilityIndexTest, EmptyBinTakesEpsilon) {
  // p = (1, 0 -> 1e-4), q = (1/2, 1/2).
  const double expected =
      (0.5 - 1) * std::log(0.5 / 1) + (0.5 - 1e-4) * std::log(0.5 / 1e-4);
  EXPECT_NEAR(PopulationStabilityIndex({10, 0}, {7, 7}), expected, 1e-14);
  const double other_epsilon =
      (0.5 - 1) * std::log(0.5) + (0.5 - 1e-6) * std::log(0.5 / 1e-6);
  EXPECT_NEAR(PopulationStabilityIndex({10, 0}, {7, 7}, 1e-6), other_epsilon,
              1e-14);
}

TEST(PopulationStabilityIndexTest, IsTheSymmetrizedKullbackLeibler) {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 50; ++trial) {
    const auto r = RandomCounts(rng, 10, 1000);
    const auto c = RandomCounts(rng, 10, 1000);
    auto p = Proportions(r);
    auto q = Proportions(c);
    for (double& x : p) x = x == 0 ? 1e-4 : x;
    for (double& x : q) x = x == 0 ? 1e-4 : x;
    // KL(q || p) + KL(p || q).
    double expected = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      expected += q[i] * std::log(q[i] / p[i]) + p[i] * std::log(p[i] / q[i]);
    }
    EXPECT_NEAR(PopulationStabilityIndex(r, c), expected, 1e-12);
  }
}

TEST(DriftDistanceTest, InvalidCountsGiveNan) {
  using Fn = double (*)(absl::Span<const double>, absl::Span<const double>);
  const Fn psi = [](absl::Span<const double> r, absl::Span<const double> c) {
    return PopulationStabilityIndex(r, c);
  };
  for (Fn f : {psi, &JensenShannonDistance, &HellingerDistance}) {
    EXPECT_TRUE(std::isnan(f({}, {})));
    EXPECT_TRUE(std::isnan(f({1, 2}, {1, 2, 3})));
    EXPECT_TRUE(std::isnan(f({0, 0}, {1, 2})));
    EXPECT_TRUE(std::isnan(f({1, 2}, {0, 0})));
    EXPECT_TRUE(std::isnan(f({1, -2}, {1, 2})));
    EXPECT_TRUE(std::isnan(f({1, kNaN}, {1, 2})));
    EXPECT_TRUE(std::isnan(f({1, 2}, {kInf, 2})));
  }
  EXPECT_TRUE(std::isnan(PopulationStabilityIndex({1, 0}, {1, 1}, 0)));
}

TEST(JensenShannonDistanceTest, HandWorked) {
  EXPECT_EQ(JensenShannonDistance({1, 2, 3}, {2, 4, 6}), 0);
  EXPECT_DOUBLE_EQ(JensenShannonDistance({1, 0}, {0, 1}), 1);
  // p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4): JS = H(m) - (H(p) + H(q)) / 2
  // = 0.811278... - 1/2.
  const double h_m = -0.75 * std::log2(0.75) - 0.25 * std::log2(0.25);
  EXPECT_NEAR(JensenShannonDistance({4, 0}, {3, 3}), std::sqrt(h_m - 0.5),
              1e-15);
}

// Shannon entropy in bits.
double Entropy(const std::vector<double>& p) {
  double h = 0;
  for (double x : p) h -= x > 0 ? x * std::log2(x) : 0;
  return h;
}

TEST(JensenShannonDistanceTest, IsTheEntropyGap) {
  std::mt19937_64 rng(2);
  for (int trial = 0; trial < 50; ++trial) {
    const auto r = RandomCounts(rng, 12, 30);  // Some empty bins.
    const auto c = RandomCounts(rng, 12, 30);
    const auto p = Proportions(r);
    const auto q = Proportions(c);
    std::vector<double> m;
    for (size_t i = 0; i < p.size(); ++i) m.push_back((p[i] + q[i]) / 2);
    const double js = Entropy(m) - (Entropy(p) + Entropy(q)) / 2;
    const double d = JensenShannonDistance(r, c);
    EXPECT_NEAR(d, std::sqrt(std::max(0.0, js)), 1e-7);
    EXPECT_NEAR(d * d, js, 1e-13);
    EXPECT_GE(d, 0);
    EXPECT_LE(d, 1);
  }
}

TEST(HellingerDistanceTest, HandWorked) {
  EXPECT_EQ(HellingerDistance({1, 2, 3}, {2, 4, 6}), 0);
  EXPECT_DOUBLE_EQ(HellingerDistance({1, 0}, {0, 1}), 1);
  // Bhattacharyya coefficient sqrt(1/2).
  EXPECT_NEAR(HellingerDistance({4, 0}, {3, 3}), std::sqrt(1 - std::sqrt(0.5)),
              1e-15);
}

TEST(HellingerDistanceTest, IsOneMinusTheBhattacharyyaCoefficient) {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    const auto r = RandomCounts(rng, 8, 50);
    const auto c = RandomCounts(rng, 8, 50);
    const auto p = Proportions(r);
    const auto q = Proportions(c);
    double bc = 0;
    for (size_t i = 0; i < p.size(); ++i) bc += std::sqrt(p[i] * q[i]);
    EXPECT_NEAR(HellingerDistance(r, c), std::sqrt(std::max(0.0, 1 - bc)),
                1e-7);
  }
}

// ---- Kolmogorov-Smirnov. ----

// sup |F_a - F_b| by counting, at every pooled value, the raw values <= it.
double DirectKs(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  std::vector<double> pooled = a;
  pooled.insert(pooled.end(), b.begin(), b.end());
  for (double x : pooled) {
    const double fa =
        static_cast<double>(std::count_if(a.begin(), a.end(),
                                          [x](double v) { return v <= x; })) /
        static_cast<double>(a.size());
    const double fb =
        static_cast<double>(std::count_if(b.begin(), b.end(),
                                          [x](double v) { return v <= x; })) /
        static_cast<double>(b.size());
    d = std::max(d, std::abs(fa - fb));
  }
  return d;
}

// P(D >= d) under H0 by enumerating all C(n + m, n) orderings of n values
// of a and m of b (as bit masks), each equally likely.
double BruteForceKsPValue(double d, int n, int m) {
  uint64_t total = 0;
  uint64_t at_least = 0;
  for (uint32_t mask = 0; mask < (1u << (n + m)); ++mask) {
    if (std::popcount(mask) != n) continue;
    ++total;
    int i = 0;
    int j = 0;
    double sup = 0;
    for (int step = 0; step < n + m; ++step) {
      if (mask & (1u << step)) {
        ++i;
      } else {
        ++j;
      }
      sup = std::max(sup, std::abs(static_cast<double>(i) / n -
                                   static_cast<double>(j) / m));
    }
    if (sup >= d - 1e-12) ++at_least;
  }
  return static_cast<double>(at_least) / static_cast<double>(total);
}

TEST(KolmogorovSmirnovTest, StatisticAgainstCounting) {
  std::mt19937_64 rng(4);
  std::normal_distribution<double> normal(0, 1);
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<double> a(static_cast<size_t>(5 + trial));
    std::vector<double> b(static_cast<size_t>(40 - trial));
    // Rounded to create ties within and across the samples.
    for (double& v : a) v = std::round(normal(rng) * 3);
    for (double& v : b) v = std::round((normal(rng) + 0.3 * trial / 30) * 3);
    EXPECT_NEAR(KolmogorovSmirnovStatistic(Weighted(a), Weighted(b)),
                DirectKs(a, b), 1e-15);
  }
}

TEST(KolmogorovSmirnovTest, StatisticEdgeCases) {
  const auto a = Weighted({1, 2, 3});
  EXPECT_EQ(KolmogorovSmirnovStatistic(a, a), 0);
  EXPECT_EQ(KolmogorovSmirnovStatistic(a, Weighted({4, 5})), 1);
  EXPECT_EQ(KolmogorovSmirnovStatistic(Weighted({7, 7, 7}), Weighted({7})), 0);
  EXPECT_TRUE(std::isnan(KolmogorovSmirnovStatistic(a, {})));
  EXPECT_TRUE(std::isnan(KolmogorovSmirnovStatistic({}, a)));
  // Weights: a = {0, 0, 0, 1}, b = {0, 1, 1, 1}: at 0, 3/4 against 1/4.
  const std::vector<WeightedValue> wa = {{0, 3}, {1, 1}};
  const std::vector<WeightedValue> wb = {{0, 1}, {1, 3}};
  EXPECT_DOUBLE_EQ(KolmogorovSmirnovStatistic(wa, wb), 0.5);
}

TEST(KolmogorovSmirnovTest, ExactPValueAgainstEnumeration) {
  for (const auto& [n, m] : std::vector<std::pair<int, int>>{{1, 1},
                                                             {1, 5},
                                                             {2, 3},
                                                             {3, 3},
                                                             {4, 6},
                                                             {5, 7},
                                                             {6, 6},
                                                             {3, 10},
                                                             {8, 8},
                                                             {5, 11},
                                                             {2, 14}}) {
    SCOPED_TRACE(testing::Message() << n << " x " << m);
    // Every value D can take: |i/n - j/m| over the lattice.
    std::set<double> values;
    for (int i = 0; i <= n; ++i) {
      for (int j = 0; j <= m; ++j) {
        values.insert(
            std::abs(static_cast<double>(i) / n - static_cast<double>(j) / m));
      }
    }
    for (double d : values) {
      if (d == 0) continue;
      bool exact = false;
      const double p = KolmogorovSmirnovPValue(
          d, static_cast<uint64_t>(n), static_cast<uint64_t>(m), &exact);
      EXPECT_TRUE(exact);
      ExpectRelativeNear(p, BruteForceKsPValue(d, n, m), 1e-12);
    }
  }
}

TEST(KolmogorovSmirnovTest, TestOnTiedSamplesAgainstEnumeration) {
  // Ties are handled as scipy's ks_2samp: the statistic of the tied samples,
  // the p-value of the continuous null distribution.
  const std::vector<double> a = {1, 2, 2, 3, 3, 3, 8};
  const std::vector<double> b = {2, 2, 4, 5, 5, 6, 7, 9};
  const KsTest test = KolmogorovSmirnovTest(Weighted(a), Weighted(b));
  const double d = DirectKs(a, b);
  EXPECT_DOUBLE_EQ(test.statistic, d);
  EXPECT_TRUE(test.exact);
  ExpectRelativeNear(test.p_value, BruteForceKsPValue(d, 7, 8), 1e-12);
}

TEST(KolmogorovSmirnovTest, PublishedExactValues) {
  // scipy.stats.ks_2samp([1, 2, 3], [4, 5, 6]): D = 1, p = 2 / C(6, 3).
  const KsTest test =
      KolmogorovSmirnovTest(Weighted({1, 2, 3}), Weighted({4, 5, 6}));
  EXPECT_EQ(test.statistic, 1);
  EXPECT_NEAR(test.p_value, 0.1, 1e-15);
  EXPECT_TRUE(test.exact);
  // D = 1 takes one of the two orderings that separate the samples.
  EXPECT_NEAR(KolmogorovSmirnovPValue(1, 5, 5), 2.0 / 252, 1e-16);
  EXPECT_NEAR(KolmogorovSmirnovPValue(1, 3, 4), 2.0 / 35, 1e-16);
  EXPECT_NEAR(KolmogorovSmirnovPValue(1, 100, 100),
              2 * std::exp(-std::lgamma(201) + 2 * std::lgamma(101)), 1e-70);
  EXPECT_EQ(KolmogorovSmirnovPValue(0, 5, 5), 1);
  EXPECT_EQ(KolmogorovSmirnovPValue(1e-6, 5, 5), 1);
}

TEST(KolmogorovSmirnovTest, AsymptoticKolmogorovQuantiles) {
  // n = m = 20,000: effective size 10,000, so sqrt(e) d = 100 d. The
  // Kolmogorov distribution's 90%, 95% and 99% points.
  for (const auto& [t, p] :
       std::vector<std::pair<double, double>>{{1.2238478702170824, 0.10},
                                              {1.3580986393225506, 0.05},
                                              {1.6276236115189503, 0.01}}) {
    bool exact = true;
    EXPECT_NEAR(KolmogorovSmirnovPValue(t / 100, 20000, 20000, &exact), p,
                1e-14);
    EXPECT_FALSE(exact);
  }
  EXPECT_NEAR(KolmogorovSmirnovPValue(0.013581, 20000, 20000), 0.05, 1e-6);
  // Both series, on either side of t = 1 where the code switches.
  EXPECT_NEAR(KolmogorovSmirnovPValue(0.005, 20000, 20000), 0.96394524366487509,
              1e-14);
  EXPECT_NEAR(KolmogorovSmirnovPValue(0.008, 20000, 20000), 0.54414241157419808,
              1e-14);
  EXPECT_NEAR(KolmogorovSmirnovPValue(0.01, 20000, 20000), 0.26999967167735452,
              1e-14);
}

// P(K > t) by its alternating series, for the continuity check below.
double KolmogorovTail(double t) {
  double sum = 0;
  for (int j = 1; j < 200; ++j) {
    sum += (j % 2 == 1 ? 2 : -2) * std::exp(-2.0 * j * j * t * t);
  }
  return sum;
}

TEST(KolmogorovSmirnovTest, AsymptoticSeriesAgree) {
  for (double t = 0.6; t < 3; t += 0.05) {
    EXPECT_NEAR(KolmogorovSmirnovPValue(t / 100, 20000, 20000),
                KolmogorovTail(t), 1e-13)
        << t;
  }
}

TEST(KolmogorovSmirnovTest, ExactUpToTheProductLimit) {
  bool exact = false;
  KolmogorovSmirnovPValue(0.3, 100, 100, &exact);
  EXPECT_TRUE(exact);
  KolmogorovSmirnovPValue(0.3, 1, 10000, &exact);
  EXPECT_TRUE(exact);
  KolmogorovSmirnovPValue(0.3, 101, 100, &exact);
  EXPECT_FALSE(exact);
  KolmogorovSmirnovPValue(0.3, uint64_t{1} << 40, uint64_t{1} << 40, &exact);
  EXPECT_FALSE(exact);
  // Near the limit the exact and the asymptotic p-values are close.
  const double exact_p = KolmogorovSmirnovPValue(0.19, 100, 100);
  EXPECT_NEAR(exact_p, KolmogorovTail(0.19 * std::sqrt(50.0)), 0.01);
  EXPECT_TRUE(std::isnan(KolmogorovSmirnovPValue(0.3, 0, 10)));
  EXPECT_TRUE(std::isnan(KolmogorovSmirnovPValue(kNaN, 10, 10)));
  EXPECT_EQ(KolmogorovSmirnovPValue(1.5, 10, 10), 0);
}

TEST(KolmogorovSmirnovTest, SketchesAgreeWithTheirSamples) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1);
  // Small: exact sketches give the samples' own test.
  std::vector<double> a(40);
  std::vector<double> b(60);
  for (double& v : a) v = normal(rng);
  for (double& v : b) v = normal(rng) + 0.5;
  QuantileSketch sa;
  QuantileSketch sb;
  for (double v : a) sa.Add(v);
  for (double v : b) sb.Add(v);
  const KsTest from_sketches = KolmogorovSmirnovTest(sa.Sorted(), sb.Sorted());
  const KsTest direct = KolmogorovSmirnovTest(Weighted(a), Weighted(b));
  EXPECT_EQ(from_sketches.statistic, direct.statistic);
  EXPECT_EQ(from_sketches.p_value, direct.p_value);
  EXPECT_TRUE(from_sketches.exact);
  // Large: within the two all-x rank error bounds.
  std::vector<double> big_a(300'000);
  std::vector<double> big_b(200'000);
  for (double& v : big_a) v = normal(rng);
  for (double& v : big_b) v = normal(rng) * 1.1 + 0.05;
  QuantileSketch la;
  QuantileSketch lb;
  for (double v : big_a) la.Add(v);
  for (double v : big_b) lb.Add(v);
  const KsTest sketched = KolmogorovSmirnovTest(la.Sorted(), lb.Sorted());
  const double exact_d =
      KolmogorovSmirnovStatistic(Weighted(big_a), Weighted(big_b));
  EXPECT_FALSE(sketched.exact);
  EXPECT_NEAR(sketched.statistic, exact_d,
              la.NormalizedRankErrorAllQuantiles() +
                  lb.NormalizedRankErrorAllQuantiles());
  EXPECT_LT(sketched.p_value, 1e-6);  // A real shift, seen through sketches.
}

// ---- Wasserstein-1. ----

TEST(Wasserstein1Test, PointMasses) {
  EXPECT_EQ(Wasserstein1({{0, 1}}, {{1, 1}}), 1);
  EXPECT_EQ(Wasserstein1({{-2, 5}}, {{3, 2}}), 5);
  // a = {0, 0, 0}, b = {0, 1, 1}: 2/3 of the mass moves by 1.
  EXPECT_DOUBLE_EQ(Wasserstein1({{0, 3}}, {{0, 1}, {1, 2}}), 2.0 / 3);
  EXPECT_EQ(Wasserstein1({{1, 1}, {2, 1}}, {{1, 1}, {2, 1}}), 0);
  EXPECT_TRUE(std::isnan(Wasserstein1({}, {{1, 1}})));
}

TEST(Wasserstein1Test, ShiftIsTheShift) {
  std::mt19937_64 rng(6);
  std::exponential_distribution<double> exponential(1);
  std::vector<double> a(5000);
  for (double& v : a) v = exponential(rng);
  std::vector<double> b = a;
  for (double& v : b) v += 2.5;
  EXPECT_NEAR(Wasserstein1(Weighted(a), Weighted(b)), 2.5, 1e-9);
  EXPECT_NEAR(Wasserstein1(Weighted(b), Weighted(a)), 2.5, 1e-9);
}

// W1 between two samples by the quantile coupling: repeat each of a's n
// values m times and each of b's m values n times; then W1 is the mean
// distance between equal ranks of the two sorted lists.
double CoupledW1(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ea;
  std::vector<double> eb;
  for (double v : a) ea.insert(ea.end(), b.size(), v);
  for (double v : b) eb.insert(eb.end(), a.size(), v);
  std::sort(ea.begin(), ea.end());
  std::sort(eb.begin(), eb.end());
  double sum = 0;
  for (size_t i = 0; i < ea.size(); ++i) sum += std::abs(ea[i] - eb[i]);
  return sum / static_cast<double>(ea.size());
}

TEST(Wasserstein1Test, AgainstTheQuantileCoupling) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0, 1);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> a(static_cast<size_t>(3 + trial * 7));
    std::vector<double> b(static_cast<size_t>(90 - trial * 3));
    for (double& v : a) v = std::round(normal(rng) * 4) / 2;
    for (double& v : b) v = std::round((normal(rng) * 1.5 + 0.4) * 4) / 2;
    EXPECT_NEAR(Wasserstein1(Weighted(a), Weighted(b)), CoupledW1(a, b), 1e-12);
  }
}

// ---- Chi-square. ----

TEST(ChiSquareSurvivalTest, TwoDegreesIsExponential) {
  for (double x :
       {1e-8, 0.001, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 700.0, 1400.0}) {
    ExpectRelativeNear(ChiSquareSurvival(x, 2), std::exp(-x / 2), 1e-13);
  }
}

// Q for even dof = 2k: the Poisson tail e^-y sum_{j < k} y^j / j!, y = x/2,
// its terms taken in logs.
double EvenDofSurvival(double x, int dof) {
  const double y = x / 2;
  double sum = 0;
  for (int j = 0; j < dof / 2; ++j) {
    sum += std::exp(j * std::log(y) - y - std::lgamma(j + 1.0));
  }
  return sum;
}

TEST(ChiSquareSurvivalTest, EvenDegreesArePoissonSums) {
  for (int dof : {4, 6, 10, 20, 50, 100, 200}) {
    for (double ratio : {0.05, 0.3, 0.7, 0.95, 1.0, 1.05, 1.3, 2.0, 4.0}) {
      const double x = ratio * dof;
      SCOPED_TRACE(testing::Message() << "dof " << dof << " x " << x);
      ExpectRelativeNear(ChiSquareSurvival(x, dof), EvenDofSurvival(x, dof),
                         dof <= 50 ? 1e-12 : 1e-11);
    }
  }
}

TEST(ChiSquareSurvivalTest, OddDegreesAreErfcSums) {
  for (double x : {1e-6, 0.01, 0.3, 1.0, 3.0, 10.0, 40.0, 200.0}) {
    const double y = x / 2;
    // dof 1: erfc(sqrt(y)); dof 3 adds 2 sqrt(y / pi) e^-y.
    ExpectRelativeNear(ChiSquareSurvival(x, 1), std::erfc(std::sqrt(y)), 1e-12);
    ExpectRelativeNear(ChiSquareSurvival(x, 3),
                       std::erfc(std::sqrt(y)) +
                           2 * std::sqrt(y / std::numbers::pi) * std::exp(-y),
                       1e-12);
  }
}

TEST(ChiSquareSurvivalTest, TextbookCriticalValues) {
  EXPECT_NEAR(ChiSquareSurvival(3.8414588206941259, 1), 0.05, 1e-14);
  EXPECT_NEAR(ChiSquareSurvival(5.9914645471079819, 2), 0.05, 1e-14);
  EXPECT_NEAR(ChiSquareSurvival(16.91897760462045, 9), 0.05, 1e-14);
  EXPECT_NEAR(ChiSquareSurvival(6.6348966010212151, 1), 0.01, 1e-14);
  EXPECT_NEAR(ChiSquareSurvival(23.20925115895436, 10), 0.01, 1e-14);
  EXPECT_NEAR(ChiSquareSurvival(124.34211340400408, 100), 0.05, 1e-14);
  // The three-decimal table entries.
  EXPECT_NEAR(ChiSquareSurvival(3.841, 1), 0.05, 1e-4);
  EXPECT_NEAR(ChiSquareSurvival(16.919, 9), 0.05, 1e-4);
}

// P(X > x) by integrating the chi-square density from x to far in the tail
// (composite Simpson), for dof >= 2 where the density is bounded.
double IntegratedSurvival(double x, double dof) {
  const auto density = [dof](double t) {
    const double a = dof / 2;
    return std::exp((a - 1) * std::log(t) - t / 2 - a * std::log(2.0) -
                    std::lgamma(a));
  };
  const double upper = x + 60 * std::sqrt(2 * dof) + 200;
  const int steps = 400'000;
  const double h = (upper - x) / steps;
  double sum = density(x) + density(upper);
  for (int i = 1; i < steps; ++i) {
    sum += (i % 2 == 1 ? 4 : 2) * density(x + i * h);
  }
  return sum * h / 3;
}

TEST(ChiSquareSurvivalTest, FractionalDegreesAgainstIntegration) {
  for (const auto& [x, dof] : std::vector<std::pair<double, double>>{
           {5.5, 3.7}, {10, 7.3}, {1, 2.5}, {30, 12.25}}) {
    ExpectRelativeNear(ChiSquareSurvival(x, dof), IntegratedSurvival(x, dof),
                       1e-9);
  }
}

TEST(ChiSquareSurvivalTest, LargeDegreesNearTheMean) {
  // Reference values (40-digit arithmetic) of Q(1000, 1000) and Q(1000,
  // 1150): the continued fraction and the series meet here, where
  // ln Gamma(1000) would cancel without Stirling's series.
  ExpectRelativeNear(ChiSquareSurvival(2000, 2000), 0.49579475581978449, 1e-12);
  ExpectRelativeNear(ChiSquareSurvival(2300, 2000), 2.8737760603923576e-6,
                     1e-11);
  ExpectRelativeNear(ChiSquareSurvival(0.01, 0.3), 0.51620446569814684, 1e-12);
}

TEST(ChiSquareSurvivalTest, EdgeCases) {
  EXPECT_EQ(ChiSquareSurvival(0, 3), 1);
  EXPECT_EQ(ChiSquareSurvival(-1, 3), 1);
  EXPECT_EQ(ChiSquareSurvival(kInf, 3), 0);
  EXPECT_TRUE(std::isnan(ChiSquareSurvival(kNaN, 3)));
  EXPECT_TRUE(std::isnan(ChiSquareSurvival(1, 0)));
  EXPECT_TRUE(std::isnan(ChiSquareSurvival(1, -2)));
  EXPECT_TRUE(std::isnan(ChiSquareSurvival(1, kNaN)));
  EXPECT_EQ(ChiSquareSurvival(1e6, 3), 0);  // Underflows, not NaN.
}

TEST(ChiSquareGoodnessOfFitTest, HandWorked) {
  // (10 - 20)^2 / 20 + 0 + (30 - 20)^2 / 20 = 10 on 2 degrees: p = e^-5.
  ChiSquareTest test = ChiSquareGoodnessOfFit({10, 20, 30}, {20, 20, 20});
  EXPECT_DOUBLE_EQ(test.statistic, 10);
  EXPECT_EQ(test.dof, 2);
  EXPECT_NEAR(test.p_value, std::exp(-5), 1e-16);
  // Reference counts are rescaled to the observed total.
  test = ChiSquareGoodnessOfFit({10, 20, 30}, {1, 1, 1});
  EXPECT_DOUBLE_EQ(test.statistic, 10);
  // Bins empty in both are dropped.
  test = ChiSquareGoodnessOfFit({10, 0, 20, 30, 0}, {20, 0, 20, 20, 0});
  EXPECT_DOUBLE_EQ(test.statistic, 10);
  EXPECT_EQ(test.dof, 2);
}

TEST(ChiSquareGoodnessOfFitTest, EvidentlyDriftTestOnRandomCounts) {
  std::mt19937_64 rng(8);
  for (int trial = 0; trial < 40; ++trial) {
    const int bins = 2 + trial % 9;
    auto reference = RandomCounts(rng, bins, 500);
    auto current = RandomCounts(rng, bins, 300);
    for (size_t i = 0; i < reference.size(); ++i) reference[i] += 1;
    double total_reference = 0;
    double total_current = 0;
    for (size_t i = 0; i < reference.size(); ++i) {
      total_reference += reference[i];
      total_current += current[i];
    }
    double statistic = 0;
    for (size_t i = 0; i < reference.size(); ++i) {
      const double e = reference[i] / total_reference * total_current;
      statistic += (current[i] - e) * (current[i] - e) / e;
    }
    const ChiSquareTest test = ChiSquareGoodnessOfFit(current, reference);
    ExpectRelativeNear(test.statistic, statistic, 1e-12);
    EXPECT_EQ(test.dof, bins - 1);
    if (bins % 2 == 1) {
      ExpectRelativeNear(test.p_value, EvenDofSurvival(statistic, bins - 1),
                         1e-11);
    }
  }
}

TEST(ChiSquareGoodnessOfFitTest, EdgeCases) {
  // Observed where nothing was expected: certain drift.
  ChiSquareTest test = ChiSquareGoodnessOfFit({5, 1}, {10, 0});
  EXPECT_EQ(test.statistic, kInf);
  EXPECT_EQ(test.p_value, 0);
  EXPECT_EQ(test.dof, 1);
  // One bin: nothing to test.
  test = ChiSquareGoodnessOfFit({0, 7, 0}, {0, 3, 0});
  EXPECT_EQ(test.statistic, 0);
  EXPECT_EQ(test.p_value, 1);
  EXPECT_EQ(test.dof, 0);
  EXPECT_EQ(ChiSquareGoodnessOfFit({4, 6}, {2, 3}).statistic, 0);
  for (const ChiSquareTest& invalid :
       {ChiSquareGoodnessOfFit({}, {}), ChiSquareGoodnessOfFit({1}, {1, 2}),
        ChiSquareGoodnessOfFit({0, 0}, {1, 1}),
        ChiSquareGoodnessOfFit({1, 1}, {0, 0}),
        ChiSquareGoodnessOfFit({1, -1}, {1, 1}),
        ChiSquareGoodnessOfFit({1, kNaN}, {1, 1})}) {
    EXPECT_TRUE(std::isnan(invalid.statistic));
    EXPECT_TRUE(std::isnan(invalid.p_value));
  }
}

}  // namespace
}  // namespace vigie::monitors
