// Kafka ingest through the real server, against librdkafka's mock cluster
// (a real Kafka-protocol peer on loopback: 3 brokers, event topics of 4
// partitions). The events are the simulator's (a credit model with an
// injected bias), keyed by prediction id. What Kafka ingest counts must
// equal what the same events sent over gRPC count, and the test's own
// tally; undecodable messages must reach the dead-letter topic with their
// error; broker errors, a leader change and restarts must lose and repeat
// nothing.

#include <librdkafka/rdkafka.h>
// After rdkafka.h, which it needs.
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/approximately_equal.h"
#include "tests/testutil/kafka_cluster.h"
#include "tests/testutil/kafka_server_config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/simulator.h"

#ifndef VIGIE_KAFKA_PREDICTIONS
#define VIGIE_KAFKA_PREDICTIONS 100000
#endif

namespace vigie {
namespace {

using ::testing::HasSubstr;

constexpr char kEvents[] = "vigie-events";
constexpr char kDeadLetters[] = "vigie-dead-letters";
constexpr char kModel[] = "demo";  // The simulator's model.

// The simulator's stream: predictions, each followed later by its outcome.
std::vector<v1::Event> Simulated(int64_t predictions, uint64_t seed) {
  tools::SimulatorOptions options;
  options.num_predictions = predictions;
  options.seed = seed;
  auto simulator = tools::Simulator::Create(options);
  EXPECT_TRUE(simulator.ok()) << simulator.status();
  std::vector<v1::Event> events;
  tools::EventRecord record;
  while ((*simulator)->Next(&record)) {
    for (v1::Event& event : record.events) events.push_back(std::move(event));
  }
  return events;
}

std::string PredictionIdOf(const v1::Event& event) {
  return event.has_prediction() ? event.prediction().prediction_id()
                                : event.outcome().prediction_id();
}

std::vector<testutil::KafkaCluster::Message> AsMessages(
    const std::vector<v1::Event>& events) {
  std::vector<testutil::KafkaCluster::Message> messages;
  messages.reserve(events.size());
  for (const v1::Event& event : events) {
    messages.push_back({PredictionIdOf(event), event.SerializeAsString(), {}});
  }
  return messages;
}

// The test's tally of a simulated stream: per sex, predictions and
// positive decisions at the demo model's threshold (0.5).
struct Tally {
  std::map<std::string, uint64_t> predictions;
  std::map<std::string, uint64_t> selected;
};
Tally Count(const std::vector<v1::Event>& events) {
  Tally tally;
  for (const v1::Event& event : events) {
    if (!event.has_prediction()) continue;
    const std::string& sex = event.prediction().groups().at("sex");
    ++tally.predictions[sex];
    if (event.prediction().binary().score() >= 0.5) ++tally.selected[sex];
  }
  return tally;
}

class KafkaIngestE2eTest : public ::testing::Test {
 protected:
  KafkaIngestE2eTest() : cluster_(3) {}

  void SetUp() override {
    ASSERT_OK(cluster_.CreateTopic(kEvents, 4, 3));
    ASSERT_OK(cluster_.CreateTopic(kDeadLetters, 1, 3));
  }

  services::ServerConfig Config(const std::string& state) {
    services::ServerConfig config = testutil::KafkaServerConfig(
        cluster_, kEvents, "vigie-test", dir_.Join(state));
    config.kafka_ingest.dead_letter_topic = kDeadLetters;
    config.kafka_ingest.batch_size = 2000;
    config.kafka_ingest.batch_wait = absl::Milliseconds(20);
    return config;
  }

  // The model's metrics over all time, once `done` holds of its counters
  // (or after two minutes).
  template <typename Done>
  v1::GetMetricsReply WaitUntil(testutil::LoopbackServer& server, Done done) {
    v1::GetMetricsReply reply;
    const absl::Time deadline = absl::Now() + absl::Minutes(2);
    while (absl::Now() < deadline) {
      v1::GetMetricsRequest request;
      request.set_model_id(kModel);
      absl::StatusOr<v1::GetMetricsReply> got =
          server.client().GetMetrics(request);
      if (got.ok()) {
        reply = *got;
        if (done(reply.counters())) break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return reply;
  }
  // Once every one of n simulated predictions has its outcome.
  v1::GetMetricsReply WaitFor(testutil::LoopbackServer& server, uint64_t n) {
    return WaitUntil(server, [n](const v1::ModelCounters& counters) {
      return counters.outcomes() + counters.rejected() >= n;
    });
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::KafkaCluster cluster_;
};

// The fairness and calibration of two replies, compared field by field.
void ExpectSameMetrics(const v1::GetMetricsReply& kafka,
                       const v1::GetMetricsReply& grpc) {
  v1::GetMetricsReply a = kafka;
  v1::GetMetricsReply b = grpc;
  // Arrival times differ; the rest must not.
  a.mutable_counters()->clear_watermark();
  b.mutable_counters()->clear_watermark();
  a.clear_reference();
  b.clear_reference();
  // The error stream's detectors see the errors in arrival order, which
  // the partitions' interleaving changes: only they may differ.
  a.clear_concept_drift();
  b.clear_concept_drift();
  // Counts must be equal; sums of doubles added in another order (the
  // partitions interleave) may differ in their last bits.
  std::string report;
  EXPECT_TRUE(testutil::ApproximatelyEqual(a, b, &report)) << report;
}

TEST_F(KafkaIngestE2eTest, EveryMessageCountsOnceAsOverGrpc) {
  const int64_t n = VIGIE_KAFKA_PREDICTIONS;
  const std::vector<v1::Event> events = Simulated(n, 7);
  ASSERT_OK(cluster_.Produce(kEvents, AsMessages(events)));

  testutil::LoopbackServer kafka;
  ASSERT_OK(kafka.Start(Config("kafka"), &clock_));
  const v1::GetMetricsReply consumed = WaitFor(kafka, n);
  EXPECT_EQ(consumed.counters().predictions(), static_cast<uint64_t>(n));
  EXPECT_EQ(consumed.counters().outcomes(), static_cast<uint64_t>(n));
  EXPECT_EQ(consumed.counters().joined(), static_cast<uint64_t>(n));
  EXPECT_EQ(consumed.counters().rejected(), 0u);

  // The test's own tally of selection per sex.
  const Tally tally = Count(events);
  for (const v1::AttributeFairness& attribute : consumed.fairness()) {
    if (attribute.attribute() != "sex") continue;
    for (const v1::GroupMetrics& group : attribute.groups()) {
      EXPECT_EQ(group.predictions(), tally.predictions.at(group.group()));
      EXPECT_EQ(group.selected(), tally.selected.at(group.group()));
    }
  }

  // The same events over gRPC, in their order.
  services::ServerConfig grpc_config = Config("grpc");
  grpc_config.kafka_ingest = {};
  testutil::LoopbackServer grpc;
  ASSERT_OK(grpc.Start(grpc_config, &clock_));
  grpc.SendAll(events);
  ExpectSameMetrics(consumed, WaitFor(grpc, n));

  // A restart reads nothing again: the stored positions are past it all.
  ASSERT_OK(kafka.Restart());
  absl::SleepFor(absl::Seconds(2));
  const v1::GetMetricsReply again = WaitFor(kafka, n);
  EXPECT_EQ(again.counters().predictions(), static_cast<uint64_t>(n));
  EXPECT_EQ(again.counters().outcomes(), static_cast<uint64_t>(n));
}

TEST_F(KafkaIngestE2eTest, BrokerErrorsLeaderChangesAndRestartsLoseNothing) {
  const int64_t n = VIGIE_KAFKA_PREDICTIONS / 4;
  const std::vector<v1::Event> events = Simulated(n, 11);
  const std::vector<testutil::KafkaCluster::Message> messages =
      AsMessages(events);
  const size_t half = messages.size() / 2;
  ASSERT_OK(cluster_.Produce(
      kEvents, {messages.begin(), messages.begin() + static_cast<long>(half)}));

  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(Config("state"), &clock_));
  WaitUntil(server, [](const v1::ModelCounters& counters) {
    return counters.predictions() > 0;
  });
  // Fetches fail for a while, then two partitions change leader.
  const rd_kafka_resp_err_t errors[] = {
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION};
  rd_kafka_mock_push_request_errors_array(cluster_.mock(), /*Fetch*/ 1, 3,
                                          errors);
  rd_kafka_mock_partition_set_leader(cluster_.mock(), kEvents, 0, 2);
  rd_kafka_mock_partition_set_leader(cluster_.mock(), kEvents, 1, 3);
  // Stopped part way (or not: either way nothing may count twice).
  absl::SleepFor(absl::Milliseconds(100));
  server.Stop();
  ASSERT_OK(cluster_.Produce(
      kEvents, {messages.begin() + static_cast<long>(half), messages.end()}));
  ASSERT_OK(server.Restart());
  const v1::GetMetricsReply reply = WaitFor(server, n);
  EXPECT_EQ(reply.counters().predictions(), static_cast<uint64_t>(n));
  EXPECT_EQ(reply.counters().outcomes(), static_cast<uint64_t>(n));
  EXPECT_EQ(reply.counters().joined(), static_cast<uint64_t>(n));
  EXPECT_EQ(reply.counters().rejected(), 0u);
}

TEST_F(KafkaIngestE2eTest, ABehindConsumerStopsFetchingAtItsBound) {
  // Every message is in the topic before the server starts: it is behind
  // from the start, for all of them.
  // Enough for a stream 15 times the bound.
  const int64_t n = 20'000;
  const std::vector<testutil::KafkaCluster::Message> messages =
      AsMessages(Simulated(n, 5));
  uint64_t produced_bytes = 0;
  for (const testutil::KafkaCluster::Message& message : messages) {
    produced_bytes += message.value.size();
  }
  ASSERT_OK(cluster_.Produce(kEvents, messages));

  services::ServerConfig config = Config("bounded");
  config.kafka_ingest.max_prefetch_kbytes = 64;
  config.kafka_ingest.properties["fetch.message.max.bytes"] = "16384";
  config.kafka_ingest.properties["statistics.interval.ms"] = "100";
  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(config, &clock_));
  // How far behind the consumer fell, by librdkafka's statistics, while it
  // read the stream.
  int64_t most_behind = 0;
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  while (absl::Now() < deadline) {
    most_behind =
        std::max(most_behind, server.server().kafka_ingest()->stats().lag);
    v1::GetMetricsRequest request;
    request.set_model_id(kModel);
    absl::StatusOr<v1::GetMetricsReply> got =
        server.client().GetMetrics(request);
    if (got.ok() && got->counters().outcomes() >= static_cast<uint64_t>(n)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Statistics once more, now that everything was consumed.
  absl::SleepFor(absl::Milliseconds(500));
  const services::KafkaIngestStats stats =
      server.server().kafka_ingest()->stats();
  EXPECT_EQ(stats.lag, 0);

  // librdkafka's bound: max_prefetch_kbytes in the consumer's queue,
  // overshot by at most one fetch per partition (the producer's batches
  // are no larger than a fetch).
  const uint64_t bound = 64 * 1024 + 4 * 16384;
  EXPECT_LE(stats.peak_prefetched_bytes, bound);
  // While it was behind by more than ten times the bound (in messages of
  // the stream's mean size): without the bound, memory would have grown
  // with the backlog.
  const double mean_bytes = static_cast<double>(produced_bytes) /
                            static_cast<double>(messages.size());
  EXPECT_GT(static_cast<double>(most_behind) * mean_bytes,
            10.0 * static_cast<double>(bound))
      << most_behind << " messages behind at most";
}

TEST_F(KafkaIngestE2eTest, UndecodableMessagesGoToTheDeadLetterTopic) {
  const std::vector<v1::Event> events = Simulated(10, 3);
  std::vector<testutil::KafkaCluster::Message> messages = AsMessages(events);
  // Two events in JSON: one on its content-type header, one rejected for a
  // field the Event does not have.
  std::string json;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(Simulated(11, 3)[10], &json)
          .ok());
  messages.push_back(
      {"j1", json, {{"content-type", "application/json; charset=utf-8"}}});
  messages.push_back({"j2",
                      "{\"prediction\": {\"modelId\": \"demo\"}, "
                      "\"colour\": 1}",
                      {{"content-type", "application/json"}}});
  messages.push_back({"g1", std::string("\xff\xff\xff garbage", 12), {}});
  messages.push_back(
      {"t1", events[0].SerializeAsString(), {{"content-type", "text/csv"}}});
  messages.push_back({"e1", "", {}});
  ASSERT_OK(cluster_.Produce(kEvents, messages));

  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(Config("state"), &clock_));
  // The ten simulated predictions and their outcomes, plus the eleventh
  // prediction, in JSON.
  const v1::GetMetricsReply reply =
      WaitUntil(server, [](const v1::ModelCounters& counters) {
        return counters.predictions() + counters.outcomes() >= 21;
      });
  EXPECT_EQ(reply.counters().predictions(), 11u);
  EXPECT_EQ(reply.counters().outcomes(), 10u);
  EXPECT_EQ(reply.counters().rejected(), 0u);

  ASSERT_OK_AND_ASSIGN(std::vector<testutil::KafkaCluster::Record> dead,
                       cluster_.ReadAll(kDeadLetters, 4, absl::Seconds(30)));
  ASSERT_EQ(dead.size(), 4u);
  std::map<std::string, testutil::KafkaCluster::Record> by_key;
  for (const auto& record : dead) by_key[record.key] = record;
  EXPECT_THAT(by_key.at("j2").headers.at("vigie-error"),
              HasSubstr("JSON mapping"));
  EXPECT_THAT(by_key.at("g1").headers.at("vigie-error"),
              HasSubstr("not a vigie.v1.Event"));
  EXPECT_THAT(by_key.at("t1").headers.at("vigie-error"),
              HasSubstr("content-type \"text/csv\""));
  EXPECT_THAT(by_key.at("e1").headers.at("vigie-error"), HasSubstr("no value"));
  EXPECT_EQ(by_key.at("g1").value, messages[messages.size() - 3].value);
  EXPECT_EQ(by_key.at("g1").headers.at("vigie-source-topic"), kEvents);
  EXPECT_FALSE(by_key.at("g1").headers.at("vigie-source-offset").empty());
}

TEST_F(KafkaIngestE2eTest,
       AFailingDeadLetterTopicIsRetriedWithoutCountingTwice) {
  const std::vector<v1::Event> events = Simulated(10, 5);
  std::vector<testutil::KafkaCluster::Message> messages = AsMessages(events);
  messages.push_back({"g1", std::string("\xff\xff\xff garbage", 12), {}});
  ASSERT_OK(cluster_.Produce(kEvents, messages));
  // The next two writes to the cluster, the dead letter's, fail with an
  // error the producer does not retry by itself: the batch waits, then
  // goes through once the topic takes its dead letter.
  rd_kafka_mock_push_request_errors(
      cluster_.mock(), /*Produce*/ 0, 2,
      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(Config("state"), &clock_));
  WaitUntil(server, [](const v1::ModelCounters& counters) {
    return counters.predictions() + counters.outcomes() >= 20;
  });
  ASSERT_NE(server.server().kafka_ingest(), nullptr);
  EXPECT_GE(server.server().kafka_ingest()->stats().retries, 1u);
  // Long enough for a batch read again to be ingested again, were it.
  absl::SleepFor(absl::Seconds(2));
  const v1::GetMetricsReply reply =
      WaitUntil(server, [](const v1::ModelCounters&) { return true; });
  EXPECT_EQ(reply.counters().predictions(), 10u);
  EXPECT_EQ(reply.counters().outcomes(), 10u);
  EXPECT_EQ(reply.counters().joined(), 10u);
  EXPECT_EQ(reply.counters().rejected(), 0u)
      << "a retried batch was ingested twice";
  ASSERT_OK_AND_ASSIGN(std::vector<testutil::KafkaCluster::Record> dead,
                       cluster_.ReadAll(kDeadLetters, 1, absl::Seconds(30)));
  ASSERT_GE(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, "g1");
}

TEST_F(KafkaIngestE2eTest, TopicsOfDifferentPartitionCountsAreRefused) {
  ASSERT_OK(cluster_.CreateTopic("vigie-outcomes", 3, 1));
  services::ServerConfig config = Config("state");
  config.kafka_ingest.topics.push_back(
      {"vigie-outcomes", services::PayloadFormat::kProtobuf});
  testutil::LoopbackServer server;
  const absl::Status started = server.Start(config, &clock_);
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition) << started;
  EXPECT_THAT(started.message(), HasSubstr("not co-partitioned"));
  EXPECT_THAT(started.message(),
              HasSubstr("\"vigie-outcomes\" (3 partitions)"));
}

}  // namespace
}  // namespace vigie
