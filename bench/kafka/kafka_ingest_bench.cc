// kafka_ingest_bench: throughput from Kafka to updated monitors, against a
// bare librdkafka consumer on the same mock cluster, in one run on the same
// machine (bench/README.md, "Kafka ingest").
//
// The synthetic stream of ingest_loadgen, in the same shape and from the
// same flags (--groups, --features, --outcome_rate, ...: IngestLoadOptions,
// by default 8 groups, 20 features, an outcome for one prediction in ten),
// as binary vigie.v1.Event messages keyed by prediction id, is produced
// once, untimed, to a topic of --partitions partitions on --brokers mock
// brokers (librdkafka's mock cluster, on loopback in this process). Then,
// --repetitions times each, alternately:
//   bare   a KafkaConsumer in a new group reads every message and does
//          nothing with it;
//   vigie  the server (in process, on a fresh data folder, configured as
//          ingest_loadgen configures it, the reference uploaded first)
//          consumes the same messages through KafkaIngest: decode, log,
//          join, monitors.
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
#include "bench/ingest/ingest_load.h"
#include "bench/ingest/load_shape_flags.h"
#include "bench/ingest/server_config.h"
#include "common/clock.h"
#include "common/log.h"
#include "services/config.h"
#include "services/server.h"
#include "tests/testutil/kafka_cluster.h"
#include "tests/testutil/temp_dir.h"

ABSL_FLAG(int64_t, predictions, 200'000,
          "Predictions in the stream; --outcome_rate of them also send "
          "their outcome.");
// The shape: bench/ingest/load_shape_flags.h.
ABSL_FLAG(int, partitions, 4, "Partitions of the event topic.");
ABSL_FLAG(int, brokers, 3, "Mock brokers.");
ABSL_FLAG(int, repetitions, 3, "Runs of each consumer.");
ABSL_FLAG(int, batch_size, 1000, "kafka_ingest.batch_size of the server.");
ABSL_FLAG(int, max_prefetch_kbytes, 0,
          "kafka_ingest.max_prefetch_kbytes of the server; 0: its default.");

namespace vigie {
namespace {

constexpr char kTopic[] = "vigie-events";

// librdkafka's mock cluster keeps at most 5 MiB of messages per partition
// (rdkafka_mock.c, max_size of a mock partition) and silently drops the
// oldest beyond: a longer stream would never be read whole, and both
// consumers would wait for messages that are gone. Key and value bytes
// are kept under 4 MiB a partition, leaving room for record overheads and
// an uneven spread of keys.
constexpr uint64_t kMaxBytesPerPartition = uint64_t{4} << 20;

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

// The server's configuration for the stream of `options`: the one
// ingest_loadgen starts `vigie` with, on `data_dir`, Kafka off.
absl::StatusOr<services::ServerConfig> BaseConfig(
    const bench::IngestLoadOptions& options, const std::string& data_dir) {
  absl::StatusOr<services::ServerConfig> config =
      bench::NeedsServerConfig(options)
          ? services::ParseServerConfig(bench::PendingJoinsConfigYaml(options),
                                        "kafka_ingest_bench (generated)")
          : services::DefaultServerConfig();
  if (!config.ok()) return config.status();
  for (services::ModelConfig& model : config->models) {
    model.allowed_lateness = absl::InfiniteDuration();
  }
  config->data_dir = data_dir;
  config->grpc_address = "127.0.0.1:0";
  config->http_address = "";  // Not measured.
  return config;
}

// Stores the reference of `options` in the data folder of `config` through
// a server without Kafka, so that the Kafka run's drift has it from its
// first message (a server consuming at once would race the upload).
absl::Status StoreReference(const bench::IngestLoadOptions& options,
                            services::ServerConfig config) {
  absl::StatusOr<v1::UploadReferenceRequest> request =
      bench::BuildReference(options);
  if (!request.ok()) return request.status();
  common::RealClock clock;
  auto server = services::VigieServer::Start(std::move(config), &clock);
  if (!server.ok()) return server.status();
  absl::StatusOr<v1::ReferenceInfo> info =
      (*server)->pipeline().UploadReference(*request);
  (*server)->Shutdown();
  if (!info.ok()) return info.status();
  if (info->rejected() > 0) {
    return absl::InternalError(
        absl::StrCat("reference: ", info->rejected(), " events rejected"));
  }
  return absl::OkStatus();
}

// The same through the server's Kafka ingest: seconds from its first
// message counted to the last; negative if it did not finish.
double Vigie(const bench::IngestLoadOptions& options,
             const std::string& brokers, const std::string& group,
             int64_t total, int batch_size, const std::string& data_dir,
             uint64_t* counted_before_timing) {
  absl::StatusOr<services::ServerConfig> config = BaseConfig(options, data_dir);
  if (!config.ok()) {
    std::cerr << "config: " << config.status() << "\n";
    return -1;
  }
  if (options.reference_predictions > 0) {
    if (absl::Status s = StoreReference(options, *config); !s.ok()) {
      std::cerr << "reference: " << s << "\n";
      return -1;
    }
  }
  config->kafka_ingest.brokers = brokers;
  config->kafka_ingest.group_id = group;
  config->kafka_ingest.topics = {{kTopic, services::PayloadFormat::kProtobuf}};
  config->kafka_ingest.dead_letter_topic = "";
  config->kafka_ingest.batch_size = static_cast<uint32_t>(batch_size);
  if (const int kbytes = absl::GetFlag(FLAGS_max_prefetch_kbytes); kbytes > 0) {
    config->kafka_ingest.max_prefetch_kbytes = static_cast<uint32_t>(kbytes);
  }
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
  // The shape promises drift against the reference stored before (and
  // conformal coverage for a multiclass load): check that the window has
  // them, so that the figure is of the whole work.
  v1::GetMetricsRequest query;
  query.set_model_id(options.model_id);
  absl::StatusOr<v1::GetMetricsReply> metrics =
      (*server)->pipeline().GetMetrics(query);
  (*server)->Shutdown();
  if (!metrics.ok()) {
    std::cerr << "vigie: GetMetrics: " << metrics.status() << "\n";
    return -1;
  }
  if (options.reference_predictions > 0 && metrics->drift().empty()) {
    std::cerr << "vigie: no drift in GetMetrics\n";
    return -1;
  }
  if (options.task == bench::IngestLoadOptions::Task::kMulticlass &&
      metrics->counters().joined() > 0 && !metrics->has_conformal()) {
    std::cerr << "vigie: no conformal coverage in GetMetrics\n";
    return -1;
  }
  *counted_before_timing = first_count;
  if (stats.messages < total_messages || stats.rejected > 0) {
    std::cerr << "vigie: " << stats.messages << " messages, " << stats.rejected
              << " rejected\n";
    return -1;
  }
  return absl::ToDoubleSeconds(last - first);
}

int Run() {
  bench::IngestLoadOptions options;
  options.predictions = absl::GetFlag(FLAGS_predictions);
  if (absl::Status s = bench::ShapeFromFlags(options); !s.ok()) {
    std::cerr << "kafka_ingest_bench: " << s.message() << "\n";
    return 2;
  }
  if (absl::Status s = options.Validate(); !s.ok()) {
    std::cerr << "kafka_ingest_bench: " << s.message() << "\n";
    return 2;
  }
  const int64_t predictions = options.predictions;
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
  std::vector<testutil::KafkaCluster::Message> messages;
  if (absl::Status s = bench::ForEachEvent(
          options,
          [&](v1::Event& event) {
            messages.push_back({event.has_prediction()
                                    ? event.prediction().prediction_id()
                                    : event.outcome().prediction_id(),
                                event.SerializeAsString(),
                                {}});
          });
      !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  const auto total = static_cast<int64_t>(messages.size());
  uint64_t bytes = 0;
  for (const testutil::KafkaCluster::Message& m : messages) {
    bytes += m.key.size() + m.value.size();
  }
  if (bytes / static_cast<uint64_t>(partitions) > kMaxBytesPerPartition) {
    std::cerr << absl::StrFormat(
        "kafka_ingest_bench: %d messages of %.1f MiB would overflow the "
        "mock cluster's 5 MiB per partition over %d partitions; use at "
        "least --partitions=%d or fewer --predictions\n",
        total, static_cast<double>(bytes) / (1 << 20), partitions,
        bytes / kMaxBytesPerPartition + 1);
    return 2;
  }
  std::cerr << "producing " << total << " messages ("
            << bench::ShapeSummary(options) << ", "
            << absl::StrFormat("%.1f MiB",
                               static_cast<double>(bytes) / (1 << 20))
            << ")\n";
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
    const double v =
        Vigie(options, cluster.bootstraps(), absl::StrCat("vigie-", r), total,
              absl::GetFlag(FLAGS_batch_size),
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
      "messages per run           %d (%d predictions, %d outcomes)\n"
      "shape                      %s\n"
      "partitions, brokers        %d, %d\n",
      total, predictions, total - predictions, bench::ShapeSummary(options),
      partitions, absl::GetFlag(FLAGS_brokers));
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
