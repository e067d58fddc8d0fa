// The alert operations through the real server on loopback and the real
// client: WatchAlerts, silences (against a real HTTP webhook receiver) and
// acknowledgements, with a biased stream to make alerts fire and a fair
// one to resolve them.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/server.h"
#include "tests/testutil/http_receiver.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/client.h"
#include "tools/simulator.h"

namespace vigie {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'767'571'200);

// Demographic parity by sex over the last 2 h of event time, firing at
// the first evaluation that finds it above `warning`.
rules::Rule ParityRule(const std::string& id, double warning) {
  rules::Rule rule;
  rule.id = id;
  rule.metric = rules::kDemographicParityDifference;
  rule.comparison = rules::Comparison::kAbove;
  rule.attributes = {"sex"};
  rule.window = absl::Hours(2);
  rule.warning =
      rules::Threshold{warning, std::nullopt, std::nullopt, std::nullopt};
  rule.for_evaluations = 1;
  rule.element = "Q2.4/2.4.d";
  rule.threshold_source = "test";
  return rule;
}

class AlertOperationsE2eTest : public ::testing::Test {
 protected:
  void Start(absl::Duration resend_interval = absl::Hours(1)) {
    ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                         services::DefaultServerConfig());
    config.data_dir = dir_.Join("state");
    config.grpc_address = "127.0.0.1:0";
    config.http_address = "127.0.0.1:0";
    config.alerting.webhooks.push_back({webhook_.url(), absl::Seconds(5)});
    config.alerting.resend_interval = resend_interval;
    config.policy.rules = {ParityRule("T1", 0.1), ParityRule("T2", 0.05)};
    config.policy.evaluation_interval = absl::Seconds(1);
    ASSERT_OK_AND_ASSIGN(server_,
                         services::VigieServer::Start(config, &clock_));
    ASSERT_OK_AND_ASSIGN(client_,
                         tools::VigieClient::Connect(server_->address()));
  }

  // Two seconds on (an evaluation that counts), then 1,500 predictions 5 s
  // apart from `step` windows on, biased or fair; the server evaluates the
  // rules after the call. Returns the open alerts.
  v1::ListAlertsReply Stream(int step, bool biased) {
    clock_.Advance(absl::Seconds(2));
    tools::SimulatorOptions options;
    options.num_predictions = 1500;
    options.bias = biased ? 0.3 : 0.0;
    options.start = kStart + absl::Seconds(5 * 1500 * step);
    options.seed = 10 + static_cast<uint64_t>(step);
    options.outcome_lag = 10;
    auto simulator = tools::Simulator::Create(options);
    EXPECT_OK(simulator.status());
    if (!simulator.ok()) return {};
    EXPECT_OK(client_->StreamEvents(**simulator, {}).status());
    auto alerts = client_->ListAlerts({});
    EXPECT_OK(alerts.status());
    return alerts.ok() ? *alerts : v1::ListAlertsReply();
  }

  static const v1::Alert* Find(const v1::ListAlertsReply& listed,
                               const std::string& rule_id) {
    for (const v1::Alert& alert : listed.alerts()) {
      if (alert.rule_id() == rule_id) return &alert;
    }
    return nullptr;
  }

  // Waits (10 s at most) until a webhook body contains `text`.
  bool WebhookHeard(const std::string& text) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      for (const std::string& body : webhook_.bodies()) {
        if (absl::StrContains(body, text)) return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // The updates of `stream` up to and including the first that `done`
  // accepts (the stream must get there).
  template <typename Done>
  std::vector<v1::AlertUpdate> ReadUntil(tools::AlertStream& stream,
                                         Done done) {
    std::vector<v1::AlertUpdate> updates;
    v1::AlertUpdate update;
    while (stream.Next(&update)) {
      updates.push_back(update);
      if (done(update)) return updates;
    }
    ADD_FAILURE() << "the stream ended: " << stream.Finish();
    return updates;
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::HttpReceiver webhook_;
  std::unique_ptr<services::VigieServer> server_;
  std::unique_ptr<tools::VigieClient> client_;
};

TEST_F(AlertOperationsE2eTest, AWatcherSeesABreachFireAndShutdownEndsIt) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::WatchAlertsRequest request;
  request.set_model_id("demo");
  std::unique_ptr<tools::AlertStream> stream = client_->WatchAlerts(request);
  // No alert yet: the snapshot is just the end marker.
  std::vector<v1::AlertUpdate> updates =
      ReadUntil(*stream, [](const v1::AlertUpdate& u) {
        return u.kind() == v1::ALERT_UPDATE_KIND_SYNCED;
      });
  EXPECT_EQ(updates.size(), 1u);

  const v1::ListAlertsReply listed = Stream(0, /*biased=*/true);
  ASSERT_NE(Find(listed, "T1"), nullptr);
  updates = ReadUntil(*stream, [](const v1::AlertUpdate& u) {
    return u.alert().rule_id() == "T1";
  });
  const v1::AlertUpdate& fired = updates.back();
  EXPECT_EQ(fired.kind(), v1::ALERT_UPDATE_KIND_TRANSITION);
  EXPECT_EQ(fired.alert().state(), v1::ALERT_STATE_FIRING);
  EXPECT_EQ(fired.alert().fingerprint(), Find(listed, "T1")->fingerprint());

  // A second watcher starts from the firing alerts.
  std::unique_ptr<tools::AlertStream> late = client_->WatchAlerts({});
  updates = ReadUntil(*late, [](const v1::AlertUpdate& u) {
    return u.kind() == v1::ALERT_UPDATE_KIND_SYNCED;
  });
  ASSERT_EQ(updates.size(), 3u);  // T1, T2, synced.
  EXPECT_EQ(updates[0].kind(), v1::ALERT_UPDATE_KIND_CURRENT);
  EXPECT_EQ(updates[0].alert().state(), v1::ALERT_STATE_FIRING);

  // Shutdown ends both streams at once, well inside its grace period.
  const absl::Time before = absl::Now();
  server_->Shutdown(absl::Seconds(30));
  EXPECT_LT(absl::Now() - before, absl::Seconds(10));
  // (What was already on its way, T2's transition, still arrives.)
  v1::AlertUpdate update;
  while (stream->Next(&update)) {
    EXPECT_EQ(update.alert().rule_id(), "T2");
  }
  EXPECT_EQ(stream->Finish().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(late->Next(&update));
  EXPECT_EQ(late->Finish().code(), absl::StatusCode::kUnavailable);
}

TEST_F(AlertOperationsE2eTest, ACancelledWatchEndsAndIsForgotten) {
  ASSERT_NO_FATAL_FAILURE(Start());
  std::unique_ptr<tools::AlertStream> stream = client_->WatchAlerts({});
  ReadUntil(*stream, [](const v1::AlertUpdate& u) {
    return u.kind() == v1::ALERT_UPDATE_KIND_SYNCED;
  });
  stream->Cancel();
  v1::AlertUpdate update;
  EXPECT_FALSE(stream->Next(&update));
  EXPECT_EQ(stream->Finish().code(), absl::StatusCode::kCancelled);
  // Alerts after it go nowhere, and break nothing.
  EXPECT_NE(Find(Stream(0, /*biased=*/true), "T1"), nullptr);
}

TEST_F(AlertOperationsE2eTest, ASilenceHoldsBackDeliveryUntilItIsExpired) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::CreateSilenceRequest request;
  v1::Matcher* matcher = request.add_matchers();
  matcher->set_name("rule_id");
  matcher->set_value("T1");
  request.mutable_duration()->set_seconds(3600);
  request.set_created_by("alice");
  request.set_comment("known bias, retraining");
  ASSERT_OK_AND_ASSIGN(v1::Silence silence, client_->CreateSilence(request));
  EXPECT_EQ(silence.state(), v1::SILENCE_STATE_ACTIVE);
  request.clear_created_by();
  EXPECT_EQ(client_->CreateSilence(request).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Both rules fire; T1 is listed as silenced, and only T2 reaches the
  // webhook (both were routed in the same evaluation, so T2's arrival
  // means T1 was held back, not late).
  const v1::ListAlertsReply listed = Stream(0, /*biased=*/true);
  const v1::Alert* t1 = Find(listed, "T1");
  const v1::Alert* t2 = Find(listed, "T2");
  ASSERT_NE(t1, nullptr);
  ASSERT_NE(t2, nullptr);
  EXPECT_EQ(t1->state(), v1::ALERT_STATE_FIRING);
  ASSERT_EQ(t1->silenced_by_size(), 1);
  EXPECT_EQ(t1->silenced_by(0), silence.id());
  EXPECT_EQ(t2->silenced_by_size(), 0);
  const std::string t1_fingerprint = t1->fingerprint();
  ASSERT_TRUE(WebhookHeard(t2->fingerprint()));
  for (const std::string& body : webhook_.bodies()) {
    EXPECT_FALSE(absl::StrContains(body, t1_fingerprint)) << body;
  }

  // The silence survives a restart, and still holds T1 back.
  client_.reset();
  server_.reset();
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_OK_AND_ASSIGN(v1::ListSilencesReply silences,
                       client_->ListSilences({}));
  ASSERT_EQ(silences.silences_size(), 1);
  EXPECT_EQ(silences.silences(0).id(), silence.id());
  EXPECT_EQ(silences.silences(0).created_by(), "alice");

  // Expired while T1 still fires: delivered now.
  v1::ExpireSilenceRequest expire;
  expire.set_id(silence.id());
  ASSERT_OK_AND_ASSIGN(v1::Silence expired, client_->ExpireSilence(expire));
  EXPECT_EQ(expired.state(), v1::SILENCE_STATE_EXPIRED);
  EXPECT_TRUE(WebhookHeard(t1_fingerprint));
  EXPECT_EQ(client_->ExpireSilence(expire).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(silences, client_->ListSilences({}));
  EXPECT_EQ(silences.silences_size(), 0);
  v1::ListSilencesRequest all;
  all.set_include_expired(true);
  ASSERT_OK_AND_ASSIGN(silences, client_->ListSilences(all));
  EXPECT_EQ(silences.silences_size(), 1);
}

TEST_F(AlertOperationsE2eTest, AnAcknowledgementShowsAndClearsOnResolution) {
  ASSERT_NO_FATAL_FAILURE(Start(/*resend_interval=*/absl::Milliseconds(200)));
  v1::AcknowledgeAlertRequest ack;
  ack.set_fingerprint("0123456789abcdef");
  ack.set_by("bob");
  EXPECT_EQ(client_->AcknowledgeAlert(ack).status().code(),
            absl::StatusCode::kNotFound);

  const v1::ListAlertsReply listed = Stream(0, /*biased=*/true);
  ASSERT_NE(Find(listed, "T1"), nullptr);
  const std::string fingerprint = Find(listed, "T1")->fingerprint();
  std::unique_ptr<tools::AlertStream> stream = client_->WatchAlerts({});
  ReadUntil(*stream, [](const v1::AlertUpdate& u) {
    return u.kind() == v1::ALERT_UPDATE_KIND_SYNCED;
  });

  ack.set_fingerprint(fingerprint);
  ack.set_comment("looking into the scores of women");
  ASSERT_OK_AND_ASSIGN(v1::Alert acknowledged, client_->AcknowledgeAlert(ack));
  EXPECT_EQ(acknowledged.acknowledged_by(), "bob");
  EXPECT_EQ(acknowledged.acknowledgement_comment(),
            "looking into the scores of women");
  EXPECT_TRUE(acknowledged.has_acknowledged_at());
  ASSERT_OK_AND_ASSIGN(v1::ListAlertsReply now, client_->ListAlerts({}));
  ASSERT_NE(Find(now, "T1"), nullptr);
  EXPECT_EQ(Find(now, "T1")->acknowledged_by(), "bob");
  EXPECT_EQ(Find(now, "T2")->acknowledged_by(), "");
  // Watchers see it, and the sinks carry it (in the next resend).
  const std::vector<v1::AlertUpdate> updates =
      ReadUntil(*stream, [](const v1::AlertUpdate& u) {
        return u.kind() == v1::ALERT_UPDATE_KIND_ANNOTATED;
      });
  EXPECT_EQ(updates.back().alert().fingerprint(), fingerprint);
  EXPECT_EQ(updates.back().alert().acknowledged_by(), "bob");
  EXPECT_TRUE(WebhookHeard(R"("acknowledgedBy":"bob")"));

  // A fair stream resolves it: the acknowledgement is gone with it.
  EXPECT_EQ(Find(Stream(1, /*biased=*/false), "T1"), nullptr);
  v1::ListAlertsRequest with_closed;
  with_closed.set_include_resolved(true);
  ASSERT_OK_AND_ASSIGN(now, client_->ListAlerts(with_closed));
  ASSERT_NE(Find(now, "T1"), nullptr);
  EXPECT_EQ(Find(now, "T1")->state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(Find(now, "T1")->acknowledged_by(), "");
  // A resolved alert cannot be acknowledged.
  EXPECT_EQ(client_->AcknowledgeAlert(ack).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace vigie
