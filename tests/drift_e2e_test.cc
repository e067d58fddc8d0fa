// Drift through the real server on loopback: a reference uploaded over
// gRPC, then a seeded stream in which one numeric feature's mean moves by
// half a standard deviation and one categorical feature's frequencies
// change at a known time, beside a control feature that does not move, and
// the error rate jumps at the same time. The shipped policy's D1 and D4
// must fire on those, and only on those.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

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
  void Start(uint32_t reference_versions = 10) {
    ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                         services::DefaultServerConfig());
    config.default_model.reference_versions = reference_versions;
    for (services::ModelConfig& model : config.models) {
      model.reference_versions = reference_versions;
    }
    config.data_dir = dir_.Join("state");
    ASSERT_OK(server_.Start(config, &clock_));
  }
  void Stop() { server_.Stop(); }
  void Send(std::vector<v1::Event> events) {
    server_.SendAll(std::move(events));
  }
  // Drift alerts, as "rule/feature" (the feature empty for D3, D4): those
  // firing now, or those that ever fired (resolved ones too).
  std::set<std::string> DriftAlerts(bool ever) {
    v1::ListAlertsRequest request;
    request.set_include_resolved(ever);
    auto reply = server_.client().ListAlerts(request);
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

  // The severity of D4's alert while it fires; empty otherwise.
  std::optional<v1::Severity> D4Severity() {
    v1::ListAlertsRequest request;
    auto reply = server_.client().ListAlerts(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return std::nullopt;
    for (const v1::Alert& alert : reply->alerts()) {
      if (alert.rule_id() == "D4" && alert.state() == v1::ALERT_STATE_FIRING) {
        return alert.severity();
      }
    }
    return std::nullopt;
  }
  // Sends `n` events of `population` from `start`, `chunk` at a time, a
  // minute of wall-clock time apart (so that each evaluation counts), and
  // calls check(i, e) after each chunk: i events of it sent, e the end of
  // the windows the rules evaluated, the end of the hour-long pane of the
  // latest event.
  template <typename Check>
  void SendInChunks(Stream& stream, const Population& population, int n,
                    absl::Time start, absl::Duration spacing, int chunk,
                    Check check) {
    const std::vector<v1::Event> events =
        stream.Events(population, n, start, spacing);
    // Two events (prediction, outcome) per pair.
    for (int i = 0; i < n; i += chunk) {
      const int end = std::min(n, i + chunk);
      Send(std::vector<v1::Event>(events.begin() + 2 * i,
                                  events.begin() + 2 * end));
      clock_.Advance(absl::Minutes(1));
      const absl::Time last = start + (end - 1) * spacing;
      const absl::Time pane_end =
          absl::UnixEpoch() +
          absl::Floor(last - absl::UnixEpoch(), absl::Hours(1)) +
          absl::Hours(1);
      check(end, pane_end);
    }
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::LoopbackServer server_;
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
                       server_.client().UploadReference(upload));
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
                       server_.client().GetMetrics(request));
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
  ASSERT_OK_AND_ASSIGN(v1::ReferenceInfo again,
                       server_.client().GetReference(get));
  EXPECT_EQ(again.version(), 1u);
  EXPECT_EQ(again.predictions(), 1000u);
  ASSERT_OK_AND_ASSIGN(metrics, server_.client().GetMetrics(request));
  EXPECT_EQ(metrics.concept_drift().adwin_changes(), adwin_changes);
  EXPECT_EQ(metrics.concept_drift().errors_observed(), 6000u);
}

// D4 in the shipped policy: 1-day windows, warning when ADWIN finds a
// change, critical when it was sustained over 3 windows. The stream: 2,000
// pairs a day (43.2 s apart), at an error rate of 0.1 on day 0, then 0.4.
// ADWIN finds a jump of 0.3 within 500 pairs (6 hours; the detectors'
// tests bound the delay near 120), so its change time t_d lies in
// [T, T + 6h], T the jump. At an evaluation whose windows end at e, the
// change's window is the K-th back, K = ceil((e - t_d) / 1d), and every
// later window lies after T: 2,000 errors at 0.4, far beyond 0.1 plus the
// bound (about 0.05 at 2,000 errors). So the value is K: critical once
// e > T + 2d + 6h, and never while e <= T + 2d.
TEST_F(DriftE2eTest, SustainedErrorJumpWarnsThenIsCriticalAfterThreeWindows) {
  Start();
  const absl::Time t0 = absl::FromUnixSeconds(1'790'035'200);  // Midnight.
  const absl::Duration spacing = absl::Seconds(43.2);
  const absl::Duration day = absl::Hours(24);
  Stream stream(7);
  Send(stream.Events({}, 2000, t0, spacing));
  EXPECT_FALSE(D4Severity().has_value());

  const absl::Time jump = t0 + day;
  Population worse;
  worse.error_rate = 0.4;
  bool warned = false;
  bool critical = false;
  SendInChunks(stream, worse, 6000, jump, spacing, /*chunk=*/100,
               [&](int sent, absl::Time e) {
                 const std::optional<v1::Severity> severity = D4Severity();
                 if (sent >= 500) {
                   EXPECT_TRUE(severity.has_value()) << sent;
                 }
                 if (severity == v1::SEVERITY_WARNING) warned = true;
                 if (e <= jump + 2 * day) {
                   EXPECT_NE(severity, v1::SEVERITY_CRITICAL) << sent;
                 }
                 if (e > jump + 2 * day + absl::Hours(6)) {
                   EXPECT_EQ(severity, v1::SEVERITY_CRITICAL) << sent;
                 }
                 if (severity == v1::SEVERITY_CRITICAL) critical = true;
               });
  EXPECT_TRUE(warned);
  EXPECT_TRUE(critical);

  // GetMetrics shows the episode: found after the jump and within 500
  // pairs, the level before nearer 0.1 than 0.4 and the one after nearer
  // 0.4, and 3 windows: the last pair is at T + 3d - 43.2 s, so e = T + 3d
  // and K = ceil((T + 3d - t_d) / 1d) = 3 for t_d in [T, T + 6h].
  v1::GetMetricsRequest request;
  request.set_model_id(kModel);
  ASSERT_OK_AND_ASSIGN(v1::GetMetricsReply metrics,
                       server_.client().GetMetrics(request));
  const v1::ErrorChangeEpisode& episode = metrics.concept_drift().episode();
  const absl::Time start = absl::FromUnixSeconds(episode.start().seconds());
  EXPECT_GE(start, jump);
  EXPECT_LE(start, jump + 500 * spacing);
  EXPECT_LT(episode.mean_before(), 0.25);
  EXPECT_GT(episode.mean_after(), 0.25);
  EXPECT_EQ(episode.direction(), "increase");
  EXPECT_FALSE(episode.has_reverted_at());
  EXPECT_EQ(episode.window().seconds(), 24 * 3600);
  EXPECT_EQ(episode.windows_sustained(), 3u);

  // A restart keeps the episode and the panes' errors: still 3 windows,
  // still critical.
  Stop();
  Start();
  ASSERT_OK_AND_ASSIGN(metrics, server_.client().GetMetrics(request));
  EXPECT_EQ(metrics.concept_drift().episode().start().seconds(),
            episode.start().seconds());
  EXPECT_EQ(metrics.concept_drift().episode().windows_sustained(), 3u);
  EXPECT_EQ(D4Severity(), v1::SEVERITY_CRITICAL);
}

// The same jump, reverted after one day (0.4 on day 1 only, 0.1 after).
// Critical needs K >= 3, so e > t_d + 2d >= T + 2d: the latest window
// [e - 1d, e) then starts after the return at T + 1d, and its 2,000 errors
// at 0.1 are not beyond 0.1: the value is 0. D4 warns, never goes
// critical, and has stopped firing by the end of day 4.
TEST_F(DriftE2eTest, ErrorJumpRevertedAfterOneWindowNeverGoesCritical) {
  Start();
  const absl::Time t0 = absl::FromUnixSeconds(1'790'035'200);
  const absl::Duration spacing = absl::Seconds(43.2);
  const absl::Duration day = absl::Hours(24);
  Stream stream(11);
  Send(stream.Events({}, 2000, t0, spacing));
  Population worse;
  worse.error_rate = 0.4;
  bool warned = false;
  const auto check = [&](int, absl::Time) {
    const std::optional<v1::Severity> severity = D4Severity();
    EXPECT_NE(severity, v1::SEVERITY_CRITICAL);
    if (severity == v1::SEVERITY_WARNING) warned = true;
  };
  SendInChunks(stream, worse, 2000, t0 + day, spacing, 100, check);
  EXPECT_TRUE(warned);
  SendInChunks(stream, {}, 6000, t0 + 2 * day, spacing, 100, check);
  EXPECT_FALSE(D4Severity().has_value());
}

// Three uploads with 2 versions kept: the first is deleted with the third,
// the second is read back whole (its own counts and description), before
// and after a restart.
TEST_F(DriftE2eTest, KeepsTheLastReferenceVersions) {
  Start(/*reference_versions=*/2);
  const absl::Time t0 = absl::FromUnixSeconds(1'790'000'000);
  Stream stream(7);
  const int sizes[] = {50, 60, 70};
  for (int i = 0; i < 3; ++i) {
    v1::UploadReferenceRequest upload;
    upload.set_model_id(kModel);
    upload.set_description(absl::StrCat("sample ", i + 1));
    for (v1::Event& e :
         stream.Events({}, sizes[i], t0 - absl::Hours(48), absl::Seconds(1))) {
      *upload.add_events() = std::move(e);
    }
    ASSERT_OK_AND_ASSIGN(v1::ReferenceInfo info,
                         server_.client().UploadReference(upload));
    EXPECT_EQ(info.version(), static_cast<uint32_t>(i + 1));
  }
  for (bool restarted : {false, true}) {
    SCOPED_TRACE(restarted ? "after a restart" : "before a restart");
    if (restarted) {
      Stop();
      Start(/*reference_versions=*/2);
    }
    v1::GetReferenceRequest get;
    get.set_model_id(kModel);
    ASSERT_OK_AND_ASSIGN(v1::ReferenceInfo current,
                         server_.client().GetReference(get));
    EXPECT_EQ(current.version(), 3u);
    EXPECT_EQ(current.predictions(), 70u);
    ASSERT_EQ(current.versions_size(), 2);
    EXPECT_EQ(current.versions(0).version(), 2u);
    EXPECT_EQ(current.versions(0).source(), "upload: sample 2");
    EXPECT_EQ(current.versions(1).version(), 3u);
    get.set_version(2);
    ASSERT_OK_AND_ASSIGN(v1::ReferenceInfo second,
                         server_.client().GetReference(get));
    EXPECT_EQ(second.version(), 2u);
    EXPECT_EQ(second.source(), "upload: sample 2");
    EXPECT_EQ(second.predictions(), 60u);
    EXPECT_EQ(second.labels(), 60u);
    bool has_x = false;
    for (const v1::FeatureProfile& f : second.features()) {
      if (f.feature() == "x") {
        has_x = true;
        EXPECT_EQ(f.count(), 60u);
      }
    }
    EXPECT_TRUE(has_x);
    get.set_version(1);
    const absl::Status gone = server_.client().GetReference(get).status();
    EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);
    EXPECT_NE(gone.message().find("keeps no reference v1"), std::string::npos)
        << gone;
  }
}

TEST_F(DriftE2eTest, UploadErrorsAreClear) {
  Start();
  v1::UploadReferenceRequest upload;
  upload.set_model_id(kModel);
  upload.add_events()->mutable_outcome()->set_model_id(kModel);
  const absl::Status status = server_.client().UploadReference(upload).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("no usable prediction"), std::string::npos)
      << status;
  v1::GetReferenceRequest get;
  get.set_model_id(kModel);
  EXPECT_EQ(server_.client().GetReference(get).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigie
