#include "monitors/stats.h"

#include <array>
#include <cmath>
#include <cstdint>

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

}  // namespace
}  // namespace vigie::monitors
