// Crash safety of the real server: SIGKILL at seeded random points while a
// client streams 200,000 events and retries every batch it got no
// acknowledgement for, with the same ids. The final metrics must equal
// those of an uninterrupted run exactly: every acknowledged event counted
// once, and no re-sent event counted twice.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testutil/proto_bytes.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vector_source.h"
#include "tools/client.h"
#include "tools/simulator.h"

namespace vigie {
namespace {

constexpr int kBatchSize = 500;
constexpr int kKills = 24;
// Predictions streamed (each with its outcome), twice: once for the
// reference, once through the kills. Sanitized builds run the server
// several times slower, so they stream fewer (still 60 batches for the 24
// kill points): the durability logic is the same, and the suite's time
// stays within CI's budget.
#ifdef VIGIE_CRASH_PREDICTIONS
constexpr uint64_t kPredictions = VIGIE_CRASH_PREDICTIONS;
#else
constexpr uint64_t kPredictions = 100'000;
#endif

std::vector<std::vector<v1::Event>> Batches() {
  tools::SimulatorOptions options;
  options.num_predictions = static_cast<int64_t>(kPredictions);
  auto simulator = *tools::Simulator::Create(options);
  std::vector<std::vector<v1::Event>> batches(1);
  tools::EventRecord record;
  while (simulator->Next(&record)) {
    for (v1::Event& event : record.events) {
      if (batches.back().size() == kBatchSize) batches.emplace_back();
      batches.back().push_back(std::move(event));
    }
  }
  return batches;
}

// Sends one batch as one request; an error means no acknowledgement.
absl::StatusOr<v1::IngestReply> Send(tools::VigieClient& client,
                                     const std::vector<v1::Event>& batch) {
  testutil::VectorSource source(batch);
  tools::StreamOptions options;
  options.batch_size = kBatchSize;
  options.timeout = absl::Seconds(60);
  auto result = client.StreamEvents(source, options);
  if (!result.ok()) return result.status();
  return result->reply;
}

class CrashTest : public ::testing::Test {
 protected:
  absl::StatusOr<testutil::ServerProcess> StartServer(const std::string& dir) {
    return testutil::ServerProcess::Start(VIGIE_SERVER_BINARY, dir,
                                          dir_.Join("server.log"),
                                          {"--log_level=warning"});
  }

  v1::GetMetricsReply Metrics(const std::string& address) {
    auto client = tools::VigieClient::Connect(address);
    EXPECT_TRUE(client.ok()) << client.status();
    v1::GetMetricsRequest request;
    request.set_model_id("demo");
    auto reply = (*client)->GetMetrics(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : v1::GetMetricsReply();
  }

  testutil::TempDir dir_;
};

TEST_F(CrashTest, KilledServerLosesNoAcknowledgedEventAndCountsNoneTwice) {
  const std::vector<std::vector<v1::Event>> batches = Batches();
  ASSERT_EQ(batches.size(), 2 * kPredictions / kBatchSize);

  // The reference: the same batches, no interruption.
  v1::GetMetricsReply reference;
  {
    ASSERT_OK_AND_ASSIGN(auto server, StartServer(dir_.Join("reference")));
    ASSERT_OK_AND_ASSIGN(auto client,
                         tools::VigieClient::Connect(server.address()));
    for (const auto& batch : batches) {
      ASSERT_OK_AND_ASSIGN(auto reply, Send(*client, batch));
      ASSERT_EQ(reply.rejected(), 0u);
    }
    reference = Metrics(server.address());
  }
  ASSERT_EQ(reference.counters().joined(), kPredictions);
  EXPECT_EQ(reference.concept_drift().errors_observed(), kPredictions);

  // Kill points: before kKills distinct batches, each after a random delay
  // of up to 3 ms, so that some land mid-request, some between requests.
  std::mt19937_64 rng(20261122);
  std::set<size_t> kill_before;
  while (kill_before.size() < kKills) {
    kill_before.insert(1 + rng() % (batches.size() - 1));
  }
  const std::string data = dir_.Join("crashed");
  ASSERT_OK_AND_ASSIGN(auto server, StartServer(data));
  ASSERT_OK_AND_ASSIGN(auto client,
                       tools::VigieClient::Connect(server.address()));
  int kills = 0;
  int retries = 0;
  uint64_t duplicates = 0;
  absl::Duration slowest_restart;
  for (size_t i = 0; i < batches.size(); ++i) {
    std::thread killer;
    if (kill_before.count(i) > 0) {
      const auto delay = absl::Microseconds(static_cast<int64_t>(rng() % 3000));
      const pid_t pid = server.pid();
      killer = std::thread([pid, delay] {
        absl::SleepFor(delay);
        ::kill(pid, SIGKILL);
      });
    }
    absl::StatusOr<v1::IngestReply> reply = Send(*client, batches[i]);
    if (killer.joinable()) {
      killer.join();
      server.Wait();
      ++kills;
      const absl::Time start = absl::Now();
      ASSERT_OK_AND_ASSIGN(server, StartServer(data));
      slowest_restart = std::max(slowest_restart, absl::Now() - start);
      ASSERT_OK_AND_ASSIGN(client,
                           tools::VigieClient::Connect(server.address()));
    }
    // Retry with the same ids until acknowledged.
    while (!reply.ok()) {
      ++retries;
      reply = Send(*client, batches[i]);
    }
    // A retried batch that had been applied comes back as duplicates.
    for (const auto& rejection : reply->rejections()) {
      ASSERT_TRUE(rejection.reason() ==
                      v1::REJECT_REASON_DUPLICATE_PREDICTION ||
                  rejection.reason() == v1::REJECT_REASON_DUPLICATE_OUTCOME)
          << rejection.message();
    }
    duplicates += reply->rejected();
  }
  EXPECT_EQ(kills, kKills);
  std::cout << "kills: " << kills << ", retried batches: " << retries
            << ", duplicates recognised: " << duplicates
            << ", slowest restart: " << slowest_restart << "\n";

  const v1::GetMetricsReply crashed = Metrics(server.address());
  ASSERT_EQ(crashed.fairness_size(), reference.fairness_size());
  for (int a = 0; a < reference.fairness_size(); ++a) {
    EXPECT_EQ(testutil::DeterministicBytes(crashed.fairness(a)),
              testutil::DeterministicBytes(reference.fairness(a)))
        << reference.fairness(a).attribute();
  }
  EXPECT_EQ(crashed.panes(), reference.panes());
  const auto& c = crashed.counters();
  const auto& r = reference.counters();
  EXPECT_EQ(c.predictions(), r.predictions());
  EXPECT_EQ(c.outcomes(), r.outcomes());
  EXPECT_EQ(c.joined(), r.joined());
  EXPECT_EQ(c.pending_predictions(), r.pending_predictions());
  EXPECT_EQ(c.pending_outcomes(), r.pending_outcomes());
  // The only rejections are the recognised re-sends.
  EXPECT_EQ(c.rejected(), duplicates);
  // The error stream's detectors saw each joined pair once, in the same
  // order: the same errors, the same changes.
  EXPECT_EQ(crashed.concept_drift().errors_observed(),
            reference.concept_drift().errors_observed());
  EXPECT_EQ(crashed.concept_drift().adwin_changes(),
            reference.concept_drift().adwin_changes());
  EXPECT_EQ(crashed.concept_drift().adwin_width(),
            reference.concept_drift().adwin_width());

  // A graceful stop exits 0 and keeps everything.
  server.Signal(SIGTERM);
  const int status = server.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_OK_AND_ASSIGN(server, StartServer(data));
  const v1::GetMetricsReply restarted = Metrics(server.address());
  EXPECT_EQ(testutil::DeterministicBytes(restarted.fairness(0)),
            testutil::DeterministicBytes(reference.fairness(0)));
}

}  // namespace
}  // namespace vigie
