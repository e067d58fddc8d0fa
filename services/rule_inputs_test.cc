// The window inputs of the rules over a view holding several replicas'
// panes, some sharing a start.

#include "services/rule_inputs.h"

#include <map>

#include "gtest/gtest.h"
#include "services/proto_conversions.h"

namespace vigie::services {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const absl::Duration kPane = absl::Minutes(1);

monitors::ModelMonitors PaneWithErrors(std::initializer_list<double> errors) {
  monitors::ModelMonitors pane =
      *monitors::ModelMonitors::Create(monitors::ModelMonitors::Options());
  for (double error : errors) pane.ObserveError(error);
  return pane;
}

TEST(RuleInputsTest, MergeViewCountsEachPaneIntervalOnce) {
  std::map<absl::Time, monitors::ModelMonitors> local;
  local.emplace(kT0, PaneWithErrors({1, 0}));
  local.emplace(kT0 + kPane, PaneWithErrors({1}));
  // Another replica's panes: one at a start this replica has too, one
  // later.
  const monitors::ModelMonitors peer_same = PaneWithErrors({0, 0, 1});
  const monitors::ModelMonitors peer_later = PaneWithErrors({1, 1});
  PaneView view = ViewOf(local);
  view.emplace(kT0 + kPane, &peer_same);
  view.emplace(kT0 + 3 * kPane, &peer_later);

  monitors::ModelMonitors merged =
      *monitors::ModelMonitors::Create(monitors::ModelMonitors::Options());
  vigie::v1::TimeWindow covered;
  EXPECT_EQ(
      MergeView(view, kT0 + kPane, kT0 + 4 * kPane, kPane, &merged, &covered),
      2u);
  // Errors 1 (local), 0, 0, 1 (peer, same start), 1, 1 (peer, later).
  EXPECT_EQ(merged.errors().count, 6u);
  EXPECT_DOUBLE_EQ(merged.errors().sum, 4.0);
  EXPECT_EQ(FromProtoTime(covered.start()), kT0 + kPane);
  EXPECT_EQ(FromProtoTime(covered.end()), kT0 + 4 * kPane);
}

TEST(RuleInputsTest, ErrorsByWindowAddsEveryReplicasPanes) {
  std::map<absl::Time, monitors::ModelMonitors> local;
  local.emplace(kT0, PaneWithErrors({1, 1}));
  local.emplace(kT0 + 2 * kPane, PaneWithErrors({0}));
  const monitors::ModelMonitors peer = PaneWithErrors({1, 0, 0});
  PaneView view = ViewOf(local);
  view.emplace(kT0 + 2 * kPane, &peer);
  // Windows of two panes ending at kT0 + 4 panes: window 1 holds the panes
  // starting at +2 and +3, window 2 those at +0 and +1.
  const std::map<uint64_t, monitors::ErrorTally> by_window =
      ErrorsByWindow(view, kT0 + 4 * kPane, 2 * kPane, kT0);
  ASSERT_EQ(by_window.size(), 2u);
  EXPECT_EQ(by_window.at(1).count, 4u);
  EXPECT_DOUBLE_EQ(by_window.at(1).sum, 1.0);
  EXPECT_EQ(by_window.at(2).count, 2u);
  EXPECT_DOUBLE_EQ(by_window.at(2).sum, 2.0);
}

}  // namespace
}  // namespace vigie::services
