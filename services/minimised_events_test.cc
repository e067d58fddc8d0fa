#include "services/minimised_events.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/v1/events.pb.h"

namespace vigie::services {
namespace {

vigie::v1::Prediction Full() {
  vigie::v1::Prediction p;
  p.set_model_id("credit");
  p.set_model_version("v2");
  p.set_prediction_id("applicant-4711");
  p.mutable_event_time()->set_seconds(1'700'000'000);
  p.mutable_binary()->set_score(0.75);
  (*p.mutable_groups())["sex"] = "female";
  (*p.mutable_features())["income"].set_numeric(52341.17);
  (*p.mutable_features())["postcode"].set_categorical("75011");
  p.set_energy_joules(2.5);
  p.set_latency_seconds(0.02);
  p.set_hardware_class("gpu-a100");
  return p;
}

TEST(MinimisedPredictionTest, KeepsWhatJoinsReadAndDropsTheRest) {
  const vigie::v1::Prediction full = Full();
  ASSERT_OK_AND_ASSIGN(
      const std::string bytes,
      MinimisedPrediction(full.SerializeAsString(), "0123abcd"));
  EXPECT_EQ(bytes.find("applicant-4711"), std::string::npos);
  EXPECT_EQ(bytes.find("75011"), std::string::npos);

  vigie::v1::Prediction kept;
  ASSERT_TRUE(kept.ParseFromString(bytes));
  vigie::v1::Prediction expected = full;
  expected.clear_features();
  expected.clear_energy_joules();
  expected.clear_latency_seconds();
  expected.clear_hardware_class();
  expected.set_prediction_id("0123abcd");
  EXPECT_EQ(kept.DebugString(), expected.DebugString());
}

TEST(MinimisedPredictionTest, DropsTheUserAndRequestOfARecommendationList) {
  vigie::v1::Prediction full;
  full.set_model_id("shop");
  full.set_prediction_id("r-1");
  auto* list = full.mutable_recommendation();
  list->add_item_ids("a");
  list->add_item_ids("b");
  list->set_user_id("user-42");
  list->set_request_id("req-9");
  ASSERT_OK_AND_ASSIGN(const std::string bytes,
                       MinimisedPrediction(full.SerializeAsString(), "ps"));
  vigie::v1::Prediction kept;
  ASSERT_TRUE(kept.ParseFromString(bytes));
  EXPECT_EQ(kept.recommendation().item_ids_size(), 2);
  EXPECT_EQ(kept.recommendation().item_ids(1), "b");
  EXPECT_TRUE(kept.recommendation().user_id().empty());
  EXPECT_TRUE(kept.recommendation().request_id().empty());
  EXPECT_EQ(kept.prediction_id(), "ps");
}

TEST(MinimisedPredictionTest, RepeatedIdsAreAllReplaced) {
  // Protobuf keeps the last of a repeated singular field: a prediction
  // sent with its id twice must not keep either.
  const std::string twice =
      Full().SerializeAsString() + std::string("\x1a\x05other", 7);
  ASSERT_OK_AND_ASSIGN(const std::string bytes,
                       MinimisedPrediction(twice, "ps"));
  EXPECT_EQ(bytes.find("other"), std::string::npos);
  vigie::v1::Prediction kept;
  ASSERT_TRUE(kept.ParseFromString(bytes));
  EXPECT_EQ(kept.prediction_id(), "ps");
}

TEST(MinimisedPredictionTest, MalformedBytesAreDataLoss) {
  EXPECT_EQ(MinimisedPrediction("\x1a\x7f", "ps").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace vigie::services
