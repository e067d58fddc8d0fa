// Validation of conformal predictions (regression intervals, multiclass
// sets) and of recommendation lists and their feedback.

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "services/event_validation.h"

namespace vigie::services {
namespace {

using Edit = std::function<void(vigie::v1::Prediction&)>;
constexpr double kInf = std::numeric_limits<double>::infinity();

ModelConfig Task(const std::string& task) {
  ModelConfig model;
  model.id = task;
  model.task = task;
  if (task == "multiclass") model.monitors.classes = {"a", "b", "c"};
  return model;
}

vigie::v1::Prediction Base(const std::string& model) {
  vigie::v1::Prediction p;
  p.set_model_id(model);
  p.set_prediction_id("p1");
  p.mutable_event_time()->set_seconds(1'700'000'000);
  return p;
}

vigie::v1::Prediction Interval() {
  vigie::v1::Prediction p = Base("regression");
  vigie::v1::RegressionPrediction& r = *p.mutable_regression();
  r.set_value(10);
  r.set_interval_lower(8);
  r.set_interval_upper(12);
  r.set_alpha(0.1);
  r.set_calibration_size(1000);
  return p;
}

vigie::v1::Prediction Set() {
  vigie::v1::Prediction p = Base("multiclass");
  p.mutable_multiclass()->set_predicted_class("a");
  p.mutable_multiclass()->add_prediction_set_labels("a");
  p.mutable_multiclass()->add_prediction_set_labels("b");
  p.mutable_multiclass()->set_alpha(0.1);
  return p;
}

vigie::v1::Prediction List() {
  vigie::v1::Prediction p = Base("recommendation");
  p.mutable_recommendation()->add_item_ids("i1");
  p.mutable_recommendation()->add_item_ids("i2");
  p.mutable_recommendation()->set_user_id("u1");
  return p;
}

void ExpectRejected(const ModelConfig& model, vigie::v1::Prediction base,
                    const std::vector<std::pair<const char*, Edit>>& cases) {
  for (const auto& [name, edit] : cases) {
    vigie::v1::Prediction p = base;
    edit(p);
    const std::optional<EventRejection> rejection =
        ValidatePrediction(model, p);
    ASSERT_TRUE(rejection.has_value()) << name;
    EXPECT_EQ(rejection->reason, vigie::v1::REJECT_REASON_INVALID_OUTPUT)
        << name << ": " << rejection->message;
  }
}

TEST(EventValidationTasksTest, AcceptsIntervalsAndChecksThem) {
  vigie::v1::Prediction p = Interval();
  EXPECT_FALSE(ValidatePrediction(Task("regression"), p).has_value());
  // Unbounded sides, and a value alone, are fine.
  p.mutable_regression()->set_interval_lower(-kInf);
  p.mutable_regression()->set_interval_upper(kInf);
  EXPECT_FALSE(ValidatePrediction(Task("regression"), p).has_value());
  vigie::v1::Prediction plain = Base("regression");
  plain.mutable_regression()->set_value(3);
  EXPECT_FALSE(ValidatePrediction(Task("regression"), plain).has_value());

  ExpectRejected(
      Task("regression"), Interval(),
      {{"one end",
        [](auto& e) { e.mutable_regression()->clear_interval_upper(); }},
       {"reversed",
        [](auto& e) { e.mutable_regression()->set_interval_lower(13); }},
       {"NaN end",
        [](auto& e) {
          e.mutable_regression()->set_interval_upper(std::nan(""));
        }},
       {"inward infinity",
        [](auto& e) { e.mutable_regression()->set_interval_lower(kInf); }},
       {"no alpha", [](auto& e) { e.mutable_regression()->clear_alpha(); }},
       {"alpha 0", [](auto& e) { e.mutable_regression()->set_alpha(0); }},
       {"n_cal 0",
        [](auto& e) { e.mutable_regression()->set_calibration_size(0); }},
       {"value NaN",
        [](auto& e) { e.mutable_regression()->set_value(std::nan("")); }},
       {"alpha without interval",
        [](auto& e) {
          e.mutable_regression()->clear_interval_lower();
          e.mutable_regression()->clear_interval_upper();
        }},
       {"binary output", [](auto& e) { e.mutable_binary()->set_score(0.5); }}});
}

TEST(EventValidationTasksTest, AcceptsSetsAndChecksThem) {
  vigie::v1::Prediction p = Set();
  EXPECT_FALSE(ValidatePrediction(Task("multiclass"), p).has_value());
  // An empty set, with its alpha, is a conformal prediction too.
  p.mutable_multiclass()->clear_prediction_set_labels();
  EXPECT_FALSE(ValidatePrediction(Task("multiclass"), p).has_value());
  ExpectRejected(
      Task("multiclass"), Set(),
      {{"twice",
        [](auto& e) {
          e.mutable_multiclass()->add_prediction_set_labels("a");
        }},
       {"unknown class",
        [](auto& e) {
          e.mutable_multiclass()->add_prediction_set_labels("z");
        }},
       {"no alpha", [](auto& e) { e.mutable_multiclass()->clear_alpha(); }},
       {"n_cal 0",
        [](auto& e) { e.mutable_multiclass()->set_calibration_size(0); }}});
}

TEST(EventValidationTasksTest, AcceptsListsAndChecksThem) {
  vigie::v1::Prediction p = List();
  EXPECT_FALSE(ValidatePrediction(Task("recommendation"), p).has_value());
  ExpectRejected(
      Task("recommendation"), List(),
      {{"empty item",
        [](auto& e) { e.mutable_recommendation()->add_item_ids(""); }},
       {"too many",
        [](auto& e) {
          for (int i = 0; i < 1000; ++i) {
            e.mutable_recommendation()->add_item_ids("x");
          }
        }},
       {"long user",
        [](auto& e) {
          e.mutable_recommendation()->set_user_id(std::string(600, 'u'));
        }},
       {"regression output",
        [](auto& e) { e.mutable_regression()->set_value(1); }}});
  // Another task refuses a list.
  EXPECT_TRUE(ValidatePrediction(Task("binary"), p).has_value());
}

TEST(EventValidationTasksTest, ChecksTheOutcomesOfEachTask) {
  vigie::v1::Outcome o;
  o.set_model_id("m");
  o.set_prediction_id("p1");
  o.mutable_event_time()->set_seconds(1'700'000'000);
  o.set_regression(2.5);
  EXPECT_FALSE(ValidateOutcome(Task("regression"), o).has_value());
  EXPECT_EQ(ValidateOutcome(Task("binary"), o)->reason,
            vigie::v1::REJECT_REASON_INVALID_LABEL);
  o.set_regression(kInf);
  EXPECT_EQ(ValidateOutcome(Task("regression"), o)->reason,
            vigie::v1::REJECT_REASON_INVALID_LABEL);
  o.mutable_recommendation()->add_relevant_item_ids("i1");
  EXPECT_FALSE(ValidateOutcome(Task("recommendation"), o).has_value());
  // No item clicked is an outcome too.
  o.mutable_recommendation()->clear_relevant_item_ids();
  EXPECT_FALSE(ValidateOutcome(Task("recommendation"), o).has_value());
  EXPECT_EQ(ValidateOutcome(Task("regression"), o)->reason,
            vigie::v1::REJECT_REASON_INVALID_LABEL);
}

}  // namespace
}  // namespace vigie::services
