// Crash safety of Kafka ingest: the real `vigie` binary consumes the
// simulator's stream from librdkafka's mock cluster (on loopback, in this
// process) and is killed with SIGKILL at seeded random points, then
// restarted on the same state, until it has consumed everything. Every
// message must count exactly once: the counts and each group's selections
// must equal the test's own tally of the stream, with no event rejected as
// a duplicate.

#include <signal.h>

#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testutil/kafka_cluster.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/client.h"
#include "tools/simulator.h"

#ifndef VIGIE_CRASH_PREDICTIONS
#define VIGIE_CRASH_PREDICTIONS 100000
#endif

namespace vigie {
namespace {

constexpr int64_t kPredictions = VIGIE_CRASH_PREDICTIONS;
constexpr int kKills = 4;
constexpr char kTopic[] = "vigie-events";

TEST(KafkaCrashTest, KilledConsumerResumesExactlyWhereItsStateStood) {
  testutil::TempDir dir;
  testutil::KafkaCluster cluster(3);
  ASSERT_OK(cluster.CreateTopic(kTopic, 4, 3));

  // The stream, keyed by prediction id, and the test's tally of it.
  tools::SimulatorOptions options;
  options.num_predictions = kPredictions;
  auto simulator = *tools::Simulator::Create(options);
  std::vector<testutil::KafkaCluster::Message> messages;
  std::map<std::string, uint64_t> predictions;
  std::map<std::string, uint64_t> selected;
  tools::EventRecord record;
  while (simulator->Next(&record)) {
    for (const v1::Event& event : record.events) {
      const bool prediction = event.has_prediction();
      messages.push_back({prediction ? event.prediction().prediction_id()
                                     : event.outcome().prediction_id(),
                          event.SerializeAsString(),
                          {}});
      if (!prediction) continue;
      const std::string& sex = event.prediction().groups().at("sex");
      ++predictions[sex];
      if (event.prediction().binary().score() >= 0.5) ++selected[sex];
    }
  }
  ASSERT_OK(cluster.Produce(kTopic, messages));

  const std::string config = dir.Join("vigie.yaml");
  std::ofstream(config) << "kafka_ingest:\n"
                        << "  brokers: " << cluster.bootstraps() << "\n"
                        << "  group_id: crash\n"
                        << "  topics: [{name: " << kTopic << "}]\n"
                        << "  dead_letter_topic: ''\n"
                        << "  batch_size: 1000\n"
                        // A killed member leaves no goodbye: the group
                        // waits for its session to time out before the
                        // restarted one gets the partitions.
                        << "  properties: {session.timeout.ms: 6000, "
                           "heartbeat.interval.ms: 500}\n"
                        << "models:\n"
                        << "  - {id: demo, pane_length: 1h, label_delay: 1d}\n";
  const std::string data = dir.Join("state");
  auto start = [&]() {
    return testutil::ServerProcess::Start(
        VIGIE_SERVER_BINARY, data, dir.Join("server.log"),
        {"--log_level=warning", absl::StrCat("--config=", config)});
  };
  auto counters = [](const std::string& address) {
    v1::GetMetricsReply reply;
    auto client = tools::VigieClient::Connect(address);
    if (!client.ok()) return reply;
    v1::GetMetricsRequest request;
    request.set_model_id("demo");
    if (auto got = (*client)->GetMetrics(request); got.ok()) reply = *got;
    return reply;
  };

  std::mt19937_64 rng(20261202);
  ASSERT_OK_AND_ASSIGN(testutil::ServerProcess server, start());
  int kills = 0;
  uint64_t consumed = 0;
  std::vector<uint64_t> killed_at;
  while (kills < kKills) {
    // Once this run has counted something (its group join is done and its
    // first batch is stored), a random moment later: mid-batch or between.
    const absl::Time patience = absl::Now() + absl::Minutes(1);
    uint64_t now = consumed;
    while (now == consumed && absl::Now() < patience) {
      absl::SleepFor(absl::Milliseconds(20));
      now = counters(server.address()).counters().outcomes();
    }
    absl::SleepFor(absl::Milliseconds(static_cast<int64_t>(rng() % 300)));
    consumed = counters(server.address()).counters().outcomes();
    if (consumed >= static_cast<uint64_t>(kPredictions)) break;
    server.Signal(SIGKILL);
    server.Wait();
    ++kills;
    killed_at.push_back(consumed);
    ASSERT_OK_AND_ASSIGN(server, start());
  }
  // Killed mid-stream at least twice, or the test proves little.
  EXPECT_GE(kills, 2) << "the consumption ended before the kills";

  v1::GetMetricsReply reply;
  const absl::Time deadline = absl::Now() + absl::Minutes(3);
  while (absl::Now() < deadline) {
    reply = counters(server.address());
    if (reply.counters().outcomes() >= static_cast<uint64_t>(kPredictions)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  absl::SleepFor(absl::Seconds(1));  // Anything counted twice would show.
  reply = counters(server.address());
  const v1::ModelCounters& c = reply.counters();
  EXPECT_EQ(c.predictions(), static_cast<uint64_t>(kPredictions));
  EXPECT_EQ(c.outcomes(), static_cast<uint64_t>(kPredictions));
  EXPECT_EQ(c.joined(), static_cast<uint64_t>(kPredictions));
  EXPECT_EQ(c.rejected(), 0u) << "a message was counted twice";
  bool seen = false;
  for (const v1::AttributeFairness& attribute : reply.fairness()) {
    if (attribute.attribute() != "sex") continue;
    seen = true;
    for (const v1::GroupMetrics& group : attribute.groups()) {
      EXPECT_EQ(group.predictions(), predictions.at(group.group()));
      EXPECT_EQ(group.selected(), selected.at(group.group()));
    }
  }
  EXPECT_TRUE(seen);
  std::cout << "kills: " << kills << ", at outcomes:";
  for (uint64_t at : killed_at) std::cout << " " << at;
  std::cout << " of " << kPredictions << "\n";
}

}  // namespace
}  // namespace vigie
