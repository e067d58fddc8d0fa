// Two replicas of Vigie in one consumer group, against librdkafka's mock
// cluster: they split the partitions, each counts the events it read, and
// each publishes its panes to the panes topic. A model-wide window asked of
// either must equal what one replica reading every partition holds; so must
// the alerts each evaluates, and only the group's leader delivers them.

#include <librdkafka/rdkafka.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/approximately_equal.h"
#include "tests/testutil/http_receiver.h"
#include "tests/testutil/kafka_cluster.h"
#include "tests/testutil/kafka_server_config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/simulated_messages.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie {
namespace {

constexpr char kEvents[] = "vigie-events";
constexpr char kPanes[] = "vigie-panes";
constexpr int64_t kPredictions = 20'000;

class KafkaReplicasE2eTest : public ::testing::Test {
 protected:
  KafkaReplicasE2eTest() : cluster_(3) {}

  void SetUp() override {
    ASSERT_OK(cluster_.CreateTopic(kEvents, 4, 3));
    ASSERT_OK(cluster_.CreateTopic(kPanes, 2, 3));
  }

  services::ServerConfig Config(const std::string& replica,
                                const std::string& group) {
    services::ServerConfig config = testutil::KafkaServerConfig(
        cluster_, kEvents, group, dir_.Join(replica));
    config.checkpoint_interval = absl::Milliseconds(100);
    services::KafkaIngestOptions& kafka = config.kafka_ingest;
    kafka.panes_topic = kPanes;
    kafka.replica_id = replica;
    // The second member's join makes the first rejoin: frequent heartbeats
    // keep that rebalance short.
    kafka.properties["heartbeat.interval.ms"] = "300";
    return config;
  }

  static v1::GetMetricsReply Metrics(testutil::LoopbackServer& server,
                                     bool model_wide) {
    v1::GetMetricsRequest request;
    request.set_model_id("demo");
    request.set_model_wide(model_wide);
    absl::StatusOr<v1::GetMetricsReply> reply =
        server.client().GetMetrics(request);
    return reply.ok() ? *reply : v1::GetMetricsReply();
  }

  // Predictions in the model-wide window's fairness (every prediction has
  // a sex).
  static uint64_t Predictions(const v1::GetMetricsReply& reply) {
    uint64_t n = 0;
    for (const v1::AttributeFairness& attribute : reply.fairness()) {
      if (attribute.attribute() != "sex") continue;
      for (const v1::GroupMetrics& group : attribute.groups()) {
        n += group.predictions();
      }
    }
    return n;
  }

  // Waits until both replicas are in the group with two partitions each.
  static void AwaitSplit(testutil::LoopbackServer& a,
                         testutil::LoopbackServer& b) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline &&
           (a.server().kafka_ingest()->stats().partitions != 2 ||
            b.server().kafka_ingest()->stats().partitions != 2)) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_EQ(a.server().kafka_ingest()->stats().partitions, 2u);
    ASSERT_EQ(b.server().kafka_ingest()->stats().partitions, 2u);
  }

  // The open alerts of a server, by fingerprint.
  static std::map<std::string, v1::Alert> OpenAlerts(
      testutil::LoopbackServer& server) {
    std::map<std::string, v1::Alert> out;
    absl::StatusOr<v1::ListAlertsReply> listed = server.client().ListAlerts({});
    if (!listed.ok()) return out;
    for (const v1::Alert& alert : listed->alerts()) {
      out.emplace(alert.fingerprint(), alert);
    }
    return out;
  }

  // Whether `a` and `b` hold the same alerts in the same states and
  // severities, with the same values (but for the last bits of sums
  // merged in another order).
  static bool SameAlerts(const std::map<std::string, v1::Alert>& a,
                         const std::map<std::string, v1::Alert>& b) {
    if (a.size() != b.size()) return false;
    for (const auto& [fingerprint, alert] : a) {
      const auto it = b.find(fingerprint);
      if (it == b.end() || it->second.state() != alert.state() ||
          it->second.severity() != alert.severity() ||
          std::abs(it->second.value() - alert.value()) >
              1e-9 * (1 + std::abs(alert.value()))) {
        return false;
      }
    }
    return true;
  }

  static bool Mentions(testutil::HttpReceiver& receiver,
                       const std::string& fingerprint) {
    for (const std::string& body : receiver.bodies()) {
      if (body.find(fingerprint) != std::string::npos) return true;
    }
    return false;
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::KafkaCluster cluster_;
};

TEST_F(KafkaReplicasE2eTest, TheMergeOfTwoReplicasEqualsOneReplica) {
  testutil::LoopbackServer a;
  testutil::LoopbackServer b;
  ASSERT_OK(a.Start(Config("replica-a", "pair"), &clock_));
  ASSERT_OK(b.Start(Config("replica-b", "pair"), &clock_));
  // Both in the group before any event, so that they split the partitions.
  AwaitSplit(a, b);
  if (HasFatalFailure()) return;

  ASSERT_OK(
      cluster_.Produce(kEvents, testutil::SimulatedMessages(kPredictions)));

  // Each counts its share; the model-wide window holds every prediction
  // once the other's checkpoint is published.
  v1::GetMetricsReply wide_a;
  v1::GetMetricsReply wide_b;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (absl::Now() < until) {
    wide_a = Metrics(a, true);
    wide_b = Metrics(b, true);
    if (Predictions(wide_a) == kPredictions &&
        Predictions(wide_b) == kPredictions &&
        wide_a.calibration().count() == kPredictions &&
        wide_b.calibration().count() == kPredictions) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  const uint64_t local_a = Metrics(a, false).counters().predictions();
  const uint64_t local_b = Metrics(b, false).counters().predictions();
  EXPECT_GT(local_a, 0u);
  EXPECT_GT(local_b, 0u);
  EXPECT_EQ(local_a + local_b, static_cast<uint64_t>(kPredictions));
  EXPECT_EQ(Predictions(wide_a), static_cast<uint64_t>(kPredictions));
  ASSERT_EQ(wide_a.replicas_size(), 1);
  EXPECT_EQ(wide_a.replicas(0), "replica-b");
  EXPECT_EQ(wide_b.replicas(0), "replica-a");

  // One replica alone, in a group of its own, reads everything.
  testutil::LoopbackServer single;
  ASSERT_OK(single.Start(Config("single", "alone"), &clock_));
  v1::GetMetricsReply whole;
  const absl::Time single_until = absl::Now() + absl::Seconds(60);
  while (absl::Now() < single_until) {
    whole = Metrics(single, false);
    if (whole.counters().joined() == static_cast<uint64_t>(kPredictions)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(whole.counters().joined(), static_cast<uint64_t>(kPredictions));

  std::string report;
  for (const v1::GetMetricsReply* wide : {&wide_a, &wide_b}) {
    v1::GetMetricsReply merged = *wide;
    v1::GetMetricsReply one = whole;
    // Counters and the error detectors are each replica's own.
    for (v1::GetMetricsReply* reply : {&merged, &one}) {
      reply->clear_counters();
      reply->clear_concept_drift();
      reply->clear_replicas();
      reply->clear_reference();
    }
    // Sums of doubles added in another order may differ in their last
    // bits.
    EXPECT_TRUE(testutil::ApproximatelyEqual(merged, one, &report)) << report;
  }
}

// A replica's archive grows as its panes pass the retention: each newer
// archive must replace the one before in the other replicas' model-wide
// windows, not be merged beside it. And a model purged on one replica must
// leave the others' model-wide windows with what they hold themselves.
TEST_F(KafkaReplicasE2eTest, APeersGrowingArchiveAndItsPurgeCountOnce) {
  auto config = [&](const std::string& replica) {
    services::ServerConfig c = Config(replica, "archiving");
    // The stream spans 28 hours of event time: panes are archived as it
    // goes.
    for (services::ModelConfig& model : c.models) {
      model.retention = absl::Hours(6);
    }
    c.default_model.retention = absl::Hours(6);
    // The default policy's rules look at windows longer than that.
    c.policy.rules.clear();
    return c;
  };
  testutil::LoopbackServer a;
  testutil::LoopbackServer b;
  ASSERT_OK(a.Start(config("replica-a"), &clock_));
  ASSERT_OK(b.Start(config("replica-b"), &clock_));
  AwaitSplit(a, b);
  if (HasFatalFailure()) return;

  // In two halves, so that each replica publishes an archive, then a
  // larger one.
  const std::vector<testutil::KafkaCluster::Message> messages =
      testutil::SimulatedMessages(kPredictions);
  const auto half = messages.begin() + static_cast<long>(messages.size() / 2);
  auto wide_equals_local_sum = [&](uint64_t sent) {
    const absl::Time until = absl::Now() + absl::Seconds(60);
    while (absl::Now() < until) {
      const uint64_t local = Metrics(a, false).counters().predictions() +
                             Metrics(b, false).counters().predictions();
      if (local == sent && Predictions(Metrics(a, true)) == sent &&
          Predictions(Metrics(b, true)) == sent) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  };
  uint64_t first_half = 0;
  for (auto it = messages.begin(); it != half; ++it) {
    v1::Event event;
    ASSERT_TRUE(event.ParseFromString(it->value));
    if (event.has_prediction()) ++first_half;
  }
  ASSERT_OK(cluster_.Produce(kEvents, {messages.begin(), half}));
  EXPECT_TRUE(wide_equals_local_sum(first_half));
  ASSERT_TRUE(Metrics(b, false).has_archived_before())
      << "no pane was archived: the test proves nothing";
  ASSERT_OK(cluster_.Produce(kEvents, {half, messages.end()}));
  EXPECT_TRUE(wide_equals_local_sum(kPredictions))
      << "model-wide: " << Predictions(Metrics(a, true)) << " at a, "
      << Predictions(Metrics(b, true)) << " at b, for " << kPredictions;

  // Purged at b: a's model-wide window is a's own again.
  v1::PurgeModelRequest purge;
  purge.set_model_id("demo");
  ASSERT_OK(b.client().PurgeModel(purge).status());
  const uint64_t own = Predictions(Metrics(a, false));
  EXPECT_GT(own, 0u);
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until && Predictions(Metrics(a, true)) != own) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const v1::GetMetricsReply wide = Metrics(a, true);
  EXPECT_EQ(Predictions(wide), own);
  EXPECT_EQ(wide.replicas_size(), 0);
}

TEST_F(KafkaReplicasE2eTest, ReplicasAlertOnModelWideWindowsAndOneDelivers) {
  testutil::HttpReceiver hook_a;
  testutil::HttpReceiver hook_b;
  testutil::HttpReceiver hook_single;
  auto with_hook = [](services::ServerConfig config,
                      const testutil::HttpReceiver& hook) {
    config.alerting.webhooks = {{hook.url(), absl::Seconds(5)}};
    return config;
  };
  auto a = std::make_unique<testutil::LoopbackServer>();
  testutil::LoopbackServer b;
  testutil::LoopbackServer single;
  ASSERT_OK(a->Start(with_hook(Config("replica-a", "pair"), hook_a), &clock_));
  ASSERT_OK(b.Start(with_hook(Config("replica-b", "pair"), hook_b), &clock_));
  AwaitSplit(*a, b);
  if (HasFatalFailure()) return;
  // Partition 0 of the one topic is one member's: that one leads.
  const bool a_leads = a->server().kafka_ingest()->stats().leads;
  ASSERT_NE(a_leads, b.server().kafka_ingest()->stats().leads);
  ASSERT_OK(
      single.Start(with_hook(Config("single", "alone"), hook_single), &clock_));

  ASSERT_OK(
      cluster_.Produce(kEvents, testutil::SimulatedMessages(kPredictions)));

  // Each evaluation interval counts once towards the rules' `for`: the
  // clock moves on until the single replica's alerts fire, and the pair's
  // become the same, each member evaluating the model-wide windows as the
  // other's checkpoints reach it.
  const absl::Duration interval =
      single.server().pipeline().policy().evaluation_interval;
  std::map<std::string, v1::Alert> alone;
  std::map<std::string, v1::Alert> of_a;
  std::map<std::string, v1::Alert> of_b;
  const absl::Time until = absl::Now() + absl::Seconds(90);
  bool agree = false;
  while (absl::Now() < until && !agree) {
    clock_.Advance(interval);
    absl::SleepFor(absl::Milliseconds(300));
    alone = OpenAlerts(single);
    of_a = OpenAlerts(*a);
    of_b = OpenAlerts(b);
    bool firing = false;
    for (const auto& [fingerprint, alert] : alone) {
      firing = firing || (alert.state() == v1::ALERT_STATE_FIRING &&
                          alert.severity() != v1::SEVERITY_INSUFFICIENT_DATA);
    }
    agree = firing &&
            Metrics(single, false).counters().joined() ==
                static_cast<uint64_t>(kPredictions) &&
            SameAlerts(alone, of_a) && SameAlerts(alone, of_b);
  }
  ASSERT_TRUE(agree) << "single: " << alone.size()
                     << " open alerts, a: " << of_a.size()
                     << ", b: " << of_b.size();
  for (const auto& [fingerprint, alert] : alone) {
    EXPECT_EQ(of_a.at(fingerprint).rule_id(), alert.rule_id());
  }

  // The leader delivered the firing alerts; the other replica nothing.
  testutil::HttpReceiver& leader_hook = a_leads ? hook_a : hook_b;
  testutil::HttpReceiver& other_hook = a_leads ? hook_b : hook_a;
  std::string fired;
  for (const auto& [fingerprint, alert] : alone) {
    if (alert.state() == v1::ALERT_STATE_FIRING) fired = fingerprint;
  }
  const absl::Time delivered_by = absl::Now() + absl::Seconds(30);
  while (absl::Now() < delivered_by && !Mentions(leader_hook, fired)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(Mentions(leader_hook, fired));
  EXPECT_TRUE(Mentions(hook_single, fired));
  EXPECT_EQ(other_hook.requests(), 0);

  // The leader leaves: the other takes its partitions, leads, and tells
  // its receiver of the alerts still firing.
  if (a_leads) {
    a.reset();
  } else {
    b.Stop();
  }
  testutil::LoopbackServer& survivor = a_leads ? b : *a;
  const absl::Time failover_by = absl::Now() + absl::Seconds(60);
  while (absl::Now() < failover_by && !Mentions(other_hook, fired)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(survivor.server().kafka_ingest()->stats().leads);
  EXPECT_EQ(survivor.server().kafka_ingest()->stats().partitions, 4u);
  EXPECT_TRUE(Mentions(other_hook, fired));
}

}  // namespace
}  // namespace vigie
