#include "services/alert_watchers.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::services {
namespace {

vigie::v1::AlertUpdate Update(
    const std::string& model,
    vigie::v1::AlertUpdateKind kind = vigie::v1::ALERT_UPDATE_KIND_TRANSITION) {
  vigie::v1::AlertUpdate update;
  update.set_kind(kind);
  update.mutable_alert()->set_model_id(model);
  update.mutable_alert()->set_fingerprint(model + "-alert");
  return update;
}

// Takes what `watcher` holds now: its updates' models, and its end.
struct Taken {
  std::vector<std::string> models;
  std::optional<absl::Status> end;
};
Taken TakeAll(AlertWatchers::Watcher& watcher) {
  Taken taken;
  while (true) {
    AlertWatchers::Watcher::Next next = watcher.Take();
    if (next.update.has_value()) {
      taken.models.push_back(next.update->alert().model_id());
    } else {
      taken.end = next.end;
      return taken;
    }
  }
}

TEST(AlertWatchersTest, FansOutToEveryWatcherItsFilterPasses) {
  AlertWatchers watchers;
  int a_ready = 0, b_ready = 0;
  ASSERT_OK_AND_ASSIGN(auto a, watchers.Add({}, {}, [&] { ++a_ready; }));
  AlertWatchers::Filter only_credit;
  only_credit.model_id = "credit";
  ASSERT_OK_AND_ASSIGN(auto b,
                       watchers.Add(only_credit, {}, [&] { ++b_ready; }));
  EXPECT_EQ(watchers.size(), 2u);
  // Nothing yet: both are armed.
  EXPECT_TRUE(TakeAll(*a).models.empty());
  EXPECT_TRUE(TakeAll(*b).models.empty());

  watchers.Publish(Update("credit"));
  watchers.Publish(Update("fraud"));
  watchers.Publish(Update("credit", vigie::v1::ALERT_UPDATE_KIND_REFRESH));
  // on_ready once per wake-up, not per update.
  EXPECT_EQ(a_ready, 1);
  EXPECT_EQ(b_ready, 1);
  EXPECT_EQ(TakeAll(*a).models, (std::vector<std::string>{"credit", "fraud"}));
  EXPECT_EQ(TakeAll(*b).models, (std::vector<std::string>{"credit"}));
}

TEST(AlertWatchersTest, RefreshesOnlyForWatchersThatAskForThem) {
  AlertWatchers watchers;
  AlertWatchers::Filter refreshes;
  refreshes.include_refreshes = true;
  ASSERT_OK_AND_ASSIGN(auto watcher, watchers.Add(refreshes, {}, [] {}));
  watchers.Publish(Update("m", vigie::v1::ALERT_UPDATE_KIND_REFRESH));
  EXPECT_EQ(TakeAll(*watcher).models.size(), 1u);
}

TEST(AlertWatchersTest, InitialUpdatesComeFirstAndAreNotBounded) {
  AlertWatchers::Options options;
  options.max_queued = 2;
  AlertWatchers watchers(options);
  std::vector<vigie::v1::AlertUpdate> initial = {
      Update("i1", vigie::v1::ALERT_UPDATE_KIND_CURRENT),
      Update("i2", vigie::v1::ALERT_UPDATE_KIND_CURRENT),
      Update("i3", vigie::v1::ALERT_UPDATE_KIND_CURRENT)};
  ASSERT_OK_AND_ASSIGN(auto watcher, watchers.Add({}, initial, [] {}));
  watchers.Publish(Update("p1"));
  watchers.Publish(Update("p2"));
  const Taken taken = TakeAll(*watcher);
  EXPECT_EQ(taken.models,
            (std::vector<std::string>{"i1", "i2", "i3", "p1", "p2"}));
  EXPECT_FALSE(taken.end.has_value());
}

TEST(AlertWatchersTest, ASlowWatcherIsCutOffAndTheOthersGoOn) {
  AlertWatchers::Options options;
  options.max_queued = 3;
  AlertWatchers watchers(options);
  int slow_ready = 0;
  ASSERT_OK_AND_ASSIGN(auto slow, watchers.Add({}, {}, [&] { ++slow_ready; }));
  ASSERT_OK_AND_ASSIGN(auto fast, watchers.Add({}, {}, [] {}));
  EXPECT_TRUE(TakeAll(*slow).models.empty());  // Armed, then never reads.
  for (int i = 0; i < 10; ++i) {
    watchers.Publish(Update(std::to_string(i)));
    EXPECT_EQ(TakeAll(*fast).models.size(), 1u) << i;
  }
  // The fourth update found its queue full: dropped, and it ends.
  const Taken taken = TakeAll(*slow);
  EXPECT_TRUE(taken.models.empty());
  ASSERT_TRUE(taken.end.has_value());
  EXPECT_EQ(taken.end->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(slow_ready, 1);
  EXPECT_EQ(watchers.size(), 1u);
}

TEST(AlertWatchersTest, AClosedWatcherIsForgotten) {
  AlertWatchers watchers;
  int ready = 0;
  ASSERT_OK_AND_ASSIGN(auto watcher, watchers.Add({}, {}, [&] { ++ready; }));
  EXPECT_TRUE(TakeAll(*watcher).models.empty());
  watcher->Close();
  watchers.Publish(Update("m"));
  EXPECT_EQ(ready, 0);
  EXPECT_EQ(watchers.size(), 0u);
}

TEST(AlertWatchersTest, ShutdownEndsEveryWatcherAndRefusesNewOnes) {
  AlertWatchers watchers;
  int ready = 0;
  ASSERT_OK_AND_ASSIGN(auto idle, watchers.Add({}, {}, [&] { ++ready; }));
  ASSERT_OK_AND_ASSIGN(auto busy, watchers.Add({}, {}, [] {}));
  EXPECT_TRUE(TakeAll(*idle).models.empty());
  watchers.Publish(Update("m"));  // Wakes `idle` once, queued for both.
  watchers.Shutdown(absl::UnavailableError("shutting down"));
  for (auto* watcher : {idle.get(), busy.get()}) {
    const Taken taken = TakeAll(*watcher);
    EXPECT_TRUE(taken.models.empty());
    ASSERT_TRUE(taken.end.has_value());
    EXPECT_EQ(taken.end->code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(watchers.Add({}, {}, [] {}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(watchers.size(), 0u);
}

}  // namespace
}  // namespace vigie::services
