// vigie-kafka-mock: Kafka brokers on loopback for trying Vigie's Kafka
// ingest without a Kafka installation: librdkafka's mock cluster, a real
// Kafka-protocol peer (topics, consumer groups, produce, fetch, offset
// commits) that keeps everything in memory. Prints the bootstrap address
// on its first line of standard output, then runs until SIGINT or
// SIGTERM. Not a broker to run in production: nothing is persisted.
//
//   vigie-kafka-mock --brokers=3 --topic=vigie-events:4
//       --topic=vigie-dead-letters:1

#include <librdkafka/rdkafka.h>
// After rdkafka.h, which it needs.
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(int, brokers, 1, "Brokers in the cluster, in [1, 10].");
ABSL_FLAG(std::vector<std::string>, topic, {},
          "A topic to create, as name:partitions (comma-separated or "
          "repeated); its replication factor is min(3, brokers).");

namespace {

volatile sig_atomic_t stopping = 0;
void OnSignal(int) { stopping = 1; }

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Kafka brokers on loopback (librdkafka's mock cluster) for trying "
      "Vigie's Kafka ingest; prints the bootstrap address, then runs until "
      "SIGINT or SIGTERM.");
  absl::ParseCommandLine(argc, argv);
  const int brokers = absl::GetFlag(FLAGS_brokers);
  if (brokers < 1 || brokers > 10) {
    std::cerr << "vigie-kafka-mock: --brokers must be in [1, 10], got "
              << brokers << "\n";
    return 2;
  }
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The host handle only runs the cluster's threads; it connects nowhere.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
  rd_kafka_t* host =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (host == nullptr) {
    std::cerr << "vigie-kafka-mock: " << error << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, brokers);
  if (cluster == nullptr) {
    std::cerr << "vigie-kafka-mock: cannot start the mock cluster\n";
    rd_kafka_destroy(host);
    return 1;
  }
  int status = 0;
  for (const std::string& spec : absl::GetFlag(FLAGS_topic)) {
    const std::vector<std::string> parts = absl::StrSplit(spec, ':');
    int partitions = 0;
    if (parts.size() != 2 || parts[0].empty() ||
        !absl::SimpleAtoi(parts[1], &partitions) || partitions < 1) {
      std::cerr << "vigie-kafka-mock: --topic wants name:partitions, got \""
                << spec << "\"\n";
      status = 2;
      break;
    }
    const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
        cluster, parts[0].c_str(), partitions, brokers < 3 ? brokers : 3);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "vigie-kafka-mock: topic " << parts[0] << ": "
                << rd_kafka_err2str(err) << "\n";
      status = 1;
      break;
    }
  }
  if (status == 0) {
    std::cout << rd_kafka_mock_cluster_bootstraps(cluster) << std::endl;
    signal(SIGINT, OnSignal);
    signal(SIGTERM, OnSignal);
    while (!stopping) pause();
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(host);
  return status;
}
