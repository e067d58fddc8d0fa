// Recommendation quality through the real server on loopback: two
// recommender models share a catalogue uploaded over gRPC (1,000 items in
// 10 categories, with a reference popularity). Both recommend diverse lists
// during their reference day and the next; from the third day on, the
// treated model collapses onto the most popular items of each user's
// favourite category, while the control model goes on as before. The
// treated model's diversity, novelty and catalogue coverage must fall and
// the shipped policy's R1 and R2 fire on it; the control model must stay
// quiet. Expected values are computed in the test from the lists it sent.

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
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie {
namespace {

constexpr char kTreated[] = "shop";
constexpr char kControl[] = "shop-control";
constexpr int kItems = 1000;
constexpr int kCategories = 10;
constexpr int kUsers = 400;
constexpr int kListLength = 10;
constexpr uint64_t kReferenceUsers = 10000;

// Item i is in category i % 10; its reference popularity falls with i
// (Zipf): u_i = 10,000 / (i + 1) users of 10,000 interacted with it.
uint64_t InteractingUsers(int item) {
  return kReferenceUsers / static_cast<uint64_t>(item + 1);
}
std::string ItemId(int item) { return absl::StrCat("item-", item); }

v1::ItemCatalogue Catalogue() {
  v1::ItemCatalogue catalogue;
  catalogue.set_reference_users(kReferenceUsers);
  for (int i = 0; i < kItems; ++i) {
    v1::CatalogueItem* item = catalogue.add_items();
    item->set_item_id(ItemId(i));
    item->add_categories(absl::StrCat("category-", i % kCategories));
    item->set_reference_users(InteractingUsers(i));
  }
  return catalogue;
}

// What the test measures of the lists it sends, by the definitions of
// monitors/recommendation.h.
struct Expected {
  double sum_diversity = 0;
  double sum_novelty = 0;
  uint64_t lists = 0;
  std::set<int> distinct;

  void Add(const std::vector<int>& list) {
    // One category per item: the cosine of two items is 1 when they share
    // it, else 0; diversity is the share of pairs in different categories.
    int pairs = 0;
    int different = 0;
    for (size_t a = 0; a < list.size(); ++a) {
      for (size_t b = a + 1; b < list.size(); ++b) {
        ++pairs;
        different += list[a] % kCategories != list[b] % kCategories ? 1 : 0;
      }
    }
    sum_diversity += static_cast<double>(different) / pairs;
    double novelty = 0;
    for (int item : list) {
      novelty -= std::log2(static_cast<double>(InteractingUsers(item)) /
                           static_cast<double>(kReferenceUsers));
      distinct.insert(item);
    }
    sum_novelty += novelty / static_cast<double>(list.size());
    ++lists;
  }
  double diversity() const {
    return sum_diversity / static_cast<double>(lists);
  }
  double novelty() const { return sum_novelty / static_cast<double>(lists); }
  double coverage() const {
    return static_cast<double>(distinct.size()) / kItems;
  }
};

class Recommender {
 public:
  explicit Recommender(uint64_t seed) : rng_(seed) {}

  // `n` lists from `start`, `spacing` apart, for random users: diverse
  // (10 distinct items drawn uniformly), or collapsed (the 10 most popular
  // items of the user's favourite category, user u's being u % 10). A third
  // of the lists get feedback: the user clicked the list's third item.
  std::vector<v1::Event> Lists(const std::string& model, int n,
                               absl::Time start, absl::Duration spacing,
                               bool collapsed, Expected& expected) {
    std::vector<v1::Event> events;
    for (int i = 0; i < n; ++i) {
      const int user = static_cast<int>(rng_() % kUsers);
      std::vector<int> list;
      if (collapsed) {
        for (int k = 0; k < kListLength; ++k) {
          list.push_back(user % kCategories + k * kCategories);
        }
      } else {
        while (list.size() < kListLength) {
          const int item = static_cast<int>(rng_() % kItems);
          if (std::find(list.begin(), list.end(), item) == list.end()) {
            list.push_back(item);
          }
        }
      }
      expected.Add(list);
      const std::string id = absl::StrCat(model, "-", next_id_++);
      const absl::Time at = start + i * spacing;
      v1::Prediction& p = *events.emplace_back().mutable_prediction();
      p.set_model_id(model);
      p.set_prediction_id(id);
      p.mutable_event_time()->set_seconds(absl::ToUnixSeconds(at));
      for (int item : list)
        p.mutable_recommendation()->add_item_ids(ItemId(item));
      p.mutable_recommendation()->set_user_id(absl::StrCat("user-", user));
      if (i % 3 == 0) {
        v1::Outcome& o = *events.emplace_back().mutable_outcome();
        o.set_model_id(model);
        o.set_prediction_id(id);
        o.mutable_event_time()->set_seconds(absl::ToUnixSeconds(at));
        o.mutable_recommendation()->add_relevant_item_ids(ItemId(list[2]));
      }
    }
    return events;
  }

 private:
  std::mt19937_64 rng_;
  uint64_t next_id_ = 0;
};

class RecommendationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                         services::DefaultServerConfig());
    for (const char* id : {kTreated, kControl}) {
      services::ModelConfig model = config.default_model;
      model.id = id;
      model.task = "recommendation";
      // The first day is the frozen baseline of rules R1-R3.
      model.reference_window = absl::Hours(24);
      config.models.push_back(model);
    }
    config.data_dir = dir_.Join("state");
    ASSERT_OK(server_.Start(config, &clock_));
  }

  void Send(std::vector<v1::Event> events) {
    server_.SendAll(std::move(events));
  }

  v1::Recommendation Metrics(const std::string& model) {
    v1::GetMetricsRequest request;
    request.set_model_id(model);
    request.mutable_last()->set_seconds(24 * 3600);
    absl::StatusOr<v1::GetMetricsReply> reply =
        server_.client().GetMetrics(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->recommendation() : v1::Recommendation();
  }

  // R alerts of `model` firing on a breach (not for want of data), as
  // "rule/scope".
  std::set<std::string> Alerts(const std::string& model) {
    v1::ListAlertsRequest request;
    request.set_model_id(model);
    auto reply = server_.client().ListAlerts(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    std::set<std::string> out;
    if (!reply.ok()) return out;
    for (const v1::Alert& alert : reply->alerts()) {
      if (alert.rule_id()[0] != 'R' ||
          alert.state() != v1::ALERT_STATE_FIRING ||
          alert.severity() == v1::SEVERITY_INSUFFICIENT_DATA) {
        continue;
      }
      std::string scope;
      for (const auto& [key, value] : alert.scope()) {
        if (key != "model") absl::StrAppend(&scope, value);
      }
      out.insert(absl::StrCat(alert.rule_id(), "/", scope));
    }
    return out;
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::LoopbackServer server_;
};

TEST_F(RecommendationE2eTest, CollapsedRecommenderAlertsControlStaysQuiet) {
  for (const char* model : {kTreated, kControl}) {
    v1::PutCatalogueRequest put;
    put.set_model_id(model);
    put.set_description("catalogue of the test shop");
    *put.mutable_catalogue() = Catalogue();
    ASSERT_OK_AND_ASSIGN(v1::CatalogueInfo info,
                         server_.client().PutCatalogue(put));
    EXPECT_EQ(info.items(), static_cast<uint64_t>(kItems));
  }
  // On the hour, so that a day is a window of 24 one-hour panes.
  const absl::Time t0 = absl::FromUnixSeconds(1'790'006'400);
  const absl::Duration spacing = absl::Seconds(57.6);  // 1,500 a day.
  Recommender treated(7);
  Recommender control(8);
  // Day d of both models: the treated one collapses from day 2 on.
  for (int day = 0; day < 6; ++day) {
    const absl::Time start = t0 + absl::Hours(24) * day;
    Expected treated_day;
    Expected control_day;
    Send(treated.Lists(kTreated, 1500, start, spacing, day >= 2, treated_day));
    Send(control.Lists(kControl, 1500, start, spacing, false, control_day));
    clock_.Advance(absl::Minutes(1));
    const v1::Recommendation got = Metrics(kTreated);
    EXPECT_EQ(got.lists(), 1500u) << day;
    EXPECT_EQ(got.catalogue_size(), static_cast<uint32_t>(kItems));
    EXPECT_NEAR(got.diversity(), treated_day.diversity(), 1e-6) << day;
    EXPECT_NEAR(got.novelty(), treated_day.novelty(), 1e-9) << day;
    EXPECT_NEAR(got.coverage(), treated_day.coverage(), 1e-12) << day;
    EXPECT_NEAR(Metrics(kControl).diversity(), control_day.diversity(), 1e-6);
    if (day < 2) {
      EXPECT_TRUE(Alerts(kTreated).empty()) << day;
    } else {
      // Collapsed: every pair shares its category, 10 items per category.
      EXPECT_NEAR(got.diversity(), 0, 1e-9);
      EXPECT_NEAR(got.coverage(), 0.1, 1e-12);
    }
    EXPECT_TRUE(Alerts(kControl).empty()) << day;
  }
  // After 4 collapsed days: diversity (R1) and novelty and coverage (R2)
  // fire on the treated model.
  const std::set<std::string> fired = Alerts(kTreated);
  bool r1 = false;
  bool r2 = false;
  for (const std::string& alert : fired) {
    r1 = r1 || alert.rfind("R1/", 0) == 0;
    r2 = r2 || alert.rfind("R2", 0) == 0;
  }
  EXPECT_TRUE(r1) << fired.size();
  EXPECT_TRUE(r2) << fired.size();

  // After a restart, the stored catalogue still resolves the lists of a
  // seventh day, and the alerts stay.
  ASSERT_OK(server_.Restart());
  Expected day6;
  Send(treated.Lists(kTreated, 1500, t0 + absl::Hours(24) * 6, spacing, true,
                     day6));
  clock_.Advance(absl::Minutes(1));
  const v1::Recommendation after = Metrics(kTreated);
  EXPECT_EQ(after.catalogue_size(), static_cast<uint32_t>(kItems));
  EXPECT_EQ(after.unknown_items(), 0u);
  EXPECT_NEAR(after.novelty(), day6.novelty(), 1e-9);
  EXPECT_EQ(Alerts(kTreated), fired);
}

}  // namespace
}  // namespace vigie
