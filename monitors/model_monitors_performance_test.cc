// ModelMonitors' routing of binary scores to its PerformanceEstimateMonitor.
#include <map>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "monitors/model_monitors.h"
#include "monitors/performance_estimate.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

v1::Prediction Scored(double score, const std::string& sex) {
  v1::Prediction prediction;
  prediction.set_model_id("m");
  prediction.mutable_binary()->set_score(score);
  prediction.mutable_binary()->set_decision(score >= 0.5);
  (*prediction.mutable_groups())["sex"] = sex;
  return prediction;
}

v1::Outcome Label(bool label) {
  v1::Outcome outcome;
  outcome.set_model_id("m");
  outcome.set_binary(label);
  return outcome;
}

ModelMonitors::Options TenBins() {
  ModelMonitors::Options options;
  options.group_attributes = {"sex"};
  options.performance_estimate.num_bins = 10;
  return options;
}

TEST(ModelMonitorsPerformanceTest, RoutesScoresAndPairsPerGroup) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors reference,
                       ModelMonitors::Create(TenBins()));
  EXPECT_EQ(reference.performance_estimate(), nullptr);
  // Reference: scores 0.95 right 9 times in 10, scores 0.05 wrong 1 in 10.
  for (int i = 0; i < 100; ++i) {
    const v1::Prediction p = Scored(i % 2 == 0 ? 0.95 : 0.05, "f");
    reference.ObservePrediction(p);
    reference.ObserveJoined(p,
                            Label(i % 2 == 0 ? (i % 20 != 0) : (i % 20 == 1)));
  }
  ASSERT_OK_AND_ASSIGN(ModelMonitors window, ModelMonitors::Create(TenBins()));
  for (int i = 0; i < 30; ++i) window.ObservePrediction(Scored(0.95, "m"));
  ASSERT_NE(window.performance_estimate(), nullptr);
  ASSERT_OK_AND_ASSIGN(PerformanceEstimateMetrics metrics,
                       window.performance_estimate()->Estimate(
                           reference.performance_estimate(),
                           {.method = CalibrationMethod::kHistogram}));
  EXPECT_EQ(metrics.reference_labelled, 100u);
  EXPECT_EQ(metrics.model.predictions, 30u);
  EXPECT_NEAR(metrics.model.estimated.precision->value, 0.9, 1e-12);
  const PerformanceEstimate& m = metrics.groups.at("sex").at("m");
  EXPECT_EQ(m.predictions, 30u);
  EXPECT_FALSE(m.own_calibration);  // "m" has no reference pair.

  // The state travels with the pane, and other bins are another
  // configuration.
  const std::string bytes = reference.Serialize();
  ASSERT_OK_AND_ASSIGN(ModelMonitors back,
                       ModelMonitors::Deserialize(bytes, TenBins()));
  EXPECT_EQ(back.Serialize(), bytes);
  ModelMonitors::Options other = TenBins();
  other.performance_estimate.num_bins = 20;
  EXPECT_EQ(ModelMonitors::Deserialize(bytes, other).status().code(),
            absl::StatusCode::kDataLoss);
  ModelMonitors::Options race = TenBins();
  race.group_attributes = {"race"};
  EXPECT_EQ(ModelMonitors::Deserialize(bytes, race).status().code(),
            absl::StatusCode::kDataLoss);
  ASSERT_OK_AND_ASSIGN(ModelMonitors twenty, ModelMonitors::Create(other));
  EXPECT_EQ(twenty.Merge(reference).code(), absl::StatusCode::kInvalidArgument);

  // Merge adds the counts.
  ASSERT_OK(window.Merge(reference));
  ASSERT_OK_AND_ASSIGN(metrics,
                       window.performance_estimate()->Estimate(nullptr, {}));
  EXPECT_EQ(metrics.model.predictions, 130u);
  EXPECT_EQ(metrics.model.labelled, 100u);
}

TEST(ModelMonitorsPerformanceTest,
     UnscoredAndMulticlassPredictionsAreNotCounted) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors binary, ModelMonitors::Create(TenBins()));
  v1::Prediction unscored;
  unscored.mutable_binary()->set_decision(true);
  binary.ObservePrediction(unscored);
  EXPECT_EQ(binary.performance_estimate(), nullptr);

  ModelMonitors::Options options = TenBins();
  options.classes = {"a", "b"};
  ASSERT_OK_AND_ASSIGN(ModelMonitors multiclass,
                       ModelMonitors::Create(options));
  v1::Prediction p;
  p.mutable_multiclass()->set_predicted_class("a");
  multiclass.ObservePrediction(p);
  EXPECT_EQ(multiclass.performance_estimate(), nullptr);
}

TEST(ModelMonitorsPerformanceTest, CreateChecksItsOptions) {
  ModelMonitors::Options options = TenBins();
  options.performance_estimate.num_bins = 1;
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigie::monitors
