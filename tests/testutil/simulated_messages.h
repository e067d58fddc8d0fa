#pragma once

#include <cstdint>
#include <vector>

#include "tests/testutil/kafka_cluster.h"
#include "tools/simulator.h"

namespace vigie::testutil {

// The simulator's stream as Kafka messages: each event serialized in
// protobuf's binary format, keyed by its prediction id (so that a
// prediction and its outcome share a partition), in stream order.
// Header-only, for tests and benchmarks that link vigie::client.
inline std::vector<KafkaCluster::Message> SimulatedMessages(int64_t predictions,
                                                            uint64_t seed = 1) {
  tools::SimulatorOptions options;
  options.num_predictions = predictions;
  options.seed = seed;
  std::vector<KafkaCluster::Message> messages;
  auto simulator = tools::Simulator::Create(options);
  if (!simulator.ok()) return messages;
  tools::EventRecord record;
  while ((*simulator)->Next(&record)) {
    for (const v1::Event& event : record.events) {
      messages.push_back({event.has_prediction()
                              ? event.prediction().prediction_id()
                              : event.outcome().prediction_id(),
                          event.SerializeAsString(),
                          {}});
    }
  }
  return messages;
}

}  // namespace vigie::testutil
