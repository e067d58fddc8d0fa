#include "monitors/fairness.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::monitors {
namespace {

// Observes `n` predictions of `group` with `decision`, and as many joined
// outcomes with `label`.
void ObserveJoined(FairnessMonitor& monitor, const std::string& group,
                   bool decision, bool label, int n) {
  for (int i = 0; i < n; ++i) {
    monitor.ObservePrediction(group, decision);
    monitor.ObserveOutcome(group, decision, label);
  }
}

// Adds a group's confusion counts: TP, FP, TN, FN joined pairs.
void ObserveConfusion(FairnessMonitor& monitor, const std::string& group,
                      int tp, int fp, int tn, int fn) {
  ObserveJoined(monitor, group, true, true, tp);
  ObserveJoined(monitor, group, true, false, fp);
  ObserveJoined(monitor, group, false, false, tn);
  ObserveJoined(monitor, group, false, true, fn);
}

void ExpectSameGap(const GapValue& a, const GapValue& b) {
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.high_group, b.high_group);
  EXPECT_EQ(a.low_group, b.low_group);
  ASSERT_EQ(a.test.has_value(), b.test.has_value());
  if (a.test.has_value()) {
    EXPECT_EQ(a.test->test, b.test->test);
    EXPECT_EQ(a.test->p_value, b.test->p_value);
    EXPECT_EQ(a.test->difference_interval.lower,
              b.test->difference_interval.lower);
    EXPECT_EQ(a.test->difference_interval.upper,
              b.test->difference_interval.upper);
  }
}

void ExpectSameCriterion(const CriterionGaps& a, const CriterionGaps& b) {
  ExpectSameGap(a.difference, b.difference);
  ExpectSameGap(a.ratio, b.ratio);
  ASSERT_EQ(a.by_group.size(), b.by_group.size());
  for (size_t i = 0; i < a.by_group.size(); ++i) {
    EXPECT_EQ(a.by_group[i].group, b.by_group[i].group);
    EXPECT_EQ(a.by_group[i].difference_to_overall,
              b.by_group[i].difference_to_overall);
    EXPECT_EQ(a.by_group[i].ratio_to_reference,
              b.by_group[i].ratio_to_reference);
  }
}

// Every rate of GroupRates with its interval, to loop over.
struct RateField {
  const char* name;
  std::optional<double> GroupRates::*rate;
  std::optional<Interval> RateIntervals::*interval;
};
constexpr RateField kRates[] = {
    {"selection", &GroupRates::selection_rate, &RateIntervals::selection_rate},
    {"base", &GroupRates::base_rate, &RateIntervals::base_rate},
    {"TPR", &GroupRates::true_positive_rate,
     &RateIntervals::true_positive_rate},
    {"FPR", &GroupRates::false_positive_rate,
     &RateIntervals::false_positive_rate},
    {"TNR", &GroupRates::true_negative_rate,
     &RateIntervals::true_negative_rate},
    {"FNR", &GroupRates::false_negative_rate,
     &RateIntervals::false_negative_rate},
    {"PPV", &GroupRates::precision, &RateIntervals::precision},
    {"NPV", &GroupRates::negative_predictive_value,
     &RateIntervals::negative_predictive_value},
    {"FDR", &GroupRates::false_discovery_rate,
     &RateIntervals::false_discovery_rate},
    {"FOR", &GroupRates::false_omission_rate,
     &RateIntervals::false_omission_rate},
    {"accuracy", &GroupRates::accuracy, &RateIntervals::accuracy},
};

void ExpectSameGroup(const GroupRates& x, const GroupRates& y) {
  SCOPED_TRACE(x.group);
  EXPECT_EQ(x.group, y.group);
  EXPECT_EQ(x.predictions, y.predictions);
  EXPECT_EQ(x.selected, y.selected);
  EXPECT_EQ(x.true_positives, y.true_positives);
  EXPECT_EQ(x.false_positives, y.false_positives);
  EXPECT_EQ(x.true_negatives, y.true_negatives);
  EXPECT_EQ(x.false_negatives, y.false_negatives);
  for (const RateField& f : kRates) {
    SCOPED_TRACE(f.name);
    EXPECT_EQ(x.*f.rate, y.*f.rate);
    ASSERT_EQ((x.intervals.*f.interval).has_value(),
              (y.intervals.*f.interval).has_value());
    if ((x.intervals.*f.interval).has_value()) {
      EXPECT_EQ((x.intervals.*f.interval)->lower,
                (y.intervals.*f.interval)->lower);
      EXPECT_EQ((x.intervals.*f.interval)->upper,
                (y.intervals.*f.interval)->upper);
    }
  }
  EXPECT_EQ(x.included_in_gaps, y.included_in_gaps);
}

void ExpectSameMetrics(const FairnessMetrics& a, const FairnessMetrics& b) {
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (size_t i = 0; i < a.groups.size(); ++i) {
    ExpectSameGroup(a.groups[i], b.groups[i]);
  }
  ExpectSameGroup(a.overall, b.overall);
  const FairnessGaps& x = a.gaps;
  const FairnessGaps& y = b.gaps;
  ExpectSameGap(x.demographic_parity_difference,
                y.demographic_parity_difference);
  ExpectSameGap(x.demographic_parity_ratio, y.demographic_parity_ratio);
  ExpectSameGap(x.true_positive_rate_difference,
                y.true_positive_rate_difference);
  ExpectSameGap(x.false_positive_rate_difference,
                y.false_positive_rate_difference);
  ExpectSameGap(x.equalized_odds_difference, y.equalized_odds_difference);
  EXPECT_EQ(x.reference_group, y.reference_group);
  ExpectSameCriterion(x.demographic_parity, y.demographic_parity);
  ExpectSameCriterion(x.equal_opportunity, y.equal_opportunity);
  ExpectSameCriterion(x.false_positive_parity, y.false_positive_parity);
  ExpectSameCriterion(x.predictive_parity, y.predictive_parity);
  ExpectSameCriterion(x.equalized_odds, y.equalized_odds);
}

void ExpectNoGaps(const FairnessGaps& gaps) {
  EXPECT_FALSE(gaps.demographic_parity_difference.value.has_value());
  EXPECT_FALSE(gaps.demographic_parity_ratio.value.has_value());
  EXPECT_FALSE(gaps.true_positive_rate_difference.value.has_value());
  EXPECT_FALSE(gaps.false_positive_rate_difference.value.has_value());
  EXPECT_FALSE(gaps.equalized_odds_difference.value.has_value());
  for (const CriterionGaps* c :
       {&gaps.demographic_parity, &gaps.equal_opportunity,
        &gaps.false_positive_parity, &gaps.predictive_parity,
        &gaps.equalized_odds}) {
    EXPECT_FALSE(c->difference.value.has_value());
    EXPECT_FALSE(c->difference.test.has_value());
    EXPECT_FALSE(c->ratio.value.has_value());
  }
}

// A deterministic stream of joined and unjoined events over five groups.
struct Event {
  std::string group;
  bool decision;
  bool joined;
  bool label;
};
std::vector<Event> RandomStream(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    const uint64_t r = rng();
    events.push_back({std::string(1, static_cast<char>('a' + r % 5)),
                      (r >> 8) % 3 == 0, (r >> 16) % 4 != 0,
                      (r >> 24) % 2 == 0});
  }
  return events;
}

void Observe(FairnessMonitor& monitor, const Event& e) {
  monitor.ObservePrediction(e.group, e.decision);
  if (e.joined) monitor.ObserveOutcome(e.group, e.decision, e.label);
}

TEST(FairnessMonitorTest, CreateChecksOptions) {
  EXPECT_EQ(FairnessMonitor::Create({.max_groups = 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FairnessMonitor::Create({.max_groups = 100001}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_OK(FairnessMonitor::Create({.max_groups = 2}));
  EXPECT_OK(FairnessMonitor::Create({.max_groups = 100000}));
}

TEST(FairnessMonitorTest, EmptyMonitorHasNoRatesOrGaps) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  const FairnessMetrics metrics = monitor.Snapshot();
  EXPECT_TRUE(metrics.groups.empty());
  ExpectNoGaps(metrics.gaps);
}

TEST(FairnessMonitorTest, OneObservation) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  monitor.ObservePrediction("a", true);
  const FairnessMetrics metrics = monitor.Snapshot();
  ASSERT_EQ(metrics.groups.size(), 1u);
  const GroupRates& a = metrics.groups[0];
  EXPECT_EQ(a.group, "a");
  EXPECT_EQ(a.predictions, 1u);
  EXPECT_EQ(a.selected, 1u);
  EXPECT_EQ(a.labeled(), 0u);
  EXPECT_EQ(a.selection_rate, 1.0);
  EXPECT_FALSE(a.true_positive_rate.has_value());
  EXPECT_FALSE(a.false_positive_rate.has_value());
  EXPECT_FALSE(a.false_negative_rate.has_value());
  EXPECT_FALSE(a.precision.has_value());
  EXPECT_TRUE(a.included_in_gaps);
  ExpectNoGaps(metrics.gaps);  // One group: nothing to compare.
}

TEST(FairnessMonitorTest, EmptyGroupLabelIsIgnored) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  monitor.ObservePrediction("", true);
  monitor.ObserveOutcome("", true, true);
  EXPECT_TRUE(monitor.Snapshot().groups.empty());
}

TEST(FairnessMonitorTest, HandWorkedThreeGroups) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  // First seen in the order c, a, b; the snapshot sorts them.
  ObserveConfusion(monitor, "c", /*tp=*/2, /*fp=*/1, /*tn=*/1, /*fn=*/1);
  ObserveConfusion(monitor, "a", /*tp=*/4, /*fp=*/2, /*tn=*/3, /*fn=*/1);
  ObserveConfusion(monitor, "b", /*tp=*/1, /*fp=*/1, /*tn=*/4, /*fn=*/2);
  // Three predictions of b whose outcomes have not arrived yet.
  for (int i = 0; i < 3; ++i) monitor.ObservePrediction("b", false);

  const FairnessMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), 3u);
  const GroupRates& a = m.groups[0];
  const GroupRates& b = m.groups[1];
  const GroupRates& c = m.groups[2];
  EXPECT_EQ(a.group, "a");
  EXPECT_EQ(b.group, "b");
  EXPECT_EQ(c.group, "c");

  // a: 10 predictions, 6 selected; TP 4, FP 2, TN 3, FN 1.
  EXPECT_EQ(a.predictions, 10u);
  EXPECT_EQ(a.selected, 6u);
  EXPECT_DOUBLE_EQ(*a.selection_rate, 0.6);
  EXPECT_DOUBLE_EQ(*a.true_positive_rate, 0.8);   // 4 / 5
  EXPECT_DOUBLE_EQ(*a.false_positive_rate, 0.4);  // 2 / 5
  EXPECT_DOUBLE_EQ(*a.false_negative_rate, 0.2);  // 1 / 5
  EXPECT_DOUBLE_EQ(*a.precision, 4.0 / 6);
  // b: 8 + 3 = 11 predictions, 2 selected; TP 1, FP 1, TN 4, FN 2.
  EXPECT_EQ(b.predictions, 11u);
  EXPECT_EQ(b.labeled(), 8u);
  EXPECT_DOUBLE_EQ(*b.selection_rate, 2.0 / 11);
  EXPECT_DOUBLE_EQ(*b.true_positive_rate, 1.0 / 3);
  EXPECT_DOUBLE_EQ(*b.false_positive_rate, 0.2);  // 1 / 5
  EXPECT_DOUBLE_EQ(*b.false_negative_rate, 2.0 / 3);
  EXPECT_DOUBLE_EQ(*b.precision, 0.5);
  // c: 5 predictions, 3 selected; TP 2, FP 1, TN 1, FN 1.
  EXPECT_DOUBLE_EQ(*c.selection_rate, 0.6);
  EXPECT_DOUBLE_EQ(*c.true_positive_rate, 2.0 / 3);
  EXPECT_DOUBLE_EQ(*c.false_positive_rate, 0.5);
  EXPECT_DOUBLE_EQ(*c.false_negative_rate, 1.0 / 3);
  EXPECT_DOUBLE_EQ(*c.precision, 2.0 / 3);

  const FairnessGaps& g = m.gaps;
  // Selection: a 0.6 and c 0.6 tie for highest; a comes first.
  EXPECT_DOUBLE_EQ(*g.demographic_parity_difference.value, 0.6 - 2.0 / 11);
  EXPECT_EQ(g.demographic_parity_difference.high_group, "a");
  EXPECT_EQ(g.demographic_parity_difference.low_group, "b");
  EXPECT_DOUBLE_EQ(*g.demographic_parity_ratio.value, (2.0 / 11) / 0.6);
  EXPECT_EQ(g.demographic_parity_ratio.high_group, "a");
  EXPECT_EQ(g.demographic_parity_ratio.low_group, "b");
  EXPECT_DOUBLE_EQ(*g.true_positive_rate_difference.value, 0.8 - 1.0 / 3);
  EXPECT_EQ(g.true_positive_rate_difference.high_group, "a");
  EXPECT_EQ(g.true_positive_rate_difference.low_group, "b");
  EXPECT_DOUBLE_EQ(*g.false_positive_rate_difference.value, 0.5 - 0.2);
  EXPECT_EQ(g.false_positive_rate_difference.high_group, "c");
  EXPECT_EQ(g.false_positive_rate_difference.low_group, "b");
  // max(0.4667, 0.3): the TPR gap.
  EXPECT_DOUBLE_EQ(*g.equalized_odds_difference.value, 0.8 - 1.0 / 3);
  EXPECT_EQ(g.equalized_odds_difference.high_group, "a");
  EXPECT_EQ(g.equalized_odds_difference.low_group, "b");
}

TEST(FairnessMonitorTest, RateAbsentWhenDenominatorIsZero) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveJoined(monitor, "pos", /*decision=*/false, /*label=*/true, 3);
  ObserveJoined(monitor, "neg", /*decision=*/false, /*label=*/false, 2);
  const FairnessMetrics m = monitor.Snapshot();
  const GroupRates& neg = m.groups[0];
  const GroupRates& pos = m.groups[1];
  // pos: only positives (FN 3), no decision 1.
  EXPECT_DOUBLE_EQ(*pos.true_positive_rate, 0);
  EXPECT_DOUBLE_EQ(*pos.false_negative_rate, 1);
  EXPECT_FALSE(pos.false_positive_rate.has_value());
  EXPECT_FALSE(pos.precision.has_value());
  // neg: only negatives (TN 2).
  EXPECT_FALSE(neg.true_positive_rate.has_value());
  EXPECT_FALSE(neg.false_negative_rate.has_value());
  EXPECT_DOUBLE_EQ(*neg.false_positive_rate, 0);
  // Each of TPR and FPR is defined in one group only: no gap, and so no
  // equalized odds; selection rates (both 0) give a difference but no ratio.
  EXPECT_FALSE(m.gaps.true_positive_rate_difference.value.has_value());
  EXPECT_FALSE(m.gaps.false_positive_rate_difference.value.has_value());
  EXPECT_FALSE(m.gaps.equalized_odds_difference.value.has_value());
  EXPECT_EQ(m.gaps.demographic_parity_difference.value, 0.0);
  EXPECT_FALSE(m.gaps.demographic_parity_ratio.value.has_value());
}

TEST(FairnessMonitorTest, MinGroupSizeLeavesSmallGroupsOutOfGaps) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor,
                       FairnessMonitor::Create({.min_group_size = 5}));
  ObserveJoined(monitor, "big", true, true, 5);     // Selection 1.
  ObserveJoined(monitor, "small", false, true, 4);  // Selection 0.
  ObserveJoined(monitor, "mid", true, false, 3);
  ObserveJoined(monitor, "mid", false, false, 3);  // Selection 0.5.
  const FairnessMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), 3u);
  EXPECT_TRUE(m.groups[0].included_in_gaps);         // big: 5 predictions.
  EXPECT_TRUE(m.groups[1].included_in_gaps);         // mid: 6.
  EXPECT_FALSE(m.groups[2].included_in_gaps);        // small: 4.
  EXPECT_DOUBLE_EQ(*m.groups[2].selection_rate, 0);  // Still reported.
  EXPECT_DOUBLE_EQ(*m.gaps.demographic_parity_difference.value, 0.5);
  EXPECT_EQ(m.gaps.demographic_parity_difference.low_group, "mid");
  EXPECT_DOUBLE_EQ(*m.gaps.demographic_parity_ratio.value, 0.5);
}

TEST(FairnessMonitorTest, GroupsPastMaxGroupsShareTheOverflowGroup) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor,
                       FairnessMonitor::Create({.max_groups = 2}));
  monitor.ObservePrediction("a", true);
  monitor.ObservePrediction("b", true);
  monitor.ObservePrediction("c", true);
  monitor.ObservePrediction("d", false);
  monitor.ObserveOutcome("d", false, true);
  monitor.ObservePrediction("a", false);
  const FairnessMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), 3u);
  EXPECT_EQ(m.groups[0].group, FairnessMonitor::kOverflowGroup);
  EXPECT_EQ(m.groups[0].predictions, 2u);
  EXPECT_EQ(m.groups[0].selected, 1u);
  EXPECT_EQ(m.groups[0].false_negatives, 1u);
  EXPECT_EQ(m.groups[1].group, "a");
  EXPECT_EQ(m.groups[1].predictions, 2u);
  state::v1::FairnessState state;
  monitor.ToProto(&state);
  EXPECT_EQ(state.overflowed(), 3u);  // c, d, and d's outcome.
}

TEST(FairnessMonitorTest, MergeOfSplitStreamEqualsWholeStream) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor whole, FairnessMonitor::Create({}));
  FairnessMonitor first = whole;
  FairnessMonitor second = whole;
  std::mt19937_64 split(11);
  for (const Event& e : RandomStream(/*seed=*/7, /*n=*/10000)) {
    Observe(whole, e);
    Observe(split() % 2 == 0 ? first : second, e);
  }
  ASSERT_OK(first.Merge(second));
  ExpectSameMetrics(first.Snapshot(), whole.Snapshot());
}

TEST(FairnessMonitorTest, MergeWithEmptyIsIdentity) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor empty, FairnessMonitor::Create({}));
  FairnessMonitor full = empty;
  for (const Event& e : RandomStream(/*seed=*/3, /*n=*/500)) Observe(full, e);
  const std::string before = full.Serialize();
  ASSERT_OK(full.Merge(empty));
  EXPECT_EQ(full.Serialize(), before);
  FairnessMonitor other = empty;
  ASSERT_OK(other.Merge(full));
  EXPECT_EQ(other.Serialize(), before);
}

TEST(FairnessMonitorTest, MergeWithItselfDoublesCounts) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveConfusion(monitor, "a", 1, 2, 3, 4);
  ASSERT_OK(monitor.Merge(monitor));
  const GroupRates a = monitor.Snapshot().groups.at(0);
  EXPECT_EQ(a.predictions, 20u);
  EXPECT_EQ(a.true_positives, 2u);
  EXPECT_EQ(a.false_negatives, 8u);
}

TEST(FairnessMonitorTest, MergeWithOtherOptionsFailsAndChangesNothing) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ASSERT_OK_AND_ASSIGN(FairnessMonitor other,
                       FairnessMonitor::Create({.min_group_size = 10}));
  ObserveConfusion(monitor, "a", 1, 2, 3, 4);
  ObserveConfusion(other, "b", 1, 1, 1, 1);
  const std::string before = monitor.Serialize();
  EXPECT_EQ(monitor.Merge(other).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(monitor.Serialize(), before);
}

TEST(FairnessMonitorTest, MergeRoutesNewGroupsPastMaxGroupsToOverflow) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor,
                       FairnessMonitor::Create({.max_groups = 2}));
  FairnessMonitor other = monitor;
  ObserveJoined(monitor, "a", true, true, 1);
  ObserveJoined(monitor, "b", true, true, 1);
  ObserveJoined(other, "c", false, false, 2);
  ObserveJoined(other, "a", false, false, 1);
  ASSERT_OK(monitor.Merge(other));
  const FairnessMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), 3u);
  EXPECT_EQ(m.groups[0].group, FairnessMonitor::kOverflowGroup);
  EXPECT_EQ(m.groups[0].predictions, 2u);
  EXPECT_EQ(m.groups[0].true_negatives, 2u);
  EXPECT_EQ(m.groups[1].predictions, 2u);  // a
  state::v1::FairnessState state;
  monitor.ToProto(&state);
  EXPECT_EQ(state.overflowed(), 4u);  // c's 2 predictions and 2 outcomes.
  EXPECT_OK(FairnessMonitor::Deserialize(monitor.Serialize()));
}

TEST(FairnessMonitorTest, SerializeRoundTrip) {
  ASSERT_OK_AND_ASSIGN(
      FairnessMonitor monitor,
      FairnessMonitor::Create({.max_groups = 3, .min_group_size = 7}));
  for (const Event& e : RandomStream(/*seed=*/5, /*n=*/300)) {
    Observe(monitor, e);
  }
  const std::string bytes = monitor.Serialize();
  ASSERT_OK_AND_ASSIGN(FairnessMonitor copy,
                       FairnessMonitor::Deserialize(bytes));
  EXPECT_EQ(copy.options().max_groups, 3u);
  EXPECT_EQ(copy.options().min_group_size, 7u);
  ExpectSameMetrics(copy.Snapshot(), monitor.Snapshot());
  EXPECT_EQ(copy.Serialize(), bytes);
  // The copy keeps routing as the original: same groups, same overflow.
  Observe(copy, {"z", true, true, true});
  Observe(monitor, {"z", true, true, true});
  EXPECT_EQ(copy.Serialize(), monitor.Serialize());
}

// Each input either fails with kDataLoss or yields a monitor that works.
void ExpectDataLossOrValid(const std::string& bytes) {
  absl::StatusOr<FairnessMonitor> monitor = FairnessMonitor::Deserialize(bytes);
  if (!monitor.ok()) {
    EXPECT_EQ(monitor.status().code(), absl::StatusCode::kDataLoss);
    return;
  }
  const FairnessMetrics metrics = monitor->Snapshot();
  for (const GroupRates& g : metrics.groups) {
    EXPECT_LE(g.selected, g.predictions);
    EXPECT_FALSE(g.group.empty());
  }
  monitor->ObservePrediction("new", true);
  EXPECT_OK(FairnessMonitor::Deserialize(monitor->Serialize()));
}

TEST(FairnessMonitorTest, TruncatedBytesNeverCrash) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor,
                       FairnessMonitor::Create({.max_groups = 3}));
  for (const Event& e : RandomStream(/*seed=*/9, /*n=*/200)) {
    Observe(monitor, e);
  }
  const std::string bytes = monitor.Serialize();
  ASSERT_GT(bytes.size(), 20u);
  int errors = 0;
  for (size_t length = 0; length < bytes.size(); ++length) {
    SCOPED_TRACE(length);
    ExpectDataLossOrValid(bytes.substr(0, length));
    errors +=
        FairnessMonitor::Deserialize(bytes.substr(0, length)).ok() ? 0 : 1;
  }
  EXPECT_GT(errors, 0);
  EXPECT_EQ(FairnessMonitor::Deserialize("").status().code(),
            absl::StatusCode::kDataLoss);  // Version 0.
}

TEST(FairnessMonitorTest, GarbageBytesNeverCrash) {
  int i = 0;
  for (const std::string& bytes :
       testutil::RandomByteStrings(/*seed=*/1234, 2000, 64)) {
    SCOPED_TRACE(i++);
    ExpectDataLossOrValid(bytes);
  }
  // Bit flips of a real state.
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveConfusion(monitor, "a", 1, 2, 3, 4);
  ObserveConfusion(monitor, "b", 4, 3, 2, 1);
  const std::string bytes = monitor.Serialize();
  size_t bit = 0;
  for (const std::string& flipped : testutil::EachBitFlipped(bytes)) {
    SCOPED_TRACE(bit++);
    ExpectDataLossOrValid(flipped);
  }
}

// A valid state to corrupt one field at a time.
state::v1::FairnessState ValidState() {
  state::v1::FairnessState state;
  state.set_version(1);
  state.set_max_groups(2);
  state::v1::GroupCountsState* a = state.add_groups();
  a->set_group("a");
  a->set_predictions(3);
  a->set_selected(2);
  state::v1::GroupCountsState* b = state.add_groups();
  b->set_group("b");
  b->set_predictions(1);
  return state;
}

TEST(FairnessMonitorTest, DeserializeRejectsInconsistentState) {
  ASSERT_OK(FairnessMonitor::Deserialize(ValidState().SerializeAsString()));
  std::vector<state::v1::FairnessState> bad(7, ValidState());
  bad[0].set_version(2);
  bad[1].set_max_groups(1);
  bad[2].mutable_groups(1)->set_group("a");   // Duplicate.
  bad[3].mutable_groups(1)->set_group("");    // Empty label.
  bad[4].mutable_groups(0)->set_selected(4);  // Selected > predictions.
  bad[5].add_groups()->set_group("c");        // Past max_groups.
  bad[6].set_overflowed(1);                   // No overflow group.
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(FairnessMonitor::Deserialize(bad[i].SerializeAsString())
                  .status()
                  .code(),
              absl::StatusCode::kDataLoss);
  }
  // Labelled counts beyond predictions are allowed: outcomes may join in
  // a pane other than their prediction's.
  state::v1::FairnessState joined = ValidState();
  joined.mutable_groups(1)->set_true_positives(5);
  joined.add_groups()->set_group(std::string(FairnessMonitor::kOverflowGroup));
  joined.set_overflowed(1);
  EXPECT_OK(FairnessMonitor::Deserialize(joined.SerializeAsString()));
}

GroupRates Rates(std::string group, std::optional<double> selection,
                 std::optional<double> tpr, std::optional<double> fpr) {
  GroupRates g;
  g.group = std::move(group);
  g.selection_rate = selection;
  g.true_positive_rate = tpr;
  g.false_positive_rate = fpr;
  return g;
}

TEST(FairnessGapsTest, TiesGoToTheFirstGroup) {
  const std::vector<GroupRates> groups = {
      Rates("x", 0.5, 0.25, 0.125), Rates("y", 0.5, 0.75, 0.125),
      Rates("z", 0.5, 0.25, 0.625), Rates("w", 0.5, 0.75, 0.625)};
  const FairnessGaps gaps = ComputeGaps(groups);
  EXPECT_EQ(gaps.demographic_parity_difference.value, 0.0);
  EXPECT_EQ(gaps.demographic_parity_difference.high_group, "x");
  EXPECT_EQ(gaps.demographic_parity_difference.low_group, "x");
  EXPECT_EQ(gaps.demographic_parity_ratio.value, 1.0);
  EXPECT_EQ(gaps.true_positive_rate_difference.high_group, "y");
  EXPECT_EQ(gaps.true_positive_rate_difference.low_group, "x");
  EXPECT_EQ(gaps.false_positive_rate_difference.high_group, "z");
  EXPECT_EQ(gaps.false_positive_rate_difference.low_group, "x");
  // TPR and FPR gaps are both exactly 0.5: equalized odds takes the TPR
  // pair. (Binary fractions, so that the tie is exact in double.)
  EXPECT_EQ(gaps.equalized_odds_difference.value, 0.5);
  EXPECT_EQ(gaps.equalized_odds_difference.high_group, "y");
  EXPECT_EQ(gaps.equalized_odds_difference.low_group, "x");
}

TEST(FairnessGapsTest, SkipsUndefinedRatesAndPicksLargerGapForOdds) {
  const std::vector<GroupRates> groups = {Rates("x", 0.0, std::nullopt, 0.1),
                                          Rates("y", 0.0, 0.4, std::nullopt),
                                          Rates("z", std::nullopt, 0.5, 0.6)};
  const FairnessGaps gaps = ComputeGaps(groups);
  EXPECT_EQ(gaps.demographic_parity_difference.value, 0.0);
  EXPECT_FALSE(gaps.demographic_parity_ratio.value.has_value());  // max 0.
  EXPECT_DOUBLE_EQ(*gaps.true_positive_rate_difference.value, 0.1);
  EXPECT_DOUBLE_EQ(*gaps.false_positive_rate_difference.value, 0.5);
  EXPECT_DOUBLE_EQ(*gaps.equalized_odds_difference.value, 0.5);
  EXPECT_EQ(gaps.equalized_odds_difference.high_group, "z");
  EXPECT_EQ(gaps.equalized_odds_difference.low_group, "x");
  ExpectNoGaps(ComputeGaps({}));
  ExpectNoGaps(ComputeGaps({Rates("x", 0.5, 0.5, 0.5)}));
}

// ProPublica, "How We Analyzed the COMPAS Recidivism Algorithm" (2016):
// confusion counts of the two-year general recidivism score (high/medium
// risk as the positive decision), by race.
TEST(FairnessMonitorTest, CompasPublishedFigures) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveConfusion(monitor, "African-American", /*tp=*/1369, /*fp=*/805,
                   /*tn=*/990, /*fn=*/532);
  ObserveConfusion(monitor, "Caucasian", /*tp=*/505, /*fp=*/349,
                   /*tn=*/1139, /*fn=*/461);
  const FairnessMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), 2u);
  const GroupRates& black = m.groups[0];
  const GroupRates& white = m.groups[1];
  ASSERT_EQ(black.group, "African-American");
  EXPECT_NEAR(*black.false_positive_rate, 0.4485, 1e-4);
  EXPECT_NEAR(*white.false_positive_rate, 0.2345, 1e-4);
  EXPECT_NEAR(*black.false_negative_rate, 0.2799, 1e-4);
  EXPECT_NEAR(*white.false_negative_rate, 0.4772, 1e-4);

  const double fpr_gap = 805.0 / (805 + 990) - 349.0 / (349 + 1139);
  const double tpr_gap = 1369.0 / (1369 + 532) - 505.0 / (505 + 461);
  const double odds = std::max(std::abs(fpr_gap), std::abs(tpr_gap));
  EXPECT_NEAR(*m.gaps.equalized_odds_difference.value, odds, 1e-12);
  EXPECT_EQ(m.gaps.equalized_odds_difference.high_group, "African-American");
  EXPECT_EQ(m.gaps.equalized_odds_difference.low_group, "Caucasian");
}

// ---- Rates, intervals, gaps and tests recomputed from first principles ----

// Phi^-1(0.975).
constexpr double kZ = 1.959963984540054;

// Wilson's interval written out, independently of stats.cc:
// (x + z^2/2 -+ z sqrt(x (n - x) / n + z^2/4)) / (n + z^2).
Interval Wilson(double x, double n) {
  const double z2 = kZ * kZ;
  const double center = (x + z2 / 2) / (n + z2);
  const double half = kZ / (n + z2) * std::sqrt(x * (n - x) / n + z2 / 4);
  return {center - half, center + half};
}

// Newcombe's hybrid score interval of x1/n1 - x2/n2 from the two Wilson
// intervals (Newcombe 1998, method 10).
Interval Newcombe(double x1, double n1, double x2, double n2) {
  const double p1 = x1 / n1, p2 = x2 / n2, d = p1 - p2;
  const Interval w1 = Wilson(x1, n1), w2 = Wilson(x2, n2);
  return {d - std::hypot(p1 - w1.lower, w2.upper - p2),
          d + std::hypot(w1.upper - p1, p2 - w2.lower)};
}

// C(n, k), exact for the small n used here.
double Choose(int n, int k) {
  if (k < 0 || k > n) return 0;
  double c = 1;
  for (int i = 1; i <= k; ++i) c = c * (n - k + i) / i;
  return std::round(c);
}

// Fisher's two-sided p-value of [[a, b], [c, d]] by enumerating the
// hypergeometric: the tables at most as likely as the observed one.
double Fisher(int a, int b, int c, int d) {
  const int r1 = a + b, r2 = c + d, c1 = a + c;
  const double observed = Choose(r1, a) * Choose(r2, c);
  double sum = 0;
  for (int x = 0; x <= std::min(r1, c1); ++x) {
    const double term = Choose(r1, x) * Choose(r2, c1 - x);
    if (term <= observed) sum += term;
  }
  return sum / Choose(r1 + r2, c1);
}

// The smallest expected cell of [[x1, n1 - x1], [x2, n2 - x2]].
double MinExpected(double x1, double n1, double x2, double n2) {
  const double column = x1 + x2;
  return std::min(n1, n2) * std::min(column, n1 + n2 - column) / (n1 + n2);
}

// Pooled two-proportion z-test, two-sided.
double ZTestPValue(double x1, double n1, double x2, double n2) {
  const double pooled = (x1 + x2) / (n1 + n2);
  const double se = std::sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  return std::erfc(std::abs((x1 / n1 - x2 / n2) / se) / std::sqrt(2.0));
}

void ExpectRate(const GroupRates& g, const RateField& f, double x, double n) {
  SCOPED_TRACE(testing::Message()
               << g.group << " " << f.name << " " << x << "/" << n);
  ASSERT_TRUE((g.*f.rate).has_value());
  EXPECT_DOUBLE_EQ(*(g.*f.rate), x / n);
  ASSERT_TRUE((g.intervals.*f.interval).has_value());
  const Interval expected = Wilson(x, n);
  EXPECT_NEAR((g.intervals.*f.interval)->lower, expected.lower, 1e-12);
  EXPECT_NEAR((g.intervals.*f.interval)->upper, expected.upper, 1e-12);
}

// Numerator and denominator of each of kRates, in its order.
using Fractions = std::array<std::array<double, 2>, 11>;

void ExpectRates(const GroupRates& g, const Fractions& fractions) {
  for (size_t i = 0; i < fractions.size(); ++i) {
    ExpectRate(g, kRates[i], fractions[i][0], fractions[i][1]);
  }
}

// The test of a gap between x1/n1 (high) and x2/n2 (low), recomputed: the
// test chosen by the smallest expected cell, its p-value and the interval.
void ExpectTest(const GapValue& gap, double x1, double n1, double x2,
                double n2) {
  SCOPED_TRACE(testing::Message()
               << x1 << "/" << n1 << " vs " << x2 << "/" << n2);
  ASSERT_TRUE(gap.test.has_value());
  if (MinExpected(x1, n1, x2, n2) < 5) {
    EXPECT_EQ(gap.test->test, ProportionTest::kFisherExact);
    EXPECT_NEAR(gap.test->p_value,
                Fisher(static_cast<int>(x1), static_cast<int>(n1 - x1),
                       static_cast<int>(x2), static_cast<int>(n2 - x2)),
                1e-13);
  } else {
    EXPECT_EQ(gap.test->test, ProportionTest::kTwoProportionZ);
    const double p = ZTestPValue(x1, n1, x2, n2);
    EXPECT_NEAR(gap.test->p_value, p, 1e-12 + 1e-9 * p);
  }
  EXPECT_DOUBLE_EQ(gap.test->difference, x1 / n1 - x2 / n2);
  const Interval ci = Newcombe(x1, n1, x2, n2);
  EXPECT_NEAR(gap.test->difference_interval.lower, ci.lower, 1e-12);
  EXPECT_NEAR(gap.test->difference_interval.upper, ci.upper, 1e-12);
}

void ExpectGap(const GapValue& gap, double value, const std::string& high,
               const std::string& low) {
  ASSERT_TRUE(gap.value.has_value()) << high << " / " << low;
  EXPECT_DOUBLE_EQ(*gap.value, value);
  EXPECT_EQ(gap.high_group, high);
  EXPECT_EQ(gap.low_group, low);
}

// By group, in order: difference to the overall, ratio to the reference.
void ExpectByGroup(const CriterionGaps& c,
                   const std::vector<std::string>& groups,
                   const std::vector<std::optional<double>>& to_overall,
                   const std::vector<std::optional<double>>& to_reference) {
  ASSERT_EQ(c.by_group.size(), groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    SCOPED_TRACE(groups[i]);
    EXPECT_EQ(c.by_group[i].group, groups[i]);
    ASSERT_EQ(c.by_group[i].difference_to_overall.has_value(),
              to_overall[i].has_value());
    if (to_overall[i].has_value()) {
      EXPECT_NEAR(*c.by_group[i].difference_to_overall, *to_overall[i], 1e-15);
    }
    ASSERT_EQ(c.by_group[i].ratio_to_reference.has_value(),
              to_reference[i].has_value());
    if (to_reference[i].has_value()) {
      EXPECT_NEAR(*c.by_group[i].ratio_to_reference, *to_reference[i], 1e-14);
    }
  }
}

// The three groups of HandWorkedThreeGroups:
//   a: TP 4, FP 2, TN 3, FN 1; 10 predictions, 6 selected.
//   b: TP 1, FP 1, TN 4, FN 2, and 3 unlabelled decisions 0; 11
//      predictions, 2 selected.
//   c: TP 2, FP 1, TN 1, FN 1; 5 predictions, 3 selected.
// Overall: TP 7, FP 4, TN 8, FN 4; 26 predictions, 11 selected.
FairnessMonitor HandWorkedMonitor(const FairnessMonitor::Options& options) {
  FairnessMonitor monitor = *FairnessMonitor::Create(options);
  ObserveConfusion(monitor, "c", /*tp=*/2, /*fp=*/1, /*tn=*/1, /*fn=*/1);
  ObserveConfusion(monitor, "a", /*tp=*/4, /*fp=*/2, /*tn=*/3, /*fn=*/1);
  ObserveConfusion(monitor, "b", /*tp=*/1, /*fp=*/1, /*tn=*/4, /*fn=*/2);
  for (int i = 0; i < 3; ++i) monitor.ObservePrediction("b", false);
  return monitor;
}

TEST(FairnessMonitorTest, HandWorkedEveryRateAndInterval) {
  const FairnessMetrics m = HandWorkedMonitor({}).Snapshot();
  ASSERT_EQ(m.groups.size(), 3u);
  // In kRates' order: selection = selected / predictions, base = (TP + FN)
  // / labelled, TPR = TP / (TP + FN), FPR = FP / (FP + TN), TNR = TN / (TN
  // + FP), FNR = FN / (FN + TP), PPV = TP / (TP + FP), NPV = TN / (TN +
  // FN), FDR = FP / (TP + FP), FOR = FN / (TN + FN), accuracy = (TP + TN) /
  // labelled.
  // a: labelled 10, positives 5, negatives 5, decided 1: 6, decided 0: 4.
  ExpectRates(m.groups[0], {{{6, 10},
                             {5, 10},
                             {4, 5},
                             {2, 5},
                             {3, 5},
                             {1, 5},
                             {4, 6},
                             {3, 4},
                             {2, 6},
                             {1, 4},
                             {7, 10}}});
  // b: labelled 8, positives 3, negatives 5, decided 1: 2, decided 0: 6.
  ExpectRates(m.groups[1], {{{2, 11},
                             {3, 8},
                             {1, 3},
                             {1, 5},
                             {4, 5},
                             {2, 3},
                             {1, 2},
                             {4, 6},
                             {1, 2},
                             {2, 6},
                             {5, 8}}});
  // c: labelled 5, positives 3, negatives 2, decided 1: 3, decided 0: 2.
  ExpectRates(m.groups[2], {{{3, 5},
                             {3, 5},
                             {2, 3},
                             {1, 2},
                             {1, 2},
                             {1, 3},
                             {2, 3},
                             {1, 2},
                             {1, 3},
                             {1, 2},
                             {3, 5}}});
  // Overall: labelled 23, positives 11, negatives 12, decided 1: 11,
  // decided 0: 12.
  EXPECT_EQ(m.overall.group, FairnessMonitor::kOverallGroup);
  EXPECT_EQ(m.overall.predictions, 26u);
  EXPECT_EQ(m.overall.selected, 11u);
  EXPECT_FALSE(m.overall.included_in_gaps);
  ExpectRates(m.overall, {{{11, 26},
                           {11, 23},
                           {7, 11},
                           {4, 12},
                           {8, 12},
                           {4, 11},
                           {7, 11},
                           {8, 12},
                           {4, 11},
                           {4, 12},
                           {15, 23}}});
}

TEST(FairnessMonitorTest, HandWorkedEveryGapAndTest) {
  const FairnessMetrics m = HandWorkedMonitor({}).Snapshot();
  const FairnessGaps& g = m.gaps;
  const std::vector<std::string> abc = {"a", "b", "c"};
  // Default reference: the most predictions, b (11 against 10 and 5).
  EXPECT_EQ(g.reference_group, "b");

  // Demographic parity: a 6/10, b 2/11, c 3/5; a and c tie at the top, a
  // comes first. Difference 0.6 - 2/11, ratio (2/11) / 0.6; a vs b is
  // [[6, 4], [2, 9]], smallest expected cell 10 * 8 / 21 = 3.8: Fisher.
  ExpectGap(g.demographic_parity.difference, 0.6 - 2.0 / 11, "a", "b");
  ExpectGap(g.demographic_parity.ratio, (2.0 / 11) / 0.6, "a", "b");
  ExpectTest(g.demographic_parity.difference, 6, 10, 2, 11);
  ExpectTest(g.demographic_parity.ratio, 6, 10, 2, 11);
  EXPECT_EQ(g.demographic_parity.difference.test->test,
            ProportionTest::kFisherExact);
  ExpectByGroup(g.demographic_parity, abc,
                {0.6 - 11.0 / 26, 2.0 / 11 - 11.0 / 26, 0.6 - 11.0 / 26},
                {0.6 / (2.0 / 11), 1.0, 0.6 / (2.0 / 11)});

  // Equal opportunity (TPR): a 4/5, b 1/3, c 2/3; overall 7/11.
  ExpectGap(g.equal_opportunity.difference, 0.8 - 1.0 / 3, "a", "b");
  ExpectGap(g.equal_opportunity.ratio, (1.0 / 3) / 0.8, "a", "b");
  ExpectTest(g.equal_opportunity.difference, 4, 5, 1, 3);
  ExpectByGroup(g.equal_opportunity, abc,
                {0.8 - 7.0 / 11, 1.0 / 3 - 7.0 / 11, 2.0 / 3 - 7.0 / 11},
                {0.8 / (1.0 / 3), 1.0, (2.0 / 3) / (1.0 / 3)});

  // FPR parity: a 2/5, b 1/5, c 1/2; overall 4/12.
  ExpectGap(g.false_positive_parity.difference, 0.5 - 0.2, "c", "b");
  ExpectGap(g.false_positive_parity.ratio, 0.2 / 0.5, "c", "b");
  ExpectTest(g.false_positive_parity.difference, 1, 2, 1, 5);
  ExpectByGroup(g.false_positive_parity, abc,
                {0.4 - 4.0 / 12, 0.2 - 4.0 / 12, 0.5 - 4.0 / 12},
                {0.4 / 0.2, 1.0, 0.5 / 0.2});

  // Predictive parity (PPV): a 4/6, b 1/2, c 2/3 (a and c tie: a);
  // overall 7/11.
  ExpectGap(g.predictive_parity.difference, 4.0 / 6 - 0.5, "a", "b");
  ExpectGap(g.predictive_parity.ratio, 0.5 / (4.0 / 6), "a", "b");
  ExpectTest(g.predictive_parity.difference, 4, 6, 1, 2);
  ExpectByGroup(g.predictive_parity, abc,
                {4.0 / 6 - 7.0 / 11, 0.5 - 7.0 / 11, 2.0 / 3 - 7.0 / 11},
                {(4.0 / 6) / 0.5, 1.0, (2.0 / 3) / 0.5});

  // Equalized odds: difference max(0.8 - 1/3 = 0.467, 0.5 - 0.2 = 0.3), the
  // TPR pair and test; ratio min(0.417, 0.4), the FPR pair and test.
  ExpectGap(g.equalized_odds.difference, 0.8 - 1.0 / 3, "a", "b");
  ExpectTest(g.equalized_odds.difference, 4, 5, 1, 3);
  ExpectGap(g.equalized_odds.ratio, 0.2 / 0.5, "c", "b");
  ExpectTest(g.equalized_odds.ratio, 1, 2, 1, 5);
  // By group, the larger difference to the overall in magnitude: a TPR
  // +0.164 over FPR +0.067; b TPR -0.303 over FPR -0.133; c FPR +0.167
  // over TPR +0.030. The ratio to b further from 1: a TPR 2.4 over FPR 2;
  // b both 1 (TPR); c FPR 2.5 over TPR 2.
  ExpectByGroup(g.equalized_odds, abc,
                {0.8 - 7.0 / 11, 1.0 / 3 - 7.0 / 11, 0.5 - 4.0 / 12},
                {0.8 / (1.0 / 3), 1.0, 0.5 / 0.2});

  // The fields kept for current callers carry the same gaps.
  ExpectSameGap(g.demographic_parity_difference,
                g.demographic_parity.difference);
  ExpectSameGap(g.demographic_parity_ratio, g.demographic_parity.ratio);
  ExpectSameGap(g.true_positive_rate_difference,
                g.equal_opportunity.difference);
  ExpectSameGap(g.false_positive_rate_difference,
                g.false_positive_parity.difference);
  ExpectSameGap(g.equalized_odds_difference, g.equalized_odds.difference);
}

TEST(FairnessMonitorTest, ConfiguredReferenceGroup) {
  const FairnessMetrics m =
      HandWorkedMonitor({.reference_group = "a"}).Snapshot();
  EXPECT_EQ(m.gaps.reference_group, "a");
  // Selection a 0.6, b 2/11, c 0.6; TPR a 0.8, b 1/3, c 2/3.
  ExpectByGroup(m.gaps.demographic_parity, {"a", "b", "c"},
                {0.6 - 11.0 / 26, 2.0 / 11 - 11.0 / 26, 0.6 - 11.0 / 26},
                {1.0, (2.0 / 11) / 0.6, 1.0});
  ExpectByGroup(m.gaps.equal_opportunity, {"a", "b", "c"},
                {0.8 - 7.0 / 11, 1.0 / 3 - 7.0 / 11, 2.0 / 3 - 7.0 / 11},
                {1.0, (1.0 / 3) / 0.8, (2.0 / 3) / 0.8});
  // Max - min gaps do not depend on the reference.
  ExpectGap(m.gaps.demographic_parity.difference, 0.6 - 2.0 / 11, "a", "b");

  // A reference that is not an included group gives no ratio to it (never
  // another group in its place).
  for (const char* reference : {"nobody", "c"}) {
    SCOPED_TRACE(reference);
    FairnessMonitor monitor = HandWorkedMonitor({.min_group_size = 6});
    monitor.set_reference_group(reference);
    const FairnessMetrics n = monitor.Snapshot();
    EXPECT_EQ(n.gaps.reference_group, reference);
    for (const GroupGap& gap : n.gaps.demographic_parity.by_group) {
      EXPECT_FALSE(gap.ratio_to_reference.has_value()) << gap.group;
      EXPECT_TRUE(gap.difference_to_overall.has_value()) << gap.group;
    }
  }
}

TEST(FairnessMonitorTest, DefaultReferenceTiesGoToTheFirstLabel) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveJoined(monitor, "z", true, true, 4);
  ObserveJoined(monitor, "m", false, true, 4);
  ObserveJoined(monitor, "k", true, false, 3);
  EXPECT_EQ(monitor.Snapshot().gaps.reference_group, "m");
}

TEST(FairnessMonitorTest, ReferenceGroupIsNotStateAndMergesFreely) {
  FairnessMonitor configured = HandWorkedMonitor({.reference_group = "a"});
  FairnessMonitor plain = HandWorkedMonitor({});
  ASSERT_OK(configured.Merge(plain));
  EXPECT_EQ(configured.options().reference_group, "a");
  ASSERT_OK_AND_ASSIGN(FairnessMonitor copy,
                       FairnessMonitor::Deserialize(configured.Serialize()));
  EXPECT_EQ(copy.options().reference_group, "");
  EXPECT_EQ(copy.Snapshot().gaps.reference_group, "b");
  copy.set_reference_group("a");
  ExpectSameMetrics(copy.Snapshot(), configured.Snapshot());
}

TEST(FairnessMonitorTest, RandomStreamMatchesDirectFormulas) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  const std::vector<Event> events = RandomStream(/*seed=*/21, /*n=*/20000);
  for (const Event& e : events) Observe(monitor, e);

  // Counts from the stored events, per group and overall.
  struct Tally {
    double predictions = 0, selected = 0, tp = 0, fp = 0, tn = 0, fn = 0;
  };
  std::map<std::string, Tally> tallies;
  Tally all;
  for (const Event& e : events) {
    for (Tally* t : {&tallies[e.group], &all}) {
      t->predictions += 1;
      t->selected += e.decision ? 1 : 0;
      if (!e.joined) continue;
      (e.decision ? (e.label ? t->tp : t->fp) : (e.label ? t->fn : t->tn)) += 1;
    }
  }
  const auto fractions = [](const Tally& t) {
    const double labelled = t.tp + t.fp + t.tn + t.fn;
    return Fractions{{{t.selected, t.predictions},
                      {t.tp + t.fn, labelled},
                      {t.tp, t.tp + t.fn},
                      {t.fp, t.fp + t.tn},
                      {t.tn, t.tn + t.fp},
                      {t.fn, t.fn + t.tp},
                      {t.tp, t.tp + t.fp},
                      {t.tn, t.tn + t.fn},
                      {t.fp, t.tp + t.fp},
                      {t.fn, t.tn + t.fn},
                      {t.tp + t.tn, labelled}}};
  };
  const FairnessMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), tallies.size());
  std::vector<std::string> labels;
  for (const auto& [label, tally] : tallies) labels.push_back(label);
  for (size_t i = 0; i < labels.size(); ++i) {
    EXPECT_EQ(m.groups[i].group, labels[i]);
    ExpectRates(m.groups[i], fractions(tallies[labels[i]]));
  }
  ExpectRates(m.overall, fractions(all));

  // Reference: the most predictions, ties to the first label.
  std::string reference = labels[0];
  for (const std::string& label : labels) {
    if (tallies[label].predictions > tallies[reference].predictions) {
      reference = label;
    }
  }
  EXPECT_EQ(m.gaps.reference_group, reference);

  // Each criterion: (numerator, denominator) of its rate.
  using Rate = std::array<double, 2> (*)(const Tally&);
  const std::pair<const CriterionGaps*, Rate> criteria[] = {
      {&m.gaps.demographic_parity,
       [](const Tally& t) {
         return std::array{t.selected, t.predictions};
       }},
      {&m.gaps.equal_opportunity,
       [](const Tally& t) {
         return std::array{t.tp, t.tp + t.fn};
       }},
      {&m.gaps.false_positive_parity,
       [](const Tally& t) {
         return std::array{t.fp, t.fp + t.tn};
       }},
      {&m.gaps.predictive_parity,
       [](const Tally& t) {
         return std::array{t.tp, t.tp + t.fp};
       }},
  };
  for (const auto& entry : criteria) {
    const CriterionGaps* criterion = entry.first;
    const Rate rate = entry.second;
    std::string high = labels[0], low = labels[0];
    const auto value = [&](const std::string& label) {
      const std::array<double, 2> f = rate(tallies[label]);
      return f[0] / f[1];
    };
    for (const std::string& label : labels) {
      if (value(label) > value(high)) high = label;
      if (value(label) < value(low)) low = label;
    }
    SCOPED_TRACE(testing::Message() << high << " / " << low);
    ExpectGap(criterion->difference, value(high) - value(low), high, low);
    ExpectGap(criterion->ratio, value(low) / value(high), high, low);
    const std::array<double, 2> h = rate(tallies[high]);
    const std::array<double, 2> l = rate(tallies[low]);
    ASSERT_GE(MinExpected(h[0], h[1], l[0], l[1]), 5);  // The z-test.
    ExpectTest(criterion->difference, h[0], h[1], l[0], l[1]);
    std::vector<std::optional<double>> to_overall, to_reference;
    const std::array<double, 2> o = rate(all);
    for (const std::string& label : labels) {
      to_overall.push_back(value(label) - o[0] / o[1]);
      to_reference.push_back(value(label) / value(reference));
    }
    ExpectByGroup(*criterion, labels, to_overall, to_reference);
  }
  // Equalized odds: the larger difference, the smaller ratio.
  const CriterionGaps& tpr = m.gaps.equal_opportunity;
  const CriterionGaps& fpr = m.gaps.false_positive_parity;
  EXPECT_EQ(*m.gaps.equalized_odds.difference.value,
            std::max(*tpr.difference.value, *fpr.difference.value));
  EXPECT_EQ(*m.gaps.equalized_odds.ratio.value,
            std::min(*tpr.ratio.value, *fpr.ratio.value));
}

TEST(FairnessMonitorTest, EveryZeroDenominatorRateIsAbsent) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveJoined(monitor, "negatives", /*decision=*/false, /*label=*/false, 2);
  monitor.ObservePrediction("unlabelled", true);
  const FairnessMetrics m = monitor.Snapshot();
  // negatives: TN 2 only. Defined: selection 0/2, base 0/2, FPR 0/2, TNR
  // 2/2, NPV 2/2, FOR 0/2, accuracy 2/2. No positives: TPR, FNR absent; no
  // positive decision: PPV, FDR absent.
  const GroupRates& negatives = m.groups[0];
  for (const RateField& f : kRates) {
    const bool defined = f.rate != &GroupRates::true_positive_rate &&
                         f.rate != &GroupRates::false_negative_rate &&
                         f.rate != &GroupRates::precision &&
                         f.rate != &GroupRates::false_discovery_rate;
    SCOPED_TRACE(f.name);
    EXPECT_EQ((negatives.*f.rate).has_value(), defined);
    EXPECT_EQ((negatives.intervals.*f.interval).has_value(), defined);
  }
  // unlabelled: one decision, nothing labelled: only the selection rate.
  const GroupRates& unlabelled = m.groups[1];
  for (const RateField& f : kRates) {
    const bool defined = f.rate == &GroupRates::selection_rate;
    SCOPED_TRACE(f.name);
    EXPECT_EQ((unlabelled.*f.rate).has_value(), defined);
    EXPECT_EQ((unlabelled.intervals.*f.interval).has_value(), defined);
  }
  // Nothing at all: every rate of the empty overall row is absent.
  ASSERT_OK_AND_ASSIGN(FairnessMonitor empty, FairnessMonitor::Create({}));
  const FairnessMetrics e = empty.Snapshot();
  for (const RateField& f : kRates) {
    EXPECT_FALSE((e.overall.*f.rate).has_value()) << f.name;
  }
  EXPECT_EQ(e.gaps.reference_group, "");
}

TEST(FairnessMonitorTest, MinGroupSizeExcludesFromGapsNotFromOverall) {
  // c (5 predictions) is below 6: reported, in the overall, in no gap.
  const FairnessMetrics m = HandWorkedMonitor({.min_group_size = 6}).Snapshot();
  ASSERT_EQ(m.groups.size(), 3u);
  EXPECT_FALSE(m.groups[2].included_in_gaps);
  EXPECT_EQ(m.overall.predictions, 26u);
  // FPR over a (2/5) and b (1/5) only: c's 1/2 would have been the highest.
  ExpectGap(m.gaps.false_positive_parity.difference, 0.4 - 0.2, "a", "b");
  ExpectTest(m.gaps.false_positive_parity.difference, 2, 5, 1, 5);
  // Differences still subtract the overall that counts c: 4/12.
  ExpectByGroup(m.gaps.false_positive_parity, {"a", "b"},
                {0.4 - 4.0 / 12, 0.2 - 4.0 / 12}, {0.4 / 0.2, 1.0});
  for (const CriterionGaps* c :
       {&m.gaps.demographic_parity, &m.gaps.equal_opportunity,
        &m.gaps.predictive_parity, &m.gaps.equalized_odds}) {
    EXPECT_NE(c->difference.high_group, "c");
    EXPECT_NE(c->difference.low_group, "c");
    for (const GroupGap& gap : c->by_group) EXPECT_NE(gap.group, "c");
  }
}

TEST(FairnessMonitorTest, CompasTestsUseTheZTest) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveConfusion(monitor, "African-American", /*tp=*/1369, /*fp=*/805,
                   /*tn=*/990, /*fn=*/532);
  ObserveConfusion(monitor, "Caucasian", /*tp=*/505, /*fp=*/349,
                   /*tn=*/1139, /*fn=*/461);
  const FairnessGaps g = monitor.Snapshot().gaps;
  // FPR 805/1795 vs 349/1488; selection 2174/3696 vs 854/2454.
  ExpectTest(g.false_positive_parity.difference, 805, 1795, 349, 1488);
  ExpectTest(g.demographic_parity.difference, 2174, 3696, 854, 2454);
  EXPECT_EQ(g.false_positive_parity.difference.test->test,
            ProportionTest::kTwoProportionZ);
  // Equalized odds takes the FPR gap (0.214 over TPR's 0.197), and its test.
  ExpectSameGap(g.equalized_odds.difference,
                g.false_positive_parity.difference);
}

TEST(FairnessGapsTest, EqualRatesAreTestedAgainstTheNextGroup) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveJoined(monitor, "x", true, true, 2);
  ObserveJoined(monitor, "x", false, true, 2);
  ObserveJoined(monitor, "y", true, true, 3);
  ObserveJoined(monitor, "y", false, true, 3);
  const FairnessGaps g = monitor.Snapshot().gaps;
  ExpectGap(g.demographic_parity.difference, 0, "x", "x");
  // x 2/4 against y 3/6: the same rate, p = 1.
  ExpectTest(g.demographic_parity.difference, 2, 4, 3, 6);
  EXPECT_EQ(g.demographic_parity.difference.test->p_value, 1);
}

// ---- The group look-up ----

TEST(FairnessMonitorTest, LabelsOfEveryLengthAreKeptApart) {
  // For each length 1 to 40, a base label and one variant per byte
  // position: labels that share length, first and last bytes, or differ
  // only inside, and with NUL bytes: 860 groups, past the short-label
  // table's 512.
  std::vector<std::string> labels;
  for (size_t length = 1; length <= 40; ++length) {
    const std::string base(length, length % 2 == 0 ? 'x' : '\0');
    labels.push_back(base);
    for (size_t i = 0; i < length; ++i) {
      std::string variant = base;
      variant[i] = 'y';
      labels.push_back(variant);
    }
  }
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor,
                       FairnessMonitor::Create({.max_groups = 100000}));
  std::map<std::string, uint64_t> expected;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    const std::string& label = labels[rng() % labels.size()];
    monitor.ObservePrediction(label, true);
    ++expected[label];
  }
  const FairnessMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), expected.size());
  size_t i = 0;
  for (const auto& [label, count] : expected) {
    EXPECT_EQ(m.groups[i].group, label);
    EXPECT_EQ(m.groups[i].predictions, count) << i;
    ++i;
  }
  // A copy, and a deserialized monitor, route every label the same way.
  ASSERT_OK_AND_ASSIGN(FairnessMonitor copy,
                       FairnessMonitor::Deserialize(monitor.Serialize()));
  FairnessMonitor copied = monitor;
  for (const std::string& label : labels) {
    monitor.ObservePrediction(label, false);
    copy.ObservePrediction(label, false);
    copied.ObservePrediction(label, false);
  }
  EXPECT_EQ(copy.Serialize(), monitor.Serialize());
  EXPECT_EQ(copied.Serialize(), monitor.Serialize());
  EXPECT_EQ(monitor.Snapshot().groups.size(), expected.size());
}

TEST(FairnessMonitorTest, OverflowLabelObservedAsItselfIsNoOverflow) {
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor,
                       FairnessMonitor::Create({.max_groups = 2}));
  monitor.ObservePrediction("a", true);
  monitor.ObservePrediction("b", true);
  monitor.ObservePrediction(FairnessMonitor::kOverflowGroup, true);
  monitor.ObservePrediction("c", true);  // Overflow.
  monitor.ObservePrediction(FairnessMonitor::kOverflowGroup, false);
  const FairnessMetrics m = monitor.Snapshot();
  ASSERT_EQ(m.groups.size(), 3u);
  EXPECT_EQ(m.groups[0].group, FairnessMonitor::kOverflowGroup);
  EXPECT_EQ(m.groups[0].predictions, 3u);
  state::v1::FairnessState state;
  monitor.ToProto(&state);
  EXPECT_EQ(state.overflowed(), 1u);
}

}  // namespace
}  // namespace vigie::monitors
