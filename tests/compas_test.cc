// Replays ProPublica's COMPAS two-year recidivism data (all 7,214 rows)
// through the real server and checks the figures ProPublica published.
// The data is not part of Vigie; see the README's "Tests and test data".

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/client.h"
#include "tools/event_reader.h"

namespace vigie {
namespace {

std::string CompasPath() {
  if (const char* path = std::getenv("VIGIE_COMPAS_CSV")) return path;
  return std::string(VIGIE_SOURCE_DIR) + "/../shared/data/compas-two-years.csv";
}

struct Confusion {
  uint64_t tn, fp, fn, tp;
};

class CompasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = CompasPath();
    if (!std::filesystem::exists(path_)) {
      GTEST_SKIP() << "COMPAS data not found at " << path_
                   << ": get compas-scores-two-years.csv from ProPublica's "
                      "propublica/compas-analysis repository, or point "
                      "VIGIE_COMPAS_CSV at it";
    }
    ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                         services::DefaultServerConfig());
    config.data_dir = dir_.Join("state");
    config.grpc_address = "127.0.0.1:0";
    services::ModelConfig model = config.default_model;
    model.id = "compas";
    model.pane_length = absl::Hours(24);
    model.label_delay = absl::Hours(24 * 800);
    model.monitors.group_attributes = {"race", "sex", "age_cat"};
    config.models.push_back(model);
    ASSERT_OK_AND_ASSIGN(server_,
                         services::VigieServer::Start(config, &clock_));
    ASSERT_OK_AND_ASSIGN(client_,
                         tools::VigieClient::Connect(server_->address()));
  }

  std::string path_;
  testutil::TempDir dir_;
  common::FakeClock clock_;
  std::unique_ptr<services::VigieServer> server_;
  std::unique_ptr<tools::VigieClient> client_;
};

TEST_F(CompasTest, ReproducesProPublicasPublishedFigures) {
  // The data's documented mapping: score = decile/10, positive when decile >=
  // 5, outcome two_year_recid 730 days after the screening date.
  tools::CsvMapping mapping;
  mapping.model_id = "compas";
  mapping.id_column = "id";
  mapping.time_column = "compas_screening_date";
  mapping.score_column = "decile_score";
  mapping.score_scale = 0.1;
  mapping.decision_threshold = 0.5;
  mapping.label_column = "two_year_recid";
  mapping.group_columns = {"race", "sex", "age_cat"};
  mapping.outcome_delay = absl::Hours(24 * 730);
  ASSERT_OK_AND_ASSIGN(auto reader,
                       tools::EventReader::OpenCsv(path_, mapping));
  ASSERT_OK_AND_ASSIGN(tools::StreamResult result,
                       client_->StreamEvents(*reader, {}));
  EXPECT_EQ(result.records_read, 7'214u);
  EXPECT_TRUE(result.malformed.empty());
  EXPECT_EQ(result.reply.accepted(), 2u * 7'214u);
  EXPECT_EQ(result.reply.rejected(), 0u);
  EXPECT_EQ(result.reply.joined(), 7'214u);

  v1::GetMetricsRequest request;
  request.set_model_id("compas");
  ASSERT_OK_AND_ASSIGN(v1::GetMetricsReply metrics,
                       client_->GetMetrics(request));
  EXPECT_EQ(metrics.counters().joined(), 7'214u);
  const v1::AttributeFairness* race = nullptr;
  for (const auto& attribute : metrics.fairness()) {
    if (attribute.attribute() == "race") race = &attribute;
  }
  ASSERT_NE(race, nullptr);

  // ProPublica's table: counts, and rates in percent to 0.01 point.
  const std::map<std::string, Confusion> published = {
      {"African-American", {990, 805, 532, 1369}},
      {"Caucasian", {1139, 349, 461, 505}},
  };
  const std::map<std::string, std::pair<double, double>> published_rates = {
      {"African-American", {44.85, 27.99}},
      {"Caucasian", {23.45, 47.72}},
  };
  for (const auto& group : race->groups()) {
    auto it = published.find(group.group());
    if (it == published.end()) continue;
    SCOPED_TRACE(group.group());
    EXPECT_EQ(group.true_negatives(), it->second.tn);
    EXPECT_EQ(group.false_positives(), it->second.fp);
    EXPECT_EQ(group.false_negatives(), it->second.fn);
    EXPECT_EQ(group.true_positives(), it->second.tp);
    const auto [fpr, fnr] = published_rates.at(group.group());
    EXPECT_NEAR(100 * group.false_positive_rate(), fpr, 0.005);
    EXPECT_NEAR(100 * group.false_negative_rate(), fnr, 0.005);
  }
  // Figures over all six groups computed independently with Fairlearn's
  // metric functions.
  EXPECT_NEAR(race->demographic_parity_difference().value(), 0.457118, 1e-6);
  EXPECT_NEAR(race->equalized_odds_difference().value(), 0.576692, 1e-6);

  // The default policy's F3 fires for race, on the groups with 300
  // labelled positives and negatives: African-American and Caucasian. Its
  // value is the larger of their FPR and TPR gaps, from the published counts.
  const double fpr_gap = 805.0 / (805 + 990) - 349.0 / (349 + 1139);
  const double tpr_gap = 1369.0 / (1369 + 532) - 505.0 / (505 + 461);
  ASSERT_OK_AND_ASSIGN(v1::ListAlertsReply alerts, client_->ListAlerts({}));
  const v1::Alert* f3 = nullptr;
  for (const auto& alert : alerts.alerts()) {
    if (alert.rule_id() == "F3" && alert.scope().at("attribute") == "race") {
      f3 = &alert;
    }
  }
  ASSERT_NE(f3, nullptr);
  EXPECT_EQ(f3->state(), v1::ALERT_STATE_FIRING);
  EXPECT_EQ(f3->severity(), v1::SEVERITY_CRITICAL);
  EXPECT_EQ(f3->referential(), "labelia-dsrc@v202301");
  EXPECT_EQ(f3->element().substr(0, 4), "Q2.4");
  EXPECT_NEAR(f3->value(), std::max(fpr_gap, tpr_gap), 1e-12);
  std::set<std::string> sampled;
  for (const auto& sample : f3->samples()) sampled.insert(sample.group());
  EXPECT_EQ(sampled, (std::set<std::string>{"African-American", "Caucasian"}));
  EXPECT_FALSE(f3->message().empty());
}

}  // namespace
}  // namespace vigie
