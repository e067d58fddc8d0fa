// Conformal coverage through the real server on loopback: a seeded
// regression stream whose split-conformal intervals cover both regions of
// the model at their nominal 90% until a known time, after which the
// south region's noise doubles and its intervals stop covering it. The
// south's coverage must fall in the window after the change, the north's
// stay, and the shipped policy's K3 must fire on the region attribute
// naming the south, while K1, on the whole model, sees the mix. Expected
// coverages are counted in the test from the events it sent.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie {
namespace {

constexpr char kModel[] = "demand";
constexpr double kAlpha = 0.1;
constexpr uint64_t kCalibrationSize = 1000;
// The 95% quantile of N(0, 1): the interval y_hat +- 1.645 covers N(0, 1)
// noise 90% of the time.
constexpr double kHalfWidth = 1.6448536269514722;

// Covered and total predictions, by region.
struct Counts {
  std::map<std::string, uint64_t> covered;
  std::map<std::string, uint64_t> total;
  uint64_t misses = 0;  // Over both regions.
  double Coverage(const std::string& region) const {
    return static_cast<double>(covered.at(region)) /
           static_cast<double>(total.at(region));
  }
};

class Stream {
 public:
  explicit Stream(uint64_t seed) : rng_(seed) {}

  // `n` predictions from `start`, `spacing` apart, each with its outcome;
  // the south's noise has standard deviation `south_sd` (the north's 1).
  std::vector<v1::Event> Events(int n, absl::Time start, absl::Duration spacing,
                                double south_sd, Counts& counts) {
    std::normal_distribution<double> normal;
    std::vector<v1::Event> events;
    for (int i = 0; i < n; ++i) {
      const std::string id = absl::StrCat("p", next_id_++);
      const absl::Time at = start + i * spacing;
      const std::string region = rng_() % 2 ? "north" : "south";
      const double value = static_cast<double>(rng_() % 1000) / 10;
      const double sd = region == "south" ? south_sd : 1.0;
      const double y = value + sd * normal(rng_);
      v1::Prediction& p = *events.emplace_back().mutable_prediction();
      p.set_model_id(kModel);
      p.set_prediction_id(id);
      p.mutable_event_time()->set_seconds(absl::ToUnixSeconds(at));
      v1::RegressionPrediction& r = *p.mutable_regression();
      r.set_value(value);
      r.set_interval_lower(value - kHalfWidth);
      r.set_interval_upper(value + kHalfWidth);
      r.set_alpha(kAlpha);
      r.set_calibration_size(kCalibrationSize);
      (*p.mutable_groups())["region"] = region;
      v1::Outcome& o = *events.emplace_back().mutable_outcome();
      o.set_model_id(kModel);
      o.set_prediction_id(id);
      o.mutable_event_time()->set_seconds(absl::ToUnixSeconds(at));
      o.set_regression(y);
      const bool covered = value - kHalfWidth <= y && y <= value + kHalfWidth;
      counts.covered[region] += covered ? 1 : 0;
      ++counts.total[region];
      counts.misses += covered ? 0 : 1;
    }
    return events;
  }

 private:
  std::mt19937_64 rng_;
  uint64_t next_id_ = 0;
};

class ConformalE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                         services::DefaultServerConfig());
    services::ModelConfig model = config.default_model;
    model.id = kModel;
    model.task = "regression";
    model.monitors.group_attributes = {"region"};
    model.aci_gamma = 0.01;
    config.models.push_back(model);
    config.data_dir = dir_.Join("state");
    ASSERT_OK(server_.Start(config, &clock_));
  }

  void Send(std::vector<v1::Event> events) {
    server_.SendAll(std::move(events));
  }

  // The model's metrics over the `hours` before the end of its latest pane.
  v1::GetMetricsReply Metrics(int hours) {
    v1::GetMetricsRequest request;
    request.set_model_id(kModel);
    request.mutable_last()->set_seconds(hours * 3600);
    absl::StatusOr<v1::GetMetricsReply> reply =
        server_.client().GetMetrics(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : v1::GetMetricsReply();
  }

  static const v1::ConformalCoverage* Region(const v1::GetMetricsReply& reply,
                                             const std::string& region) {
    for (const v1::AttributeConformal& a : reply.conformal().by_attribute()) {
      if (a.attribute() != "region") continue;
      for (const v1::ConformalCoverage& g : a.groups()) {
        if (g.group() == region) return &g;
      }
    }
    return nullptr;
  }

  // The K rules' alerts firing on a breach (not for want of data), as
  // "rule/attribute/low group".
  std::vector<std::string> ConformalAlerts() {
    v1::ListAlertsRequest request;
    auto reply = server_.client().ListAlerts(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    std::vector<std::string> out;
    if (!reply.ok()) return out;
    for (const v1::Alert& alert : reply->alerts()) {
      if (alert.rule_id()[0] != 'K' ||
          alert.state() != v1::ALERT_STATE_FIRING ||
          alert.severity() == v1::SEVERITY_INSUFFICIENT_DATA) {
        continue;
      }
      auto it = alert.scope().find("attribute");
      out.push_back(absl::StrCat(alert.rule_id(), "/",
                                 it == alert.scope().end() ? "" : it->second,
                                 "/", alert.low_group()));
    }
    return out;
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::LoopbackServer server_;
};

TEST_F(ConformalE2eTest, SouthsCoverageFallsAndK3FiresOnIt) {
  // On the hour, so that a day is a window of 24 one-hour panes.
  const absl::Time t0 = absl::FromUnixSeconds(1'790'006'400);
  const absl::Duration spacing = absl::Seconds(21.6);  // 4,000 a day.
  Stream stream(2027);

  // Day 0: both regions covered at their nominal 90%.
  Counts before;
  Send(stream.Events(4000, t0, spacing, 1.0, before));
  clock_.Advance(absl::Minutes(1));
  v1::GetMetricsReply day0 = Metrics(24);
  ASSERT_TRUE(day0.has_conformal());
  EXPECT_EQ(day0.conformal().overall().count(), 4000u);
  for (const std::string region : {"north", "south"}) {
    const v1::ConformalCoverage* g = Region(day0, region);
    ASSERT_NE(g, nullptr) << region;
    EXPECT_EQ(g->count(), before.total.at(region));
    EXPECT_EQ(g->covered(), before.covered.at(region));
    EXPECT_NEAR(g->coverage(), before.Coverage(region), 1e-12);
    EXPECT_NEAR(g->mean_size(), 2 * kHalfWidth, 1e-9);
    // About 2,000 draws of a 90% coverage: within 4 standard deviations.
    EXPECT_NEAR(g->coverage(), 0.9, 4 * std::sqrt(0.09 / 2000)) << region;
    ASSERT_TRUE(g->has_gate());
    EXPECT_EQ(g->gate().law(), "beta-binomial");
    EXPECT_EQ(g->gate().rank(), 100u);  // floor(1001 x 0.1).
  }
  EXPECT_TRUE(ConformalAlerts().empty());

  // Day 1: the south's noise doubles; its intervals cover
  // P(|Z| < 1.645 / 2) = 0.589 of it.
  Counts after;
  Send(stream.Events(4000, t0 + absl::Hours(24), spacing, 2.0, after));
  clock_.Advance(absl::Minutes(1));
  const v1::GetMetricsReply day1 = Metrics(24);
  const v1::ConformalCoverage* south = Region(day1, "south");
  const v1::ConformalCoverage* north = Region(day1, "north");
  ASSERT_NE(south, nullptr);
  ASSERT_NE(north, nullptr);
  EXPECT_EQ(south->covered(), after.covered.at("south"));
  EXPECT_EQ(north->covered(), after.covered.at("north"));
  const double fallen =
      2 * (0.5 * std::erfc(-(kHalfWidth / 2) / std::sqrt(2.0))) - 1;
  EXPECT_NEAR(south->coverage(), fallen, 4 * std::sqrt(0.25 / 2000));
  EXPECT_NEAR(north->coverage(), 0.9, 4 * std::sqrt(0.09 / 2000));
  EXPECT_LT(south->gate().p_value(), 1e-6);
  // The regions' gap is the window's max - min.
  for (const v1::AttributeConformal& a : day1.conformal().by_attribute()) {
    if (a.attribute() != "region") continue;
    EXPECT_NEAR(a.coverage_gap(),
                after.Coverage("north") - after.Coverage("south"), 1e-12);
    EXPECT_EQ(a.min_coverage_group(), "south");
  }

  // K3 fires on the region attribute, naming the south; K1, on the whole
  // model, sees the mix (coverage near (0.9 + 0.59) / 2) and fires too.
  const std::vector<std::string> alerts = ConformalAlerts();
  EXPECT_NE(std::find(alerts.begin(), alerts.end(), "K3/region/south"),
            alerts.end())
      << absl::StrJoin(alerts, ", ");
  EXPECT_NE(std::find(alerts.begin(), alerts.end(), "K1//"), alerts.end())
      << absl::StrJoin(alerts, ", ");
  for (const std::string& alert : alerts) {
    EXPECT_EQ(alert.find("north"), std::string::npos) << alert;
  }

  // Adaptive conformal inference, over the 8,000 joined predictions in
  // order: alpha_{T+1} = alpha + gamma (T alpha - misses).
  const uint64_t misses = before.misses + after.misses;
  const v1::AdaptiveConformal& aci = day1.conformal().adaptive();
  EXPECT_EQ(aci.steps(), 8000u);
  EXPECT_EQ(aci.misses(), misses);
  EXPECT_NEAR(aci.next_alpha(),
              kAlpha + 0.01 * (8000 * kAlpha - static_cast<double>(misses)),
              1e-9);
  // The window's score quantile: the half-width that would have covered
  // 90% of the window's outcomes, larger than the one in use.
  ASSERT_TRUE(day1.conformal().has_score_quantile());
  EXPECT_GT(day1.conformal().score_quantile(), kHalfWidth);

  // A restart keeps the panes' coverage and the model's ACI.
  ASSERT_OK(server_.Restart());
  const v1::GetMetricsReply again = Metrics(24);
  ASSERT_NE(Region(again, "south"), nullptr);
  EXPECT_EQ(Region(again, "south")->covered(), after.covered.at("south"));
  EXPECT_EQ(again.conformal().adaptive().steps(), 8000u);
  EXPECT_EQ(again.conformal().adaptive().misses(), misses);
}

}  // namespace
}  // namespace vigie
