// A call that fails while it is being applied must leave no trace: panes,
// the whole-model aggregate, counters, pending joins and join marks as they
// were, and its log record voided, so that a retry counts each event once.
// The failure is real: the stored block a join reads is made unreadable,
// which is what a damaged disk does.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/pipeline.h"
#include "services/pipeline_test_events.h"
#include "storage/state_store.h"
#include "tests/testutil/pending_blocks.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::services {
namespace {

using test_events::kT0;
constexpr auto Outcome = test_events::CreditOutcome;

vigie::v1::Event Prediction(const std::string& id, const std::string& group,
                            double score, int64_t seconds) {
  vigie::v1::Event event = test_events::CreditPrediction(id, group, seconds);
  vigie::v1::Prediction* p = event.mutable_prediction();
  p->mutable_binary()->set_score(score);
  (*p->mutable_features())["income"].set_numeric(1000 * score);
  return event;
}

// Fires on any gap of selection rate over the whole window, whose value is
// read from the model's all-time aggregate (not from the panes, as queries
// are).
rules::Rule SelectionGapRule() {
  rules::Rule rule;
  rule.id = "F1";
  rule.metric = rules::kDemographicParityDifference;
  rule.warning =
      rules::Threshold{0.01, std::nullopt, std::nullopt, std::nullopt};
  rule.element = "Q2.4/2.4.a";
  rule.threshold_source = "test";
  return rule;
}

ServerConfig Config() {
  ServerConfig config = test_events::CreditConfig();
  config.policy.rules.push_back(SelectionGapRule());
  return config;
}

// The first call: ten predictions in the pane of kT0, two of them joined at
// once; the other eight wait for their outcome. Group f (odd i) has three
// of five scores at or above the 0.5 threshold, group m two of five.
std::vector<vigie::v1::Event> FirstCall() {
  std::vector<vigie::v1::Event> events;
  for (int i = 0; i < 10; ++i) {
    events.push_back(Prediction(absl::StrCat("p", i), i % 2 ? "f" : "m",
                                0.1 * i, kT0 + 60 * i));
  }
  events.push_back(Outcome("p0", false));
  events.push_back(Outcome("p1", true));
  return events;
}

// Four more predictions, checkpointed apart so that they wait in a stored
// block of their own; scores under the threshold.
std::vector<vigie::v1::Event> ThirdBlockCall() {
  std::vector<vigie::v1::Event> events;
  for (int i = 0; i < 4; ++i) {
    events.push_back(Prediction(absl::StrCat("r", i), i % 2 ? "f" : "m", 0.2,
                                kT0 + 600 + i));
  }
  return events;
}

// The call that fails the first time: a prediction in a pane of its own,
// one in the existing pane joined within the call, an outcome whose
// prediction waits in the first stored block (read and taken from it), then
// one whose prediction waits in the second, which is damaged.
std::vector<vigie::v1::Event> FailingCall() {
  return {Prediction("q0", "f", 0.9, kT0 + 7200),
          Prediction("q1", "m", 0.3, kT0 + 30), Outcome("q1", false),
          Outcome("p2", true), Outcome("r0", false)};
}

// Outcomes for every prediction still waiting after FailingCall but p9,
// then p9's: its block then holds one pending entry, as long as the join
// of p2 counted once there.
std::vector<vigie::v1::Event> OutcomesButTheLast() {
  std::vector<vigie::v1::Event> events;
  for (int i = 3; i < 9; ++i) {
    events.push_back(Outcome(absl::StrCat("p", i), i % 3 == 0));
  }
  for (int i = 1; i < 4; ++i) {
    events.push_back(Outcome(absl::StrCat("r", i), i == 2));
  }
  events.push_back(Outcome("q0", true));
  return events;
}
std::vector<vigie::v1::Event> TheLastOutcome() { return {Outcome("p9", true)}; }

// One pipeline on its own store.
struct Instance {
  explicit Instance(const std::string& path) {
    storage::StateStoreOptions options;
    options.path = path;
    store = *storage::StateStore::Open(options);
    pipeline = *Pipeline::Create(Config(), store.get(), &clock);
  }

  absl::StatusOr<vigie::v1::IngestReply> Ingest(
      std::vector<vigie::v1::Event> events) {
    vigie::v1::IngestRequest request;
    for (auto& e : events) *request.add_events() = std::move(e);
    return pipeline->Ingest(request, 0);
  }

  // Every window a query can ask of these events: all, each pane.
  std::vector<vigie::v1::GetMetricsReply> Metrics() const {
    std::vector<vigie::v1::GetMetricsReply> out;
    for (int64_t start : {int64_t{0}, kT0, kT0 + 7200}) {
      vigie::v1::GetMetricsRequest request;
      request.set_model_id("credit");
      if (start != 0) {
        request.mutable_window()->mutable_start()->set_seconds(start);
        request.mutable_window()->mutable_end()->set_seconds(start + 3600);
      }
      absl::StatusOr<vigie::v1::GetMetricsReply> reply =
          pipeline->GetMetrics(request);
      EXPECT_OK(reply.status());
      out.push_back(reply.ok() ? *reply : vigie::v1::GetMetricsReply());
    }
    return out;
  }

  // The selection-rate gap rule F1 found, evaluated now.
  double SelectionGap() {
    const vigie::v1::ListAlertsReply alerts =
        pipeline->ListAlerts(vigie::v1::ListAlertsRequest());
    for (const vigie::v1::Alert& alert : alerts.alerts()) {
      if (alert.rule_id() == "F1") return alert.value();
    }
    ADD_FAILURE() << "no F1 alert";
    return -1;
  }

  void Restart() {
    pipeline.reset();
    pipeline = *Pipeline::Create(Config(), store.get(), &clock);
  }

  vigie::v1::ModelCounters Counters() const {
    vigie::v1::GetMetricsRequest request;
    request.set_model_id("credit");
    absl::StatusOr<vigie::v1::GetMetricsReply> reply =
        pipeline->GetMetrics(request);
    EXPECT_OK(reply.status());
    return reply.ok() ? reply->counters() : vigie::v1::ModelCounters();
  }

  common::FakeClock clock{absl::FromUnixSeconds(kT0 + 7200)};
  std::unique_ptr<storage::StateStore> store;
  std::unique_ptr<Pipeline> pipeline;
};

// Whether two states answer every query the same, field by field.
testing::AssertionResult SameMetrics(
    const std::vector<vigie::v1::GetMetricsReply>& a,
    const std::vector<vigie::v1::GetMetricsReply>& b) {
  if (a.size() != b.size()) return testing::AssertionFailure() << "sizes";
  for (size_t i = 0; i < a.size(); ++i) {
    std::string report;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&report);
    if (!differencer.Compare(a[i], b[i])) {
      return testing::AssertionFailure() << "window " << i << ": " << report;
    }
  }
  return testing::AssertionSuccess();
}

// Overwrites the newest of the two stored pending blocks with bytes that
// do not decode, and returns what it held.
std::map<uint32_t, std::string> DamageNewestPendingBlock(
    storage::StateStore& store) {
  std::map<uint32_t, std::string> blocks = testutil::PendingBlocks(store);
  EXPECT_EQ(blocks.size(), 2u);
  while (blocks.size() > 1) blocks.erase(blocks.begin());
  testutil::DamagePendingBlocks(store, blocks);
  return blocks;
}

// Both instances get the calls before the failing one, checkpointed the
// same way.
void Prepare(Instance& instance) {
  ASSERT_OK(instance.Ingest(FirstCall()).status());
  ASSERT_OK(instance.pipeline->Checkpoint());
  ASSERT_OK(instance.Ingest(ThirdBlockCall()).status());
  ASSERT_OK(instance.pipeline->Checkpoint());
}

TEST(PipelineRollbackTest, AFailedCallLeavesNoTraceAndARetryCountsOnce) {
  testutil::TempDir dir;
  // What the state must be: the same calls, none failing.
  Instance clean(dir.Join("clean"));
  Prepare(clean);
  ASSERT_OK(clean.Ingest(FailingCall()).status());

  Instance failing(dir.Join("failing"));
  Prepare(failing);
  const std::vector<vigie::v1::GetMetricsReply> before = failing.Metrics();
  // f: 3 of 5 selected, m: 2 of 5 (r's are under the threshold: 3/7, 2/7).
  EXPECT_NEAR(failing.SelectionGap(), 3.0 / 7 - 2.0 / 7, 1e-12);
  const std::map<uint32_t, std::string> damaged =
      DamageNewestPendingBlock(*failing.store);

  const absl::StatusOr<vigie::v1::IngestReply> failed =
      failing.Ingest(FailingCall());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kDataLoss)
      << failed.status();
  // q0 opened a pane, q1 changed one and joined, p2 was taken from its
  // block, the counters moved: all of it is undone, down to the all-time
  // aggregate the rules read.
  EXPECT_TRUE(SameMetrics(failing.Metrics(), before));
  EXPECT_NEAR(failing.SelectionGap(), 3.0 / 7 - 2.0 / 7, 1e-12);
  const vigie::v1::ModelCounters undone = failing.Counters();
  EXPECT_EQ(undone.predictions(), 14u);
  EXPECT_EQ(undone.outcomes(), 2u);
  EXPECT_EQ(undone.joined(), 2u);
  EXPECT_EQ(undone.pending_predictions(), 12u);

  // The disk repaired, the client retries: each event counts once.
  testutil::PutPendingBlocks(*failing.store, damaged);
  ASSERT_OK(failing.Ingest(FailingCall()).status());
  const vigie::v1::ModelCounters retried = failing.Counters();
  EXPECT_EQ(retried.predictions(), 16u);
  EXPECT_EQ(retried.outcomes(), 5u);
  EXPECT_EQ(retried.joined(), 5u);
  EXPECT_EQ(retried.pending_predictions(), 11u);
  EXPECT_EQ(retried.pending_outcomes(), 0u);
  EXPECT_TRUE(SameMetrics(failing.Metrics(), clean.Metrics()));
  // f: 4 of 8 selected (q0 added), m: 2 of 8 (q1 under the threshold).
  EXPECT_NEAR(failing.SelectionGap(), 4.0 / 8 - 2.0 / 8, 1e-12);

  // Every prediction still waiting is still in its block, once: after a
  // checkpoint (which drops a block with nothing pending left) and a
  // restart, each joins with its outcome.
  for (Instance* instance : {&failing, &clean}) {
    ASSERT_OK(instance->Ingest(OutcomesButTheLast()).status());
    ASSERT_OK(instance->pipeline->Checkpoint());
    instance->Restart();
    ASSERT_OK(instance->Ingest(TheLastOutcome()).status());
  }
  const vigie::v1::ModelCounters all = failing.Counters();
  EXPECT_EQ(all.joined(), 16u);
  EXPECT_EQ(all.pending_predictions(), 0u);
  EXPECT_EQ(all.pending_outcomes(), 0u);
  EXPECT_TRUE(SameMetrics(failing.Metrics(), clean.Metrics()));
}

TEST(PipelineRollbackTest, AFailedCallIsNotReplayedAfterARestart) {
  testutil::TempDir dir;
  Instance failing(dir.Join("failing"));
  Prepare(failing);
  const std::map<uint32_t, std::string> damaged =
      DamageNewestPendingBlock(*failing.store);
  ASSERT_FALSE(failing.Ingest(FailingCall()).ok());
  const std::vector<vigie::v1::GetMetricsReply> after_failure =
      failing.Metrics();

  // Restarted before any retry, with the block repaired: had the record
  // not been voided, the replay would apply the call now.
  testutil::PutPendingBlocks(*failing.store, damaged);
  failing.Restart();
  EXPECT_TRUE(SameMetrics(failing.Metrics(), after_failure));
  EXPECT_EQ(failing.Counters().predictions(), 14u);
  EXPECT_EQ(failing.Counters().joined(), 2u);
}

}  // namespace
}  // namespace vigie::services
