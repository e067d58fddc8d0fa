#include "services/event_validation.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace vigie::services {
namespace {

ModelConfig Model() {
  ModelConfig model;
  model.id = "credit";
  model.versions = {"v1", "v2"};
  model.decision_threshold = 0.6;
  return model;
}

vigie::v1::Prediction Valid() {
  vigie::v1::Prediction p;
  p.set_model_id("credit");
  p.set_model_version("v1");
  p.set_prediction_id("p1");
  p.mutable_event_time()->set_seconds(1'700'000'000);
  p.mutable_binary()->set_score(0.7);
  (*p.mutable_groups())["sex"] = "female";
  return p;
}

TEST(EventValidationTest, AcceptsAValidPredictionAndDerivesItsDecision) {
  vigie::v1::Prediction p = Valid();
  EXPECT_FALSE(ValidatePrediction(Model(), p).has_value());
  ASSERT_TRUE(p.binary().has_decision());
  EXPECT_TRUE(p.binary().decision());  // 0.7 >= 0.6.
  p = Valid();
  p.mutable_binary()->set_score(0.59);
  EXPECT_FALSE(ValidatePrediction(Model(), p).has_value());
  EXPECT_FALSE(p.binary().decision());
}

TEST(EventValidationTest, KeepsAnExplicitDecision) {
  vigie::v1::Prediction p = Valid();
  p.mutable_binary()->set_decision(false);
  EXPECT_FALSE(ValidatePrediction(Model(), p).has_value());
  EXPECT_FALSE(p.binary().decision());
}

struct BadCase {
  const char* name;
  void (*mutate)(vigie::v1::Prediction&);
  vigie::v1::RejectReason reason;
};

TEST(EventValidationTest, RejectsEachProblemWithItsReason) {
  const BadCase cases[] = {
      {"missing id", [](vigie::v1::Prediction& p) { p.clear_prediction_id(); },
       vigie::v1::REJECT_REASON_MISSING_PREDICTION_ID},
      {"NaN score",
       [](vigie::v1::Prediction& p) {
         p.mutable_binary()->set_score(std::nan(""));
       },
       vigie::v1::REJECT_REASON_INVALID_SCORE},
      {"score above 1",
       [](vigie::v1::Prediction& p) { p.mutable_binary()->set_score(1.5); },
       vigie::v1::REJECT_REASON_INVALID_SCORE},
      {"negative score",
       [](vigie::v1::Prediction& p) { p.mutable_binary()->set_score(-0.1); },
       vigie::v1::REJECT_REASON_INVALID_SCORE},
      {"unknown version",
       [](vigie::v1::Prediction& p) { p.set_model_version("v9"); },
       vigie::v1::REJECT_REASON_UNKNOWN_MODEL_VERSION},
      {"no version", [](vigie::v1::Prediction& p) { p.clear_model_version(); },
       vigie::v1::REJECT_REASON_UNKNOWN_MODEL_VERSION},
      {"no time", [](vigie::v1::Prediction& p) { p.clear_event_time(); },
       vigie::v1::REJECT_REASON_INVALID_EVENT_TIME},
      {"time out of range",
       [](vigie::v1::Prediction& p) {
         p.mutable_event_time()->set_seconds(
             std::numeric_limits<int64_t>::max());
       },
       vigie::v1::REJECT_REASON_INVALID_EVENT_TIME},
      {"no output", [](vigie::v1::Prediction& p) { p.clear_binary(); },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {"empty binary",
       [](vigie::v1::Prediction& p) { p.mutable_binary()->clear_score(); },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {"regression output for a binary model",
       [](vigie::v1::Prediction& p) { p.mutable_regression()->set_value(3); },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {"infinite feature",
       [](vigie::v1::Prediction& p) {
         (*p.mutable_features())["income"].set_numeric(
             std::numeric_limits<double>::infinity());
       },
       vigie::v1::REJECT_REASON_INVALID_ATTRIBUTE},
      {"empty attribute name",
       [](vigie::v1::Prediction& p) { (*p.mutable_groups())[""] = "x"; },
       vigie::v1::REJECT_REASON_INVALID_ATTRIBUTE},
  };
  for (const BadCase& c : cases) {
    vigie::v1::Prediction p = Valid();
    c.mutate(p);
    const auto rejection = ValidatePrediction(Model(), p);
    ASSERT_TRUE(rejection.has_value()) << c.name;
    EXPECT_EQ(rejection->reason, c.reason)
        << c.name << ": " << rejection->message;
    EXPECT_FALSE(rejection->message.empty()) << c.name;
  }
}

TEST(EventValidationTest, MessagesNameTheValue) {
  vigie::v1::Prediction p = Valid();
  p.mutable_binary()->set_score(1.7);
  EXPECT_EQ(ValidatePrediction(Model(), p)->message,
            "score must be in [0, 1], got 1.7");
  p = Valid();
  p.set_model_version("v9");
  EXPECT_EQ(ValidatePrediction(Model(), p)->message,
            "model_version 'v9' is not a version of model 'credit' (expected "
            "one of: v1, v2)");
}

TEST(EventValidationTest, ChecksOutcomes) {
  vigie::v1::Outcome o;
  o.set_model_id("credit");
  o.set_prediction_id("p1");
  o.mutable_event_time()->set_seconds(1'700'000'000);
  o.set_binary(true);
  EXPECT_FALSE(ValidateOutcome(Model(), o).has_value());
  o.clear_label();
  EXPECT_EQ(ValidateOutcome(Model(), o)->reason,
            vigie::v1::REJECT_REASON_INVALID_LABEL);
  o.set_regression(2.0);
  EXPECT_EQ(ValidateOutcome(Model(), o)->reason,
            vigie::v1::REJECT_REASON_INVALID_LABEL);
  o.set_binary(false);
  o.clear_prediction_id();
  EXPECT_EQ(ValidateOutcome(Model(), o)->reason,
            vigie::v1::REJECT_REASON_MISSING_PREDICTION_ID);
}

ModelConfig Multiclass() {
  ModelConfig model;
  model.id = "triage";
  model.task = "multiclass";
  model.monitors.classes = {"low", "medium", "high"};
  return model;
}

vigie::v1::Prediction ValidMulticlass() {
  vigie::v1::Prediction p;
  p.set_model_id("triage");
  p.set_prediction_id("p1");
  p.mutable_event_time()->set_seconds(1'700'000'000);
  for (const auto& [label, probability] :
       {std::pair{"low", 0.2}, {"medium", 0.5}, {"high", 0.3}}) {
    vigie::v1::ClassProbability* c =
        p.mutable_multiclass()->add_probabilities();
    c->set_label(label);
    c->set_probability(probability);
  }
  return p;
}

TEST(EventValidationTest, AcceptsAMulticlassPredictionAndDerivesItsClass) {
  vigie::v1::Prediction p = ValidMulticlass();
  EXPECT_FALSE(ValidatePrediction(Multiclass(), p).has_value());
  EXPECT_EQ(p.multiclass().predicted_class(), "medium");  // 0.5 is the top.
  // An explicit class is kept, even if it is not the most probable.
  p = ValidMulticlass();
  p.mutable_multiclass()->set_predicted_class("high");
  EXPECT_FALSE(ValidatePrediction(Multiclass(), p).has_value());
  EXPECT_EQ(p.multiclass().predicted_class(), "high");
  // A class alone is enough.
  p = ValidMulticlass();
  p.mutable_multiclass()->clear_probabilities();
  p.mutable_multiclass()->set_predicted_class("low");
  EXPECT_FALSE(ValidatePrediction(Multiclass(), p).has_value());
}

TEST(EventValidationTest, RejectsEachMulticlassProblemWithItsReason) {
  using Edit = std::function<void(vigie::v1::Prediction&)>;
  const std::vector<std::pair<Edit, vigie::v1::RejectReason>> cases = {
      {[](auto& p) { p.mutable_multiclass()->Clear(); },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {[](auto& p) {
         p.mutable_multiclass()->mutable_probabilities(0)->set_label("none");
       },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {[](auto& p) {
         p.mutable_multiclass()->mutable_probabilities(2)->set_label("low");
       },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {[](auto& p) {
         p.mutable_multiclass()->mutable_probabilities(0)->set_probability(
             std::nan(""));
       },
       vigie::v1::REJECT_REASON_INVALID_SCORE},
      // 0.25 + 0.5 + 0.3 = 1.05: off by more than the tolerance.
      {[](auto& p) {
         p.mutable_multiclass()->mutable_probabilities(0)->set_probability(
             0.25);
       },
       vigie::v1::REJECT_REASON_INVALID_SCORE},
      {[](auto& p) { p.mutable_multiclass()->set_predicted_class("none"); },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {[](auto& p) { p.mutable_multiclass()->add_prediction_set_labels("x"); },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {[](auto& p) { p.mutable_multiclass()->set_alpha(1.0); },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
      {[](auto& p) { p.mutable_binary()->set_score(0.5); },
       vigie::v1::REJECT_REASON_INVALID_OUTPUT},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    vigie::v1::Prediction p = ValidMulticlass();
    cases[i].first(p);
    const std::optional<EventRejection> rejection =
        ValidatePrediction(Multiclass(), p);
    ASSERT_TRUE(rejection.has_value()) << "case " << i;
    EXPECT_EQ(rejection->reason, cases[i].second)
        << "case " << i << ": " << rejection->message;
  }
  // A sum within 1e-3 of 1 is accepted (0.2004 + 0.5 + 0.3).
  vigie::v1::Prediction p = ValidMulticlass();
  p.mutable_multiclass()->mutable_probabilities(0)->set_probability(0.2004);
  EXPECT_FALSE(ValidatePrediction(Multiclass(), p).has_value());
  // A binary model refuses a multiclass output.
  p = ValidMulticlass();
  p.set_model_version("v1");  // Model() lists its versions.
  EXPECT_EQ(ValidatePrediction(Model(), p)->reason,
            vigie::v1::REJECT_REASON_INVALID_OUTPUT);
}

TEST(EventValidationTest, ChecksMulticlassOutcomes) {
  vigie::v1::Outcome o;
  o.set_model_id("triage");
  o.set_prediction_id("p1");
  o.mutable_event_time()->set_seconds(1'700'000'000);
  o.set_class_label("high");
  EXPECT_FALSE(ValidateOutcome(Multiclass(), o).has_value());
  o.set_class_label("urgent");
  const std::optional<EventRejection> rejection =
      ValidateOutcome(Multiclass(), o);
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->reason, vigie::v1::REJECT_REASON_INVALID_LABEL);
  EXPECT_NE(rejection->message.find("urgent"), std::string::npos);
  o.set_binary(true);
  EXPECT_EQ(ValidateOutcome(Multiclass(), o)->reason,
            vigie::v1::REJECT_REASON_INVALID_LABEL);
}

TEST(EventValidationTest, ReasonNamesDropThePrefix) {
  EXPECT_EQ(RejectReasonName(vigie::v1::REJECT_REASON_INVALID_SCORE),
            "INVALID_SCORE");
}

}  // namespace
}  // namespace vigie::services
