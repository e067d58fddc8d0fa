// A Kafka batch that fails while it applies must be retried, not skipped,
// and no batch after it may count before it does. The failure is real: the
// stored block that the batch's joins read is damaged, as a bad disk would
// leave it, while the server (in process, on librdkafka's mock cluster)
// runs. Whether the disk is then repaired under the running server or
// after a stop, every message counts exactly once.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "storage/state_store.h"
#include "tests/testutil/kafka_cluster.h"
#include "tests/testutil/kafka_server_config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/pending_blocks.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/simulator.h"

namespace vigie {
namespace {

constexpr char kEvents[] = "vigie-events";
constexpr uint64_t kWaiting = 2'000;  // Predictions waiting for outcomes.
constexpr uint64_t kLater = 1'000;    // Predictions after those outcomes.

testutil::KafkaCluster::Message MessageOf(const v1::Event& event) {
  return {event.has_prediction() ? event.prediction().prediction_id()
                                 : event.outcome().prediction_id(),
          event.SerializeAsString(),
          {}};
}

// The simulator's predictions: first kWaiting alone, then their outcomes
// followed by kLater more predictions.
struct Stream {
  std::vector<testutil::KafkaCluster::Message> waiting;
  std::vector<testutil::KafkaCluster::Message> outcomes_then_later;
};
Stream MakeStream() {
  tools::SimulatorOptions options;
  options.num_predictions = static_cast<int64_t>(kWaiting + kLater);
  auto simulator = *tools::Simulator::Create(options);
  std::vector<v1::Event> predictions;
  std::map<std::string, v1::Event> outcomes;
  tools::EventRecord record;
  while (simulator->Next(&record)) {
    for (const v1::Event& event : record.events) {
      if (event.has_prediction()) {
        predictions.push_back(event);
      } else {
        outcomes[event.outcome().prediction_id()] = event;
      }
    }
  }
  Stream stream;
  for (size_t i = 0; i < kWaiting; ++i) {
    stream.waiting.push_back(MessageOf(predictions[i]));
    stream.outcomes_then_later.push_back(
        MessageOf(outcomes.at(predictions[i].prediction().prediction_id())));
  }
  for (size_t i = kWaiting; i < kWaiting + kLater; ++i) {
    stream.outcomes_then_later.push_back(MessageOf(predictions[i]));
  }
  return stream;
}

class KafkaApplyFailureTest : public ::testing::Test {
 protected:
  KafkaApplyFailureTest() : cluster_(3) {}

  void SetUp() override { ASSERT_OK(cluster_.CreateTopic(kEvents, 4, 3)); }

  services::ServerConfig Config() {
    services::ServerConfig config = testutil::KafkaServerConfig(
        cluster_, kEvents, "vigie-test", dir_.Join("state"));
    config.kafka_ingest.batch_size = 500;
    config.kafka_ingest.batch_wait = absl::Milliseconds(20);
    return config;
  }

  v1::ModelCounters Counters() {
    v1::GetMetricsRequest request;
    request.set_model_id("demo");
    absl::StatusOr<v1::GetMetricsReply> reply =
        server_.client().GetMetrics(request);
    return reply.ok() ? reply->counters() : v1::ModelCounters();
  }

  static bool WaitFor(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Minutes(2);
    while (!done() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return done();
  }

  uint64_t Retries() {
    return server_.server().kafka_ingest()->stats().retries;
  }

  // Consumes the waiting predictions, checkpoints them into stored blocks,
  // damages those, and produces the rest of the stream: every outcome's
  // join then fails. Returns the blocks as they were.
  std::map<uint32_t, std::string> StartFailing() {
    const Stream stream = MakeStream();
    EXPECT_OK(cluster_.Produce(kEvents, stream.waiting));
    EXPECT_OK(server_.Start(Config(), &clock_));
    EXPECT_TRUE(WaitFor([&] { return Counters().predictions() == kWaiting; }));
    EXPECT_OK(server_.server().pipeline().Checkpoint());
    const std::map<uint32_t, std::string> blocks =
        testutil::PendingBlocks(server_.server().store());
    testutil::DamagePendingBlocks(server_.server().store(), blocks);
    EXPECT_FALSE(blocks.empty());
    EXPECT_OK(cluster_.Produce(kEvents, stream.outcomes_then_later));
    // The first batch of outcomes fails and is retried, again and again;
    // nothing after it counts meanwhile.
    EXPECT_TRUE(WaitFor([&] { return Retries() >= 3; }))
        << "the batch was not retried";
    const v1::ModelCounters stuck = Counters();
    EXPECT_EQ(stuck.predictions(), kWaiting);
    EXPECT_EQ(stuck.outcomes(), 0u);
    EXPECT_EQ(stuck.joined(), 0u);
    return blocks;
  }

  void ExpectEachMessageCountedOnce() {
    EXPECT_TRUE(WaitFor([&] {
      const v1::ModelCounters c = Counters();
      return c.predictions() == kWaiting + kLater && c.outcomes() == kWaiting;
    }));
    absl::SleepFor(absl::Seconds(1));  // Anything counted twice would show.
    const v1::ModelCounters c = Counters();
    EXPECT_EQ(c.predictions(), kWaiting + kLater);
    EXPECT_EQ(c.outcomes(), kWaiting);
    EXPECT_EQ(c.joined(), kWaiting);
    EXPECT_EQ(c.pending_predictions(), kLater);
    EXPECT_EQ(c.pending_outcomes(), 0u);
    EXPECT_EQ(c.rejected(), 0u) << "a message was counted twice";
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::KafkaCluster cluster_;
  testutil::LoopbackServer server_;
};

TEST_F(KafkaApplyFailureTest, RepairedUnderTheRunningServer) {
  const std::map<uint32_t, std::string> blocks = StartFailing();
  testutil::PutPendingBlocks(server_.server().store(), blocks);
  ExpectEachMessageCountedOnce();
}

TEST_F(KafkaApplyFailureTest, RepairedAfterAStop) {
  const std::map<uint32_t, std::string> blocks = StartFailing();
  // Stopped while the batch fails: the positions stored are still those
  // before it, which the restart reads from.
  server_.Stop();
  {
    storage::StateStoreOptions options;
    options.path = dir_.Join("state");
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<storage::StateStore> store,
                         storage::StateStore::Open(options));
    testutil::PutPendingBlocks(*store, blocks);
  }
  ASSERT_OK(server_.Restart());
  ExpectEachMessageCountedOnce();
}

}  // namespace
}  // namespace vigie
