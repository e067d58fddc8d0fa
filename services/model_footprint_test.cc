// The footprint's configuration, its events' validation, its targets, and
// the footprint through the real Pipeline: GetMetrics and rule E1, with
// every expected number computed here (kWh = J / 3.6e6, carbon = kWh x
// intensity, change = value / baseline - 1).

#include "services/model_footprint.h"

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/event_validation.h"
#include "services/metrics_export.h"
#include "services/pipeline.h"
#include "storage/state_store.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::services {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'767'571'200;  // 2026-01-05T00:00:00Z.
constexpr double kJoulesPerKwh = 3.6e6;

TEST(FootprintConfigTest, FootprintKeys) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig(
          "models:\n"
          "  - id: credit\n"
          "    footprint:\n"
          "      carbon_intensity: 56\n"
          "      carbon_intensity_schedule:\n"
          "        - {from_hour: 0, to_hour: 6, intensity: 30}\n"
          "        - {start: \"2026-01-06T00:00:00Z\",\n"
          "           end: \"2026-01-07T00:00:00Z\", intensity: 90}\n"
          "        - {start: \"2026-01-05T00:00:00Z\",\n"
          "           end: \"2026-01-06T00:00:00Z\", intensity: 80}\n"
          "      hardware_power_watts: {cpu-small: 35, gpu-a100: 400}\n"
          "      baseline_energy_per_1000: 5000\n"
          "      carbon_budget_per_1000: 0.12\n",
          "vigie.yaml"));
  const ModelConfig& model = config.models[0];
  ASSERT_NE(model.monitors.footprint, nullptr);
  const monitors::FootprintCosting& costing = *model.monitors.footprint;
  EXPECT_EQ(costing.carbon_intensity.constant, 56);
  ASSERT_EQ(costing.carbon_intensity.daily.size(), 1u);
  EXPECT_EQ(costing.carbon_intensity.daily[0].to_hour, 6);
  // Dated periods sorted into time order.
  ASSERT_EQ(costing.carbon_intensity.dated.size(), 2u);
  EXPECT_EQ(costing.carbon_intensity.dated[1].grams_per_kwh, 90);
  EXPECT_EQ(costing.carbon_intensity.dated[0].start,
            absl::FromUnixSeconds(kT0));
  EXPECT_EQ(costing.hardware_power_watts.at("gpu-a100"), 400);
  EXPECT_EQ(model.footprint.baseline_energy_per_1000, 5000);
  EXPECT_FALSE(model.footprint.baseline_carbon_per_1000.has_value());
  EXPECT_EQ(model.footprint.carbon_budget_per_1000, 0.12);
  // Without the key: nothing declared.
  ASSERT_OK_AND_ASSIGN(ServerConfig plain,
                       ParseServerConfig("models: [{id: m}]\n", "v.yaml"));
  EXPECT_EQ(plain.models[0].monitors.footprint, nullptr);
}

TEST(FootprintConfigTest, ErrorsNameTheKey) {
  auto error = [](const std::string& footprint) {
    return std::string(
        ParseServerConfig(
            absl::StrCat("models:\n  - id: m\n    footprint:\n", footprint),
            "v.yaml")
            .status()
            .message());
  };
  EXPECT_THAT(error("      watts: 3\n"), HasSubstr("unknown key \"watts\""));
  EXPECT_THAT(error("      carbon_intensity: -5\n"),
              HasSubstr("carbon_intensity must be a finite number >= 0"));
  EXPECT_THAT(error("      hardware_power_watts: {gpu: -1}\n"),
              HasSubstr("hardware_power_watts of 'gpu'"));
  EXPECT_THAT(error("      hardware_power_watts: [1]\n"),
              HasSubstr("must be a mapping of hardware classes"));
  EXPECT_THAT(error("      carbon_intensity_schedule:\n"
                    "        - {from_hour: 0, to_hour: 8, intensity: 1}\n"
                    "        - {from_hour: 6, to_hour: 9, intensity: 1}\n"),
              HasSubstr("hours 6 to 9 overlap hours 0 to 8"));
  EXPECT_THAT(error("      carbon_intensity_schedule:\n"
                    "        - {from_hour: 0, start: \"2026-01-05T00:00:00Z\","
                    " intensity: 1}\n"),
              HasSubstr("not both"));
  EXPECT_THAT(error("      carbon_intensity_schedule:\n"
                    "        - {from_hour: 0, to_hour: 6}\n"),
              HasSubstr("intensity: is required"));
  EXPECT_THAT(error("      energy_budget_per_1000: 0\n"),
              HasSubstr("energy_budget_per_1000 must be a positive number"));
  EXPECT_THAT(
      error("      carbon_intensity_schedule:\n"
            "        - {start: yesterday, end: \"2026-01-05T00:00:00Z\","
            " intensity: 1}\n"),
      HasSubstr("RFC 3339"));
}

ModelConfig Costed() {
  ModelConfig model;
  model.id = "credit";
  monitors::FootprintCosting costing;
  costing.hardware_power_watts = {{"gpu", 300}};
  model.monitors.footprint =
      std::make_shared<const monitors::FootprintCosting>(costing);
  return model;
}

vigie::v1::Prediction Valid() {
  vigie::v1::Prediction p;
  p.set_model_id("credit");
  p.set_prediction_id("p1");
  p.mutable_event_time()->set_seconds(kT0);
  p.mutable_binary()->set_score(0.7);
  return p;
}

TEST(FootprintValidationTest, CostsAreCheckedWithTheirReason) {
  vigie::v1::Prediction p = Valid();
  p.set_energy_joules(0);
  EXPECT_FALSE(ValidatePrediction(Costed(), p).has_value());
  p.set_latency_seconds(0.2);  // With an energy: any class, or none.
  EXPECT_FALSE(ValidatePrediction(Costed(), p).has_value());
  p.clear_energy_joules();
  p.set_hardware_class("gpu");
  EXPECT_FALSE(ValidatePrediction(Costed(), p).has_value());
  p.set_hardware_class("tpu");
  auto rejection = ValidatePrediction(Costed(), p);
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->reason, vigie::v1::REJECT_REASON_INVALID_COST);
  EXPECT_THAT(rejection->message, HasSubstr("hardware_class 'tpu'"));
  p.clear_hardware_class();
  EXPECT_THAT(ValidatePrediction(Costed(), p)->message,
              HasSubstr("needs a hardware_class"));
  vigie::v1::Prediction bad = Valid();
  bad.set_energy_joules(-1);
  EXPECT_EQ(ValidatePrediction(Costed(), bad)->reason,
            vigie::v1::REJECT_REASON_INVALID_COST);
  bad.set_energy_joules(std::numeric_limits<double>::infinity());
  EXPECT_THAT(ValidatePrediction(Costed(), bad)->message,
              HasSubstr("energy_joules must be finite and >= 0"));
  EXPECT_EQ(RejectReasonName(vigie::v1::REJECT_REASON_INVALID_COST),
            "INVALID_COST");
}

TEST(FootprintTargetsTest, DeclaredBeforeReferenceAndWindowsFull) {
  ModelConfig config;
  config.footprint.baseline_energy_per_1000 = 40;
  config.footprint.carbon_budget_per_1000 = 2;
  monitors::ModelMetrics reference;
  reference.footprint.emplace();
  reference.footprint->energy_joules_per_1000 = 99;
  reference.footprint->carbon_grams_per_1000 = 1.5;
  const rules::FootprintInputs targets =
      FootprintTargets(config, &reference, "reference window w");
  EXPECT_EQ(targets.energy.baseline, 40);
  EXPECT_EQ(targets.energy.baseline_source, "declared");
  EXPECT_EQ(targets.carbon.baseline, 1.5);
  EXPECT_EQ(targets.carbon.baseline_source, "reference window w");
  EXPECT_EQ(targets.carbon.budget, 2);
  EXPECT_FALSE(
      FootprintTargets(ModelConfig(), nullptr, "").energy.baseline.has_value());
  const absl::Time end = absl::FromUnixSeconds(kT0) + absl::Hours(4);
  EXPECT_TRUE(FullWindow(absl::Hours(4), end, absl::FromUnixSeconds(kT0)));
  EXPECT_FALSE(FullWindow(absl::Hours(5), end, absl::FromUnixSeconds(kT0)));
  EXPECT_FALSE(FullWindow(absl::ZeroDuration(), end, absl::InfinitePast()));
}

rules::Rule E1() {
  rules::Rule rule;
  rule.id = "E1";
  rule.metric = rules::kFootprintPer1000;
  rule.window = absl::Hours(2);
  rule.warning = rules::Threshold{};
  rule.warning->value = 0.20;
  rule.warning->budget_share = 0.8;
  rule.critical = rules::Threshold{};
  rule.critical->value = 0.50;
  rule.critical->budget_share = 1.0;
  rule.element = "Q6.1/6.1.b";
  rule.threshold_source = "test";
  return rule;
}

class FootprintPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelConfig model;
    model.id = "credit";
    model.pane_length = absl::Hours(1);
    model.label_delay = absl::Hours(24);
    model.monitors.group_attributes = {"sex"};
    monitors::FootprintCosting costing;
    costing.carbon_intensity.constant = 50;
    // Cleaner from 00:00 to 01:00 UTC.
    costing.carbon_intensity.daily = {{0, 1, 20}};
    costing.hardware_power_watts = {{"gpu", 250}};
    model.monitors.footprint =
        std::make_shared<const monitors::FootprintCosting>(costing);
    config_.models.push_back(model);
    config_.accept_undeclared_models = false;
    config_.policy.rules = {E1()};
  }

  void Open() {
    storage::StateStoreOptions options;
    options.path = dir_.Join("state");
    ASSERT_OK_AND_ASSIGN(store_, storage::StateStore::Open(options));
    ASSERT_OK_AND_ASSIGN(pipeline_,
                         Pipeline::Create(config_, store_.get(), &clock_));
  }

  // `n` predictions in the hour starting at kT0 + hour h, each costing
  // `joules` (or, with `latency`, that many seconds on the gpu).
  vigie::v1::IngestReply Feed(int hour, int n, double joules,
                              bool latency = false) {
    vigie::v1::IngestRequest request;
    for (int i = 0; i < n; ++i) {
      vigie::v1::Prediction* p = request.add_events()->mutable_prediction();
      p->set_model_id("credit");
      p->set_prediction_id(absl::StrCat("h", hour, "-", batch_, "-", i));
      p->mutable_event_time()->set_seconds(kT0 + hour * 3600 + i);
      p->mutable_binary()->set_score(0.3);
      (*p->mutable_groups())["sex"] = i % 2 ? "f" : "m";
      if (latency) {
        p->set_latency_seconds(joules / 250);
        p->set_hardware_class("gpu");
      } else {
        p->set_energy_joules(joules);
      }
    }
    ++batch_;
    auto reply = pipeline_->Ingest(request, 0);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : vigie::v1::IngestReply();
  }

  vigie::v1::GetMetricsReply Metrics() {
    vigie::v1::GetMetricsRequest request;
    request.set_model_id("credit");
    auto reply = pipeline_->GetMetrics(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : vigie::v1::GetMetricsReply();
  }

  std::vector<vigie::v1::Alert> Alerts() {
    const vigie::v1::ListAlertsReply reply = pipeline_->ListAlerts({});
    return {reply.alerts().begin(), reply.alerts().end()};
  }

  ServerConfig config_;
  testutil::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(kT0)};
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<Pipeline> pipeline_;
  int batch_ = 0;
};

TEST_F(FootprintPipelineTest, MetricsCarryTotalsPerThousandAndCarbon) {
  config_.models[0].footprint.energy_budget_per_1000 = 20'000;
  Open();
  // Hour 0 at 20 g/kWh, hour 1 at 50 g/kWh; measured and estimated.
  Feed(0, 100, 12.0);
  Feed(1, 300, 8.0, /*latency=*/true);
  const vigie::v1::Footprint f = Metrics().footprint();
  EXPECT_EQ(f.predictions(), 400u);
  EXPECT_EQ(f.costed(), 400u);
  EXPECT_EQ(f.estimated(), 300u);
  EXPECT_EQ(f.carbon_costed(), 400u);
  const double joules = 100 * 12.0 + 300 * 8.0;
  const double grams =
      100 * 12.0 / kJoulesPerKwh * 20 + 300 * 8.0 / kJoulesPerKwh * 50;
  EXPECT_NEAR(f.energy_joules(), joules, 1e-9);
  EXPECT_NEAR(f.energy_kwh(), joules / kJoulesPerKwh, 1e-15);
  EXPECT_NEAR(f.carbon_grams(), grams, 1e-12);
  EXPECT_NEAR(f.energy_joules_per_1000(), 1000 * joules / 400, 1e-9);
  EXPECT_NEAR(f.carbon_grams_per_1000(), 1000 * grams / 400, 1e-12);
  EXPECT_LT(f.energy_joules_per_1000_lower(), f.energy_joules_per_1000());
  EXPECT_GT(f.energy_joules_per_1000_upper(), f.energy_joules_per_1000());
  EXPECT_NEAR(f.energy_budget_share(), 1000 * joules / 400 / 20'000, 1e-12);
  EXPECT_FALSE(f.has_energy_change());  // No baseline.
  // /metrics exports every number of the reply, these included.
  ServerConfig::Metrics exported;
  exported.windows = {absl::Hours(2)};
  const std::string text = RenderMetrics({pipeline_.get()}, exported);
  EXPECT_THAT(text, HasSubstr("metric=\"footprint.energy_joules_per_1000\""));
  EXPECT_THAT(text, HasSubstr("metric=\"footprint.carbon_grams\""));
  // Its panes keep it: a reopened pipeline reads the same.
  pipeline_.reset();
  store_.reset();
  Open();
  EXPECT_NEAR(Metrics().footprint().carbon_grams(), grams, 1e-12);
}

TEST_F(FootprintPipelineTest, RejectsALatencyOnAnUndeclaredClass) {
  Open();
  vigie::v1::IngestRequest request;
  vigie::v1::Prediction* p = request.add_events()->mutable_prediction();
  p->set_model_id("credit");
  p->set_prediction_id("x");
  p->mutable_event_time()->set_seconds(kT0);
  p->mutable_binary()->set_score(0.3);
  p->set_latency_seconds(0.1);
  p->set_hardware_class("tpu");
  ASSERT_OK_AND_ASSIGN(vigie::v1::IngestReply reply,
                       pipeline_->Ingest(request, 0));
  EXPECT_EQ(reply.rejected(), 1u);
  EXPECT_EQ(reply.rejections(0).reason(),
            vigie::v1::REJECT_REASON_INVALID_COST);
}

TEST_F(FootprintPipelineTest, DeclaredBaselineAlertsAfterOneFullWindow) {
  config_.models[0].footprint.baseline_energy_per_1000 = 10'000;  // 10 J.
  Open();
  // 13 J a prediction: +30%, a warning, but only once two hours of data.
  Feed(0, 50, 13.0);
  std::vector<vigie::v1::Alert> alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].severity(), vigie::v1::SEVERITY_INSUFFICIENT_DATA);
  EXPECT_THAT(alerts[0].message(), HasSubstr("one full window"));
  Feed(1, 50, 13.0);
  alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].severity(), vigie::v1::SEVERITY_WARNING);
  EXPECT_EQ(alerts[0].scope().at("feature"), "@energy");
  EXPECT_NEAR(alerts[0].value(), 13'000, 1e-6);
  EXPECT_NEAR(alerts[0].baseline(), 10'000, 1e-9);
  EXPECT_EQ(alerts[0].baseline_source(), "declared");
  EXPECT_NEAR(alerts[0].threshold(), 10'000 * 1.2, 1e-6);
  EXPECT_EQ(alerts[0].element(), "Q6.1/6.1.b");
}

TEST_F(FootprintPipelineTest, ReferenceWindowIsTheBaselineOtherwise) {
  config_.models[0].reference_window = absl::Hours(2);
  Open();
  // The reference: hours 0 and 1 at 10 J (carbon at 20 then 50 g/kWh).
  Feed(0, 100, 10.0);
  Feed(1, 100, 10.0);
  // Hours 2 and 3 at 16 J: +60% energy, critical; carbon against the
  // reference's mean intensity.
  Feed(2, 100, 16.0);
  Feed(3, 100, 16.0);
  const double reference_grams_per_1000 =
      1000 * (10.0 / kJoulesPerKwh * 20 + 10.0 / kJoulesPerKwh * 50) / 2;
  const double window_grams_per_1000 = 1000 * 16.0 / kJoulesPerKwh * 50;
  const vigie::v1::Footprint f = Metrics().footprint();
  EXPECT_NEAR(f.baseline_carbon_grams_per_1000(), reference_grams_per_1000,
              1e-12);
  EXPECT_THAT(f.carbon_baseline_source(), HasSubstr("reference window"));
  std::map<std::string, vigie::v1::Alert> by_scope;
  for (const vigie::v1::Alert& alert : Alerts()) {
    by_scope[alert.scope().at("feature")] = alert;
  }
  ASSERT_EQ(by_scope.size(), 2u);
  const vigie::v1::Alert& energy = by_scope.at("@energy");
  EXPECT_EQ(energy.severity(), vigie::v1::SEVERITY_CRITICAL);
  EXPECT_NEAR(energy.baseline(), 10'000, 1e-9);
  EXPECT_NEAR(energy.value() / energy.baseline() - 1, 0.6, 1e-12);
  const vigie::v1::Alert& carbon = by_scope.at("@carbon");
  EXPECT_NEAR(carbon.value(), window_grams_per_1000, 1e-12);
  EXPECT_NEAR(carbon.baseline(), reference_grams_per_1000, 1e-12);
  // 16 x 50 against 10 x 35 on average: well past +50%.
  EXPECT_EQ(carbon.severity(), vigie::v1::SEVERITY_CRITICAL);
}

}  // namespace
}  // namespace vigie::services
