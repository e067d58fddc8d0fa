#include "monitors/log_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
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

std::string Bytes(const LogHistogram& h) {
  state::v1::LogHistogramState state;
  h.ToProto(&state);
  return state.SerializeAsString();
}

std::vector<double> LogNormal(uint64_t seed, size_t n, double sigma) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, sigma);
  std::vector<double> values(n);
  for (double& v : values) v = std::exp(normal(rng));
  return values;
}

TEST(LogHistogramTest, RejectsBadMaxBuckets) {
  EXPECT_EQ(LogHistogram::Create(63).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogHistogram::Create(16385).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_OK(LogHistogram::Create(64));
}

TEST(LogHistogramTest, EmptyAndOneValue) {
  LogHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_TRUE(h.Add(3.0));
  EXPECT_EQ(h.count(), 1u);
  // Clamped to [min, max]: one value reads back exactly.
  EXPECT_EQ(h.Quantile(0.5), 3.0);
  EXPECT_EQ(h.ValueAtRank(1), 3.0);
  EXPECT_EQ(h.ValueAtRank(2), 0);
}

TEST(LogHistogramTest, IgnoresNegativeNanAndInfinity) {
  LogHistogram h;
  EXPECT_FALSE(h.Add(-1));
  EXPECT_FALSE(h.Add(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(h.Add(std::numeric_limits<double>::infinity()));
  h.Add(1);
  EXPECT_FALSE(h.Add(-1));  // Also once buckets exist.
  EXPECT_FALSE(h.Add(std::numeric_limits<double>::infinity()));
  EXPECT_EQ(h.count(), 1u);
}

TEST(LogHistogramTest, ZerosAreCountedApart) {
  LogHistogram h;
  for (int i = 0; i < 3; ++i) h.Add(0);
  for (int i = 1; i <= 7; ++i) h.Add(i);
  EXPECT_EQ(h.zeros(), 3u);
  EXPECT_EQ(h.count(), 10u);
  EXPECT_EQ(h.ValueAtRank(3), 0);
  EXPECT_NEAR(h.ValueAtRank(4), 1, 1.0 / 128);
}

// Every order statistic within 1/128 relative of the sorted sample's.
TEST(LogHistogramTest, EveryRankWithinRelativeBound) {
  // exp(N(0, 1.2)): about 14 octaves, within the default 16.
  std::vector<double> values = LogNormal(7, 20000, 1.2);
  LogHistogram h;
  for (double v : values) h.Add(v);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.count(), values.size());
  ASSERT_EQ(h.collapsed(), 0u);
  double worst = 0;
  for (size_t k = 1; k <= values.size(); ++k) {
    const double x = values[k - 1];
    const double error = std::abs(h.ValueAtRank(k) - x) / x;
    worst = std::max(worst, error);
  }
  EXPECT_LE(worst, 1.0 / 128);
  EXPECT_GT(worst, 1.0 / 1024);  // The bound is not vacuous.
  // Quantile(q) is the ceil(q n)-th smallest.
  EXPECT_EQ(h.Quantile(0.9), h.ValueAtRank(18000));
}

TEST(LogHistogramTest, MergeOfHalvesIsTheWholeByteForByte) {
  const std::vector<double> values = LogNormal(11, 5000, 3.0);
  for (uint32_t max_buckets : {64u, 1024u}) {
    LogHistogram whole = *LogHistogram::Create(max_buckets);
    LogHistogram low = whole;
    LogHistogram high = whole;
    for (size_t i = 0; i < values.size(); ++i) {
      whole.Add(values[i]);
      (values[i] < 1 ? low : high).Add(values[i]);
    }
    LogHistogram forward = low;
    ASSERT_OK(forward.Merge(high));
    ASSERT_OK(high.Merge(low));
    EXPECT_EQ(Bytes(forward), Bytes(whole)) << max_buckets;
    EXPECT_EQ(Bytes(high), Bytes(whole)) << max_buckets;
    LogHistogram empty = *LogHistogram::Create(max_buckets);
    ASSERT_OK(empty.Merge(whole));
    EXPECT_EQ(Bytes(empty), Bytes(whole));
  }
}

TEST(LogHistogramTest, CollapsesLowestPastMaxBuckets) {
  // 64 buckets are one octave: once 3.9 arrives (in [2, 4)) the buckets
  // kept start just below 2 (3.9 / 2 = 1.95), so 0.25 and 0.5 fold into the
  // lowest and 2.5 keeps its own.
  LogHistogram h = *LogHistogram::Create(64);
  h.Add(0.25);
  h.Add(0.5);
  h.Add(2.5);
  h.Add(3.9);
  EXPECT_LE(h.buckets(), 64u);
  EXPECT_EQ(h.collapsed(), 2u);
  EXPECT_EQ(h.count(), 4u);
  // The two collapsed values read as the lowest bucket's (clamped), the
  // others within the bound.
  EXPECT_NEAR(h.ValueAtRank(3), 2.5, 2.5 / 128);
  EXPECT_NEAR(h.ValueAtRank(4), 3.9, 3.9 / 128);
  EXPECT_GE(h.ValueAtRank(1), 0.25);
}

TEST(LogHistogramTest, SerializeRoundTrip) {
  LogHistogram h = *LogHistogram::Create(64);
  for (double v : LogNormal(3, 1000, 2.0)) h.Add(v);
  h.Add(0);
  state::v1::LogHistogramState state;
  h.ToProto(&state);
  ASSERT_OK_AND_ASSIGN(LogHistogram back, LogHistogram::FromProto(state));
  EXPECT_EQ(Bytes(back), Bytes(h));
  EXPECT_EQ(back.Quantile(0.5), h.Quantile(0.5));
}

TEST(LogHistogramTest, InconsistentStatesAreDataLoss) {
  LogHistogram h;
  for (double v : {0.5, 1.0, 2.0}) h.Add(v);
  state::v1::LogHistogramState good;
  h.ToProto(&good);
  ASSERT_OK(LogHistogram::FromProto(good));
  const auto expect_data_loss = [](const state::v1::LogHistogramState& s) {
    EXPECT_EQ(LogHistogram::FromProto(s).status().code(),
              absl::StatusCode::kDataLoss)
        << s.DebugString();
  };
  auto s = good;
  s.set_version(2);
  expect_data_loss(s);
  s = good;
  s.set_max_buckets(1);
  expect_data_loss(s);
  s = good;
  s.set_counts(0, 0);  // First bucket empty.
  expect_data_loss(s);
  s = good;
  s.set_max(100);  // Not in the last bucket.
  expect_data_loss(s);
  s = good;
  s.set_min_positive(-1);
  expect_data_loss(s);
  s = good;
  s.set_offset(0);
  expect_data_loss(s);
  s = good;
  s.set_offset(0xFFFFFFFF);
  expect_data_loss(s);
  s = good;
  s.set_collapsed(100);
  expect_data_loss(s);
  s = good;
  s.clear_counts();
  expect_data_loss(s);
}

TEST(LogHistogramTest, HostileBytesNeverCrash) {
  LogHistogram h;
  for (double v : LogNormal(5, 200, 1.0)) h.Add(v);
  const std::string bytes = Bytes(h);
  std::vector<std::string> inputs = testutil::EachBitFlipped(bytes);
  for (const std::string& r : testutil::RandomByteStrings(9, 500, 200)) {
    inputs.push_back(r);
  }
  for (size_t n = 0; n < bytes.size(); ++n)
    inputs.push_back(bytes.substr(0, n));
  for (const std::string& input : inputs) {
    state::v1::LogHistogramState state;
    if (!state.ParseFromString(input)) continue;
    absl::StatusOr<LogHistogram> back = LogHistogram::FromProto(state);
    if (back.ok()) {
      back->Quantile(0.5);  // Usable.
    } else {
      EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

}  // namespace
}  // namespace vigie::monitors
