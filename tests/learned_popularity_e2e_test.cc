// A recommendation model that learns its items' reference popularity from
// its stream (learn_popularity), through the real server on loopback. Its
// catalogue comes with a popularity of its own (every item equally
// popular), which measures the lists of the reference day. The day's
// feedback favours a few items; once the day is frozen, GetCatalogue must
// show the popularity learned from it (feedback events naming each item,
// over the feedback events) and the next days' novelty must be measured
// with it, also after a restart. Expected values are counted in the test
// from the events it sent, by the definitions of monitors/item_catalogue.h.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie {
namespace {

constexpr char kModel[] = "learner";
constexpr int kItems = 200;
constexpr int kListLength = 8;
// The catalogue's own popularity: each item used by 10 of 100 users.
constexpr uint64_t kCatalogueUsers = 100;
constexpr uint64_t kCatalogueItemUsers = 10;

std::string ItemId(int item) { return absl::StrCat("item-", item); }

v1::ItemCatalogue Catalogue() {
  v1::ItemCatalogue catalogue;
  catalogue.set_reference_users(kCatalogueUsers);
  for (int i = 0; i < kItems; ++i) {
    v1::CatalogueItem* item = catalogue.add_items();
    item->set_item_id(ItemId(i));
    item->add_categories(absl::StrCat("category-", i % 5));
    item->set_reference_users(kCatalogueItemUsers);
  }
  return catalogue;
}

// Lists of random distinct items; every other list gets feedback naming
// 0 to 3 items drawn with a strong bias towards low ids (some named twice,
// some unknown to the catalogue), which the test tallies.
class Stream {
 public:
  explicit Stream(uint64_t seed) : rng_(seed) {}

  std::vector<v1::Event> Day(absl::Time start, int lists,
                             std::vector<std::vector<int>>* sent) {
    std::vector<v1::Event> events;
    for (int i = 0; i < lists; ++i) {
      std::vector<int> list;
      while (list.size() < kListLength) {
        const int item = static_cast<int>(rng_() % kItems);
        if (std::find(list.begin(), list.end(), item) == list.end()) {
          list.push_back(item);
        }
      }
      sent->push_back(list);
      const std::string id = absl::StrCat("p-", next_id_++);
      const absl::Time at = start + absl::Seconds(60) * i;
      v1::Prediction& p = *events.emplace_back().mutable_prediction();
      p.set_model_id(kModel);
      p.set_prediction_id(id);
      p.mutable_event_time()->set_seconds(absl::ToUnixSeconds(at));
      for (int item : list) {
        p.mutable_recommendation()->add_item_ids(ItemId(item));
      }
      p.mutable_recommendation()->set_user_id(absl::StrCat("u", rng_() % 50));
      if (i % 2 != 0) continue;
      v1::Outcome& o = *events.emplace_back().mutable_outcome();
      o.set_model_id(kModel);
      o.set_prediction_id(id);
      o.mutable_event_time()->set_seconds(absl::ToUnixSeconds(at));
      v1::RecommendationFeedback& feedback = *o.mutable_recommendation();
      const int relevant = static_cast<int>(rng_() % 4);
      std::set<std::string> named;
      for (int k = 0; k < relevant; ++k) {
        // Item j with weight about 1 / (j + 1)^2: a few items take most.
        const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
        const int item =
            static_cast<int>(std::floor(1 / (u * u + 0.004))) % (kItems + 10);
        // Ids past the catalogue are unknown to it: counted nowhere.
        const std::string item_id = ItemId(item);
        feedback.add_relevant_item_ids(item_id);
        if (k == 0 && rng_() % 4 == 0) feedback.add_relevant_item_ids(item_id);
        named.insert(item_id);
      }
      ++feedback_events_;
      for (const std::string& item_id : named) ++named_by_[item_id];
    }
    return events;
  }
  uint64_t feedback_events() const { return feedback_events_; }
  uint64_t named_by(int item) const {
    const auto it = named_by_.find(ItemId(item));
    return it == named_by_.end() ? 0 : it->second;
  }

 private:
  std::mt19937_64 rng_;
  uint64_t next_id_ = 0;
  uint64_t feedback_events_ = 0;
  std::map<std::string, uint64_t> named_by_;
};

// The mean over lists of the mean novelty of their items.
double MeanNovelty(const std::vector<std::vector<int>>& lists,
                   const std::map<int, double>& novelty) {
  double sum = 0;
  for (const std::vector<int>& list : lists) {
    double list_sum = 0;
    for (int item : list) list_sum += novelty.at(item);
    sum += list_sum / static_cast<double>(list.size());
  }
  return sum / static_cast<double>(lists.size());
}

TEST(LearnedPopularityE2eTest, TheReferenceDaysFeedbackBecomesThePopularity) {
  testutil::TempDir dir;
  common::FakeClock clock;
  testutil::LoopbackServer server;
  ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                       services::DefaultServerConfig());
  services::ModelConfig model = config.default_model;
  model.id = kModel;
  model.task = "recommendation";
  model.reference_window = absl::Hours(24);
  model.learn_popularity = true;
  config.models.push_back(model);
  config.data_dir = dir.Join("state");
  ASSERT_OK(server.Start(config, &clock));

  v1::PutCatalogueRequest put;
  put.set_model_id(kModel);
  *put.mutable_catalogue() = Catalogue();
  ASSERT_OK(server.client().PutCatalogue(put).status());

  auto metrics = [&]() {
    v1::GetMetricsRequest request;
    request.set_model_id(kModel);
    request.mutable_last()->set_seconds(24 * 3600);
    absl::StatusOr<v1::GetMetricsReply> reply =
        server.client().GetMetrics(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->recommendation() : v1::Recommendation();
  };
  auto catalogue = [&]() {
    v1::GetCatalogueRequest request;
    request.set_model_id(kModel);
    request.set_include_items(true);
    absl::StatusOr<v1::CatalogueInfo> info =
        server.client().GetCatalogue(request);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : v1::CatalogueInfo();
  };

  // Day 0, the reference day: measured with the catalogue's popularity.
  const absl::Time t0 = absl::FromUnixSeconds(1'790'006'400);  // On the hour.
  Stream stream(42);
  std::vector<std::vector<int>> day0;
  server.SendAll(stream.Day(t0, 1440, &day0));
  clock.Advance(absl::Minutes(1));
  std::map<int, double> catalogue_novelty;
  for (int i = 0; i < kItems; ++i) {
    catalogue_novelty[i] =
        -std::log2(static_cast<double>(kCatalogueItemUsers) / kCatalogueUsers);
  }
  EXPECT_NEAR(metrics().novelty(), MeanNovelty(day0, catalogue_novelty), 1e-9);
  EXPECT_EQ(catalogue().popularity_source(), "catalogue");

  // Day 0's feedback, tallied before day 1 is sent: only it counts.
  const uint64_t users = stream.feedback_events();
  ASSERT_EQ(users, 720u);  // Every other list.
  std::map<int, uint64_t> learned_users;
  for (int i = 0; i < kItems; ++i) learned_users[i] = stream.named_by(i);

  // Day 1 freezes day 0; day 2 is measured with the learned popularity.
  std::vector<std::vector<int>> day1;
  server.SendAll(stream.Day(t0 + absl::Hours(24), 1440, &day1));
  std::map<int, double> learned_novelty;
  int unseen = 0;
  for (int i = 0; i < kItems; ++i) {
    const uint64_t u = learned_users[i];
    unseen += u == 0 ? 1 : 0;
    // An item no reference user chose: log2(U + 1) (item_catalogue.h).
    learned_novelty[i] =
        u == 0
            ? std::log2(static_cast<double>(users) + 1)
            : -std::log2(static_cast<double>(u) / static_cast<double>(users));
  }
  ASSERT_GT(unseen, 0);               // The test covers items never named.
  ASSERT_GT(learned_users[1], 100u);  // And a few very popular ones.

  const v1::CatalogueInfo info = catalogue();
  EXPECT_THAT(info.popularity_source(),
              ::testing::StartsWith("learned: reference window "));
  EXPECT_THAT(info.popularity_source(),
              ::testing::HasSubstr("720 feedback events"));
  EXPECT_EQ(info.reference_users(), users);
  ASSERT_EQ(info.catalogue().items_size(), kItems);
  for (int i = 0; i < kItems; ++i) {
    EXPECT_EQ(info.catalogue().items(i).reference_users(), learned_users[i])
        << i;
  }

  std::vector<std::vector<int>> day2;
  server.SendAll(stream.Day(t0 + absl::Hours(48), 1440, &day2));
  clock.Advance(absl::Minutes(1));
  EXPECT_NEAR(metrics().novelty(), MeanNovelty(day2, learned_novelty), 1e-9);

  // After a restart the learned popularity is derived again from the
  // stored reference, and measures day 3.
  ASSERT_OK(server.Restart());
  EXPECT_EQ(catalogue().popularity_source(), info.popularity_source());
  std::vector<std::vector<int>> day3;
  server.SendAll(stream.Day(t0 + absl::Hours(72), 1440, &day3));
  clock.Advance(absl::Minutes(1));
  EXPECT_NEAR(metrics().novelty(), MeanNovelty(day3, learned_novelty), 1e-9);
}

}  // namespace
}  // namespace vigie
