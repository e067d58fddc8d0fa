#include "monitors/performance_estimate.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "monitors/score_calibration.h"
#include "monitors/stats.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/performance.pb.h"

namespace vigie::monitors {
namespace {

using Monitor = PerformanceEstimateMonitor;

Monitor Make(int num_bins, uint32_t max_groups = 1000) {
  return *Monitor::Create({.num_bins = num_bins, .max_groups = max_groups});
}

// Adds `count` joined pairs with a score in the middle of `bin` (of
// `num_bins`), `positives` of them with a positive outcome.
void AddPairs(Monitor& m, int bin, int num_bins, int count, int positives) {
  const double score = (bin + 0.5) / num_bins;
  for (int i = 0; i < count; ++i) {
    m.ObserveJoined(score, score >= 0.5, i < positives);
  }
}

TEST(ScoreCalibrationTest, HistogramIsEachBinsFrequencyAndEmptyBinsBorrow) {
  // Bins 1 and 4 are empty: 1 is as near 0 as 2 and takes the lower; 4
  // takes 3.
  const std::vector<uint64_t> n = {10, 0, 20, 40, 0};
  const std::vector<uint64_t> pos = {1, 0, 10, 30, 0};
  ASSERT_OK_AND_ASSIGN(
      ScoreCalibration map,
      ScoreCalibration::Learn(n, pos, CalibrationMethod::kHistogram));
  EXPECT_EQ(map.blocks().size(), 3u);
  EXPECT_DOUBLE_EQ(map.probability(0), 0.1);
  EXPECT_DOUBLE_EQ(map.probability(1), 0.1);
  EXPECT_DOUBLE_EQ(map.probability(2), 0.5);
  EXPECT_DOUBLE_EQ(map.probability(3), 0.75);
  EXPECT_DOUBLE_EQ(map.probability(4), 0.75);
  EXPECT_TRUE(map.extrapolated(1));
  EXPECT_TRUE(map.extrapolated(4));
  EXPECT_FALSE(map.extrapolated(3));
  EXPECT_EQ(map.block(1), map.block(0));
  EXPECT_EQ(map.labelled(), 70u);
}

TEST(ScoreCalibrationTest, IsotonicPoolsAdjacentViolatorsByHand) {
  // Frequencies 0.2, 0.5, 0.3, 0.9: 0.5 > 0.3 pool into (5 + 9) / (10 +
  // 30) = 0.35, which stays above 0.2; then 0.9.
  const std::vector<uint64_t> n = {10, 10, 30, 10};
  const std::vector<uint64_t> pos = {2, 5, 9, 9};
  ASSERT_OK_AND_ASSIGN(
      ScoreCalibration map,
      ScoreCalibration::Learn(n, pos, CalibrationMethod::kIsotonic));
  ASSERT_EQ(map.blocks().size(), 3u);
  EXPECT_DOUBLE_EQ(map.probability(0), 0.2);
  EXPECT_DOUBLE_EQ(map.probability(1), 0.35);
  EXPECT_DOUBLE_EQ(map.probability(2), 0.35);
  EXPECT_DOUBLE_EQ(map.probability(3), 0.9);
  EXPECT_EQ(map.blocks()[1].labelled, 40u);
  EXPECT_EQ(map.block(1), map.block(2));
}

TEST(ScoreCalibrationTest, IsotonicCascadesAndKeepsTotals) {
  // 0.8, 0.6, 0.1 (10 each): pooling cascades into one block of 15 / 30.
  ASSERT_OK_AND_ASSIGN(
      ScoreCalibration map,
      ScoreCalibration::Learn(std::vector<uint64_t>{10, 10, 10},
                              std::vector<uint64_t>{8, 6, 1},
                              CalibrationMethod::kIsotonic));
  ASSERT_EQ(map.blocks().size(), 1u);
  EXPECT_DOUBLE_EQ(map.probability(2), 0.5);

  // Random bins: the map is non-decreasing, and (a property of PAV) keeps
  // the positives: sum_k m_k q_k = sum of positives.
  std::mt19937_64 rng(3);
  std::vector<uint64_t> n(40), pos(40);
  uint64_t total = 0;
  for (size_t b = 0; b < n.size(); ++b) {
    n[b] = rng() % 20;
    pos[b] = n[b] == 0 ? 0 : rng() % (n[b] + 1);
    total += pos[b];
  }
  ASSERT_OK_AND_ASSIGN(
      ScoreCalibration iso,
      ScoreCalibration::Learn(n, pos, CalibrationMethod::kIsotonic));
  double kept = 0;
  for (const auto& block : iso.blocks()) {
    kept += block.probability * static_cast<double>(block.labelled);
  }
  EXPECT_NEAR(kept, static_cast<double>(total), 1e-9);
  for (int b = 1; b < iso.num_bins(); ++b) {
    EXPECT_LE(iso.probability(b - 1), iso.probability(b)) << b;
  }
}

TEST(ScoreCalibrationTest, RejectsWhatCannotBeLearned) {
  EXPECT_EQ(ScoreCalibration::Learn(std::vector<uint64_t>{0, 0},
                                    std::vector<uint64_t>{0, 0},
                                    CalibrationMethod::kIsotonic)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ScoreCalibration::Learn(std::vector<uint64_t>{1, 0},
                                    std::vector<uint64_t>{2, 0},
                                    CalibrationMethod::kIsotonic)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCalibrationMethod("platt").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(CalibrationMethod m,
                       ParseCalibrationMethod("histogram"));
  EXPECT_EQ(CalibrationMethodName(m), "histogram");
}

TEST(PerformanceEstimateMonitorTest, CreateChecksOptions) {
  EXPECT_FALSE(Monitor::Create({.num_bins = 1}).ok());
  EXPECT_FALSE(Monitor::Create({.num_bins = 1001}).ok());
  EXPECT_FALSE(Monitor::Create({.num_bins = 10, .max_groups = 0}).ok());
}

TEST(PerformanceEstimateMonitorTest, EmptyEstimatesNothing) {
  Monitor m = Make(10);
  EXPECT_TRUE(m.empty());
  ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics metrics, m.Estimate(&m, {}));
  EXPECT_EQ(metrics.reference_labelled, 0u);
  EXPECT_EQ(metrics.model.predictions, 0u);
  EXPECT_FALSE(metrics.model.estimated.accuracy.has_value());
  EXPECT_FALSE(metrics.model.realised.accuracy.has_value());
}

// Two bins. Reference: bin 0 has 100 pairs, 20 positive (q0 = 0.2); bin 1
// 100 pairs, 80 positive (q1 = 0.8). Window: 30 negative decisions in bin
// 0, 10 negative and 50 positive ones in bin 1.
TEST(PerformanceEstimateMonitorTest, EstimateWorkedByHand) {
  Monitor reference = Make(2);
  AddPairs(reference, 0, 2, 100, 20);
  AddPairs(reference, 1, 2, 100, 80);
  Monitor window = Make(2);
  for (int i = 0; i < 30; ++i) window.ObservePrediction(0.1, false);
  for (int i = 0; i < 10; ++i) window.ObservePrediction(0.9, false);
  for (int i = 0; i < 50; ++i) window.ObservePrediction(0.9, true);
  ASSERT_OK_AND_ASSIGN(
      PerformanceEstimateMetrics metrics,
      window.Estimate(&reference, {.method = CalibrationMethod::kHistogram}));
  const PerformanceEstimate& e = metrics.model;
  EXPECT_EQ(metrics.reference_labelled, 200u);
  EXPECT_EQ(e.predictions, 90u);
  EXPECT_EQ(e.positive_decisions, 50u);
  // T = 50 * 0.8 = 40; F = 30 * 0.2 + 10 * 0.8 = 14.
  EXPECT_NEAR(e.expected_true_positives, 40, 1e-12);
  EXPECT_NEAR(e.expected_false_negatives, 14, 1e-12);
  EXPECT_NEAR(e.expected_false_positives, 10, 1e-12);
  EXPECT_NEAR(e.expected_true_negatives, 26, 1e-12);
  // var T = 50 * 0.16 = 8; var F = 40 * 0.16 = 6.4.
  const double var_t = 8, var_f = 6.4, v = 0.16 / 100;  // v: var of each q.
  // Accuracy (T + 40 - F) / 90: sampling sqrt(14.4) / 90; calibration,
  // block 0 has 30 negatives (gradient -30 / 90), block 1 has 50 positive
  // and 10 negative decisions (gradient 40 / 90).
  ASSERT_TRUE(e.estimated.accuracy.has_value());
  const PerformanceValue& a = *e.estimated.accuracy;
  EXPECT_NEAR(a.value, 66.0 / 90, 1e-12);
  EXPECT_NEAR(a.sampling_error, std::sqrt(var_t + var_f) / 90, 1e-12);
  const double acc_c = (30.0 * 30 + 40.0 * 40) / (90.0 * 90) * v;
  EXPECT_NEAR(a.calibration_error, std::sqrt(acc_c), 1e-12);
  const double acc_se = std::sqrt((var_t + var_f) / 8100 + acc_c);
  EXPECT_NEAR(a.standard_error, acc_se, 1e-12);
  EXPECT_NEAR(a.interval95.lower, 66.0 / 90 - 1.959963984540054 * acc_se, 1e-9);
  // Precision T / 50: sampling sqrt(8) / 50, calibration (50 / 50)^2 v.
  ASSERT_TRUE(e.estimated.precision.has_value());
  EXPECT_NEAR(e.estimated.precision->value, 0.8, 1e-12);
  EXPECT_NEAR(e.estimated.precision->standard_error,
              std::sqrt(var_t / 2500 + v), 1e-12);
  // Recall T / (T + F) = 40 / 54; gradients F / 54^2 and -T / 54^2.
  ASSERT_TRUE(e.estimated.recall.has_value());
  const double p2 = 54.0 * 54;
  EXPECT_NEAR(e.estimated.recall->value, 40.0 / 54, 1e-12);
  const double rec_s = (14 * 14 * var_t + 40 * 40 * var_f) / (p2 * p2);
  const double rec_c = std::pow(-40.0 * 30 / p2, 2) * v +
                       std::pow((14.0 * 50 - 40.0 * 10) / p2, 2) * v;
  EXPECT_NEAR(e.estimated.recall->standard_error, std::sqrt(rec_s + rec_c),
              1e-12);
  // F1 = 2 T / (N1 + T + F) = 80 / 104; gradients 2 (N1 + F) / D^2 and
  // -2 T / D^2.
  ASSERT_TRUE(e.estimated.f1.has_value());
  const double d2 = 104.0 * 104;
  const double gt = 2 * 64 / d2, gf = -80 / d2;
  EXPECT_NEAR(e.estimated.f1->value, 80.0 / 104, 1e-12);
  const double f1_s = gt * gt * var_t + gf * gf * var_f;
  const double f1_c =
      std::pow(gf * 30, 2) * v + std::pow(gt * 50 + gf * 10, 2) * v;
  EXPECT_NEAR(e.estimated.f1->standard_error, std::sqrt(f1_s + f1_c), 1e-12);
  EXPECT_NEAR(a.UpperBound(0.95), a.value + 1.6448536269514722 * acc_se, 1e-9);
}

TEST(PerformanceEstimateMonitorTest, RealisedValuesFromJoinedPairs) {
  Monitor m = Make(10);
  // 6 TP, 2 FP, 9 TN, 3 FN.
  for (int i = 0; i < 6; ++i) m.ObserveJoined(0.9, true, true);
  for (int i = 0; i < 2; ++i) m.ObserveJoined(0.7, true, false);
  for (int i = 0; i < 9; ++i) m.ObserveJoined(0.1, false, false);
  for (int i = 0; i < 3; ++i) m.ObserveJoined(0.3, false, true);
  ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics metrics,
                       m.Estimate(nullptr, {}));
  const PerformanceEstimate& e = metrics.model;
  EXPECT_EQ(e.labelled, 20u);
  EXPECT_EQ(e.predictions, 0u);  // Joined pairs are not label-free counts.
  ASSERT_TRUE(e.realised.accuracy && e.realised.precision &&
              e.realised.recall && e.realised.f1);
  EXPECT_DOUBLE_EQ(e.realised.accuracy->value, 15.0 / 20);
  EXPECT_NEAR(e.realised.accuracy->standard_error, std::sqrt(0.75 * 0.25 / 20),
              1e-12);
  const Interval wilson = WilsonInterval(15, 20, 0.95);
  EXPECT_NEAR(e.realised.accuracy->interval95.lower, wilson.lower, 1e-9);
  EXPECT_NEAR(e.realised.accuracy->UpperBound(0.95),
              WilsonInterval(15, 20, 0.90).upper, 1e-12);
  EXPECT_DOUBLE_EQ(e.realised.precision->value, 6.0 / 8);
  EXPECT_DOUBLE_EQ(e.realised.recall->value, 6.0 / 9);
  EXPECT_DOUBLE_EQ(e.realised.f1->value, 12.0 / 17);
  // Delta method for 2a / (2a + b + c): 4 a (b + c)(a + b + c) / D^4.
  EXPECT_NEAR(e.realised.f1->standard_error,
              std::sqrt(4.0 * 6 * 5 * 11) / (17.0 * 17), 1e-12);
  EXPECT_FALSE(e.estimated.accuracy.has_value());
}

TEST(PerformanceEstimateMonitorTest, InvalidScoresAreIgnoredAndCounted) {
  Monitor m = Make(10);
  m.ObservePrediction(std::nan(""), true);
  m.ObservePrediction(1.5, true);
  m.ObservePrediction("sex", "f", -0.1, true);
  m.ObserveJoined(-1, false, false);
  m.ObservePrediction(1.0, true);  // 1 is valid: the last bin.
  ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics metrics,
                       m.Estimate(nullptr, {}));
  EXPECT_EQ(metrics.ignored, 3u);
  EXPECT_EQ(metrics.model.predictions, 1u);
  EXPECT_TRUE(metrics.groups.empty());
}

// A reference with a group "f" of 600 pairs, well calibrated; and a group
// "m" of 100 pairs, below min_group_reference: "m" uses the model's map.
TEST(PerformanceEstimateMonitorTest, GroupsUseTheirOwnMapWhenLargeEnough) {
  Monitor reference = Make(2);
  const auto add = [&](const char* group, int bin, int count, int positives) {
    const double score = (bin + 0.5) / 2;
    for (int i = 0; i < count; ++i) {
      reference.ObserveJoined(score, bin == 1, i < positives);
      reference.ObserveJoined("sex", group, score, bin == 1, i < positives);
    }
  };
  add("f", 0, 300, 30);   // q = 0.1
  add("f", 1, 300, 270);  // q = 0.9
  add("m", 0, 50, 25);    // q = 0.5
  add("m", 1, 50, 25);
  // Model: bin 0 55 / 350, bin 1 295 / 350.
  Monitor window = Make(2);
  for (const char* group : {"f", "m"}) {
    for (int i = 0; i < 10; ++i) {
      window.ObservePrediction(0.25, false);
      window.ObservePrediction("sex", group, 0.25, false);
    }
  }
  ASSERT_OK_AND_ASSIGN(
      PerformanceEstimateMetrics metrics,
      window.Estimate(&reference, {.method = CalibrationMethod::kHistogram,
                                   .min_group_reference = 500}));
  const PerformanceEstimate& f = metrics.groups.at("sex").at("f");
  const PerformanceEstimate& m = metrics.groups.at("sex").at("m");
  EXPECT_TRUE(f.own_calibration);
  EXPECT_FALSE(m.own_calibration);
  EXPECT_NEAR(f.estimated.accuracy->value, 0.9, 1e-12);
  EXPECT_NEAR(m.estimated.accuracy->value, 1 - 55.0 / 350, 1e-12);
  EXPECT_NEAR(metrics.model.estimated.accuracy->value, 1 - 55.0 / 350, 1e-12);
  // Precision is undefined without a positive decision.
  EXPECT_FALSE(f.estimated.precision.has_value());
}

TEST(PerformanceEstimateMonitorTest, GroupsPastMaxGroupsOverflow) {
  Monitor m = Make(4, /*max_groups=*/2);
  for (const char* g : {"a", "b", "c", "d"})
    m.ObservePrediction("k", g, 0.5, 1);
  ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics metrics,
                       m.Estimate(nullptr, {}));
  const auto& groups = metrics.groups.at("k");
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups.at(std::string(Monitor::kOverflowGroup)).predictions, 2u);
}

// A stream of scored predictions with groups and outcomes, the same for a
// seed.
struct Event {
  double score;
  bool decision;
  bool outcome;
  std::string group;
};

// The true P(positive | score): the model is overconfident below 0.5 and
// under-confident above, a smooth miscalibration CBPE must undo.
double TrueProbability(double s) { return s * s * (3 - 2 * s); }

// Scores uniform on [center - spread, center + spread]; decision s >= 0.5.
std::vector<Event> Stream(uint64_t seed, int n, double center, double spread) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    const double s = center + spread * (2 * u(rng) - 1);
    events.push_back(
        {s, s >= 0.5, u(rng) < TrueProbability(s), u(rng) < 0.4 ? "f" : "m"});
  }
  return events;
}

void ObserveAll(Monitor& m, const std::vector<Event>& events, bool predictions,
                bool joined) {
  for (const Event& e : events) {
    if (predictions) {
      m.ObservePrediction(e.score, e.decision);
      m.ObservePrediction("sex", e.group, e.score, e.decision);
    }
    if (joined) {
      m.ObserveJoined(e.score, e.decision, e.outcome);
      m.ObserveJoined("sex", e.group, e.score, e.decision, e.outcome);
    }
  }
}

TEST(PerformanceEstimateMonitorTest, MergeOfSplitStreamEqualsWholeStream) {
  const std::vector<Event> events = Stream(11, 5000, 0.5, 0.5);
  Monitor whole = Make(20), low = Make(20), high = Make(20);
  ObserveAll(whole, events, true, true);
  std::vector<Event> a, b;
  for (const Event& e : events) (e.score < 0.3 ? a : b).push_back(e);
  ObserveAll(low, a, true, true);
  ObserveAll(high, b, true, true);
  ASSERT_OK(low.Merge(high));
  EXPECT_EQ(low.Serialize(), whole.Serialize());
  // With an empty monitor: the identity, either way.
  Monitor empty = Make(20);
  ASSERT_OK(low.Merge(empty));
  EXPECT_EQ(low.Serialize(), whole.Serialize());
  ASSERT_OK(empty.Merge(whole));
  EXPECT_EQ(empty.Serialize(), whole.Serialize());
  // With itself: every count doubles.
  Monitor twice = whole;
  ASSERT_OK(twice.Merge(twice));
  ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics m2,
                       twice.Estimate(nullptr, {}));
  EXPECT_EQ(m2.model.predictions, 10000u);
}

TEST(PerformanceEstimateMonitorTest, IncompatibleMergeFailsAndChangesNothing) {
  Monitor m = Make(20);
  ObserveAll(m, Stream(1, 100, 0.5, 0.5), true, true);
  const std::string before = m.Serialize();
  Monitor other = Make(10);
  ObserveAll(other, Stream(2, 100, 0.5, 0.5), true, true);
  EXPECT_EQ(m.Merge(other).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Serialize(), before);
  EXPECT_EQ(m.Merge(Make(20, 5)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Estimate(&other, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PerformanceEstimateMonitorTest, SerializeRoundTrips) {
  Monitor m = Make(20, 7);
  ObserveAll(m, Stream(5, 2000, 0.5, 0.5), true, true);
  m.ObservePrediction(std::nan(""), true);
  ASSERT_OK_AND_ASSIGN(Monitor back, Monitor::Deserialize(m.Serialize()));
  EXPECT_EQ(back.Serialize(), m.Serialize());
  EXPECT_EQ(back.options(), m.options());
}

TEST(PerformanceEstimateMonitorTest, HostileStateIsDataLoss) {
  Monitor m = Make(4);
  ObserveAll(m, Stream(5, 50, 0.5, 0.5), true, true);
  const std::string bytes = m.Serialize();
  for (const std::string& s : testutil::EachBitFlipped(bytes)) {
    (void)Monitor::Deserialize(s);  // Never crashes; may parse.
  }
  for (const std::string& s : testutil::RandomByteStrings(9, 200, 64)) {
    (void)Monitor::Deserialize(s);
  }
  EXPECT_EQ(
      Monitor::Deserialize(bytes.substr(0, bytes.size() / 2)).status().code(),
      absl::StatusCode::kDataLoss);
  state::v1::PerformanceEstimateState state;
  m.ToProto(&state);
  state::v1::PerformanceEstimateState bad = state;
  bad.mutable_model()->set_true_positives(state.model().true_positives() + 1);
  EXPECT_EQ(Monitor::FromProto(bad).status().code(),
            absl::StatusCode::kDataLoss);
  bad = state;
  bad.mutable_model()->mutable_labelled()->RemoveLast();
  EXPECT_EQ(Monitor::FromProto(bad).status().code(),
            absl::StatusCode::kDataLoss);
  bad = state;
  bad.set_num_bins(1);
  EXPECT_EQ(Monitor::FromProto(bad).status().code(),
            absl::StatusCode::kDataLoss);
  bad = state;
  bad.mutable_model()->set_labelled_positives(0, 1000);
  EXPECT_EQ(Monitor::FromProto(bad).status().code(),
            absl::StatusCode::kDataLoss);
  bad = state;
  bad.set_version(2);
  EXPECT_EQ(Monitor::FromProto(bad).status().code(),
            absl::StatusCode::kDataLoss);
}

// The scenario: the reference period's scores spread over [0, 1];
// then they crowd toward the threshold, so the classifier becomes less
// sure and its accuracy drops; the estimate, made before any outcome
// arrives, says so, and once outcomes arrive the realised values fall
// within its stated 95% interval.
TEST(PerformanceEstimateMonitorTest, EstimatesADropBeforeLabelsArrive) {
  constexpr int kBins = 50;
  Monitor reference = Make(kBins);
  const std::vector<Event> before = Stream(21, 50000, 0.5, 0.5);
  ObserveAll(reference, before, true, true);
  ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics ref,
                       reference.Estimate(nullptr, {}));
  const double reference_accuracy = ref.model.realised.accuracy->value;

  const std::vector<Event> after = Stream(22, 5000, 0.55, 0.25);
  Monitor window = Make(kBins);
  ObserveAll(window, after, /*predictions=*/true, /*joined=*/false);
  for (CalibrationMethod method :
       {CalibrationMethod::kIsotonic, CalibrationMethod::kHistogram}) {
    SCOPED_TRACE(std::string(CalibrationMethodName(method)));
    ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics early,
                         window.Estimate(&reference, {.method = method}));
    EXPECT_EQ(early.model.labelled, 0u);
    ASSERT_TRUE(early.model.estimated.accuracy.has_value());
    // The drop is seen with no label: more than 0.1 below the reference,
    // beyond the estimate's upper 99% bound.
    EXPECT_LT(early.model.estimated.accuracy->value, reference_accuracy - 0.1);
    EXPECT_LT(early.model.estimated.accuracy->UpperBound(0.99),
              reference_accuracy);
  }

  // The outcomes arrive: the realised accuracy of the same predictions lies
  // within the estimate's 95% interval; and with 12 checks (4 metrics, the
  // model and 2 groups), each realised value within 2.58 standard errors
  // (the 99% interval), so that one seed is not a lottery at 95%.
  ObserveAll(window, after, /*predictions=*/false, /*joined=*/true);
  ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics late,
                       window.Estimate(&reference, {}));
  EXPECT_GE(late.model.realised.accuracy->value,
            late.model.estimated.accuracy->interval95.lower);
  EXPECT_LE(late.model.realised.accuracy->value,
            late.model.estimated.accuracy->interval95.upper);
  std::vector<std::pair<std::string, const PerformanceEstimate*>> scopes = {
      {"model", &late.model}};
  for (const auto& [group, e] : late.groups.at("sex")) {
    scopes.emplace_back(group, &e);
  }
  for (const auto& [name, e] : scopes) {
    SCOPED_TRACE(name);
    EXPECT_EQ(e->labelled, e->predictions);
    const auto check = [](const std::optional<PerformanceValue>& est,
                          const std::optional<PerformanceValue>& real) {
      ASSERT_TRUE(est.has_value() && real.has_value());
      EXPECT_GT(est->standard_error, 0);
      EXPECT_LE(std::abs(real->value - est->value),
                2.5758293035489 * est->standard_error)
          << "estimated " << est->value << " realised " << real->value;
    };
    check(e->estimated.accuracy, e->realised.accuracy);
    check(e->estimated.precision, e->realised.precision);
    check(e->estimated.recall, e->realised.recall);
    check(e->estimated.f1, e->realised.f1);
  }
}

// The stated uncertainty is honest: over many seeded windows after the
// shift, each with its own reference, the 95% intervals cover the realised
// value about 95% of the time (a binomial 99.9% band around 0.95 for 400
// windows is [0.91, 0.98]).
TEST(PerformanceEstimateMonitorTest, IntervalsCoverTheRealisedValues) {
  constexpr int kWindows = 400;
  int covered_accuracy = 0, covered_recall = 0, covered_f1 = 0;
  for (int w = 0; w < kWindows; ++w) {
    Monitor reference = Make(20), window = Make(20);
    ObserveAll(reference, Stream(1000 + w, 5000, 0.5, 0.5), true, true);
    ObserveAll(window, Stream(5000 + w, 1000, 0.55, 0.25), true, true);
    ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics m,
                         window.Estimate(&reference, {}));
    const auto covers = [](const std::optional<PerformanceValue>& est,
                           const std::optional<PerformanceValue>& real) {
      return real->value >= est->interval95.lower &&
             real->value <= est->interval95.upper;
    };
    covered_accuracy +=
        covers(m.model.estimated.accuracy, m.model.realised.accuracy) ? 1 : 0;
    covered_recall +=
        covers(m.model.estimated.recall, m.model.realised.recall) ? 1 : 0;
    covered_f1 += covers(m.model.estimated.f1, m.model.realised.f1) ? 1 : 0;
  }
  for (int covered : {covered_accuracy, covered_recall, covered_f1}) {
    EXPECT_GE(covered, 0.91 * kWindows);
    EXPECT_LE(covered, 0.98 * kWindows);
  }
}

}  // namespace
}  // namespace vigie::monitors
