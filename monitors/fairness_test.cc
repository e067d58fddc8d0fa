#include "monitors/fairness.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
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

void ExpectSameMetrics(const FairnessMetrics& a, const FairnessMetrics& b) {
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (size_t i = 0; i < a.groups.size(); ++i) {
    const GroupRates& x = a.groups[i];
    const GroupRates& y = b.groups[i];
    SCOPED_TRACE(x.group);
    EXPECT_EQ(x.group, y.group);
    EXPECT_EQ(x.predictions, y.predictions);
    EXPECT_EQ(x.selected, y.selected);
    EXPECT_EQ(x.true_positives, y.true_positives);
    EXPECT_EQ(x.false_positives, y.false_positives);
    EXPECT_EQ(x.true_negatives, y.true_negatives);
    EXPECT_EQ(x.false_negatives, y.false_negatives);
    EXPECT_EQ(x.selection_rate, y.selection_rate);
    EXPECT_EQ(x.true_positive_rate, y.true_positive_rate);
    EXPECT_EQ(x.false_positive_rate, y.false_positive_rate);
    EXPECT_EQ(x.false_negative_rate, y.false_negative_rate);
    EXPECT_EQ(x.precision, y.precision);
    EXPECT_EQ(x.included_in_gaps, y.included_in_gaps);
  }
  EXPECT_EQ(a.gaps.demographic_parity_difference.value,
            b.gaps.demographic_parity_difference.value);
  EXPECT_EQ(a.gaps.equalized_odds_difference.value,
            b.gaps.equalized_odds_difference.value);
  EXPECT_EQ(a.gaps.equalized_odds_difference.high_group,
            b.gaps.equalized_odds_difference.high_group);
}

void ExpectNoGaps(const FairnessGaps& gaps) {
  EXPECT_FALSE(gaps.demographic_parity_difference.value.has_value());
  EXPECT_FALSE(gaps.demographic_parity_ratio.value.has_value());
  EXPECT_FALSE(gaps.true_positive_rate_difference.value.has_value());
  EXPECT_FALSE(gaps.false_positive_rate_difference.value.has_value());
  EXPECT_FALSE(gaps.equalized_odds_difference.value.has_value());
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
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    SCOPED_TRACE(i);
    ExpectDataLossOrValid(bytes);
  }
  // Bit flips of a real state.
  ASSERT_OK_AND_ASSIGN(FairnessMonitor monitor, FairnessMonitor::Create({}));
  ObserveConfusion(monitor, "a", 1, 2, 3, 4);
  ObserveConfusion(monitor, "b", 4, 3, 2, 1);
  const std::string bytes = monitor.Serialize();
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string flipped = bytes;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    SCOPED_TRACE(bit);
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

}  // namespace
}  // namespace vigie::monitors
