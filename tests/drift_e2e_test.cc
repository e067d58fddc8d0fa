// Drift through the real server on loopback: a reference uploaded over
// gRPC, then a seeded stream in which one numeric feature's mean moves by
// half a standard deviation and one categorical feature's frequencies
// change at a known time, beside a control feature that does not move, and
// the error rate jumps at the same time. The shipped policy's D1 and D4
// must fire on those, and only on those.

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vector_source.h"
#include "tools/client.h"

namespace vigie {
namespace {

constexpr char kModel[] = "credit";

// One seeded population: x ~ N(mean, 1), c among a, b, c with the given
// weights, the control z ~ N(5, 2), and a score independent of them; the
// outcome is wrong with probability `error_rate`.
struct Population {
  double x_mean = 0;
  std::vector<double> c_weights = {0.5, 0.3, 0.2};
  double error_rate = 0.1;
};

class Stream {
 public:
  explicit Stream(uint64_t seed) : rng_(seed) {}

  // `n` predictions from `start`, `spacing` apart, each with its outcome.
  std::vector<v1::Event> Events(const Population& population, int n,
                                absl::Time start, absl::Duration spacing) {
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform;
    std::discrete_distribution<int> category(population.c_weights.begin(),
                                             population.c_weights.end());
    std::vector<v1::Event> events;
    for (int i = 0; i < n; ++i) {
      const std::string id = absl::StrCat("p", next_id_++);
      const absl::Time at = start + i * spacing;
      v1::Prediction& p = *events.emplace_back().mutable_prediction();
      p.set_model_id(kModel);
      p.set_prediction_id(id);
      p.mutable_event_time()->set_seconds(absl::ToUnixSeconds(at));
      const double score = uniform(rng_);
      p.mutable_binary()->set_score(score);
      auto& features = *p.mutable_features();
      features["x"].set_numeric(population.x_mean + normal(rng_));
      features["c"].set_categorical(std::string(1, "abc"[category(rng_)]));
      features["z"].set_numeric(5 + 2 * normal(rng_));
      const bool decision = score >= 0.5;
      const bool wrong = uniform(rng_) < population.error_rate;
      v1::Outcome& o = *events.emplace_back().mutable_outcome();
      o.set_model_id(kModel);
      o.set_prediction_id(id);
      o.mutable_event_time()->set_seconds(absl::ToUnixSeconds(at));
      o.set_binary(decision != wrong);
    }
    return events;
  }

 private:
  std::mt19937_64 rng_;
  uint64_t next_id_ = 0;
};

class DriftE2eTest : public ::testing::Test {
 protected:
  void Start() {
    ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                         services::DefaultServerConfig());
    config.data_dir = dir_.Join("state");
    config.grpc_address = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(server_,
                         services::VigieServer::Start(config, &clock_));
    ASSERT_OK_AND_ASSIGN(client_,
                         tools::VigieClient::Connect(server_->address()));
  }
  void Stop() {
    client_.reset();
    server_.reset();
  }
  void Send(std::vector<v1::Event> events) {
    const size_t n = events.size();
    testutil::VectorSource source(std::move(events));
    ASSERT_OK_AND_ASSIGN(tools::StreamResult result,
                         client_->StreamEvents(source, {}));
    EXPECT_EQ(result.reply.accepted(), n);
    EXPECT_EQ(result.reply.rejected(), 0u);
  }
  // Drift alerts, as "rule/feature" (the feature empty for D3, D4): those
  // firing now, or those that ever fired (resolved ones too).
  std::set<std::string> DriftAlerts(bool ever) {
    v1::ListAlertsRequest request;
    request.set_include_resolved(ever);
    auto reply = client_->ListAlerts(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    std::set<std::string> out;
    if (!reply.ok()) return out;
    for (const v1::Alert& alert : reply->alerts()) {
      if (alert.rule_id()[0] != 'D') continue;
      const bool fired = alert.state() == v1::ALERT_STATE_FIRING ||
                         (ever && alert.state() == v1::ALERT_STATE_RESOLVED);
      if (!fired) continue;
      auto it = alert.scope().find("feature");
      out.insert(absl::StrCat(alert.rule_id(), "/",
                              it == alert.scope().end() ? "" : it->second));
    }
    return out;
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  std::unique_ptr<services::VigieServer> server_;
  std::unique_ptr<tools::VigieClient> client_;
};

TEST_F(DriftE2eTest, ShiftedFeaturesAndErrorJumpAlertControlDoesNot) {
  Start();
  const absl::Time t0 = absl::FromUnixSeconds(1'790'000'000);
  Stream stream(2026);

  // The reference: 1,000 rows of the training population, with outcomes.
  v1::UploadReferenceRequest upload;
  upload.set_model_id(kModel);
  upload.set_description("validation set");
  for (v1::Event& e :
       stream.Events({}, 1000, t0 - absl::Hours(48), absl::Seconds(1))) {
    *upload.add_events() = std::move(e);
  }
  // A malformed row costs only itself.
  upload.add_events()->mutable_prediction()->set_model_id("other");
  ASSERT_OK_AND_ASSIGN(v1::ReferenceInfo info,
                       client_->UploadReference(upload));
  EXPECT_EQ(info.version(), 1u);
  EXPECT_EQ(info.source(), "upload: validation set");
  EXPECT_EQ(info.predictions(), 1000u);
  EXPECT_EQ(info.labels(), 1000u);
  EXPECT_EQ(info.rejected(), 1u);
  const v1::FeatureProfile* x = nullptr;
  for (const v1::FeatureProfile& f : info.features()) {
    if (f.feature() == "x") x = &f;
  }
  ASSERT_NE(x, nullptr);
  // 1,000 distinct values: each decile bin holds exactly 100, the open
  // outer bins none.
  ASSERT_EQ(x->proportions_size(), 12);
  EXPECT_EQ(x->proportions(0), 0);
  for (int i = 1; i <= 10; ++i) EXPECT_DOUBLE_EQ(x->proportions(i), 0.1) << i;
  EXPECT_EQ(x->proportions(11), 0);

  // Day 0: the same population. No drift alert fires. (D2 and D3 test
  // p-values at every evaluation, and may go pending by chance; they fire
  // only after 3 counted evaluations, a minute apart.)
  const absl::Duration spacing = absl::Seconds(43.2);  // 2,000 a day.
  Send(stream.Events({}, 2000, t0, spacing));
  EXPECT_TRUE(DriftAlerts(/*ever=*/true).empty());

  // Days 1 and 2: x moves by half a standard deviation, c's frequencies
  // change, z stays; the error rate goes from 0.1 to 0.4.
  const absl::Time shift = t0 + absl::Hours(24);
  Population moved;
  moved.x_mean = 0.5;
  moved.c_weights = {0.3, 0.3, 0.4};
  moved.error_rate = 0.4;
  // The first 600 events of it: ADWIN has found the jump, D4 fires.
  std::vector<v1::Event> after = stream.Events(moved, 4000, shift, spacing);
  Send(std::vector<v1::Event>(after.begin(), after.begin() + 1200));
  EXPECT_TRUE(DriftAlerts(/*ever=*/false).contains("D4/"));
  Send(std::vector<v1::Event>(after.begin() + 1200, after.end()));

  const std::set<std::string> open = DriftAlerts(/*ever=*/false);
  EXPECT_TRUE(open.contains("D1/x"));
  EXPECT_TRUE(open.contains("D1/c"));
  // The control never alerted, nor did the score or the label (whose
  // distribution the error jump leaves at 0.5).
  for (const std::string& alert : DriftAlerts(/*ever=*/true)) {
    EXPECT_NE(alert, "D1/z");
    EXPECT_NE(alert, "D2/z");
    EXPECT_NE(alert, "D1/@prediction");
  }

  v1::GetMetricsRequest request;
  request.set_model_id(kModel);
  request.mutable_last()->set_seconds(24 * 3600);
  ASSERT_OK_AND_ASSIGN(v1::GetMetricsReply metrics,
                       client_->GetMetrics(request));
  EXPECT_EQ(metrics.reference().version(), 1u);
  for (const v1::FeatureDrift& f : metrics.drift()) {
    if (f.feature() == "z") {
      EXPECT_LT(f.psi(), 0.1);
      EXPECT_FALSE(f.drifted());
    }
    if (f.feature() == "x") {
      EXPECT_GE(f.psi(), 0.1);
      EXPECT_TRUE(f.drifted());  // KS on a reference of 1,000.
      EXPECT_EQ(f.method(), "ks");
    }
  }
  // ADWIN: no change before the jump, one soon after it. 500 events is
  // well above the delays of a 0.3 jump (about 100, see the detectors'
  // tests) and far below the 4,000 that follow it.
  const v1::ConceptDrift& concept_drift = metrics.concept_drift();
  EXPECT_EQ(concept_drift.errors_observed(), 6000u);
  ASSERT_GE(concept_drift.changes_size(), 1);
  const absl::Time first =
      absl::FromUnixSeconds(concept_drift.changes(0).seconds());
  EXPECT_GE(first, shift);
  EXPECT_LE((first - shift) / spacing, 500);

  // A restart keeps the reference and the detectors.
  const uint64_t adwin_changes = concept_drift.adwin_changes();
  Stop();
  Start();
  v1::GetReferenceRequest get;
  get.set_model_id(kModel);
  ASSERT_OK_AND_ASSIGN(v1::ReferenceInfo again, client_->GetReference(get));
  EXPECT_EQ(again.version(), 1u);
  EXPECT_EQ(again.predictions(), 1000u);
  ASSERT_OK_AND_ASSIGN(metrics, client_->GetMetrics(request));
  EXPECT_EQ(metrics.concept_drift().adwin_changes(), adwin_changes);
  EXPECT_EQ(metrics.concept_drift().errors_observed(), 6000u);
}

TEST_F(DriftE2eTest, UploadErrorsAreClear) {
  Start();
  v1::UploadReferenceRequest upload;
  upload.set_model_id(kModel);
  upload.add_events()->mutable_outcome()->set_model_id(kModel);
  const absl::Status status = client_->UploadReference(upload).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("no usable prediction"), std::string::npos)
      << status;
  v1::GetReferenceRequest get;
  get.set_model_id(kModel);
  EXPECT_EQ(client_->GetReference(get).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigie
