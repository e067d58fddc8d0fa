// kafka_ingest_bench: throughput from Kafka to updated monitors, against a
// bare librdkafka consumer on the same mock cluster, in one run on the same
// machine (bench/README.md, "Kafka ingest").
//
// The simulator's stream (binary vigie.v1.Event messages keyed by
// prediction id) is produced once, untimed, to a topic of --partitions
// partitions on --brokers mock brokers (librdkafka's mock cluster, on
// loopback in this process). Then, --repetitions times each, alternately:
//   bare   a KafkaConsumer in a new group reads every message and does
//          nothing with it;
//   vigie  the server (in process, on a fresh data folder) consumes the
//          same messages through KafkaIngest: decode, log, join, monitors.
// Each is timed from its first message to its last, so that the group
// join is not counted. Exit status: 0 when Vigie counted every event, 1
// otherwise, 2 on a bad flag. Progress goes to stderr, the report to
// stdout.

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "services/config.h"
#include "services/server.h"
#include "tests/testutil/kafka_cluster.h"
#include "tests/testutil/simulated_messages.h"
#include "tests/testutil/temp_dir.h"

ABSL_FLAG(int64_t, predictions, 200'000,
          "Predictions in the stream; each has its outcome, so the topic "
          "holds twice as many messages.");
ABSL_FLAG(int, partitions, 4, "Partitions of the event topic.");
ABSL_FLAG(int, brokers, 3, "Mock brokers.");
ABSL_FLAG(int, repetitions, 3, "Runs of each consumer.");
ABSL_FLAG(int, batch_size, 1000, "kafka_ingest.batch_size of the server.");

namespace vigie {
namespace {

constexpr char kTopic[] = "vigie-events";

// Seconds from the first message to the last of `total`, read by a bare
// consumer in group `group`; negative if it did not finish in 5 minutes.
double Bare(const std::string& brokers, const std::string& group,
            int64_t total) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", brokers, error);
  conf->set("group.id", group, error);
  conf->set("auto.offset.reset", "earliest", error);
  conf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (consumer == nullptr) {
    std::cerr << "bare consumer: " << error << "\n";
    return -1;
  }
  consumer->subscribe({kTopic});
  int64_t read = 0;
  absl::Time first;
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (read < total && absl::Now() < deadline) {
    std::unique_ptr<RdKafka::Message> message(consumer->consume(100));
    if (message->err() != RdKafka::ERR_NO_ERROR) continue;
    if (read == 0) first = absl::Now();
    ++read;
  }
  const absl::Time last = absl::Now();
  consumer->close();
  if (read < total) return -1;
  return absl::ToDoubleSeconds(last - first);
}

// The same through the server's Kafka ingest: seconds from its first
// message counted to the last; negative if it did not finish.
double Vigie(const std::string& brokers, const std::string& group,
             int64_t total, int batch_size, const std::string& data_dir,
             uint64_t* counted_before_timing) {
  absl::StatusOr<services::ServerConfig> config =
      services::DefaultServerConfig();
  if (!config.ok()) return -1;
  for (services::ModelConfig& model : config->models) {
    model.allowed_lateness = absl::InfiniteDuration();
  }
  config->data_dir = data_dir;
  config->grpc_address = "127.0.0.1:0";
  config->http_address = "";  // Not measured.
  config->kafka_ingest.brokers = brokers;
  config->kafka_ingest.group_id = group;
  config->kafka_ingest.topics = {{kTopic, services::PayloadFormat::kProtobuf}};
  config->kafka_ingest.dead_letter_topic = "";
  config->kafka_ingest.batch_size = static_cast<uint32_t>(batch_size);
  common::RealClock clock;
  auto server = services::VigieServer::Start(*std::move(config), &clock);
  if (!server.ok()) {
    std::cerr << "server: " << server.status() << "\n";
    return -1;
  }
  const services::KafkaIngest& ingest = *(*server)->kafka_ingest();
  const auto total_messages = static_cast<uint64_t>(total);
  uint64_t first_count = 0;
  absl::Time first;
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (absl::Now() < deadline) {
    const uint64_t messages = ingest.stats().messages;
    if (first_count == 0 && messages > 0) {
      first_count = messages;
      first = absl::Now();
    }
    if (messages >= total_messages) break;
    absl::SleepFor(absl::Microseconds(200));
  }
  const absl::Time last = absl::Now();
  const services::KafkaIngestStats stats = ingest.stats();
  (*server)->Shutdown();
  *counted_before_timing = first_count;
  if (stats.messages < total_messages || stats.rejected > 0) {
    std::cerr << "vigie: " << stats.messages << " messages, " << stats.rejected
              << " rejected\n";
    return -1;
  }
  return absl::ToDoubleSeconds(last - first);
}

int Run() {
  const int64_t predictions = absl::GetFlag(FLAGS_predictions);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  const int repetitions = absl::GetFlag(FLAGS_repetitions);
  if (predictions < 1000 || partitions < 1 || repetitions < 1 ||
      absl::GetFlag(FLAGS_brokers) < 1) {
    std::cerr << "kafka_ingest_bench: --predictions >= 1000, --partitions, "
                 "--brokers and --repetitions >= 1\n";
    return 2;
  }
  // The stream fires alerts; they are not what is measured.
  common::SetMinLogLevel(common::LogLevel::kError);
  testutil::KafkaCluster cluster(absl::GetFlag(FLAGS_brokers));
  if (absl::Status s =
          cluster.CreateTopic(kTopic, partitions, std::min(3, partitions));
      !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::cerr << "producing " << 2 * predictions << " messages\n";
  std::vector<testutil::KafkaCluster::Message> messages =
      testutil::SimulatedMessages(predictions);
  const auto total = static_cast<int64_t>(messages.size());
  if (absl::Status s = cluster.Produce(kTopic, messages); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  messages.clear();
  testutil::TempDir dir;
  std::vector<double> bare;
  std::vector<double> vigie;
  for (int r = 0; r < repetitions; ++r) {
    std::cerr << "run " << r + 1 << ": bare consumer\n";
    const double b =
        Bare(cluster.bootstraps(), absl::StrCat("bare-", r), total);
    if (b < 0) return 1;
    bare.push_back(static_cast<double>(total - 1) / b);
    std::cerr << "run " << r + 1 << ": vigie\n";
    uint64_t before = 0;
    const double v = Vigie(cluster.bootstraps(), absl::StrCat("vigie-", r),
                           total, absl::GetFlag(FLAGS_batch_size),
                           dir.Join(absl::StrCat("state-", r)), &before);
    if (v < 0) return 1;
    vigie.push_back(static_cast<double>(static_cast<uint64_t>(total) - before) /
                    v);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::cout << absl::StrFormat(
      "messages per run           %d (%d predictions and their outcomes)\n"
      "partitions, brokers        %d, %d\n",
      total, predictions, partitions, absl::GetFlag(FLAGS_brokers));
  for (int r = 0; r < repetitions; ++r) {
    std::cout << absl::StrFormat(
        "run %d                      bare %.0f msg/s, vigie %.0f msg/s\n",
        r + 1, bare[static_cast<size_t>(r)], vigie[static_cast<size_t>(r)]);
  }
  const double b = median(bare);
  const double v = median(vigie);
  std::cout << absl::StrFormat(
      "median                     bare %.0f msg/s, vigie %.0f msg/s\n"
      "vigie / bare               %.3f\n",
      b, v, v / b);
  return 0;
}

}  // namespace
}  // namespace vigie

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return vigie::Run();
}
