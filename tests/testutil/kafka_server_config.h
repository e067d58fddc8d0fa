#pragma once

// The configuration the Kafka end-to-end tests start Vigie with. Header-only,
// for tests that link the services.

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/kafka_cluster.h"

namespace vigie::testutil {

// The embedded defaults, consuming protobuf events from `topic` of
// `cluster` in consumer group `group`, with state in `data_dir`; no
// dead-letter topic. Tests set the rest.
inline services::ServerConfig KafkaServerConfig(const KafkaCluster& cluster,
                                                const std::string& topic,
                                                const std::string& group,
                                                const std::string& data_dir) {
  absl::StatusOr<services::ServerConfig> config =
      services::DefaultServerConfig();
  EXPECT_TRUE(config.ok()) << config.status();
  for (services::ModelConfig& model : config->models) {
    // Partitions are read interleaved, not in event-time order: nothing
    // may be late (services/README.md, "Kafka ingest").
    model.allowed_lateness = absl::InfiniteDuration();
  }
  config->data_dir = data_dir;
  services::KafkaIngestOptions& kafka = config->kafka_ingest;
  kafka.brokers = cluster.bootstraps();
  kafka.group_id = group;
  kafka.topics = {{topic, services::PayloadFormat::kProtobuf}};
  kafka.dead_letter_topic = "";
  // A member stopped while it joins may not say goodbye: the group then
  // waits out its session before the restarted one gets the partitions.
  kafka.properties = {{"session.timeout.ms", "6000"},
                      {"heartbeat.interval.ms", "500"}};
  return *config;
}

}  // namespace vigie::testutil
