// Replays ProPublica's COMPAS two-year recidivism data (all 7,214 rows)
// through the real server and checks the figures ProPublica published.
// The data is not part of Vigie; see the README's "Tests and test data".

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
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

// One row of the data, as the test reads it itself (no quoted fields).
struct Row {
  std::string race;
  int decile = 0;
  bool recid = false;
};

std::vector<Row> ReadRows(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = absl::StrSplit(line, ',');
  const auto column = [&](const std::string& name) {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) -
                               header.begin());
  };
  const size_t race = column("race");
  const size_t decile = column("decile_score");
  const size_t recid = column("two_year_recid");
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = absl::StrSplit(line, ',');
    rows.push_back({f[race], std::stoi(f[decile]), f[recid] == "1"});
  }
  return rows;
}

// Fairlearn's demographic parity and equalized odds differences by race
// over the groups of at least `min_size` people, from first principles.
std::pair<double, double> RaceGaps(const std::vector<Row>& rows,
                                   size_t min_size) {
  std::map<std::string, std::vector<const Row*>> by_race;
  for (const Row& row : rows) by_race[row.race].push_back(&row);
  std::vector<double> selection, tpr, fpr;
  for (const auto& [race, members] : by_race) {
    if (members.size() < min_size) continue;
    double n = 0, selected = 0, tp = 0, fn = 0, fp = 0, tn = 0;
    for (const Row* row : members) {
      const bool d = row->decile >= 5;
      ++n;
      selected += d;
      tp += d && row->recid;
      fn += !d && row->recid;
      fp += d && !row->recid;
      tn += !d && !row->recid;
    }
    selection.push_back(selected / n);
    tpr.push_back(tp / (tp + fn));
    fpr.push_back(fp / (fp + tn));
  }
  const auto spread = [](const std::vector<double>& v) {
    return *std::max_element(v.begin(), v.end()) -
           *std::min_element(v.begin(), v.end());
  };
  return {spread(selection), std::max(spread(tpr), spread(fpr))};
}

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
    config.http_address = "127.0.0.1:0";
    services::ModelConfig model = config.default_model;
    model.id = "compas";
    model.pane_length = absl::Hours(24);
    model.label_delay = absl::Hours(24 * 800);
    model.monitors.group_attributes = {"race", "sex", "age_cat"};
    config.models.push_back(model);
    // The same with groups of fewer than 100 people left out of the gaps.
    model.id = "compas100";
    model.monitors.fairness.min_group_size = 100;
    model.monitors.reference_groups = {{"race", "Caucasian"}};
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

  // Calibration of decile/10 against the outcome: the published Brier
  // score, and the 15-bin ECE recomputed here from the rows.
  const std::vector<Row> rows = ReadRows(path_);
  ASSERT_EQ(rows.size(), 7'214u);
  ASSERT_TRUE(metrics.has_calibration());
  EXPECT_EQ(metrics.calibration().count(), 7'214u);
  EXPECT_NEAR(metrics.calibration().brier(), 0.229465, 1e-6);
  std::vector<double> sum_p(15), sum_y(15);
  for (const Row& row : rows) {
    const double p = row.decile * 0.1;
    int bin = 0;  // Bin i holds [i/15, (i+1)/15); 1 is in the last.
    while (bin + 1 < 15 && static_cast<double>(bin + 1) / 15 <= p) ++bin;
    sum_p[static_cast<size_t>(bin)] += p;
    sum_y[static_cast<size_t>(bin)] += row.recid ? 1 : 0;
  }
  double ece = 0;
  for (size_t b = 0; b < 15; ++b) ece += std::abs(sum_y[b] - sum_p[b]);
  EXPECT_NEAR(metrics.calibration().ece(), ece / 7'214, 1e-9);

  // With a minimum group size of 100, Asian (32 people) and Native American
  // (18) are reported but left out of the gaps.
  const auto [all_dp, all_eo] = RaceGaps(rows, 0);
  EXPECT_NEAR(all_dp, 0.457118, 1e-6);  // The test's own formulas agree.
  EXPECT_NEAR(all_eo, 0.576692, 1e-6);
  mapping.model_id = "compas100";
  ASSERT_OK_AND_ASSIGN(auto again, tools::EventReader::OpenCsv(path_, mapping));
  ASSERT_OK_AND_ASSIGN(result, client_->StreamEvents(*again, {}));
  EXPECT_EQ(result.reply.joined(), 7'214u);
  request.set_model_id("compas100");
  ASSERT_OK_AND_ASSIGN(metrics, client_->GetMetrics(request));
  race = nullptr;
  for (const auto& attribute : metrics.fairness()) {
    if (attribute.attribute() == "race") race = &attribute;
  }
  ASSERT_NE(race, nullptr);
  EXPECT_EQ(race->groups_size(), 6);
  for (const auto& group : race->groups()) {
    const bool small =
        group.group() == "Asian" || group.group() == "Native American";
    EXPECT_EQ(group.included_in_gaps(), !small) << group.group();
  }
  // Disparate impact against the configured reference, Caucasian, and the
  // test of the demographic parity pair, from the rows' counts.
  std::map<std::string, std::pair<double, double>> selected;  // (k, n).
  for (const Row& row : rows) {
    auto& [k, n] = selected[row.race];
    k += row.decile >= 5 ? 1 : 0;
    n += 1;
  }
  const auto rate = [&](const std::string& group) {
    return selected[group].first / selected[group].second;
  };
  EXPECT_EQ(race->reference_group(), "Caucasian");
  const v1::Criterion* parity = nullptr;
  for (const auto& criterion : race->criteria()) {
    if (criterion.name() == "demographic_parity") parity = &criterion;
  }
  ASSERT_NE(parity, nullptr);
  for (const auto& group : parity->by_group()) {
    SCOPED_TRACE(group.group());
    EXPECT_NEAR(group.ratio_to_reference(),
                rate(group.group()) / rate("Caucasian"), 1e-12);
    EXPECT_NE(group.group(), "Asian");  // Below 100: in no gap.
  }
  // Large groups: the z-test; its p-value is far below any threshold.
  EXPECT_EQ(parity->difference().test().test(), "two_proportion_z");
  EXPECT_LT(parity->difference().test().p_value(), 1e-6);
  EXPECT_EQ(race->overall().predictions(), 7'214u);
  EXPECT_NEAR(
      race->overall().selection_rate(),
      [&] {
        double k = 0;
        for (const auto& [r, kn] : selected) k += kn.first;
        return k / 7'214;
      }(),
      1e-12);
  EXPECT_TRUE(race->overall().intervals().contains("accuracy"));

  const auto [dp, eo] = RaceGaps(rows, 100);
  EXPECT_LT(dp, all_dp);
  EXPECT_NEAR(race->demographic_parity_difference().value(), dp, 1e-12);
  EXPECT_NEAR(race->equalized_odds_difference().value(), eo, 1e-12);
}

}  // namespace
}  // namespace vigie
