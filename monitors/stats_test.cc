#include "monitors/stats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace vigie::monitors {
namespace {

// The 97.5% point of the standard normal, to double precision.
constexpr double kZ975 = 1.959963984540054;

TEST(NormalCdfTest, KnownPoints) {
  EXPECT_DOUBLE_EQ(NormalCdf(0), 0.5);
  EXPECT_NEAR(NormalCdf(kZ975), 0.975, 1e-15);
  EXPECT_NEAR(NormalCdf(-kZ975), 0.025, 1e-15);
  // Phi(-3) from tables (Abramowitz and Stegun 26.2).
  EXPECT_NEAR(NormalCdf(-3), 0.0013498980316301, 1e-16);
  EXPECT_NEAR(NormalCdf(1), 0.8413447460685429, 1e-15);
}

TEST(NormalCdfTest, LowerTailKeepsRelativePrecision) {
  // Phi(-10) = 7.6198530241605261e-24 (A&S 26.2, Q(10)).
  EXPECT_NEAR(NormalCdf(-10) / 7.6198530241605261e-24, 1, 1e-12);
  EXPECT_EQ(NormalCdf(-INFINITY), 0);
  EXPECT_EQ(NormalCdf(INFINITY), 1);
}

TEST(NormalQuantileTest, KnownPoints) {
  EXPECT_NEAR(NormalQuantile(0.975), kZ975, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.025), -kZ975, 1e-12);
  EXPECT_EQ(NormalQuantile(0.5), 0);
  // The 99.5% point, 2.5758293035489008 (A&S 26.2).
  EXPECT_NEAR(NormalQuantile(0.995), 2.5758293035489008, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.0013498980316301), -3, 1e-10);
}

TEST(NormalQuantileTest, RoundTripsThroughCdf) {
  // Both branches of Acklam's approximation and its region boundaries.
  for (double p : {1e-300, 1e-20, 1e-9, 0.001, 0.02425, 0.03, 0.1, 0.3, 0.5,
                   0.7, 0.9, 0.97, 0.97575, 0.999, 1 - 1e-9}) {
    const double x = NormalQuantile(p);
    EXPECT_NEAR(NormalCdf(x) / p, 1, 1e-12) << "p = " << p;
  }
  // Only up to x = 3 above 0: past it, Phi(x) rounds to within 1e-16 of 1
  // and the quantile of that rounded value is off by more than 1e-9.
  for (double x : {-8.0, -6.0, -3.0, -1.5, -0.1, 0.0, 0.1, 1.5, 3.0}) {
    EXPECT_NEAR(NormalQuantile(NormalCdf(x)), x, 1e-9) << "x = " << x;
  }
}

TEST(NormalQuantileTest, FarTailStaysFinite) {
  // Solved to 20 digits with mpmath (Newton on Phi(x) - 1e-300).
  EXPECT_NEAR(NormalQuantile(1e-300), -37.047096299361199, 1e-12);
  EXPECT_NEAR(NormalQuantile(5e-324), -38.4674, 1e-3);  // Smallest double.
}

TEST(NormalQuantileTest, OutsideTheOpenInterval) {
  EXPECT_EQ(NormalQuantile(0), -INFINITY);
  EXPECT_EQ(NormalQuantile(1), INFINITY);
  EXPECT_TRUE(std::isnan(NormalQuantile(NAN)));
}

TEST(WilsonIntervalTest, MatchesClosedFormFor81Of263) {
  // Wilson (1927): (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
  // with p = 81/263, n = 263, z = 1.959963984540054, worked out:
  //   z^2 = 3.841458820694124, z^2/n = 0.014606307303020, z^2/2n =
  //   0.007303153651510, center = (0.307984790874525 + 0.007303153651510)
  //   / 1.014606307303020
  //          = 0.310749048430537
  //   half   = z / 1.014606307303020 *
  //            sqrt(0.000810380834466 + 0.000013884322531) = 0.055460528552
  // giving (0.2552885198782742, 0.3662095769828001).
  const Interval interval = WilsonInterval(81, 263, 0.95);
  EXPECT_NEAR(interval.lower, 0.2552885198782742, 1e-12);
  EXPECT_NEAR(interval.upper, 0.3662095769828001, 1e-12);
}

TEST(WilsonIntervalTest, EndsAreExactAtZeroAndOne) {
  // At p = 0 the interval is [0, z^2 / (n + z^2)].
  const double z2 = kZ975 * kZ975;
  const Interval none = WilsonInterval(0, 10, 0.95);
  EXPECT_EQ(none.lower, 0);
  EXPECT_NEAR(none.upper, z2 / (10 + z2), 1e-12);
  const Interval all = WilsonInterval(10, 10, 0.95);
  EXPECT_NEAR(all.lower, 10 / (10 + z2), 1e-12);
  EXPECT_EQ(all.upper, 1);
}

TEST(CompareProportionsTest, HandWorkedZTest) {
  // p1 = 15/50 = 0.3, p2 = 5/50 = 0.1, pooled p = 20/100 = 0.2,
  // se = sqrt(0.2 * 0.8 * (1/50 + 1/50)) = sqrt(0.0064) = 0.08,
  // z = 0.2 / 0.08 = 2.5, p = 2 * (1 - Phi(2.5)) = 2 * 0.0062096653257761.
  const TwoProportionTest test = CompareProportions(15, 50, 5, 50);
  EXPECT_NEAR(test.difference, 0.2, 1e-15);
  EXPECT_NEAR(test.z, 2.5, 1e-12);
  EXPECT_NEAR(test.p_value, 0.0124193306515523, 1e-14);
}

TEST(CompareProportionsTest, SignFollowsDifference) {
  const TwoProportionTest test = CompareProportions(5, 50, 15, 50);
  EXPECT_NEAR(test.difference, -0.2, 1e-15);
  EXPECT_NEAR(test.z, -2.5, 1e-12);
  EXPECT_NEAR(test.p_value, 0.0124193306515523, 1e-14);
}

TEST(CompareProportionsTest, TinyPValueIsNotRoundedToZero) {
  // 5000/10000 vs 4000/10000: pooled 0.45, se = sqrt(0.45 * 0.55 * 2e-4),
  // z = 0.1 / 0.0070356236 = 14.2133810903740; 2 * (1 - Phi(z)) =
  // 7.568144119452606e-46 (computed to 40 digits with mpmath).
  const TwoProportionTest test = CompareProportions(5000, 10000, 4000, 10000);
  EXPECT_NEAR(test.z, 14.2133810903740, 1e-9);
  EXPECT_GT(test.p_value, 0);
  EXPECT_NEAR(test.p_value / 7.568144119452606e-46, 1, 1e-9);
}

TEST(CompareProportionsTest, EqualProportionsGiveZeroAndOne) {
  for (auto [x1, n1, x2, n2] : {std::array<uint64_t, 4>{3, 10, 6, 20},
                                std::array<uint64_t, 4>{0, 10, 0, 20},
                                std::array<uint64_t, 4>{7, 7, 30, 30}}) {
    const TwoProportionTest test = CompareProportions(x1, n1, x2, n2);
    EXPECT_EQ(test.difference, 0);
    EXPECT_EQ(test.z, 0);
    EXPECT_EQ(test.p_value, 1);
  }
}

struct NewcombeCase {
  uint64_t x1, n1, x2, n2;
  double difference, lower, upper;
};

TEST(CompareProportionsTest, NewcombeMethod10TableII) {
  // Newcombe, Statistics in Medicine 17:873-890 (1998), Table II, method 10
  // (hybrid score interval), examples (a), (b) and (d)-(h), to 4 decimals.
  const NewcombeCase cases[] = {
      {56, 70, 48, 80, 0.2000, 0.0524, 0.3339},
      {9, 10, 3, 10, 0.6000, 0.1705, 0.8090},
      {5, 56, 0, 29, 0.0893, -0.0381, 0.1926},
      {0, 10, 0, 20, 0.0000, -0.1611, 0.2775},
      {0, 10, 0, 10, 0.0000, -0.2775, 0.2775},
      {10, 10, 0, 20, 1.0000, 0.6791, 1.0000},
      {10, 10, 0, 10, 1.0000, 0.6075, 1.0000},
  };
  for (const NewcombeCase& c : cases) {
    const TwoProportionTest test = CompareProportions(c.x1, c.n1, c.x2, c.n2);
    SCOPED_TRACE(testing::Message()
                 << c.x1 << "/" << c.n1 << " vs " << c.x2 << "/" << c.n2);
    EXPECT_NEAR(test.difference, c.difference, 5e-5);
    EXPECT_NEAR(test.difference_interval.lower, c.lower, 5e-5);
    EXPECT_NEAR(test.difference_interval.upper, c.upper, 5e-5);
  }
}

TEST(CompareProportionsTest, OtherConfidenceWidensInterval) {
  const TwoProportionTest at95 = CompareProportions(56, 70, 48, 80, 0.95);
  const TwoProportionTest at99 = CompareProportions(56, 70, 48, 80, 0.99);
  EXPECT_LT(at99.difference_interval.lower, at95.difference_interval.lower);
  EXPECT_GT(at99.difference_interval.upper, at95.difference_interval.upper);
  EXPECT_EQ(at99.p_value, at95.p_value);
}

TEST(WilsonIntervalTest, AtZMatchesConfidence) {
  using Pair = std::array<uint64_t, 2>;
  for (auto [x, n] :
       {Pair{0, 1}, Pair{3, 7}, Pair{81, 263}, Pair{1000, 1000}}) {
    const Interval a = WilsonInterval(x, n, 0.95);
    const Interval b = WilsonIntervalAtZ(x, n, kZ975);
    EXPECT_NEAR(a.lower, b.lower, 1e-15);
    EXPECT_NEAR(a.upper, b.upper, 1e-15);
  }
}

// C(n, k) for n <= 62 from Pascal's triangle: exact in uint64.
uint64_t Choose(uint64_t n, uint64_t k) {
  if (k > n) return 0;
  std::vector<uint64_t> row(n + 1, 0);
  row[0] = 1;
  for (uint64_t i = 1; i <= n; ++i) {
    for (uint64_t j = i; j > 0; --j) row[j] += row[j - 1];
  }
  return row[k];
}

// Fisher's two-sided p-value by enumeration: P(x) = C(r1, x) C(r2, c1 - x)
// / C(n, c1) over the top-left cell x, summing the tables whose (integer)
// numerator is at most the observed one's. Exact up to the final division.
double FisherByEnumeration(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  const uint64_t r1 = a + b, r2 = c + d, c1 = a + c, n = r1 + r2;
  const uint64_t observed = Choose(r1, a) * Choose(r2, c);
  uint64_t sum = 0;
  for (uint64_t x = 0; x <= std::min(r1, c1); ++x) {
    if (c1 - x > r2) continue;
    const uint64_t term = Choose(r1, x) * Choose(r2, c1 - x);
    if (term <= observed) sum += term;
  }
  return static_cast<double>(sum) / static_cast<double>(Choose(n, c1));
}

TEST(FisherExactTestTest, LadyTastingTea) {
  // Fisher's tea-tasting table [[3, 1], [1, 3]]: margins 4, 4, 4, 4, N = 8.
  // P(x) = C(4, x) C(4, 4 - x) / C(8, 4) = 1, 16, 36, 16, 1 over 70 for
  // x = 0..4. Observed x = 3 (16/70); tables at most as likely: x = 0, 1,
  // 3, 4, so p = (1 + 16 + 16 + 1) / 70 = 34/70 = 0.4857142857.
  EXPECT_NEAR(FisherExactTest(3, 1, 1, 3), 34.0 / 70, 1e-15);
  EXPECT_NEAR(FisherExactTest(3, 1, 1, 3), 0.4857142857, 1e-10);
  // x = 4 (1/70): only x = 0 and 4 are as unlikely, p = 2/70.
  EXPECT_NEAR(FisherExactTest(4, 0, 0, 4), 2.0 / 70, 1e-15);
  // The mode itself: every table is at most as likely, p = 1.
  EXPECT_NEAR(FisherExactTest(2, 2, 2, 2), 1, 1e-15);
}

TEST(FisherExactTestTest, MatchesEnumerationOnAllSmallTables) {
  // Every table with cells up to 6: numerators stay below 924^2, so two
  // unequal ones differ by more than the 1e-7 tie tolerance and the
  // enumeration's exact comparison is the same rule.
  for (uint64_t a = 0; a <= 6; ++a) {
    for (uint64_t b = 0; b <= 6; ++b) {
      for (uint64_t c = 0; c <= 6; ++c) {
        for (uint64_t d = 0; d <= 6; ++d) {
          SCOPED_TRACE(testing::Message() << "[[" << a << ", " << b << "], ["
                                          << c << ", " << d << "]]");
          const double expected = FisherByEnumeration(a, b, c, d);
          EXPECT_NEAR(FisherExactTest(a, b, c, d), expected, 1e-13);
        }
      }
    }
  }
}

TEST(FisherExactTestTest, LargerHandTable) {
  // [[1, 9], [11, 3]]: r1 = 10, r2 = 14, c1 = 12, N = 24; the observed
  // x = 1 is in the lower tail (0.0013 each side), p = 0.002759.
  const double expected = FisherByEnumeration(1, 9, 11, 3);
  EXPECT_NEAR(FisherExactTest(1, 9, 11, 3), expected, 1e-15);
  EXPECT_NEAR(expected, 0.002759, 1e-6);
}

TEST(FisherExactTestTest, SymmetricOrientations) {
  // Transposing or swapping rows or columns keeps the p-value.
  const double p = FisherExactTest(7, 2, 3, 9);
  EXPECT_NEAR(FisherExactTest(7, 3, 2, 9), p, 1e-14);  // Transposed.
  EXPECT_NEAR(FisherExactTest(3, 9, 7, 2), p, 1e-14);  // Rows swapped.
  EXPECT_NEAR(FisherExactTest(2, 7, 9, 3), p, 1e-14);  // Columns swapped.
}

TEST(FisherExactTestTest, ZeroMarginsGiveOne) {
  EXPECT_EQ(FisherExactTest(0, 0, 0, 0), 1);
  EXPECT_EQ(FisherExactTest(0, 0, 3, 4), 1);  // Empty first row.
  EXPECT_EQ(FisherExactTest(5, 0, 2, 0), 1);  // Empty second column.
}

// log P(x) of the table with top-left cell x, margins r1, r2, c1, in long
// double log-factorials (64-bit mantissa: about 1e-12 at a million).
long double LogHypergeometric(long double x, long double r1, long double r2,
                              long double c1) {
  const auto lf = [](long double v) { return std::lgammal(v + 1); };
  const long double n = r1 + r2;
  return lf(r1) - lf(x) - lf(r1 - x) + lf(r2) - lf(c1 - x) - lf(r2 - c1 + x) -
         (lf(n) - lf(c1) - lf(n - c1));
}

TEST(FisherExactTestTest, MillionsOfCountsMatchLongDoubleSum) {
  // [[500000, 500000], [499000, 501000]]: r1 = r2 = 1e6, c1 = 999000. The
  // terms are summed in long double over mode +- 40 standard deviations
  // (sd about 354), beyond which they are below e^-800.
  const long double r1 = 1e6, r2 = 1e6, c1 = 999000;
  const long double observed = LogHypergeometric(500000, r1, r2, c1);
  long double p = 0;
  for (long double x = 499500 - 15000; x <= 499500 + 15000; x += 1) {
    const long double term = LogHypergeometric(x, r1, r2, c1);
    if (term <= observed + 1e-7L) p += std::exp(term);
  }
  const double fisher = FisherExactTest(500000, 500000, 499000, 501000);
  EXPECT_NEAR(fisher / static_cast<double>(p), 1, 1e-9);
  // A z-test on such counts agrees to about two digits.
  EXPECT_NEAR(fisher,
              CompareProportions(500000, 1000000, 499000, 1000000).p_value,
              0.005);
}

TEST(FisherExactTestTest, TinyPValueIsNotRoundedToZero) {
  // [[0, 300], [300, 0]]: the two extreme tables, each 1 / C(600, 300)
  // (about 7e-180), and nothing else is as unlikely.
  const long double log_choose = std::lgammal(601) - 2 * std::lgammal(301);
  const double expected = static_cast<double>(2 * std::exp(-log_choose));
  const double p = FisherExactTest(0, 300, 300, 0);
  EXPECT_GT(p, 0);
  EXPECT_NEAR(p / expected, 1, 1e-10);
}

TEST(TestProportionsTest, FisherWhenAnExpectedCellIsBelowFive) {
  // 3/4 vs 1/4: table [[3, 1], [1, 3]], every expected cell 4 * 4 / 8 = 2.
  const ProportionComparison small = TestProportions(3, 4, 1, 4);
  EXPECT_EQ(small.test, ProportionTest::kFisherExact);
  EXPECT_NEAR(small.p_value, 34.0 / 70, 1e-15);
  EXPECT_NEAR(small.difference, 0.5, 1e-15);
  const TwoProportionTest z = CompareProportions(3, 4, 1, 4);
  EXPECT_EQ(small.difference_interval.lower, z.difference_interval.lower);
  EXPECT_EQ(small.difference_interval.upper, z.difference_interval.upper);

  // 15/50 vs 5/50: smallest expected cell 50 * 20 / 100 = 10: the z-test.
  const ProportionComparison large = TestProportions(15, 50, 5, 50);
  EXPECT_EQ(large.test, ProportionTest::kTwoProportionZ);
  EXPECT_NEAR(large.p_value, 0.0124193306515523, 1e-14);
}

TEST(TestProportionsTest, SwitchAtAnExpectedCellOfFive) {
  // n1 = n2 = 10 and 10 positive in all: smallest expected 10 * 10 / 20 = 5,
  // not below 5: the z-test. With 9 positive: 10 * 9 / 20 = 4.5: Fisher.
  EXPECT_EQ(TestProportions(7, 10, 3, 10).test,
            ProportionTest::kTwoProportionZ);
  const ProportionComparison fisher = TestProportions(7, 10, 2, 10);
  EXPECT_EQ(fisher.test, ProportionTest::kFisherExact);
  EXPECT_NEAR(fisher.p_value, FisherByEnumeration(7, 3, 2, 8), 1e-15);
  // Unbalanced rows: 1 of 3 vs 40 of 100: 3 * 41 / 103 < 5.
  EXPECT_EQ(TestProportions(1, 3, 40, 100).test, ProportionTest::kFisherExact);
  // Nobody selected: the column of positives is empty, p = 1.
  const ProportionComparison none = TestProportions(0, 10, 0, 20);
  EXPECT_EQ(none.test, ProportionTest::kFisherExact);
  EXPECT_EQ(none.p_value, 1);
}

}  // namespace
}  // namespace vigie::monitors
