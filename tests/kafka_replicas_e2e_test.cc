// Two replicas of Vigie in one consumer group, against librdkafka's mock
// cluster: they split the partitions, each counts the events it read, and
// each publishes its panes to the panes topic. A model-wide window asked of
// either must equal what one replica reading every partition holds.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/approximately_equal.h"
#include "tests/testutil/kafka_cluster.h"
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
    absl::StatusOr<services::ServerConfig> config =
        services::DefaultServerConfig();
    EXPECT_TRUE(config.ok()) << config.status();
    for (services::ModelConfig& model : config->models) {
      model.allowed_lateness = absl::InfiniteDuration();
    }
    config->data_dir = dir_.Join(replica);
    config->checkpoint_interval = absl::Milliseconds(100);
    services::KafkaIngestOptions& kafka = config->kafka_ingest;
    kafka.brokers = cluster_.bootstraps();
    kafka.group_id = group;
    kafka.topics = {{kEvents, services::PayloadFormat::kProtobuf}};
    kafka.dead_letter_topic = "";
    kafka.panes_topic = kPanes;
    kafka.replica_id = replica;
    // The second member's join makes the first rejoin: a short session
    // and frequent heartbeats keep that rebalance short.
    kafka.properties = {{"session.timeout.ms", "6000"},
                        {"heartbeat.interval.ms", "300"}};
    return *config;
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
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline &&
         (a.server().kafka_ingest()->stats().partitions == 0 ||
          b.server().kafka_ingest()->stats().partitions == 0 ||
          a.server().kafka_ingest()->stats().partitions +
                  b.server().kafka_ingest()->stats().partitions !=
              4)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(a.server().kafka_ingest()->stats().partitions, 2u);
  ASSERT_EQ(b.server().kafka_ingest()->stats().partitions, 2u);

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

}  // namespace
}  // namespace vigie
