// The real server on loopback delivers its alerts to a real Prometheus
// Alertmanager, read back through Alertmanager's own API: a biased stream
// makes the alert fire (after its rule's `for`), a fair one resolves it.

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/server.h"
#include "sinks/alertmanager.h"
#include "tests/testutil/alertmanager_process.h"
#include "tests/testutil/http_receiver.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/client.h"
#include "tools/simulator.h"

namespace vigie {
namespace {

using sinks::v1::AlertmanagerAlert;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Demographic parity by sex over the last 2 h of event time: a gap above
// 0.1 is a warning once it held for two counted evaluations.
rules::Rule ParityRule() {
  rules::Rule rule;
  rule.id = "T1";
  rule.metric = rules::kDemographicParityDifference;
  rule.comparison = rules::Comparison::kAbove;
  rule.attributes = {"sex"};
  rule.window = absl::Hours(2);
  rule.warning =
      rules::Threshold{0.1, std::nullopt, std::nullopt, std::nullopt};
  rule.for_evaluations = 2;
  rule.element = "Q2.4/2.4.d";
  rule.ai_act_articles = {"Art. 10"};
  rule.threshold_source = "test";
  return rule;
}

class AlertmanagerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testutil::AlertmanagerProcess::Binary().empty()) {
      GTEST_SKIP() << testutil::AlertmanagerProcess::kNotInstalled;
    }
    ASSERT_OK_AND_ASSIGN(alertmanager_,
                         testutil::AlertmanagerProcess::Start(dir_.path()));
    sinks::AlertmanagerOptions options;
    options.url = alertmanager_->url();
    ASSERT_OK_AND_ASSIGN(reader_, sinks::AlertmanagerSink::Create(options));

    ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                         services::DefaultServerConfig());
    config.data_dir = dir_.Join("state");
    config.grpc_address = "127.0.0.1:0";
    config.http_address = "127.0.0.1:0";
    config.alerting.alertmanager_url = alertmanager_->url();
    config.alerting.resend_interval = absl::Seconds(1);
    config.policy.rules = {ParityRule()};
    config.policy.evaluation_interval = absl::Seconds(1);
    ASSERT_OK_AND_ASSIGN(server_,
                         services::VigieServer::Start(config, &clock_));
    ASSERT_OK_AND_ASSIGN(client_,
                         tools::VigieClient::Connect(server_->address()));
  }

  // Lets `wait` pass, streams `n` predictions (and outcomes) of the demo
  // model from `start` with `bias` against one sex (the server evaluates
  // the rules after its first ingest call), and lists the alerts (another
  // evaluation, which counts only if an evaluation interval passed).
  v1::ListAlertsReply StreamAndEvaluate(absl::Duration wait, int64_t n,
                                        double bias, absl::Time start,
                                        uint64_t seed) {
    clock_.Advance(wait);
    tools::SimulatorOptions options;
    options.num_predictions = n;
    options.bias = bias;
    options.start = start;
    options.seed = seed;
    options.outcome_lag = 10;
    auto simulator = tools::Simulator::Create(options);
    EXPECT_OK(simulator.status());
    if (!simulator.ok()) return {};
    auto streamed = client_->StreamEvents(**simulator, {});
    EXPECT_OK(streamed.status());
    auto alerts = client_->ListAlerts({});
    EXPECT_OK(alerts.status());
    return alerts.ok() ? *alerts : v1::ListAlertsReply();
  }

  // Polls Alertmanager until `done` holds of its active alerts (10 s).
  template <typename Done>
  std::vector<AlertmanagerAlert> WaitForActive(Done done) {
    std::vector<AlertmanagerAlert> active;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    do {
      active.clear();
      auto listed = reader_->List();
      EXPECT_OK(listed.status());
      if (!listed.ok()) return active;
      for (const AlertmanagerAlert& alert : *listed) {
        if (alert.status().state() == "active") active.push_back(alert);
      }
      if (done(active)) return active;
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() < deadline);
    return active;
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  std::unique_ptr<testutil::AlertmanagerProcess> alertmanager_;
  std::unique_ptr<sinks::AlertmanagerSink> reader_;
  std::unique_ptr<services::VigieServer> server_;
  std::unique_ptr<tools::VigieClient> client_;
};

TEST_F(AlertmanagerE2eTest, ABreachFiresInAlertmanagerThenResolves) {
  const absl::Time t0 = absl::FromUnixSeconds(1'767'571'200);
  // 2,000 predictions 5 s apart: 2.8 h, with a strong bias against women.
  // One counted evaluation (the listing comes within the same second).
  v1::ListAlertsReply listed =
      StreamAndEvaluate(absl::ZeroDuration(), 2000, 0.3, t0, 1);
  ASSERT_EQ(listed.alerts_size(), 1);
  EXPECT_EQ(listed.alerts(0).state(), v1::ALERT_STATE_PENDING);  // for: 2
  EXPECT_EQ(listed.alerts(0).breaching_evaluations(), 1u);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(WaitForActive([](const auto&) { return true; }).empty())
      << "a pending alert reached Alertmanager";

  // Two seconds on, more of the same: the second counted evaluation.
  listed = StreamAndEvaluate(absl::Seconds(2), 200, 0.3,
                             t0 + absl::Seconds(5 * 2000), 2);
  ASSERT_EQ(listed.alerts_size(), 1);
  const v1::Alert& fired = listed.alerts(0);
  EXPECT_EQ(fired.state(), v1::ALERT_STATE_FIRING);
  EXPECT_EQ(fired.breaching_evaluations(), 2u);

  std::vector<AlertmanagerAlert> active =
      WaitForActive([](const auto& a) { return !a.empty(); });
  ASSERT_EQ(active.size(), 1u);
  const auto& labels = active[0].labels();
  EXPECT_EQ(labels.at("alertname"), "VigieT1");
  EXPECT_EQ(labels.at("severity"), "warning");
  EXPECT_EQ(labels.at("model"), "demo");
  EXPECT_EQ(labels.at("attribute"), "sex");
  EXPECT_EQ(labels.at("metric"), "demographic_parity_difference");
  EXPECT_EQ(labels.at("element"), "Q2.4/2.4.d");
  EXPECT_EQ(labels.at("referential"), "labelia-dsrc@v202301");
  const auto& annotations = active[0].annotations();
  EXPECT_EQ(annotations.at("vigie_fingerprint"), fired.fingerprint());
  EXPECT_EQ(annotations.at("ai_act_articles"), "Art. 10");
  // The message as it was when it fired (later refreshes go out with the
  // next resend).
  EXPECT_THAT(annotations.at("description"),
              StartsWith("demographic_parity_difference for sex = "));
  EXPECT_THAT(annotations.at("description"), HasSubstr("rule T1"));
  EXPECT_EQ(annotations.at("threshold"), "> 0.1");
  // Its link, as Alertmanager keeps it, is the model's report page on
  // Vigie's HTTP server.
  const std::string report =
      absl::StrCat("http://", server_->http_address(), "/models/demo");
  EXPECT_EQ(fired.report_url(), report);
  EXPECT_EQ(active[0].generator_url(), report);

  // A fair stream fills the 2 h window: healthy, resolved at once
  // (keep_firing_for 0), and Alertmanager no longer lists it active.
  listed = StreamAndEvaluate(absl::Seconds(2), 3000, 0.0,
                             t0 + absl::Seconds(5 * 2200), 3);
  EXPECT_EQ(listed.alerts_size(), 0);  // Closed alerts are not listed.
  active = WaitForActive([](const auto& a) { return a.empty(); });
  EXPECT_TRUE(active.empty());
}

// A metric that breaches three evaluations in a row, then flaps: with
// `for: 3` it fires once, resolves at the first healthy evaluation, and the
// flapping after never holds three in a row again. One alert, not one per
// crossing: the webhook hears of it twice (fired, resolved), Alertmanager
// holds it once and ends with none.
TEST_F(AlertmanagerE2eTest, AFlappingMetricWithForThreeAlertsOnce) {
  testutil::HttpReceiver webhook;
  server_.reset();
  ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                       services::DefaultServerConfig());
  config.data_dir = dir_.Join("flapping");
  config.grpc_address = "127.0.0.1:0";
  config.http_address = "127.0.0.1:0";
  config.alerting.alertmanager_url = alertmanager_->url();
  config.alerting.webhooks.push_back({webhook.url(), absl::Seconds(5)});
  config.alerting.resend_interval = absl::Hours(1);  // No resends here.
  rules::Rule rule = ParityRule();
  rule.for_evaluations = 3;
  config.policy.rules = {rule};
  config.policy.evaluation_interval = absl::Seconds(1);
  ASSERT_OK_AND_ASSIGN(server_, services::VigieServer::Start(config, &clock_));

  // Each step: two seconds on (so its evaluation counts), then 1,500
  // predictions 5 s apart (more than the rule's 2 h window) in one call,
  // after which the server evaluates the rule on that step's window.
  const absl::Time t0 = absl::FromUnixSeconds(1'767'571'200);
  const std::vector<bool> biased = {true,  true, true,  false, true,
                                    false, true, false, true,  false};
  std::vector<v1::AlertState> states;
  for (size_t step = 0; step < biased.size(); ++step) {
    clock_.Advance(absl::Seconds(2));
    tools::SimulatorOptions options;
    options.num_predictions = 1500;
    options.bias = biased[step] ? 0.3 : 0.0;
    options.start = t0 + absl::Seconds(5 * 1500 * static_cast<int64_t>(step));
    options.seed = 10 + step;
    options.outcome_lag = 10;
    ASSERT_OK_AND_ASSIGN(auto simulator, tools::Simulator::Create(options));
    v1::IngestRequest request;
    tools::EventRecord record;
    while (simulator->Next(&record)) {
      for (v1::Event& event : record.events) {
        *request.add_events() = std::move(event);
      }
    }
    ASSERT_OK_AND_ASSIGN(v1::IngestReply reply,
                         server_->pipeline().Ingest(request, 0));
    EXPECT_EQ(reply.rejected(), 0u) << step;
    v1::ListAlertsRequest all;
    all.set_include_resolved(true);
    const v1::ListAlertsReply listed = server_->pipeline().ListAlerts(all);
    ASSERT_EQ(listed.alerts_size(), 1) << step;
    states.push_back(listed.alerts(0).state());
  }
  using S = v1::AlertState;
  EXPECT_EQ(states,
            (std::vector<S>{S::ALERT_STATE_PENDING, S::ALERT_STATE_PENDING,
                            S::ALERT_STATE_FIRING, S::ALERT_STATE_RESOLVED,
                            S::ALERT_STATE_PENDING, S::ALERT_STATE_INACTIVE,
                            S::ALERT_STATE_PENDING, S::ALERT_STATE_INACTIVE,
                            S::ALERT_STATE_PENDING, S::ALERT_STATE_INACTIVE}));

  // Alertmanager held it once and ends with none active.
  EXPECT_TRUE(WaitForActive([](const auto& a) { return a.empty(); }).empty());
  // The webhook heard two notifications: it fired, then resolved.
  server_.reset();  // Stops the dispatcher after its last deliveries.
  std::vector<std::string> states_heard;
  for (const std::string& body : webhook.bodies()) {
    for (const char* state : {"ALERT_STATE_FIRING", "ALERT_STATE_RESOLVED",
                              "ALERT_STATE_PENDING"}) {
      size_t at = 0;
      while ((at = body.find(state, at)) != std::string::npos) {
        states_heard.push_back(state);
        at += 1;
      }
    }
  }
  EXPECT_EQ(states_heard, (std::vector<std::string>{"ALERT_STATE_FIRING",
                                                    "ALERT_STATE_RESOLVED"}));
}

}  // namespace
}  // namespace vigie
