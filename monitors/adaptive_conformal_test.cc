#include "monitors/adaptive_conformal.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/conformal.pb.h"

namespace vigie::monitors {
namespace {

TEST(AdaptiveConformalTest, RejectsBadOptions) {
  AdaptiveConformal::Options options;
  options.gamma = 0;
  EXPECT_EQ(AdaptiveConformal::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = {};
  options.target_alpha = 1;
  EXPECT_FALSE(AdaptiveConformal::Create(options).ok());
  options = {};
  options.initial_alpha = 0;
  EXPECT_FALSE(AdaptiveConformal::Create(options).ok());
  EXPECT_OK(AdaptiveConformal::Create({}));
}

// By hand, gamma = 0.005, alpha = 0.1: a miss moves alpha by
// 0.005 (0.1 - 1) = -0.0045, a cover by +0.0005.
TEST(AdaptiveConformalTest, UpdatesByHand) {
  ASSERT_OK_AND_ASSIGN(AdaptiveConformal aci, AdaptiveConformal::Create({}));
  EXPECT_DOUBLE_EQ(aci.alpha(), 0.1);
  EXPECT_FALSE(aci.miss_rate().has_value());
  aci.Observe(false);
  EXPECT_NEAR(aci.alpha(), 0.0955, 1e-15);
  aci.Observe(true);
  EXPECT_NEAR(aci.alpha(), 0.0960, 1e-15);
  aci.Observe(true);
  EXPECT_NEAR(aci.alpha(), 0.0965, 1e-15);
  EXPECT_EQ(aci.steps(), 3u);
  EXPECT_EQ(aci.misses(), 1u);
  EXPECT_NEAR(*aci.miss_rate(), 1.0 / 3, 1e-15);
}

// The recursion step by step, in the test, against the closed form.
TEST(AdaptiveConformalTest, MatchesTheRecursionOnALongStream) {
  AdaptiveConformal::Options options;
  options.target_alpha = 0.05;
  options.gamma = 0.01;
  options.initial_alpha = 0.2;
  ASSERT_OK_AND_ASSIGN(AdaptiveConformal aci,
                       AdaptiveConformal::Create(options));
  std::mt19937_64 rng(3);
  std::bernoulli_distribution miss(0.2);
  double alpha = 0.2;
  for (int t = 0; t < 100000; ++t) {
    const bool missed = miss(rng);
    alpha += 0.01 * (0.05 - (missed ? 1.0 : 0.0));
    aci.Observe(!missed);
  }
  EXPECT_NEAR(aci.alpha(), alpha, 1e-9);
}

// Gibbs and Candès's Proposition 4.1: a producer that follows alpha_t keeps
// its miss rate within the bound, whatever the shift. Scores drift from
// U(0, 1) to U(0, 3); the interval covers a score s when s <= q_t, q_t the
// (1 - alpha_t)-quantile of the stale U(0, 1) calibration law.
TEST(AdaptiveConformalTest, FollowingItKeepsTheLongRunMissRate) {
  AdaptiveConformal::Options options;
  options.gamma = 0.005;
  ASSERT_OK_AND_ASSIGN(AdaptiveConformal aci,
                       AdaptiveConformal::Create(options));
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> uniform(0, 1);
  constexpr int kSteps = 50000;
  int stale_misses = 0;
  for (int t = 0; t < kSteps; ++t) {
    const double scale = 1 + 2.0 * t / kSteps;
    const double s = scale * uniform(rng);
    const double a = aci.alpha();
    const double q = a <= 0 ? INFINITY : a >= 1 ? -INFINITY : 1 - a;
    aci.Observe(s <= q);
    stale_misses += s > 0.9 ? 1 : 0;
  }
  EXPECT_LE(std::abs(*aci.miss_rate() - 0.1), *aci.MissRateBound());
  // The bound is (0.9 + 0.005) / (0.005 * 50000) = 0.00362.
  EXPECT_NEAR(*aci.MissRateBound(), 0.905 / 250, 1e-12);
  // Without adaptation the miss rate would be far off.
  EXPECT_GT(static_cast<double>(stale_misses) / kSteps, 0.3);
  // The alpha that gets back to target is well below the nominal 0.1.
  EXPECT_LT(aci.alpha(), 0.05);
}

TEST(AdaptiveConformalTest, SerializeRoundTrip) {
  ASSERT_OK_AND_ASSIGN(AdaptiveConformal aci, AdaptiveConformal::Create({}));
  for (int i = 0; i < 100; ++i) aci.Observe(i % 7 != 0);
  ASSERT_OK_AND_ASSIGN(AdaptiveConformal back,
                       AdaptiveConformal::Deserialize(aci.Serialize()));
  EXPECT_EQ(back.Serialize(), aci.Serialize());
  EXPECT_EQ(back.alpha(), aci.alpha());
  // Resumes exactly where it stopped.
  aci.Observe(false);
  back.Observe(false);
  EXPECT_EQ(back.alpha(), aci.alpha());
}

TEST(AdaptiveConformalTest, HostileBytesGiveDataLoss) {
  ASSERT_OK_AND_ASSIGN(AdaptiveConformal aci, AdaptiveConformal::Create({}));
  for (int i = 0; i < 10; ++i) aci.Observe(i % 3 != 0);
  const std::string bytes = aci.Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(
        AdaptiveConformal::Deserialize(bytes.substr(0, n)).status().code(),
        absl::StatusCode::kDataLoss)
        << n;
  }
  for (const std::string& input : testutil::EachBitFlipped(bytes)) {
    absl::StatusOr<AdaptiveConformal> back =
        AdaptiveConformal::Deserialize(input);
    if (!back.ok()) {
      EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
    }
  }
  for (const std::string& input : testutil::RandomByteStrings(4, 300, 64)) {
    absl::StatusOr<AdaptiveConformal> back =
        AdaptiveConformal::Deserialize(input);
    if (!back.ok()) {
      EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
    }
  }
  state::v1::AdaptiveConformalState state;
  aci.ToProto(&state);
  state.set_misses(state.steps() + 1);
  EXPECT_EQ(AdaptiveConformal::FromProto(state).status().code(),
            absl::StatusCode::kDataLoss);
  aci.ToProto(&state);
  state.set_gamma(std::nan(""));
  EXPECT_EQ(AdaptiveConformal::FromProto(state).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace vigie::monitors
