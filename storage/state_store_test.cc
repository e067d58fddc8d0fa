#include "storage/state_store.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::storage {
namespace {

state::v1::PendingPrediction Pending(const std::string& id, double score) {
  state::v1::PendingPrediction pending;
  pending.mutable_prediction()->set_model_id("m");
  pending.mutable_prediction()->set_prediction_id(id);
  pending.mutable_prediction()->mutable_binary()->set_score(score);
  pending.mutable_arrived()->set_seconds(1'700'000'000);
  return pending;
}

class StateStoreTest : public ::testing::Test {
 protected:
  StateStoreOptions Options() const {
    StateStoreOptions options;
    options.path = dir_.Join("db");
    return options;
  }
  testutil::TempDir dir_;
};

TEST_F(StateStoreTest, RejectsBadOptions) {
  StateStoreOptions options = Options();
  options.path = "";
  EXPECT_EQ(StateStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options();
  options.block_cache_bytes = 10;
  EXPECT_EQ(StateStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StateStoreTest, ReadsSeeTheBatchBeforeAndTheDatabaseAfterCommit) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  batch.PutPendingPrediction("m", "p1", Pending("p1", 0.25));
  ASSERT_OK_AND_ASSIGN(auto in_batch,
                       store->GetPendingPrediction(&batch, "m", "p1"));
  ASSERT_TRUE(in_batch.has_value());
  EXPECT_EQ(in_batch->prediction().binary().score(), 0.25);
  // Not yet in the database.
  ASSERT_OK_AND_ASSIGN(auto outside,
                       store->GetPendingPrediction(nullptr, "m", "p1"));
  EXPECT_FALSE(outside.has_value());

  ASSERT_OK(store->Commit(batch));
  EXPECT_EQ(batch.size(), 0u);
  ASSERT_OK_AND_ASSIGN(auto committed,
                       store->GetPendingPrediction(nullptr, "m", "p1"));
  ASSERT_TRUE(committed.has_value());

  // A delete in a batch hides the committed record from reads through it.
  StateBatch second = store->NewBatch();
  second.DeletePendingPrediction("m", "p1");
  ASSERT_OK_AND_ASSIGN(auto deleted,
                       store->GetPendingPrediction(&second, "m", "p1"));
  EXPECT_FALSE(deleted.has_value());
}

TEST_F(StateStoreTest, StateSurvivesReopen) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
    StateBatch batch = store->NewBatch();
    batch.PutPendingPrediction("m", "p1", Pending("p1", 0.5));
    state::v1::PendingOutcome outcome;
    outcome.mutable_outcome()->set_binary(true);
    batch.PutPendingOutcome("m", "p2", outcome);
    batch.PutPane("m", absl::FromUnixSeconds(7200), "late");
    batch.PutPane("m", absl::FromUnixSeconds(3600), "early");
    batch.PutPane("a", absl::FromUnixSeconds(0), "other model");
    state::v1::ModelCountersState counters;
    counters.set_predictions(3);
    batch.PutCounters("m", counters);
    vigie::v1::Alert alert;
    alert.set_fingerprint("f1");
    alert.set_rule_id("F3");
    alert.mutable_updated_at()->set_seconds(10);
    batch.PutAlert(alert, /*transition=*/true);
    alert.set_state(vigie::v1::ALERT_STATE_RESOLVED);
    alert.mutable_updated_at()->set_seconds(20);
    batch.PutAlert(alert, /*transition=*/true);
    ASSERT_OK(store->Commit(batch));
  }
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));

  std::vector<std::pair<std::string, std::string>> panes;
  ASSERT_OK(store->ForEachPane([&](const std::string& model, absl::Time start,
                                   absl::string_view bytes) {
    panes.emplace_back(model + "@" + std::to_string(absl::ToUnixSeconds(start)),
                       std::string(bytes));
    return absl::OkStatus();
  }));
  // Models in key order (length-prefixed, equal lengths: "a" < "m"), then
  // panes oldest first.
  ASSERT_EQ(panes.size(), 3u);
  EXPECT_EQ(panes[0].first, "a@0");
  EXPECT_EQ(panes[1].first, "m@3600");
  EXPECT_EQ(panes[1].second, "early");
  EXPECT_EQ(panes[2].first, "m@7200");

  int pending_predictions = 0;
  ASSERT_OK(store->ForEachPendingPrediction(
      [&](const std::string& model, const std::string& id,
          const state::v1::PendingPrediction& pending) {
        EXPECT_EQ(model, "m");
        EXPECT_EQ(id, "p1");
        EXPECT_EQ(pending.prediction().binary().score(), 0.5);
        ++pending_predictions;
        return absl::OkStatus();
      }));
  EXPECT_EQ(pending_predictions, 1);
  ASSERT_OK_AND_ASSIGN(auto outcome,
                       store->GetPendingOutcome(nullptr, "m", "p2"));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->outcome().binary());

  uint64_t predictions = 0;
  ASSERT_OK(store->ForEachCounters(
      [&](const std::string& model, const state::v1::ModelCountersState& c) {
        EXPECT_EQ(model, "m");
        predictions = c.predictions();
        return absl::OkStatus();
      }));
  EXPECT_EQ(predictions, 3u);

  ASSERT_OK_AND_ASSIGN(auto alerts, store->LoadAlerts());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state(), vigie::v1::ALERT_STATE_RESOLVED);
  ASSERT_OK_AND_ASSIGN(auto history, store->LoadAlertHistory());
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].updated_at().seconds(), 10);
  EXPECT_EQ(history[1].updated_at().seconds(), 20);
}

TEST_F(StateStoreTest, PanesMoveToTheArchive) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  batch.PutPane("m", absl::FromUnixSeconds(3600), "old");
  batch.PutPane("m", absl::FromUnixSeconds(7200), "new");
  ASSERT_OK(store->Commit(batch));
  batch.DeletePane("m", absl::FromUnixSeconds(3600));
  batch.PutArchive("m", absl::FromUnixSeconds(7200), "merged");
  ASSERT_OK(store->Commit(batch));

  std::vector<int64_t> panes;
  ASSERT_OK(store->ForEachPane(
      [&](const std::string&, absl::Time start, absl::string_view) {
        panes.push_back(absl::ToUnixSeconds(start));
        return absl::OkStatus();
      }));
  EXPECT_EQ(panes, std::vector<int64_t>{7200});
  int archives = 0;
  ASSERT_OK(store->ForEachArchive(
      [&](const std::string& model, absl::Time until, absl::string_view bytes) {
        EXPECT_EQ(model, "m");
        EXPECT_EQ(until, absl::FromUnixSeconds(7200));
        EXPECT_EQ(bytes, "merged");
        ++archives;
        return absl::OkStatus();
      }));
  EXPECT_EQ(archives, 1);
}

TEST_F(StateStoreTest, IterationStopsAtTheFirstError) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  StateBatch batch = store->NewBatch();
  batch.PutPane("m", absl::FromUnixSeconds(1), "x");
  batch.PutPane("m", absl::FromUnixSeconds(2), "y");
  ASSERT_OK(store->Commit(batch));
  int calls = 0;
  const absl::Status status = store->ForEachPane(
      [&](const std::string&, absl::Time, absl::string_view) {
        ++calls;
        return absl::CancelledError("stop");
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST_F(StateStoreTest, SecondOpenOfTheSameFolderIsRefusedClearly) {
  ASSERT_OK_AND_ASSIGN(auto store, StateStore::Open(Options()));
  const auto second = StateStore::Open(Options());
  EXPECT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("open state store"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace vigie::storage
