// Performance estimation through the real Pipeline, and its configuration.
#include "services/performance_estimate.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/metrics_export.h"
#include "services/pipeline.h"
#include "storage/state_store.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::services {
namespace {

constexpr int64_t kT0 = 1'767'571'200;  // 2026-01-05T00:00:00Z.

TEST(PerformanceConfigTest, ParsesEstimationAndDeclaredPerformance) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("models:\n"
                        "  - id: credit\n"
                        "    max_groups: 50\n"
                        "    performance_estimation:\n"
                        "      calibration: histogram\n"
                        "      bins: 40\n"
                        "      min_group_reference: 1000\n"
                        "    declared_performance: {metric: recall, value: "
                        "0.8}\n",
                        "vigie.yaml"));
  const ModelConfig& model = config.models.at(0);
  EXPECT_EQ(model.performance_estimation.method,
            monitors::CalibrationMethod::kHistogram);
  EXPECT_EQ(model.performance_estimation.min_group_reference, 1000u);
  EXPECT_EQ(model.monitors.performance_estimate.num_bins, 40);
  EXPECT_EQ(model.monitors.performance_estimate.max_groups, 50u);
  ASSERT_TRUE(model.declared_performance.has_value());
  EXPECT_EQ(model.declared_performance->metric, PerformanceMetric::kRecall);
  EXPECT_DOUBLE_EQ(model.declared_performance->value, 0.8);
}

TEST(PerformanceConfigTest, RejectsBadValuesNamingThem) {
  for (const auto& [yaml, needle] :
       std::vector<std::pair<std::string, std::string>>{
           {"performance_estimation: {calibration: platt}", "platt"},
           {"performance_estimation: {bins: 1}", "num_bins"},
           {"performance_estimation: {bins: 20, colour: red}", "colour"},
           {"declared_performance: {metric: auc, value: 0.8}", "auc"},
           {"declared_performance: {metric: f1}", "metric and value"},
           {"declared_performance: {metric: f1, value: 1.5}", "(0, 1]"},
           {"task: regression\n    declared_performance: {metric: f1, "
            "value: 0.5}",
            "binary"}}) {
    const absl::StatusOr<ServerConfig> config = ParseServerConfig(
        absl::StrCat("models:\n  - id: m\n    ", yaml, "\n"), "vigie.yaml");
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_NE(config.status().message().find(needle), std::string::npos)
        << config.status();
  }
  EXPECT_EQ(ParsePerformanceMetric("accuracy").value(),
            PerformanceMetric::kAccuracy);
  EXPECT_EQ(PerformanceMetricName(PerformanceMetric::kF1), "f1");
}

// The shipped P1, as REFERENTIAL.md gives it.
TEST(PerformanceConfigTest, ShippedPolicyHasP1) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config, DefaultServerConfig());
  const rules::Rule* p1 = nullptr;
  for (const rules::Rule& rule : config.policy.rules) {
    if (rule.id == "P1") p1 = &rule;
  }
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(p1->metric, rules::kDeclaredPerformance);
  EXPECT_EQ(p1->comparison, rules::Comparison::kBelow);
  EXPECT_EQ(p1->warning->value, 0.0);
  EXPECT_EQ(p1->warning->max_p_value, 0.05);
  EXPECT_EQ(p1->critical->value, -0.05);
  EXPECT_EQ(p1->critical->max_p_value, 0.01);
  EXPECT_EQ(p1->min_labelled, 500u);
  EXPECT_EQ(p1->element, "Q3.5/3.5.d");
  EXPECT_EQ(p1->related_elements,
            (std::vector<std::string>{"Q3.4/3.4.a", "Q3.5/3.5.b", "Q4.2"}));
  EXPECT_EQ(p1->ai_act_articles, std::vector<std::string>{"Art. 15"});
  EXPECT_NE(p1->summary.find("{interval}"), std::string::npos);
  // The shipped defaults: isotonic over 20 bins, no declared level.
  const ModelConfig& model = config.default_model;
  EXPECT_EQ(model.performance_estimation.method,
            monitors::CalibrationMethod::kIsotonic);
  EXPECT_EQ(model.performance_estimation.min_group_reference, 500u);
  EXPECT_EQ(model.monitors.performance_estimate.num_bins, 20);
  EXPECT_FALSE(model.declared_performance.has_value());
}

// The true P(positive | score): smoothly miscalibrated.
double TrueProbability(double s) { return s * s * (3 - 2 * s); }

class PerformancePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelConfig model;
    model.id = "credit";
    model.pane_length = absl::Hours(1);
    model.label_delay = absl::Hours(24 * 30);
    model.monitors.group_attributes = {"sex"};
    model.reference_time = absl::FromUnixSeconds(kT0);
    model.reference_window = absl::Hours(1);
    model.monitors.performance_estimate.num_bins = 20;
    model.declared_performance =
        DeclaredPerformance{PerformanceMetric::kAccuracy, 0.80};
    config_.models.push_back(model);
    config_.accept_undeclared_models = false;
    // The shipped P1, over hour-long windows.
    ASSERT_OK_AND_ASSIGN(const ServerConfig defaults, DefaultServerConfig());
    for (const rules::Rule& rule : defaults.policy.rules) {
      if (rule.id == "P1") config_.policy.rules = {rule};
    }
    ASSERT_EQ(config_.policy.rules.size(), 1u);
    config_.policy.rules[0].window = absl::Hours(1);
    storage::StateStoreOptions options;
    options.path = dir_.Join("state");
    ASSERT_OK_AND_ASSIGN(store_, storage::StateStore::Open(options));
    ASSERT_OK_AND_ASSIGN(pipeline_,
                         Pipeline::Create(config_, store_.get(), &clock_));
  }

  struct Scored {
    std::string id;
    double score;
    bool outcome;
    int64_t seconds;
    std::string sex;
  };

  // `n` predictions in the pane starting at `seconds`, scores uniform on
  // [center - spread, center + spread].
  static std::vector<Scored> Stream(uint64_t seed, int n, int64_t seconds,
                                    double center, double spread) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<Scored> out;
    for (int i = 0; i < n; ++i) {
      const double s = center + spread * (2 * u(rng) - 1);
      out.push_back({absl::StrCat(seed, "-", i), s, u(rng) < TrueProbability(s),
                     seconds + i % 3000, u(rng) < 0.4 ? "f" : "m"});
    }
    return out;
  }

  void Ingest(const std::vector<Scored>& stream, bool predictions,
              bool outcomes) {
    vigie::v1::IngestRequest request;
    for (const Scored& s : stream) {
      if (predictions) {
        vigie::v1::Prediction* p = request.add_events()->mutable_prediction();
        p->set_model_id("credit");
        p->set_prediction_id(s.id);
        p->mutable_event_time()->set_seconds(s.seconds);
        p->mutable_binary()->set_score(s.score);
        (*p->mutable_groups())["sex"] = s.sex;
      }
      if (outcomes) {
        vigie::v1::Outcome* o = request.add_events()->mutable_outcome();
        o->set_model_id("credit");
        o->set_prediction_id(s.id);
        o->mutable_event_time()->set_seconds(s.seconds + 60);
        o->set_binary(s.outcome);
      }
    }
    ASSERT_OK(pipeline_->Ingest(request, 0).status());
  }

  vigie::v1::GetMetricsReply Metrics(int64_t start) {
    vigie::v1::GetMetricsRequest request;
    request.set_model_id("credit");
    request.mutable_window()->mutable_start()->set_seconds(start);
    request.mutable_window()->mutable_end()->set_seconds(start + 3600);
    auto reply = pipeline_->GetMetrics(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : vigie::v1::GetMetricsReply();
  }

  ServerConfig config_;
  testutil::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(kT0)};
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<Pipeline> pipeline_;
};

// The scenario through the pipeline: a labelled reference hour,
// then an hour whose scores crowd toward the threshold; GetMetrics shows
// the estimated drop before any outcome of that hour, and once they
// arrive the realised values beside it, within its stated uncertainty.
TEST_F(PerformancePipelineTest, EstimatesBeforeOutcomesAndShowsRealised) {
  Ingest(Stream(1, 20000, kT0, 0.5, 0.5), true, true);
  const int64_t later = kT0 + 2 * 3600;
  const std::vector<Scored> shifted = Stream(2, 4000, later, 0.55, 0.25);
  Ingest(shifted, /*predictions=*/true, /*outcomes=*/false);

  vigie::v1::GetMetricsReply reply = Metrics(kT0);
  const double reference_accuracy =
      reply.performance_estimate().model().realised().accuracy().value();
  EXPECT_EQ(reply.performance_estimate().model().labelled(), 20000u);

  reply = Metrics(later);
  ASSERT_TRUE(reply.has_performance_estimate());
  // A copy: `reply` is assigned again below.
  const vigie::v1::PerformanceEstimate early = reply.performance_estimate();
  EXPECT_EQ(early.calibration(), "isotonic");
  EXPECT_EQ(early.bins(), 20u);
  EXPECT_EQ(early.reference_labelled(), 20000u);
  EXPECT_EQ(early.model().predictions(), 4000u);
  EXPECT_EQ(early.model().labelled(), 0u);
  EXPECT_FALSE(early.model().realised().has_accuracy());
  ASSERT_TRUE(early.model().estimated().has_accuracy());
  EXPECT_LT(early.model().estimated().accuracy().upper_95(),
            reference_accuracy - 0.05);
  ASSERT_EQ(early.groups_size(), 2);
  EXPECT_EQ(early.groups(0).attribute(), "sex");
  EXPECT_EQ(early.groups(0).group(), "f");
  EXPECT_TRUE(early.groups(0).own_calibration());

  // /metrics exports the estimate, as every number of GetMetrics, by its
  // field path, a group's labelled by attribute and group.
  ServerConfig::Metrics export_options;
  export_options.windows = {absl::Hours(1)};
  const std::string text =
      RenderMetrics(MetricsSources{pipeline_.get()}, export_options);
  EXPECT_NE(text.find("metric=\"performance_estimate.model.estimated."
                      "accuracy.value\""),
            std::string::npos);
  EXPECT_NE(text.find("metric=\"performance_estimate.groups.estimated."
                      "accuracy.upper_95\""),
            std::string::npos);

  Ingest(shifted, /*predictions=*/false, /*outcomes=*/true);
  reply = Metrics(later);
  const vigie::v1::PerformanceScope& model =
      reply.performance_estimate().model();
  EXPECT_EQ(model.labelled(), 4000u);
  EXPECT_NEAR(model.estimated().accuracy().value(),
              early.model().estimated().accuracy().value(), 1e-12);
  const double realised = model.realised().accuracy().value();
  EXPECT_GE(realised, model.estimated().accuracy().lower_95());
  EXPECT_LE(realised, model.estimated().accuracy().upper_95());
  for (const auto& [est, real] :
       {std::pair{model.estimated().precision(), model.realised().precision()},
        std::pair{model.estimated().recall(), model.realised().recall()},
        std::pair{model.estimated().f1(), model.realised().f1()}}) {
    EXPECT_LE(std::abs(real.value() - est.value()),
              2.5758293035489 * est.standard_error());
  }
}

// Rule P1 on the same stream: healthy on the labelled reference hour
// (accuracy 0.81 against the declared 0.80), critical on the shifted hour
// from the estimate alone, saying so, and still critical once its
// outcomes are realised.
TEST_F(PerformancePipelineTest, RuleP1ReadsTheEstimateWhileLabelsAreMissing) {
  Ingest(Stream(1, 20000, kT0, 0.5, 0.5), true, true);
  EXPECT_EQ(pipeline_->ListAlerts({}).alerts_size(), 0);

  const std::vector<Scored> shifted =
      Stream(2, 4000, kT0 + 2 * 3600, 0.55, 0.25);
  Ingest(shifted, /*predictions=*/true, /*outcomes=*/false);
  vigie::v1::ListAlertsReply alerts = pipeline_->ListAlerts({});
  ASSERT_EQ(alerts.alerts_size(), 1);
  const vigie::v1::Alert& alert = alerts.alerts(0);
  EXPECT_EQ(alert.rule_id(), "P1");
  EXPECT_EQ(alert.severity(), vigie::v1::SEVERITY_CRITICAL);
  EXPECT_LT(alert.value(), 0.75);
  EXPECT_DOUBLE_EQ(alert.threshold(), 0.75);
  EXPECT_NE(alert.message().find("estimated by CBPE from 4000"),
            std::string::npos)
      << alert.message();
  EXPECT_NE(alert.message().find("standard error"), std::string::npos);
  EXPECT_NE(alert.summary().find("model credit performs at 0.6"),
            std::string::npos)
      << alert.summary();

  clock_.Advance(absl::Minutes(1));
  Ingest(shifted, /*predictions=*/false, /*outcomes=*/true);
  alerts = pipeline_->ListAlerts({});
  ASSERT_EQ(alerts.alerts_size(), 1);
  EXPECT_EQ(alerts.alerts(0).severity(), vigie::v1::SEVERITY_CRITICAL);
  EXPECT_NE(alerts.alerts(0).message().find("realised by 4000 labelled"),
            std::string::npos)
      << alerts.alerts(0).message();
}

}  // namespace
}  // namespace vigie::services
