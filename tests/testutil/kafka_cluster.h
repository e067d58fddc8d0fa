#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigie::testutil {

// Kafka brokers on loopback for tests: librdkafka's mock cluster, a real
// Kafka-protocol peer (metadata, consumer groups, produce, fetch, offset
// commits) that can be made to fail; with a producer and a reader of its
// topics. Thread-compatible.
class KafkaCluster {
 public:
  struct Message {
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  struct Record {
    std::string key;
    std::string value;
    std::map<std::string, std::string> headers;  // The last of each name.
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t timestamp_ms = 0;
  };

  // A cluster of `brokers` brokers (numbered from 1).
  explicit KafkaCluster(int brokers);
  ~KafkaCluster();
  KafkaCluster(const KafkaCluster&) = delete;
  KafkaCluster& operator=(const KafkaCluster&) = delete;

  absl::Status CreateTopic(const std::string& topic, int partitions,
                           int replication_factor);
  // "host:port,..." of the brokers.
  std::string bootstraps() const;
  rd_kafka_mock_cluster_t* mock() { return cluster_; }

  // Produces `messages` in order (each to its key's partition) and waits
  // until the brokers acknowledged every one.
  absl::Status Produce(const std::string& topic,
                       const std::vector<Message>& messages);
  // Every message of `topic` from its start, read until at least
  // `at_least` arrived and then until none came for a short while, or
  // until `timeout`.
  absl::StatusOr<std::vector<Record>> ReadAll(const std::string& topic,
                                              size_t at_least,
                                              absl::Duration timeout);

 private:
  rd_kafka_t* host_ = nullptr;  // Hosts the cluster's threads.
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  rd_kafka_t* producer_ = nullptr;
};

}  // namespace vigie::testutil
