#include "monitors/conformal.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/conformal.pb.h"

namespace vigie::monitors {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

ConformalMonitor::Options SetOptions() {
  ConformalMonitor::Options options;
  options.kind = ConformalKind::kSet;
  options.max_set_size = 5;
  return options;
}

ConformalObservation Interval(bool covered, double width, double alpha,
                              uint64_t n_cal, double score,
                              uint32_t group = ConformalObservation::kNoGroup) {
  ConformalObservation o;
  o.covered = covered;
  o.size = width;
  o.alpha = alpha;
  o.calibration_size = n_cal;
  o.score = score;
  o.group = group;
  return o;
}

// Wilson's score interval from its formula (z = 1.959963984540054).
std::pair<double, double> Wilson(double x, double n) {
  const double z = 1.959963984540054;
  const double p = x / n;
  const double center = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half =
      z / (1 + z * z / n) * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
  return {center - half, center + half};
}

double LogChoose(double m, double k) {
  return std::lgamma(m + 1) - std::lgamma(k + 1) - std::lgamma(m - k + 1);
}
double LogBeta(double a, double b) {
  return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
}
// P(X <= x), X ~ Beta-Binomial(m, a, b), by direct summation.
double BetaBinomialCdf(int x, int m, double a, double b) {
  double sum = 0;
  for (int k = 0; k <= x; ++k) {
    sum +=
        std::exp(LogChoose(m, k) + LogBeta(k + a, m - k + b) - LogBeta(a, b));
  }
  return sum;
}
// P(X <= x), X ~ Binomial(m, p), by direct summation.
double BinomialCdf(int x, int m, double p) {
  double sum = 0;
  for (int k = 0; k <= x; ++k) {
    sum +=
        std::exp(LogChoose(m, k) + k * std::log(p) + (m - k) * std::log1p(-p));
  }
  return sum;
}

// A seeded regression stream: y = x + noise, intervals y_hat +- q with q
// the split conformal half-width of a standard normal noise at alpha =
// 0.1 (1.645), widths scaled by group, groups "a".."e", and a heavier
// noise for group "e" so that its coverage falls short.
struct Event {
  ConformalObservation observation;
  std::string group;
};
std::vector<Event> RegressionStream(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  std::uniform_int_distribution<int> group(0, 4);
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    const int g = group(rng);
    const double sigma = g == 4 ? 1.5 : 1.0;
    const double residual = std::abs(sigma * noise(rng));
    const double half = 1.645 * (1 + 0.1 * g);
    Event e;
    e.group = std::string(1, static_cast<char>('a' + g));
    e.observation =
        Interval(residual <= half, 2 * half, i % 10 == 0 ? 0.2 : 0.1,
                 i % 10 == 0 ? 0 : 1000, residual);
    events.push_back(e);
  }
  return events;
}

void Feed(ConformalMonitor& monitor, const std::vector<Event>& events) {
  for (Event e : events) {
    e.observation.group = monitor.ResolveGroup(e.group);
    monitor.Observe(e.observation);
  }
}

TEST(ConformalMonitorTest, RejectsBadOptions) {
  ConformalMonitor::Options options;
  options.max_groups = 0;
  EXPECT_EQ(ConformalMonitor::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = {};
  options.max_settings = 65;
  EXPECT_FALSE(ConformalMonitor::Create(options).ok());
  options = {};
  options.max_set_size = 0;
  EXPECT_FALSE(ConformalMonitor::Create(options).ok());
  options = {};
  options.max_buckets = 10;
  EXPECT_FALSE(ConformalMonitor::Create(options).ok());
  EXPECT_OK(ConformalMonitor::Create({}));
}

TEST(ConformalMonitorTest, EmptySnapshotClaimsNothing) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  const ConformalMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.overall.count, 0u);
  EXPECT_FALSE(m.overall.coverage.has_value());
  EXPECT_FALSE(m.overall.gate.has_value());
  EXPECT_FALSE(m.overall.mean_size.has_value());
  EXPECT_FALSE(m.coverage_gap.has_value());
  EXPECT_FALSE(m.score_quantile.has_value());
  EXPECT_TRUE(m.groups.empty());
}

TEST(ConformalMonitorTest, InvalidObservationsAreIgnored) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  monitor.Observe(Interval(true, 1, 0, 0, 0.5));     // alpha 0.
  monitor.Observe(Interval(true, 1, 1, 0, 0.5));     // alpha 1.
  monitor.Observe(Interval(true, -1, 0.1, 0, 0.5));  // Negative width.
  monitor.Observe(Interval(true, std::nan(""), 0.1, 0, 0.5));
  ASSERT_OK_AND_ASSIGN(ConformalMonitor sets,
                       ConformalMonitor::Create(SetOptions()));
  sets.Observe(Interval(true, 1.5, 0.1, 0, 0));  // Not a whole number.
  EXPECT_EQ(monitor.Snapshot().ignored, 4u);
  EXPECT_EQ(monitor.Snapshot().overall.count, 0u);
  EXPECT_EQ(sets.Snapshot().ignored, 1u);
}

// Ten intervals at alpha = 0.1 from n_cal = 19 (l = 2), eight covered:
// coverage 0.8; Wilson's interval from its formula; the gate against
// Beta-Binomial(10, 18, 2) summed here.
TEST(ConformalMonitorTest, TenIntervalsByHand) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  const double widths[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  for (int i = 0; i < 10; ++i) {
    monitor.Observe(Interval(i < 8, widths[i], 0.1, 19, 0.1 * (i + 1)));
  }
  const ConformalMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.overall.count, 10u);
  EXPECT_EQ(m.overall.covered, 8u);
  EXPECT_DOUBLE_EQ(*m.overall.coverage, 0.8);
  const auto [lower, upper] = Wilson(8, 10);
  EXPECT_NEAR(m.overall.coverage_interval->lower, lower, 1e-9);
  EXPECT_NEAR(m.overall.coverage_interval->upper, upper, 1e-9);
  EXPECT_DOUBLE_EQ(*m.overall.mean_size, 5.5);
  // Lower quantiles: the 5th and 9th smallest widths, within 1/128.
  EXPECT_NEAR(*m.overall.median_size, 5, 5.0 / 128);
  EXPECT_NEAR(*m.overall.p90_size, 9, 9.0 / 128);
  EXPECT_EQ(*m.overall.empty_share, 0);
  ASSERT_TRUE(m.overall.gate.has_value());
  const ConformalGate& gate = *m.overall.gate;
  EXPECT_TRUE(gate.beta_binomial);
  EXPECT_EQ(gate.rank, 2u);
  EXPECT_EQ(gate.count, 10u);
  EXPECT_DOUBLE_EQ(gate.share, 1);
  EXPECT_DOUBLE_EQ(gate.expected_coverage, 0.9);
  EXPECT_NEAR(gate.p_value, BetaBinomialCdf(8, 10, 18, 2), 1e-12);
  // The 5% quantile: smallest k with P(X <= k) >= 0.05.
  int q05 = 0;
  while (BetaBinomialCdf(q05, 10, 18, 2) < 0.05) ++q05;
  EXPECT_DOUBLE_EQ(gate.quantile_05, q05 / 10.0);
  // Scores 0.1 .. 1.0: the ceil(11 * 0.9) = 10th smallest is 1.0.
  EXPECT_NEAR(*m.score_quantile, 1.0, 1.0 / 128);
  EXPECT_NEAR(*monitor.ScoreQuantile(0.5), 0.6, 0.6 / 128);  // ceil(5.5).
}

TEST(ConformalMonitorTest, UnknownCalibrationSizeUsesTheBinomialTest) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  for (int i = 0; i < 200; ++i) {
    monitor.Observe(Interval(i % 10 >= 2, 1, 0.1, 0, 0.5));  // 160 of 200.
  }
  const ConformalGate gate = *monitor.Snapshot().overall.gate;
  EXPECT_FALSE(gate.beta_binomial);
  EXPECT_NEAR(gate.p_value, BinomialCdf(160, 200, 0.9), 1e-12);
  EXPECT_LT(gate.p_value, 1e-4);
  EXPECT_DOUBLE_EQ(gate.expected_coverage, 0.9);
}

// With n_cal = 8 and alpha = 0.1, l = floor(0.9) = 0: the interval is the
// whole line, so any miss is evidence.
TEST(ConformalMonitorTest, TooSmallCalibrationSetMeansCertainCoverage) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  monitor.Observe(Interval(true, kInf, 0.1, 8, 0.5));
  monitor.Observe(Interval(true, kInf, 0.1, 8, 0.5));
  ConformalGate gate = *monitor.Snapshot().overall.gate;
  EXPECT_EQ(gate.rank, 0u);
  EXPECT_EQ(gate.p_value, 1);
  EXPECT_EQ(gate.quantile_05, 1);
  monitor.Observe(Interval(false, kInf, 0.1, 8, 0.5));
  gate = *monitor.Snapshot().overall.gate;
  EXPECT_EQ(gate.p_value, 0);
  const ConformalMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.overall.infinite, 3u);
  EXPECT_FALSE(m.overall.mean_size.has_value());
}

TEST(ConformalMonitorTest, GateTestsTheDominantSetting) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  for (int i = 0; i < 30; ++i) monitor.Observe(Interval(true, 1, 0.2, 0, 0));
  for (int i = 0; i < 70; ++i) {
    monitor.Observe(Interval(i % 10 != 0, 1, 0.1, 99, 0));
  }
  const ConformalMetrics m = monitor.Snapshot();
  const ConformalGate& gate = *m.overall.gate;
  EXPECT_EQ(gate.alpha, 0.1);
  EXPECT_EQ(gate.calibration_size, 99u);
  EXPECT_EQ(gate.count, 70u);
  EXPECT_EQ(gate.covered, 63u);
  EXPECT_DOUBLE_EQ(gate.share, 0.7);
  EXPECT_EQ(gate.rank, 10u);
  EXPECT_NEAR(gate.p_value, BetaBinomialCdf(63, 70, 90, 10), 1e-12);
  // Pooled overall coverage: (30 + 63) / 100.
  EXPECT_DOUBLE_EQ(*m.overall.coverage, 0.93);
}

TEST(ConformalMonitorTest, SettingsPastTheCapAreCountedNotGated) {
  ConformalMonitor::Options options;
  options.max_settings = 1;
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor,
                       ConformalMonitor::Create(options));
  monitor.Observe(Interval(true, 1, 0.1, 0, 0));
  for (int i = 0; i < 5; ++i) monitor.Observe(Interval(false, 1, 0.2, 0, 0));
  const ConformalMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.overall.count, 6u);
  EXPECT_EQ(m.overall.gate->alpha, 0.1);
  EXPECT_EQ(m.overall.gate->count, 1u);
}

TEST(ConformalMonitorTest, PredictionSets) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor,
                       ConformalMonitor::Create(SetOptions()));
  struct Set {
    int size;
    bool covered;
    bool full;
  };
  // 10 sets, 4 classes: sizes 0 (never covers), 1, 2, 4 (full), 7 (beyond
  // max_set_size 5).
  const Set sets[] = {{0, false, false}, {1, true, false}, {1, true, false},
                      {1, false, false}, {2, true, false}, {2, true, false},
                      {2, false, false}, {4, true, true},  {4, true, true},
                      {7, true, true}};
  for (const Set& s : sets) {
    ConformalObservation o;
    o.covered = s.covered;
    o.full = s.full;
    o.size = s.size;
    o.alpha = 0.1;
    monitor.Observe(o);
  }
  const ConformalMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.overall.count, 10u);
  EXPECT_DOUBLE_EQ(*m.overall.empty_share, 0.1);
  EXPECT_DOUBLE_EQ(*m.overall.full_share, 0.3);
  EXPECT_DOUBLE_EQ(*m.overall.mean_size, 24.0 / 10);
  EXPECT_EQ(*m.overall.median_size, 2);  // The 5th smallest.
  EXPECT_EQ(*m.overall.p90_size, 4);     // The 9th.
  EXPECT_EQ(*m.overall.p99_size, 5);     // The 10th, 7, reads as >= 5.
  ASSERT_EQ(m.overall.by_set_size.size(), 5u);
  EXPECT_EQ(m.overall.by_set_size[1].size, 1u);
  EXPECT_EQ(m.overall.by_set_size[1].count, 3u);
  EXPECT_DOUBLE_EQ(m.overall.by_set_size[1].coverage, 2.0 / 3);
  EXPECT_EQ(m.overall.by_set_size[0].coverage, 0);
  EXPECT_EQ(m.overall.by_set_size[4].size, 5u);
  EXPECT_TRUE(m.overall.by_set_size[4].and_larger);
  EXPECT_FALSE(m.score_quantile.has_value());
  EXPECT_EQ(m.scores, 0u);
}

TEST(ConformalMonitorTest, GroupsAndTheirGap) {
  ConformalMonitor::Options options;
  options.min_group_size = 3;
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor,
                       ConformalMonitor::Create(options));
  const uint32_t a = monitor.ResolveGroup("a");
  const uint32_t b = monitor.ResolveGroup("b");
  const uint32_t c = monitor.ResolveGroup("c");
  EXPECT_EQ(monitor.ResolveGroup("a"), a);
  EXPECT_EQ(monitor.ResolveGroup(""), ConformalObservation::kNoGroup);
  for (int i = 0; i < 10; ++i) monitor.Observe(Interval(true, 1, 0.1, 0, 0, a));
  for (int i = 0; i < 10; ++i) {
    monitor.Observe(Interval(i < 6, 1, 0.1, 0, 0, b));
  }
  // Two observations only: reported, kept out of the gap.
  monitor.Observe(Interval(false, 1, 0.1, 0, 0, c));
  monitor.Observe(Interval(false, 1, 0.1, 0, 0, c));
  monitor.Observe(Interval(true, 1, 0.1, 0, 0));  // No group.
  const ConformalMetrics m = monitor.Snapshot();
  EXPECT_EQ(m.overall.count, 23u);
  ASSERT_EQ(m.groups.size(), 3u);
  EXPECT_EQ(m.groups[1].group, "b");
  EXPECT_DOUBLE_EQ(*m.groups[1].coverage, 0.6);
  EXPECT_NEAR(m.groups[1].gate->p_value, BinomialCdf(6, 10, 0.9), 1e-12);
  EXPECT_DOUBLE_EQ(*m.coverage_gap, 0.4);
  EXPECT_EQ(m.max_coverage_group, "a");
  EXPECT_EQ(m.min_coverage_group, "b");
}

TEST(ConformalMonitorTest, GroupsPastTheCapShareTheOverflowGroup) {
  ConformalMonitor::Options options;
  options.max_groups = 2;
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor,
                       ConformalMonitor::Create(options));
  monitor.ResolveGroup("a");
  monitor.ResolveGroup("b");
  const uint32_t c = monitor.ResolveGroup("c");
  EXPECT_EQ(monitor.ResolveGroup("d"), c);
  monitor.Observe(Interval(true, 1, 0.1, 0, 0, c));
  const ConformalMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), 3u);
  EXPECT_EQ(m.groups[0].group, ConformalMonitor::kOverflowGroup);
  EXPECT_EQ(m.groups[0].count, 1u);
  // The state still deserializes.
  EXPECT_OK(ConformalMonitor::Deserialize(monitor.Serialize()));
}

// Widths and scores against the sorted sample: rank-exact, values within
// 1/128 relative.
TEST(ConformalMonitorTest, QuantilesMatchTheSortedSample) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  const std::vector<Event> events = RegressionStream(5, 20000);
  Feed(monitor, events);
  std::vector<double> widths;
  std::vector<double> scores;
  double sum = 0;
  for (const Event& e : events) {
    widths.push_back(e.observation.size);
    scores.push_back(e.observation.score);
    sum += e.observation.size;
  }
  std::sort(widths.begin(), widths.end());
  std::sort(scores.begin(), scores.end());
  const ConformalMetrics m = monitor.Snapshot();
  EXPECT_NEAR(*m.overall.mean_size, sum / 20000, 1e-9);
  const double median = widths[9999];  // The 10,000th smallest.
  EXPECT_NEAR(*m.overall.median_size, median, median / 128);
  const double p99 = widths[19799];
  EXPECT_NEAR(*m.overall.p99_size, p99, p99 / 128);
  // The dominant setting is alpha = 0.1 (90% of events): the
  // ceil(20001 * 0.9) = 18001st smallest score.
  EXPECT_EQ(m.overall.gate->alpha, 0.1);
  const double q = scores[18000];
  EXPECT_NEAR(*m.score_quantile, q, q / 128);
  // Too few scores for the rank: 5 scores at alpha = 0.1 need the 6th.
  ASSERT_OK_AND_ASSIGN(ConformalMonitor small, ConformalMonitor::Create({}));
  for (int i = 0; i < 5; ++i) small.Observe(Interval(true, 1, 0.1, 0, i));
  EXPECT_FALSE(small.ScoreQuantile(0.1).has_value());
  EXPECT_TRUE(small.ScoreQuantile(0.2).has_value());  // ceil(4.8) = 5.
}

// Field by field: what a merge must reproduce.
void ExpectSameMetrics(const ConformalMetrics& x, const ConformalMetrics& y) {
  EXPECT_EQ(x.ignored, y.ignored);
  EXPECT_EQ(x.scores, y.scores);
  EXPECT_EQ(x.score_quantile, y.score_quantile);
  EXPECT_EQ(x.coverage_gap, y.coverage_gap);
  ASSERT_EQ(x.groups.size(), y.groups.size());
  std::vector<
      std::pair<const ConformalScopeMetrics*, const ConformalScopeMetrics*>>
      scopes = {{&x.overall, &y.overall}};
  for (size_t i = 0; i < x.groups.size(); ++i) {
    scopes.emplace_back(&x.groups[i], &y.groups[i]);
  }
  for (const auto& [a, b] : scopes) {
    EXPECT_EQ(a->group, b->group);
    EXPECT_EQ(a->count, b->count);
    EXPECT_EQ(a->covered, b->covered);
    EXPECT_EQ(a->empty, b->empty);
    EXPECT_EQ(a->full, b->full);
    EXPECT_EQ(a->median_size, b->median_size);
    EXPECT_EQ(a->p99_size, b->p99_size);
    EXPECT_NEAR(*a->mean_size, *b->mean_size, 1e-12);
    EXPECT_EQ(a->gate->alpha, b->gate->alpha);
    EXPECT_EQ(a->gate->count, b->gate->count);
    EXPECT_EQ(a->gate->covered, b->gate->covered);
    EXPECT_EQ(a->gate->p_value, b->gate->p_value);
    EXPECT_EQ(a->gate->quantile_05, b->gate->quantile_05);
  }
}

TEST(ConformalMonitorTest, MergeOfSplitStreamEqualsWholeStream) {
  const std::vector<Event> events = RegressionStream(9, 10000);
  ASSERT_OK_AND_ASSIGN(ConformalMonitor whole, ConformalMonitor::Create({}));
  ConformalMonitor first = whole;
  ConformalMonitor second = whole;
  Feed(whole, events);
  // Halves by position, so that groups and settings arrive in other
  // orders in the two halves.
  Feed(first, std::vector<Event>(events.begin() + 5000, events.end()));
  Feed(second, std::vector<Event>(events.begin(), events.begin() + 5000));
  ConformalMonitor merged = first;
  ASSERT_OK(merged.Merge(second));
  ExpectSameMetrics(merged.Snapshot(), whole.Snapshot());
  ASSERT_OK(second.Merge(first));
  ExpectSameMetrics(second.Snapshot(), whole.Snapshot());
  EXPECT_GT(*whole.Snapshot().coverage_gap, 0.05);  // Group "e" falls short.
}

TEST(ConformalMonitorTest, MergeWithEmptyIsIdentityAndSelfMergeDoubles) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  Feed(monitor, RegressionStream(2, 1000));
  ASSERT_OK_AND_ASSIGN(ConformalMonitor empty, ConformalMonitor::Create({}));
  const std::string before = monitor.Serialize();
  ASSERT_OK(monitor.Merge(empty));
  EXPECT_EQ(monitor.Serialize(), before);
  ASSERT_OK(empty.Merge(monitor));
  EXPECT_EQ(empty.Serialize(), before);
  ASSERT_OK(monitor.Merge(monitor));
  EXPECT_EQ(monitor.Snapshot().overall.count, 2000u);
}

TEST(ConformalMonitorTest, IncompatibleMergeFailsAndChangesNothing) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  Feed(monitor, RegressionStream(2, 100));
  ASSERT_OK_AND_ASSIGN(ConformalMonitor sets,
                       ConformalMonitor::Create(SetOptions()));
  const std::string before = monitor.Serialize();
  EXPECT_EQ(monitor.Merge(sets).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(monitor.Serialize(), before);
}

TEST(ConformalMonitorTest, SerializeRoundTrip) {
  for (bool set : {false, true}) {
    ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor,
                         ConformalMonitor::Create(
                             set ? SetOptions() : ConformalMonitor::Options{}));
    std::vector<Event> events = RegressionStream(4, 2000);
    if (set) {
      for (Event& e : events)
        e.observation.size = std::round(e.observation.size);
    }
    Feed(monitor, events);
    const std::string bytes = monitor.Serialize();
    ASSERT_OK_AND_ASSIGN(ConformalMonitor back,
                         ConformalMonitor::Deserialize(bytes));
    EXPECT_EQ(back.Serialize(), bytes);
    ExpectSameMetrics(back.Snapshot(), monitor.Snapshot());
    // Keeps observing where it stopped, group indices included.
    Feed(back, events);
    Feed(monitor, events);
    EXPECT_EQ(back.Serialize(), monitor.Serialize());
  }
}

TEST(ConformalMonitorTest, HostileBytesNeverCrash) {
  ConformalMonitor::Options options;
  options.max_groups = 3;
  options.max_settings = 2;
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor,
                       ConformalMonitor::Create(options));
  Feed(monitor, RegressionStream(6, 60));
  const std::string bytes = monitor.Serialize();
  // Every truncation loses the options, written last.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(ConformalMonitor::Deserialize(bytes.substr(0, n)).status().code(),
              absl::StatusCode::kDataLoss)
        << n;
  }
  std::vector<std::string> inputs = testutil::EachBitFlipped(bytes);
  for (const std::string& r : testutil::RandomByteStrings(8, 1000, 300)) {
    inputs.push_back(r);
  }
  for (const std::string& input : inputs) {
    absl::StatusOr<ConformalMonitor> back =
        ConformalMonitor::Deserialize(input);
    if (back.ok()) {
      back->Snapshot();  // A state that passes is usable.
      back->Observe(Interval(true, 1, 0.1, 10, 1, 0));
    } else {
      EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

// A valid but enormous state, as a crafted or saturated one could be:
// its gates take the lattice and the snapshot stays quick and finite.
TEST(ConformalMonitorTest, HugeCountsSnapshotQuickly) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  monitor.Observe(Interval(true, 1, 0.1, 19, 1));
  monitor.Observe(Interval(true, 1, 0.2, 0, 1));
  state::v1::ConformalState state;
  monitor.ToProto(&state);
  const uint64_t huge = ~uint64_t{0} - 5;
  for (int i = 0; i < 2; ++i) {
    state.mutable_overall()->mutable_tallies(i)->set_count(huge / 2);
    state.mutable_overall()->mutable_tallies(i)->set_covered(huge / 2 - 7);
  }
  state.mutable_overall()->mutable_sizes()->set_counts(0, huge / 2 * 2);
  ASSERT_OK_AND_ASSIGN(ConformalMonitor big,
                       ConformalMonitor::FromProto(state));
  const ConformalMetrics m = big.Snapshot();
  ASSERT_TRUE(m.overall.gate.has_value());
  const ConformalGate& gate = *m.overall.gate;
  EXPECT_EQ(gate.count, huge / 2);
  // Beta-Binomial(m, 18, 2) scaled by m tends to Beta(18, 2), whose 5%
  // quantile is 0.7808 (by the Beta CDF, I_x(18, 2) = 19 x^18 - 18 x^19).
  const double x = gate.quantile_05;
  EXPECT_NEAR(19 * std::pow(x, 18) - 18 * std::pow(x, 19), 0.05, 1e-4);
  EXPECT_GT(gate.p_value, 0.5);
  EXPECT_NEAR(*m.overall.median_size, 1, 1.0 / 128);
}

TEST(ConformalMonitorTest, InconsistentStatesAreDataLoss) {
  ASSERT_OK_AND_ASSIGN(ConformalMonitor monitor, ConformalMonitor::Create({}));
  Feed(monitor, RegressionStream(6, 200));
  state::v1::ConformalState good;
  monitor.ToProto(&good);
  ASSERT_OK(ConformalMonitor::FromProto(good));
  const auto expect_data_loss = [](const state::v1::ConformalState& s,
                                   const char* what) {
    EXPECT_EQ(ConformalMonitor::FromProto(s).status().code(),
              absl::StatusCode::kDataLoss)
        << what;
  };
  auto s = good;
  s.mutable_overall()->mutable_tallies(0)->set_covered(
      s.overall().tallies(0).count() + 1);
  expect_data_loss(s, "covered > count");
  s = good;
  s.mutable_groups(0)->mutable_tallies(0)->set_count(
      s.overall().tallies(0).count() + 1);
  expect_data_loss(s, "a group larger than the whole");
  s = good;
  *s.add_groups() = s.groups(0);
  expect_data_loss(s, "repeated group");
  s = good;
  s.mutable_groups(0)->set_group("");
  expect_data_loss(s, "empty label");
  s = good;
  *s.add_settings() = s.settings(0);
  expect_data_loss(s, "repeated setting");
  s = good;
  s.mutable_settings(0)->set_alpha(1.5);
  expect_data_loss(s, "alpha out of range");
  s = good;
  s.mutable_overall()->set_empty(1000000);
  expect_data_loss(s, "empty > count");
  s = good;
  s.mutable_overall()->mutable_sizes()->set_zeros(7);
  expect_data_loss(s, "histogram not matching the count");
  s = good;
  s.mutable_overall()->set_sum_size(-1);
  expect_data_loss(s, "negative sum");
  s = good;
  s.mutable_overall()->mutable_tallies()->RemoveLast();
  expect_data_loss(s, "tallies missing");
  s = good;
  s.mutable_overall()->mutable_tallies(3)->set_count(1);
  expect_data_loss(s, "an unused setting counting");
  s = good;
  s.mutable_scores()->set_zeros(1000000);
  expect_data_loss(s, "more scores than observations");
  s = good;
  s.set_kind(state::v1::CONFORMAL_KIND_SET);
  expect_data_loss(s, "intervals read as sets");
  s = good;
  s.set_max_groups(0);
  expect_data_loss(s, "max_groups 0");
  s = good;
  s.set_version(2);
  expect_data_loss(s, "version");
}

}  // namespace
}  // namespace vigie::monitors
