#include "monitors/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "monitors/stats.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/calibration.pb.h"

namespace vigie::monitors {
namespace {

struct Pair {
  double predicted;
  bool outcome;
};

// The bin of `p` by scanning the documented edges double(i) / B: bin i holds
// [edge_i, edge_{i+1}), the last bin also 1.
int DirectBin(double p, int num_bins) {
  for (int i = 0; i + 1 < num_bins; ++i) {
    if (p < static_cast<double>(i + 1) / num_bins) return i;
  }
  return num_bins - 1;
}

// The metrics by their textbook definitions over the raw pairs.
struct DirectMetrics {
  std::vector<uint64_t> counts;
  std::vector<uint64_t> positives;
  double ece = 0;
  double mce = 0;
  double brier = 0;
  double log_loss = 0;
};

DirectMetrics Direct(const std::vector<Pair>& pairs, int num_bins) {
  DirectMetrics d;
  d.counts.assign(num_bins, 0);
  d.positives.assign(num_bins, 0);
  std::vector<double> sums(num_bins, 0);
  for (const auto& [p, y] : pairs) {
    const int b = DirectBin(p, num_bins);
    ++d.counts[b];
    d.positives[b] += y ? 1 : 0;
    sums[b] += p;
    d.brier += (p - y) * (p - y);
    const double c = std::clamp(p, 1e-15, 1 - 1e-15);
    d.log_loss += -(y * std::log(c) + (1 - y) * std::log(1 - c));
  }
  const double n = static_cast<double>(pairs.size());
  for (int b = 0; b < num_bins; ++b) {
    if (d.counts[b] == 0) continue;
    const double nb = static_cast<double>(d.counts[b]);
    const double gap =
        std::abs(static_cast<double>(d.positives[b]) / nb - sums[b] / nb);
    d.ece += nb / n * gap;
    d.mce = std::max(d.mce, gap);
  }
  d.brier /= n;
  d.log_loss /= n;
  return d;
}

// A seeded stream of an overconfident model: scores from a mixture that
// reaches 0 and 1 and some bin edges, outcomes Bernoulli(0.2 + 0.6 p).
std::vector<Pair> MiscalibratedStream(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<Pair> pairs;
  pairs.reserve(n);
  for (int i = 0; i < n; ++i) {
    double p = uniform(rng);
    switch (rng() % 20) {
      case 0:
        p = 0;
        break;
      case 1:
        p = 1;
        break;
      case 2:
        p = static_cast<double>(rng() % 16) / 15;
        break;
      case 3:
        p = p * p * p;
        break;
      default:
        break;
    }
    pairs.push_back({p, uniform(rng) < 0.2 + 0.6 * p});
  }
  return pairs;
}

CalibrationMonitor Make(int num_bins = 15) {
  return *CalibrationMonitor::Create({.num_bins = num_bins});
}

void ExpectSameMetrics(const CalibrationMetrics& a, const CalibrationMetrics& b,
                       double tolerance) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.positives, b.positives);
  EXPECT_EQ(a.ignored, b.ignored);
  ASSERT_EQ(a.ece.has_value(), b.ece.has_value());
  if (a.ece.has_value()) {
    EXPECT_NEAR(*a.ece, *b.ece, tolerance);
    EXPECT_NEAR(*a.mce, *b.mce, tolerance);
    EXPECT_NEAR(*a.brier, *b.brier, tolerance);
    EXPECT_NEAR(*a.log_loss, *b.log_loss, tolerance);
    EXPECT_NEAR(a.null_ece->mean, b.null_ece->mean, tolerance);
    EXPECT_NEAR(a.null_ece->stddev, b.null_ece->stddev, tolerance);
    EXPECT_NEAR(a.null_ece->p99, b.null_ece->p99, tolerance);
  }
  ASSERT_EQ(a.bins.size(), b.bins.size());
  for (size_t i = 0; i < a.bins.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(a.bins[i].count, b.bins[i].count);
    EXPECT_EQ(a.bins[i].positives, b.bins[i].positives);
    ASSERT_EQ(a.bins[i].mean_predicted.has_value(),
              b.bins[i].mean_predicted.has_value());
    if (a.bins[i].mean_predicted.has_value()) {
      EXPECT_NEAR(*a.bins[i].mean_predicted, *b.bins[i].mean_predicted,
                  tolerance);
    }
  }
}

TEST(CalibrationMonitorTest, CreateChecksOptions) {
  for (int bins : {-1, 0, 1, 1001, std::numeric_limits<int>::max()}) {
    SCOPED_TRACE(bins);
    EXPECT_EQ(CalibrationMonitor::Create({.num_bins = bins}).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_OK(CalibrationMonitor::Create({.num_bins = 2}));
  EXPECT_OK(CalibrationMonitor::Create({.num_bins = 1000}));
  ASSERT_OK_AND_ASSIGN(CalibrationMonitor monitor,
                       CalibrationMonitor::Create({}));
  EXPECT_EQ(monitor.options().num_bins, 15);
}

TEST(CalibrationMonitorTest, EmptyMonitorHasNoMetrics) {
  const CalibrationMetrics m = Make().Snapshot();
  EXPECT_EQ(m.count, 0u);
  EXPECT_FALSE(m.ece.has_value());
  EXPECT_FALSE(m.mce.has_value());
  EXPECT_FALSE(m.brier.has_value());
  EXPECT_FALSE(m.log_loss.has_value());
  EXPECT_FALSE(m.null_ece.has_value());
  ASSERT_EQ(m.bins.size(), 15u);
  for (size_t i = 0; i < m.bins.size(); ++i) {
    const CalibrationBin& bin = m.bins[i];
    EXPECT_EQ(bin.lower, static_cast<double>(i) / 15);
    EXPECT_EQ(bin.upper, static_cast<double>(i + 1) / 15);
    EXPECT_EQ(bin.count, 0u);
    EXPECT_FALSE(bin.mean_predicted.has_value());
    EXPECT_FALSE(bin.observed_frequency.has_value());
    EXPECT_FALSE(bin.observed_interval.has_value());
  }
  EXPECT_EQ(m.bins.back().upper, 1.0);
}

TEST(CalibrationMonitorTest, OneObservation) {
  CalibrationMonitor monitor = Make();
  monitor.Observe(0.5, true);  // Bin 7: [7/15, 8/15).
  const CalibrationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.count, 1u);
  EXPECT_EQ(m.positives, 1u);
  EXPECT_DOUBLE_EQ(*m.ece, 0.5);
  EXPECT_DOUBLE_EQ(*m.mce, 0.5);
  EXPECT_DOUBLE_EQ(*m.brier, 0.25);
  EXPECT_DOUBLE_EQ(*m.log_loss, std::log(2.0));
  EXPECT_EQ(m.bins[7].count, 1u);
  EXPECT_EQ(m.bins[7].mean_predicted, 0.5);
  EXPECT_EQ(m.bins[7].observed_frequency, 1.0);
  // A calibrated p = 0.5 misses its outcome by exactly 0.5 either way: the
  // null ECE is the constant 0.5.
  EXPECT_DOUBLE_EQ(m.null_ece->mean, 0.5);
  EXPECT_EQ(m.null_ece->stddev, 0);
  EXPECT_DOUBLE_EQ(m.null_ece->p95, 0.5);
  EXPECT_DOUBLE_EQ(m.null_ece->p99, 0.5);
}

TEST(CalibrationMonitorTest, HandWorkedFourBins) {
  // Bins [0, .25), [.25, .5), [.5, .75), [.75, 1]. Binary fractions, so
  // that every sum below is exact.
  CalibrationMonitor monitor = Make(4);
  monitor.Observe(0.125, false);  // Bin 0.
  monitor.Observe(0.125, true);   // Bin 0.
  monitor.Observe(0.25, false);   // Bin 1 (an edge goes up).
  monitor.Observe(0.375, false);  // Bin 1.
  monitor.Observe(0.75, true);    // Bin 3 (an edge goes up).
  monitor.Observe(0.875, true);   // Bin 3.
  monitor.Observe(1.0, true);     // Bin 3 (1 goes to the last bin).
  monitor.Observe(1.0, false);    // Bin 3: a confident miss.
  const CalibrationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.count, 8u);
  EXPECT_EQ(m.positives, 4u);
  EXPECT_EQ(m.ignored, 0u);

  // Bin 0: n 2, 1 positive, mean p 0.125, frequency 0.5, gap 0.375.
  // Bin 1: n 2, 0 positive, mean p 0.3125, frequency 0, gap 0.3125.
  // Bin 2: empty.
  // Bin 3: n 4, 3 positive, mean p 3.625 / 4 = 0.90625, frequency 0.75,
  //        gap 0.15625.
  ASSERT_EQ(m.bins.size(), 4u);
  EXPECT_EQ(m.bins[0].count, 2u);
  EXPECT_EQ(m.bins[0].positives, 1u);
  EXPECT_EQ(*m.bins[0].mean_predicted, 0.125);
  EXPECT_EQ(*m.bins[0].observed_frequency, 0.5);
  EXPECT_EQ(m.bins[1].count, 2u);
  EXPECT_EQ(*m.bins[1].mean_predicted, 0.3125);
  EXPECT_EQ(*m.bins[1].observed_frequency, 0);
  EXPECT_EQ(m.bins[2].count, 0u);
  EXPECT_FALSE(m.bins[2].mean_predicted.has_value());
  EXPECT_FALSE(m.bins[2].observed_interval.has_value());
  EXPECT_EQ(m.bins[3].count, 4u);
  EXPECT_EQ(*m.bins[3].mean_predicted, 0.90625);
  EXPECT_EQ(*m.bins[3].observed_frequency, 0.75);

  // ECE = (2 * 0.375 + 2 * 0.3125 + 4 * 0.15625) / 8 = 2 / 8 = 0.25.
  EXPECT_DOUBLE_EQ(*m.ece, 0.25);
  EXPECT_DOUBLE_EQ(*m.mce, 0.375);
  // Squared errors: 0.015625, 0.765625, 0.0625, 0.140625, 0.0625,
  // 0.015625, 0, 1; sum 2.0625, mean 0.2578125.
  EXPECT_DOUBLE_EQ(*m.brier, 0.2578125);
  // Log loss: -ln .875 (twice), -ln .125, -ln .75 (twice), -ln .625, ~0,
  // and for the miss at p = 1, clipped to 1 - 1e-15 (which rounds to
  // 1 - 9 * 2^-53), -ln(9 * 2^-53) = 34.5396: sum 37.9314, mean 4.74143.
  const double clipped_miss = -std::log(1 - (1 - 1e-15));
  EXPECT_NEAR(clipped_miss, 34.5396, 1e-4);
  const double log_loss =
      (-2 * std::log(0.875) - std::log(0.125) - 2 * std::log(0.75) -
       std::log(0.625) - std::log(1 - 1e-15) + clipped_miss) /
      8;
  EXPECT_NEAR(log_loss, 4.74143, 1e-5);
  EXPECT_NEAR(*m.log_loss, log_loss, 1e-12);

  // Wilson 95% for 1 of 2: z = 1.959964, z^2 = 3.841459;
  // centre (0.5 + z^2 / 4) / (1 + z^2 / 2) = 0.5;
  // half-width z / (1 + z^2 / 2) * sqrt(0.25 / 2 + z^2 / 16)
  //   = 0.671049 * 0.604228 = 0.405469.
  EXPECT_NEAR(m.bins[0].observed_interval->lower, 0.094531, 1e-6);
  EXPECT_NEAR(m.bins[0].observed_interval->upper, 0.905469, 1e-6);
  // 0 of 2: [0, z^2 / (2 + z^2)] = [0, 0.657620].
  EXPECT_EQ(m.bins[1].observed_interval->lower, 0);
  EXPECT_NEAR(m.bins[1].observed_interval->upper, 0.657620, 1e-6);
}

TEST(CalibrationMonitorTest, EdgeValuesLandInDocumentedBins) {
  CalibrationMonitor monitor = Make(15);
  monitor.Observe(0.0, false);       // Bin 0, its lower edge.
  monitor.Observe(1.0 / 15, false);  // Bin 1, its lower edge.
  monitor.Observe(std::nextafter(1.0 / 15, 0.0), false);   // Bin 0.
  monitor.Observe(14.0 / 15, false);                       // Bin 14.
  monitor.Observe(std::nextafter(14.0 / 15, 0.0), false);  // Bin 13.
  monitor.Observe(1.0, false);                             // Bin 14.
  monitor.Observe(std::nextafter(1.0, 0.0), false);        // Bin 14.
  const CalibrationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.bins[0].count, 2u);
  EXPECT_EQ(m.bins[1].count, 1u);
  EXPECT_EQ(m.bins[13].count, 1u);
  EXPECT_EQ(m.bins[14].count, 3u);
  EXPECT_EQ(m.count, 7u);
}

TEST(CalibrationMonitorTest, EveryEdgeGoesUpForManyBinCounts) {
  // Bin counts whose edges i / B do and do not survive p * B rounding
  // (e.g. (1.0 / 49) * 49 < 1 in double).
  for (int bins : {2, 3, 7, 10, 15, 49, 98, 100, 999, 1000}) {
    SCOPED_TRACE(bins);
    CalibrationMonitor at_edges = Make(bins);
    CalibrationMonitor below_edges = Make(bins);
    for (int i = 0; i <= bins; ++i) {
      const double edge = static_cast<double>(i) / bins;
      at_edges.Observe(edge, false);
      if (i > 0) below_edges.Observe(std::nextafter(edge, 0.0), false);
    }
    const CalibrationMetrics at = at_edges.Snapshot();
    const CalibrationMetrics below = below_edges.Snapshot();
    for (int i = 0; i < bins; ++i) {
      // Bin i gets edge i (and the last bin also 1.0); the value below
      // edge i + 1.
      EXPECT_EQ(at.bins[i].count, i + 1 < bins ? 1u : 2u) << i;
      EXPECT_EQ(below.bins[i].count, 1u) << i;
      EXPECT_EQ(at.bins[i].lower, static_cast<double>(i) / bins);
    }
  }
}

TEST(CalibrationMonitorTest, InvalidPredictionsAreIgnoredAndCounted) {
  CalibrationMonitor monitor = Make();
  const double inf = std::numeric_limits<double>::infinity();
  for (double p : {std::nan(""), -inf, inf, -1e-300, std::nextafter(1.0, 2.0),
                   -0.5, 2.0}) {
    monitor.Observe(p, true);
  }
  CalibrationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.ignored, 7u);
  EXPECT_EQ(m.count, 0u);
  EXPECT_FALSE(m.ece.has_value());
  monitor.Observe(-0.0, false);  // Negative zero is zero: bin 0.
  m = monitor.Snapshot();
  EXPECT_EQ(m.bins[0].count, 1u);
  EXPECT_EQ(*m.ece, 0);
  EXPECT_EQ(*m.brier, 0);
}

TEST(CalibrationMonitorTest, RandomStreamMatchesDirectFormulas) {
  for (int bins : {2, 10, 15, 100}) {
    SCOPED_TRACE(bins);
    const std::vector<Pair> pairs = MiscalibratedStream(/*seed=*/42, 20000);
    CalibrationMonitor monitor = Make(bins);
    for (const auto& [p, y] : pairs) monitor.Observe(p, y);
    const CalibrationMetrics m = monitor.Snapshot();
    const DirectMetrics d = Direct(pairs, bins);
    EXPECT_EQ(m.count, pairs.size());
    for (int b = 0; b < bins; ++b) {
      EXPECT_EQ(m.bins[b].count, d.counts[b]) << b;
      EXPECT_EQ(m.bins[b].positives, d.positives[b]) << b;
    }
    EXPECT_NEAR(*m.ece, d.ece, 1e-12);
    EXPECT_NEAR(*m.mce, d.mce, 1e-12);
    EXPECT_NEAR(*m.brier, d.brier, 1e-12);
    EXPECT_NEAR(*m.log_loss, d.log_loss, 1e-12);
    // The stream is miscalibrated well past its noise floor.
    EXPECT_GT(*m.ece, 0.05);
    EXPECT_GT(*m.ece, 2 * m.null_ece->p99);
  }
}

TEST(CalibrationMonitorTest, MergeOfSplitStreamEqualsWholeStream) {
  CalibrationMonitor whole = Make();
  CalibrationMonitor a = whole;
  CalibrationMonitor b = whole;
  CalibrationMonitor c = whole;
  std::mt19937_64 split(11);
  for (const auto& [p, y] : MiscalibratedStream(/*seed=*/7, 10000)) {
    whole.Observe(p, y);
    const uint64_t r = split() % 3;
    (r == 0 ? a : r == 1 ? b : c).Observe(p, y);
  }
  whole.Observe(std::nan(""), true);
  c.Observe(std::nan(""), true);

  // (a + b) + c, a + (b + c) and (c + b) + a all give the whole stream.
  CalibrationMonitor left = a;
  ASSERT_OK(left.Merge(b));
  ASSERT_OK(left.Merge(c));
  CalibrationMonitor right = b;
  ASSERT_OK(right.Merge(c));
  CalibrationMonitor right_total = a;
  ASSERT_OK(right_total.Merge(right));
  CalibrationMonitor reversed = c;
  ASSERT_OK(reversed.Merge(b));
  ASSERT_OK(reversed.Merge(a));
  const CalibrationMetrics expected = whole.Snapshot();
  ExpectSameMetrics(left.Snapshot(), expected, 1e-12);
  ExpectSameMetrics(right_total.Snapshot(), expected, 1e-12);
  ExpectSameMetrics(reversed.Snapshot(), expected, 1e-12);
}

TEST(CalibrationMonitorTest, MergeWithEmptyIsIdentity) {
  const CalibrationMonitor empty = Make();
  CalibrationMonitor full = empty;
  for (const auto& [p, y] : MiscalibratedStream(/*seed=*/3, 500)) {
    full.Observe(p, y);
  }
  full.Observe(-1, false);
  const std::string before = full.Serialize();
  ASSERT_OK(full.Merge(empty));
  EXPECT_EQ(full.Serialize(), before);
  CalibrationMonitor other = empty;
  ASSERT_OK(other.Merge(full));
  EXPECT_EQ(other.Serialize(), before);
}

TEST(CalibrationMonitorTest, MergeWithItselfDoubles) {
  CalibrationMonitor monitor = Make(4);
  monitor.Observe(0.125, true);
  monitor.Observe(0.875, false);
  monitor.Observe(2, false);
  ASSERT_OK(monitor.Merge(monitor));
  const CalibrationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.count, 4u);
  EXPECT_EQ(m.ignored, 2u);
  EXPECT_EQ(m.bins[0].count, 2u);
  EXPECT_EQ(m.bins[0].positives, 2u);
  EXPECT_EQ(*m.bins[3].mean_predicted, 0.875);
  EXPECT_DOUBLE_EQ(*m.brier, 0.765625);  // (0.875^2 + 0.875^2) / 2.
}

TEST(CalibrationMonitorTest, MergeWithOtherBinCountFailsAndChangesNothing) {
  CalibrationMonitor monitor = Make(15);
  CalibrationMonitor other = Make(10);
  monitor.Observe(0.3, true);
  other.Observe(0.6, false);
  const std::string before = monitor.Serialize();
  EXPECT_EQ(monitor.Merge(other).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(monitor.Serialize(), before);
}

TEST(CalibrationMonitorTest, SerializeRoundTrip) {
  CalibrationMonitor monitor = Make(20);
  for (const auto& [p, y] : MiscalibratedStream(/*seed=*/5, 3000)) {
    monitor.Observe(p, y);
  }
  monitor.Observe(std::nan(""), false);
  const std::string bytes = monitor.Serialize();
  ASSERT_OK_AND_ASSIGN(CalibrationMonitor copy,
                       CalibrationMonitor::Deserialize(bytes));
  EXPECT_EQ(copy.options().num_bins, 20);
  ExpectSameMetrics(copy.Snapshot(), monitor.Snapshot(), 0);
  EXPECT_EQ(copy.Serialize(), bytes);
  copy.Observe(0.7, true);
  monitor.Observe(0.7, true);
  EXPECT_EQ(copy.Serialize(), monitor.Serialize());
  // An empty monitor round-trips too.
  ASSERT_OK_AND_ASSIGN(CalibrationMonitor empty,
                       CalibrationMonitor::Deserialize(Make().Serialize()));
  EXPECT_EQ(empty.Snapshot().count, 0u);
}

// Each input either fails with kDataLoss or gives a monitor whose metrics
// are finite and consistent, and which keeps working.
void ExpectDataLossOrValid(const std::string& bytes) {
  absl::StatusOr<CalibrationMonitor> monitor =
      CalibrationMonitor::Deserialize(bytes);
  if (!monitor.ok()) {
    EXPECT_EQ(monitor.status().code(), absl::StatusCode::kDataLoss);
    return;
  }
  const CalibrationMetrics m = monitor->Snapshot();
  for (const CalibrationBin& bin : m.bins) {
    EXPECT_LE(bin.positives, bin.count);
    if (bin.mean_predicted.has_value()) {
      EXPECT_TRUE(std::isfinite(*bin.mean_predicted));
    }
  }
  if (m.ece.has_value()) {
    EXPECT_TRUE(std::isfinite(*m.ece));
    EXPECT_TRUE(std::isfinite(*m.mce));
    EXPECT_TRUE(std::isfinite(*m.brier));
    EXPECT_TRUE(std::isfinite(*m.log_loss));
    EXPECT_TRUE(std::isfinite(m.null_ece->mean));
    EXPECT_TRUE(std::isfinite(m.null_ece->p99));
  }
  monitor->Observe(0.5, true);
  monitor->Observe(1, false);
  EXPECT_OK(CalibrationMonitor::Deserialize(monitor->Serialize()));
  EXPECT_OK(monitor->Merge(*monitor));
  EXPECT_OK(CalibrationMonitor::Deserialize(monitor->Serialize()));
}

TEST(CalibrationMonitorTest, TruncatedBytesNeverCrash) {
  CalibrationMonitor monitor = Make();
  for (const auto& [p, y] : MiscalibratedStream(/*seed=*/9, 200)) {
    monitor.Observe(p, y);
  }
  const std::string bytes = monitor.Serialize();
  ASSERT_GT(bytes.size(), 100u);
  for (size_t length = 0; length < bytes.size(); ++length) {
    SCOPED_TRACE(length);
    const std::string prefix = bytes.substr(0, length);
    // A prefix misses bins, or the sums after them, or cuts a field.
    EXPECT_EQ(CalibrationMonitor::Deserialize(prefix).status().code(),
              absl::StatusCode::kDataLoss);
    ExpectDataLossOrValid(prefix);
  }
}

TEST(CalibrationMonitorTest, GarbageBytesNeverCrash) {
  int i = 0;
  for (const std::string& bytes :
       testutil::RandomByteStrings(/*seed=*/1234, 2000, 96)) {
    SCOPED_TRACE(i++);
    ExpectDataLossOrValid(bytes);
  }
  // Every bit flip of a real state.
  CalibrationMonitor monitor = Make(3);
  for (const auto& [p, y] : MiscalibratedStream(/*seed=*/13, 100)) {
    monitor.Observe(p, y);
  }
  const std::string bytes = monitor.Serialize();
  size_t bit = 0;
  for (const std::string& flipped : testutil::EachBitFlipped(bytes)) {
    SCOPED_TRACE(bit++);
    ExpectDataLossOrValid(flipped);
  }
}

// A valid state of 2 bins to corrupt one field at a time: predictions 0.25
// (positive) and 0.75, 0.75 (one positive).
state::v1::CalibrationState ValidState() {
  state::v1::CalibrationState state;
  state.set_version(1);
  state.set_num_bins(2);
  state::v1::CalibrationBinState* low = state.add_bins();
  low->set_count(1);
  low->set_positives(1);
  low->set_sum_predicted(0.25);
  low->set_sum_squared_predicted(0.0625);
  state::v1::CalibrationBinState* high = state.add_bins();
  high->set_count(2);
  high->set_positives(1);
  high->set_sum_predicted(1.5);
  high->set_sum_squared_predicted(1.125);
  state.set_sum_squared_error(0.5625 + 0.0625 + 0.5625);
  state.set_sum_log_loss(-std::log(0.25) - std::log(0.75) - std::log(0.25));
  return state;
}

TEST(CalibrationMonitorTest, DeserializeRejectsInconsistentState) {
  ASSERT_OK(CalibrationMonitor::Deserialize(ValidState().SerializeAsString()));
  const double nan = std::nan("");
  std::vector<state::v1::CalibrationState> bad(20, ValidState());
  bad[0].set_version(0);
  bad[1].set_version(2);
  bad[2].set_num_bins(1);
  bad[3].set_num_bins(1001);
  bad[4].set_num_bins(3);                    // But two bins listed.
  bad[5].add_bins();                         // Three bins, num_bins 2.
  bad[6].mutable_bins(0)->set_positives(2);  // Positives > count.
  bad[7].mutable_bins(1)->set_sum_predicted(-0.5);
  bad[8].mutable_bins(1)->set_sum_squared_predicted(-0.5);
  bad[9].mutable_bins(1)->set_sum_predicted(nan);
  bad[10].mutable_bins(1)->set_sum_squared_predicted(2);  // > sum of p.
  bad[11].mutable_bins(0)->set_sum_predicted(0.75);  // Mean p out of bin 0.
  bad[12].mutable_bins(1)->set_sum_predicted(0.5);   // Mean p out of bin 1.
  bad[13].mutable_bins(1)->set_sum_predicted(2.5);   // Above count.
  bad[14].mutable_bins(0)->set_count(0);  // Sums without predictions.
  bad[14].mutable_bins(0)->set_positives(0);
  bad[15].set_sum_squared_error(-1);
  bad[16].set_sum_squared_error(3.5);  // (p - y)^2 <= 1 for 3 predictions.
  bad[17].set_sum_log_loss(-1);
  bad[18].set_sum_log_loss(std::numeric_limits<double>::infinity());
  bad[19].set_num_bins(std::numeric_limits<uint32_t>::max());
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(CalibrationMonitor::Deserialize(bad[i].SerializeAsString())
                  .status()
                  .code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(CalibrationMonitorTest, SaturatedCountsStayConsistent) {
  state::v1::CalibrationState state = ValidState();
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  state.mutable_bins(1)->set_count(max);
  state.mutable_bins(1)->set_positives(max);
  ASSERT_OK_AND_ASSIGN(
      CalibrationMonitor monitor,
      CalibrationMonitor::Deserialize(state.SerializeAsString()));
  monitor.Observe(0.9, true);
  ASSERT_OK(monitor.Merge(monitor));
  const CalibrationMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.bins[1].count, max);
  EXPECT_EQ(m.bins[1].positives, max);
  EXPECT_EQ(m.count, max);
  EXPECT_OK(CalibrationMonitor::Deserialize(monitor.Serialize()));
}

// --- The no-miscalibration noise floor. ---

// The exact null ECE of one bin of n predictions all equal to p: the ECE is
// |S - np| / n with S ~ Binomial(n, p), enumerated here term by term.
TEST(CalibrationMonitorTest, NullEceOfOneHomogeneousBinIsExact) {
  struct Case {
    int n;
    double p;
  };
  for (const Case& c : {Case{2, 0.5}, Case{4, 0.25}, Case{30, 0.03},
                        Case{60, 0.6}, Case{400, 0.5}}) {
    SCOPED_TRACE(c.n);
    CalibrationMonitor monitor = Make(4);
    for (int i = 0; i < c.n; ++i) monitor.Observe(c.p, i % 2 == 0);
    double mean = 0;
    double second = 0;
    double third = 0;
    double log_choose = 0;  // log C(n, k), built up one factor at a time.
    for (int k = 0; k <= c.n; ++k) {
      if (k > 0) log_choose += std::log(static_cast<double>(c.n - k + 1) / k);
      const double pmf = std::exp(log_choose + k * std::log(c.p) +
                                  (c.n - k) * std::log1p(-c.p));
      const double ece = std::abs(k - c.n * c.p) / c.n;
      mean += pmf * ece;
      second += pmf * ece * ece;
      third += pmf * ece * ece * ece;
    }
    const double variance = second - mean * mean;
    const double central_third =
        third - 3 * mean * second + 2 * mean * mean * mean;
    const NullEce null = *monitor.Snapshot().null_ece;
    // n = 400 at p = 0.5 (variance 100) takes the half-normal limit.
    const double tolerance = c.n == 400 ? 2e-2 : 1e-9;
    EXPECT_NEAR(null.mean / mean, 1, tolerance);
    EXPECT_NEAR(null.stddev / std::sqrt(variance), 1, tolerance);
    if (std::abs(central_third) > 1e-12) {
      EXPECT_NEAR(null.skewness / (central_third / std::pow(variance, 1.5)), 1,
                  c.n == 400 ? 0.2 : 1e-6);
    }
  }
  // Two predictions at 0.5: the ECE is 0 or 0.5, even odds (Binomial(2, .5)
  // gives |S - 1| = 1, 0, 1 with probabilities 1/4, 1/2, 1/4): mean 0.25,
  // standard deviation 0.25, no skew.
  CalibrationMonitor two = Make(4);
  two.Observe(0.5, true);
  two.Observe(0.5, true);
  const NullEce null = *two.Snapshot().null_ece;
  EXPECT_DOUBLE_EQ(null.mean, 0.25);
  EXPECT_DOUBLE_EQ(null.stddev, 0.25);
  EXPECT_NEAR(null.skewness, 0, 1e-12);
}

// Predictions all 0 or 1 leave nothing to chance: the null ECE is 0.
TEST(CalibrationMonitorTest, NullEceOfCertainPredictionsIsZero) {
  CalibrationMonitor monitor = Make();
  for (int i = 0; i < 10; ++i) {
    monitor.Observe(0, false);
    monitor.Observe(1, true);
  }
  const NullEce null = *monitor.Snapshot().null_ece;
  EXPECT_EQ(null.mean, 0);
  EXPECT_EQ(null.stddev, 0);
  EXPECT_EQ(null.p99, 0);
}

// The smallest value with at least a fraction q of `values` at or below it.
double EmpiricalQuantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank =
      static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::max<size_t>(rank, 1) - 1];
}

// Monte Carlo of the null ECE for fixed predictions: outcomes drawn as
// Bernoulli(p), the ECE recomputed by its definition each time.
std::vector<double> SimulateNullEce(const std::vector<double>& predictions,
                                    int num_bins, int replicates,
                                    uint64_t seed) {
  std::vector<int> bin_of(predictions.size());
  std::vector<double> sums(num_bins, 0);
  for (size_t i = 0; i < predictions.size(); ++i) {
    bin_of[i] = DirectBin(predictions[i], num_bins);
    sums[bin_of[i]] += predictions[i];
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> eces;
  std::vector<double> positives(num_bins);
  for (int r = 0; r < replicates; ++r) {
    std::fill(positives.begin(), positives.end(), 0);
    for (size_t i = 0; i < predictions.size(); ++i) {
      if (uniform(rng) < predictions[i]) positives[bin_of[i]] += 1;
    }
    // sum_b (n_b / n) |S_b / n_b - sum_b / n_b| = sum_b |S_b - sum_b| / n.
    double ece = 0;
    for (int b = 0; b < num_bins; ++b) ece += std::abs(positives[b] - sums[b]);
    eces.push_back(ece / static_cast<double>(predictions.size()));
  }
  return eces;
}

struct NullCase {
  const char* name;
  int n;
  int num_bins;
  // Predictions are uniform(0, 1)^power, optionally mirrored to 1 - that.
  double power;
  bool mirrored;
  int replicates;
};

std::vector<double> Predictions(const NullCase& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> predictions(c.n);
  for (double& p : predictions) {
    p = std::pow(uniform(rng), c.power);
    if (c.mirrored) p = 1 - p;
  }
  return predictions;
}

// The floor against Monte Carlo for the very predictions the monitor saw,
// from 60 to 20,000 predictions, 2 to 100 bins, uniform and skewed.
//
// Tolerances: the empirical 99th percentile of R replicates has a standard
// error of sqrt(0.99 * 0.01 / R) / density, about 1.2% of its value at
// R = 3,000 (1.9% for the 20,000 case's R = 1,000), and the 95th about
// half that; the mean's is sd / sqrt(R), about 0.4%. The approximation
// itself is within 0.5% of 40,000-replicate runs for 15 and 100 bins and
// 2.4% at the 99th percentile for 2 bins (the header's figures). So 2% on
// the mean and 5% on the percentiles leave two to three standard errors of
// simulation noise, yet catch a plain normal quantile (3% low at the 99th
// percentile in most cases, 9% with 2 bins) only where it is far off: the
// 2-bin case below fails with it.
TEST(CalibrationMonitorTest, NoiseFloorMatchesMonteCarlo) {
  const NullCase cases[] = {
      {"uniform, 2000 in 15 bins", 2000, 15, 1, false, 3000},
      {"uniform, 300 in 15 bins", 300, 15, 1, false, 3000},
      {"uniform, 60 in 15 bins", 60, 15, 1, false, 3000},
      {"near 0, 2000 in 15 bins", 2000, 15, 3, false, 3000},
      {"confident near 1, 2000 in 15 bins", 2000, 15, 4, true, 3000},
      {"uniform, 2000 in 100 bins", 2000, 100, 1, false, 3000},
      {"uniform, 2000 in 2 bins", 2000, 2, 1, false, 3000},
      {"uniform, 20000 in 15 bins", 20000, 15, 1, false, 1000},
  };
  for (const NullCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::vector<double> predictions = Predictions(c, /*seed=*/17);
    CalibrationMonitor monitor = Make(c.num_bins);
    for (double p : predictions) monitor.Observe(p, false);
    const NullEce null = *monitor.Snapshot().null_ece;
    const std::vector<double> eces =
        SimulateNullEce(predictions, c.num_bins, c.replicates, /*seed=*/99);
    double mc_mean = 0;
    for (double e : eces) mc_mean += e;
    mc_mean /= static_cast<double>(eces.size());
    const double mc_p95 = EmpiricalQuantile(eces, 0.95);
    const double mc_p99 = EmpiricalQuantile(eces, 0.99);
    EXPECT_NEAR(null.mean / mc_mean, 1, 0.02);
    EXPECT_NEAR(null.p95 / mc_p95, 1, 0.05);
    EXPECT_NEAR(null.p99 / mc_p99, 1, 0.05);
    // The floor's own quantile function agrees with its fields.
    EXPECT_EQ(null.Quantile(0.95), null.p95);
    EXPECT_GT(null.p99, null.p95);
    EXPECT_GT(null.p95, null.mean);
  }
}

// REFERENTIAL.md: "perfectly calibrated scores still show ECE ~ 0.025
// (95th pct ~ 0.035) at n = 2,000 with 15 bins". Here the predictions too
// are drawn afresh (uniform) each replicate, as that figure assumes, and
// the monitor's floor, from one such sample, is compared with it.
TEST(CalibrationMonitorTest, NoiseFloorMatchesReferentialFigures) {
  constexpr int kN = 2000;
  constexpr int kReplicates = 2000;
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> eces;
  for (int r = 0; r < kReplicates; ++r) {
    std::vector<Pair> pairs(kN);
    for (Pair& pair : pairs) {
      pair.predicted = uniform(rng);
      pair.outcome = uniform(rng) < pair.predicted;
    }
    eces.push_back(Direct(pairs, 15).ece);
  }
  double mc_mean = 0;
  for (double e : eces) mc_mean += e;
  mc_mean /= static_cast<double>(eces.size());
  const double mc_p95 = EmpiricalQuantile(eces, 0.95);
  const double mc_p99 = EmpiricalQuantile(eces, 0.99);

  CalibrationMonitor monitor = Make();
  for (int i = 0; i < kN; ++i) {
    const double p = uniform(rng);
    monitor.Observe(p, uniform(rng) < p);
  }
  const CalibrationMetrics m = monitor.Snapshot();
  const NullEce null = *m.null_ece;
  // Measured: Monte Carlo mean 0.0274, p95 0.0367, p99 0.0419; this
  // sample's floor 0.0272, 0.0367, 0.0411. The referential rounds them down
  // to 0.025 and 0.035. Tolerance 5%: the Monte Carlo percentiles' standard
  // error is about 1.6% at R = 2,000, and here they also carry the spread of
  // bin counts between samples, which the floor (conditional on this
  // sample's bins) leaves out, about 2% at the 99th percentile.
  EXPECT_NEAR(null.mean / mc_mean, 1, 0.05);
  EXPECT_NEAR(null.p95 / mc_p95, 1, 0.05);
  EXPECT_NEAR(null.p99 / mc_p99, 1, 0.05);
  EXPECT_NEAR(mc_mean, 0.025, 0.003);
  EXPECT_NEAR(mc_p95, 0.035, 0.003);
  EXPECT_NEAR(null.p95, 0.035, 0.003);
  // This calibrated sample's own ECE (0.034) raises no alarm.
  EXPECT_LT(*m.ece, null.p99);
}

}  // namespace
}  // namespace vigie::monitors
