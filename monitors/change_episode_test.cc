#include "monitors/change_episode.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "monitors/change_detectors.h"
#include "monitors/model_monitors.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::monitors {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const absl::Time kT0 = absl::FromUnixSeconds(1'790'000'000);

AdwinCut Cut(uint64_t dropped, uint64_t kept, double before, double after) {
  AdwinCut cut;
  cut.dropped = dropped;
  cut.kept = kept;
  cut.mean_before = before;
  cut.mean_after = after;
  return cut;
}

TEST(ErrorTallyTest, MeanAndVarianceByHand) {
  ErrorTally tally;
  EXPECT_FALSE(tally.mean().has_value());
  EXPECT_FALSE(tally.variance().has_value());
  for (double e : {0.0, 1.0, 1.0, 0.0, 3.0}) tally.Observe(e);
  tally.Observe(kNaN);
  tally.Observe(-1);
  EXPECT_EQ(tally.count, 5u);
  EXPECT_DOUBLE_EQ(*tally.mean(), 1.0);
  // Squared deviations from 1: 1, 0, 0, 1, 4 -> 6 / 5.
  EXPECT_DOUBLE_EQ(*tally.variance(), 1.2);
}

TEST(ErrorTallyTest, MergeOfSplitStreamEqualsWholeStream) {
  ErrorTally whole, low, high;
  for (int i = 0; i < 100; ++i) {
    const double e = (i * 7) % 3;
    whole.Observe(e);
    (i < 40 ? low : high).Observe(e);
  }
  low.Merge(high);
  EXPECT_EQ(low, whole);
  ErrorTally empty;
  low.Merge(empty);
  EXPECT_EQ(low, whole);
}

TEST(ErrorTallyTest, RoundTripAndHostileStates) {
  ErrorTally tally;
  for (double e : {0.0, 1.0, 0.25}) tally.Observe(e);
  state::v1::ErrorTallyState state;
  tally.ToProto(&state);
  ASSERT_OK_AND_ASSIGN(ErrorTally back, ErrorTally::FromProto(state));
  EXPECT_EQ(back, tally);

  const auto rejected = [](uint64_t count, double sum, double squares) {
    state::v1::ErrorTallyState bad;
    bad.set_count(count);
    bad.set_sum(sum);
    bad.set_sum_squares(squares);
    return ErrorTally::FromProto(bad).status().code() ==
           absl::StatusCode::kDataLoss;
  };
  EXPECT_TRUE(rejected(0, 1, 1));          // Sums without errors.
  EXPECT_TRUE(rejected(2, kNaN, 1));       // Not finite.
  EXPECT_TRUE(rejected(2, -1, 1));         // Negative.
  EXPECT_TRUE(rejected(2, 2, 1));          // 2^2 / 2 = 2 > 1.
  EXPECT_TRUE(rejected(1, 1e101, 1e202));  // Above the largest error.
  EXPECT_FALSE(rejected(2, 2, 2));         // Two errors of 1.
}

TEST(ModelMonitorsErrorsTest, PaneKeepsMergesAndPersistsErrors) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors a, ModelMonitors::Create({}));
  ModelMonitors b = a;
  EXPECT_TRUE(a.empty());
  a.ObserveError(1);
  a.ObserveError(0);
  b.ObserveError(1);
  EXPECT_FALSE(a.empty());
  ASSERT_OK_AND_ASSIGN(ModelMonitors back,
                       ModelMonitors::Deserialize(a.Serialize(), {}));
  EXPECT_EQ(back.errors(), a.errors());
  ASSERT_OK(a.Merge(b));
  EXPECT_EQ(a.errors().count, 3u);
  EXPECT_DOUBLE_EQ(a.errors().sum, 2);
  // A pane whose errors no stream can give is refused, not read.
  state::v1::PaneState state;
  ASSERT_TRUE(state.ParseFromString(a.Serialize()));
  state.mutable_errors()->set_sum(-1);
  EXPECT_EQ(
      ModelMonitors::Deserialize(state.SerializeAsString(), {}).status().code(),
      absl::StatusCode::kDataLoss);
}

ChangeEpisode SomeEpisode() {
  std::optional<ChangeEpisode> episode;
  FoldCut(episode, Cut(1000, 120, 0.1, 0.35), kT0);
  FoldCut(episode, Cut(40, 150, 0.12, 0.4), kT0 + absl::Minutes(3));
  return *episode;
}

TEST(ChangeEpisodeTest, RoundTripAndHostileBytes) {
  ChangeEpisode episode = SomeEpisode();
  for (bool reverted : {false, true}) {
    if (reverted) episode.reverted_at = kT0 + absl::Hours(30);
    state::v1::ErrorChangeEpisodeState state;
    episode.ToProto(&state);
    ASSERT_OK_AND_ASSIGN(ChangeEpisode back, ChangeEpisode::FromProto(state));
    EXPECT_EQ(back, episode);
    // Flipped bits and garbage give a valid episode or kDataLoss, never a
    // crash.
    for (const std::string& bytes :
         testutil::EachBitFlipped(state.SerializeAsString())) {
      state::v1::ErrorChangeEpisodeState hostile;
      if (!hostile.ParseFromString(bytes)) continue;
      absl::StatusOr<ChangeEpisode> read = ChangeEpisode::FromProto(hostile);
      if (!read.ok()) {
        EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
      }
    }
  }
  for (const std::string& bytes :
       testutil::RandomByteStrings(/*seed=*/4, 500, 80)) {
    state::v1::ErrorChangeEpisodeState hostile;
    if (!hostile.ParseFromString(bytes)) continue;
    absl::StatusOr<ChangeEpisode> read = ChangeEpisode::FromProto(hostile);
    if (!read.ok()) {
      EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
    }
  }
  const auto rejected = [&](auto mutate) {
    state::v1::ErrorChangeEpisodeState state;
    SomeEpisode().ToProto(&state);
    mutate(state);
    return ChangeEpisode::FromProto(state).status().code() ==
           absl::StatusCode::kDataLoss;
  };
  EXPECT_TRUE(rejected([](auto& s) { s.set_direction(0); }));
  EXPECT_TRUE(rejected([](auto& s) { s.set_cuts(0); }));
  EXPECT_TRUE(rejected([](auto& s) { s.set_mean_before(kNaN); }));
  EXPECT_TRUE(rejected([](auto& s) { s.set_mean_after(-0.5); }));
  EXPECT_TRUE(rejected([](auto& s) { s.mutable_start()->set_nanos(-1); }));
  EXPECT_TRUE(rejected(
      [](auto& s) { s.mutable_last_cut()->set_seconds(int64_t{1} << 40); }));
}

TEST(ChangeEpisodeTest, FirstCutOpensAndSheddingCutsExtend) {
  std::optional<ChangeEpisode> episode;
  FoldCut(episode, Cut(1000, 120, 0.1, 0.3), kT0);
  ASSERT_TRUE(episode.has_value());
  EXPECT_EQ(episode->start, kT0);
  EXPECT_EQ(episode->latest_change, kT0);
  EXPECT_DOUBLE_EQ(episode->mean_before, 0.1);
  EXPECT_DOUBLE_EQ(episode->mean_after, 0.3);
  EXPECT_EQ(episode->direction, 1);
  EXPECT_TRUE(episode->open());
  // Dropping 30 <= 120 kept at the first cut: ADWIN sheds the residue of
  // the old level. The level after is refined; the start stays.
  FoldCut(episode, Cut(30, 122, 0.15, 0.4), kT0 + absl::Minutes(5));
  EXPECT_EQ(episode->start, kT0);
  EXPECT_EQ(episode->latest_change, kT0);
  EXPECT_EQ(episode->last_cut, kT0 + absl::Minutes(5));
  EXPECT_DOUBLE_EQ(episode->mean_before, 0.1);
  EXPECT_DOUBLE_EQ(episode->mean_after, 0.4);
  EXPECT_EQ(episode->cuts, 2u);
  EXPECT_EQ(episode->residue, 122u);
}

TEST(ChangeEpisodeTest, FurtherChangeSameWayMovesLatestChange) {
  std::optional<ChangeEpisode> episode;
  FoldCut(episode, Cut(1000, 120, 0.1, 0.3), kT0);
  // 5,000 dropped > 120: a new change, the same way.
  FoldCut(episode, Cut(5000, 150, 0.3, 0.5), kT0 + absl::Hours(24 * 3));
  EXPECT_EQ(episode->start, kT0);
  EXPECT_EQ(episode->latest_change, kT0 + absl::Hours(24 * 3));
  EXPECT_DOUBLE_EQ(episode->mean_before, 0.1);
  EXPECT_DOUBLE_EQ(episode->mean_after, 0.5);
  EXPECT_TRUE(episode->open());
}

TEST(ChangeEpisodeTest, ReturnNearerTheOldLevelRevertsAndItsSheddingIsKept) {
  std::optional<ChangeEpisode> episode;
  FoldCut(episode, Cut(1000, 120, 0.1, 0.4), kT0);
  // Back to 0.2: |0.2 - 0.1| = 0.1 <= |0.2 - 0.4| = 0.2, nearer the old level.
  FoldCut(episode, Cut(2000, 100, 0.4, 0.2), kT0 + absl::Hours(24 * 1));
  ASSERT_FALSE(episode->open());
  EXPECT_EQ(*episode->reverted_at, kT0 + absl::Hours(24 * 1));
  // Shedding the rest of the excursion does not open a new episode.
  FoldCut(episode, Cut(50, 110, 0.3, 0.1), kT0 + absl::Hours(24 * 1));
  EXPECT_FALSE(episode->open());
  EXPECT_EQ(episode->start, kT0);
  // A new change after it does.
  FoldCut(episode, Cut(4000, 100, 0.1, 0.35), kT0 + absl::Hours(24 * 4));
  EXPECT_TRUE(episode->open());
  EXPECT_EQ(episode->start, kT0 + absl::Hours(24 * 4));
  EXPECT_EQ(episode->cuts, 1u);
}

TEST(ChangeEpisodeTest, PartialStepBackKeepsTheEpisode) {
  std::optional<ChangeEpisode> episode;
  FoldCut(episode, Cut(1000, 120, 0.1, 0.5), kT0);
  // 0.35 is nearer 0.5 (0.15) than 0.1 (0.25).
  FoldCut(episode, Cut(3000, 100, 0.5, 0.35), kT0 + absl::Hours(24 * 1));
  EXPECT_TRUE(episode->open());
  EXPECT_EQ(episode->latest_change, kT0);
  EXPECT_DOUBLE_EQ(episode->mean_after, 0.5);
}

TEST(ChangeEpisodeTest, WindowIndexCountsBackFromTheEnd) {
  const absl::Time end = kT0;
  const absl::Duration day = absl::Hours(24);
  EXPECT_EQ(WindowIndex(end, day, end - absl::Seconds(1)), 1u);
  EXPECT_EQ(WindowIndex(end, day, end - day), 1u);  // [end - day, end).
  EXPECT_EQ(WindowIndex(end, day, end - day - absl::Seconds(1)), 2u);
  EXPECT_EQ(WindowIndex(end, day, end - 3 * day), 3u);
  EXPECT_EQ(WindowIndex(end, day, end + absl::Hours(1)), 1u);
}

TEST(ChangeEpisodeTest, BoundIsBernsteinWithTheWindowsVariance) {
  ErrorTally tally;
  for (int i = 0; i < 1000; ++i) tally.Observe(i % 10 < 3 ? 1 : 0);
  // Rate 0.3: variance 0.21; ln(2 / 0.002) = ln(1000).
  const double l = std::log(1000.0);
  EXPECT_NEAR(ChangeBound(tally, 0.002),
              std::sqrt(2 * 0.21 * l / 1000) + 2 * l / 3000, 1e-12);
  EXPECT_TRUE(std::isinf(ChangeBound(ErrorTally{}, 0.002)));
}

// n errors at rate k/10, deterministic.
ErrorTally Rate(int n, int k) {
  ErrorTally tally;
  for (int i = 0; i < n; ++i) tally.Observe(i % 10 < k ? 1 : 0);
  return tally;
}

TEST(ChangeEpisodeTest, SustainedCountsWindowsSinceTheChange) {
  const absl::Duration day = absl::Hours(24);
  const absl::Time end = kT0 + 10 * day;
  std::optional<ChangeEpisode> episode;
  // Found 2.5 days before the end: in window 3.
  FoldCut(episode, Cut(1000, 120, 0.1, 0.4), end - absl::Hours(60));
  std::map<uint64_t, ErrorTally> windows = {
      {1, Rate(1000, 4)}, {2, Rate(1000, 4)}, {3, Rate(1000, 2)}};
  SustainedChange s = Sustained(*episode, end, day, windows, 100, 0.002);
  EXPECT_EQ(s.windows, 3u);
  ASSERT_EQ(s.judged.size(), 3u);
  EXPECT_EQ(s.judged[0].verdict, WindowVerdict::kChanged);
  EXPECT_EQ(s.judged[2].verdict, WindowVerdict::kChangeFound);
  // Window 1 back at 0.1: the change is over.
  windows[1] = Rate(1000, 1);
  EXPECT_EQ(Sustained(*episode, end, day, windows, 100, 0.002).windows, 0u);
  // Too few errors in window 1 to tell: it neither adds nor ends.
  windows[1] = Rate(50, 1);
  EXPECT_EQ(Sustained(*episode, end, day, windows, 100, 0.002).windows, 2u);
  // Reverted: 0.
  ChangeEpisode reverted = *episode;
  reverted.reverted_at = end;
  EXPECT_EQ(Sustained(reverted, end, day, windows, 100, 0.002).windows, 0u);
}

TEST(ErrorStreamDetectorsTest, CutReportsTheDroppedAndKeptMeans) {
  ASSERT_OK_AND_ASSIGN(ErrorStreamDetectors detectors,
                       ErrorStreamDetectors::Create());
  // 2,000 right decisions, then only wrong ones: the k wrong ones seen so
  // far are split between what the cut dropped and what it kept.
  for (int i = 0; i < 2000; ++i) EXPECT_FALSE(detectors.Observe(0));
  std::optional<AdwinCut> cut;
  int k = 0;
  while (!cut.has_value() && k < 1000) {
    ++k;
    cut = detectors.Observe(1);
  }
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->dropped + cut->kept, 2000u + static_cast<uint64_t>(k));
  EXPECT_EQ(cut->kept, detectors.adwin().width());
  EXPECT_NEAR(cut->mean_before * static_cast<double>(cut->dropped) +
                  cut->mean_after * static_cast<double>(cut->kept),
              k, 1e-9);
  EXPECT_LT(cut->mean_before, cut->mean_after);
  // The dropped part is the oldest data: at most its newest bucket can
  // hold wrong ones, so it is mostly right ones.
  EXPECT_LT(cut->mean_before, 0.5);
}

}  // namespace
}  // namespace vigie::monitors
