#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/kafka_decode.h"

namespace vigie::storage {
class StateStore;
}

namespace vigie::services {

class Pipeline;

// Where Vigie consumes events from Kafka (YAML: kafka_ingest). Off while
// `brokers` is empty.
struct KafkaIngestOptions {
  // Bootstrap brokers, "host:port[,host:port...]". Empty: no Kafka ingest.
  std::string brokers;
  // The consumer group; replicas in one group split the partitions.
  // Default: "vigie".
  std::string group_id = "vigie";
  // Topics of events (vigie.v1.Event: predictions and outcomes, keyed by
  // prediction id), each with the format of its messages. A message's
  // content-type header, when it has one, overrides its topic's format.
  // All must have the same partition count (co-partitioning, checked at
  // start). At least one when brokers are set.
  struct Topic {
    std::string name;
    PayloadFormat format = PayloadFormat::kProtobuf;
  };
  std::vector<Topic> topics;
  // Where messages that do not decode go, each with its error and origin
  // in headers; empty: they are only logged and counted. Default:
  // "vigie-dead-letters".
  std::string dead_letter_topic = "vigie-dead-letters";
  // Messages per ingest call at most, and how long a call waits for more
  // messages once it has one. Defaults: 1,000 and 50 ms. Ranges: [1,
  // 100,000] and [1ms, 10s].
  uint32_t batch_size = 1000;
  absl::Duration batch_wait = absl::Milliseconds(50);
  // Bound on the messages librdkafka fetches ahead, in kilobytes, all
  // partitions together (queued.max.messages.kbytes): when the pipeline
  // falls behind, fetching stops at this bound rather than memory growing.
  // Each time the bound is reached, librdkafka 2.0 pauses fetching for up
  // to a second, so a bound reached often costs throughput: 16 MiB read
  // at about half the rate of 64 MiB (bench/README.md, "Kafka ingest").
  // Default: 65,536 (64 MiB, librdkafka's own). Range: [1, 2,097,151].
  uint32_t max_prefetch_kbytes = 65536;
  // Several replicas: the topic (compacted) to which each publishes the
  // panes its checkpoints write, and from which it reads the others', so
  // that GetMetrics with model_wide and the rules merge them all
  // (pane_exchange.h), and only the group's leader delivers alerts (see
  // KafkaIngest). Empty: no sharing, each replica alerts on its own
  // partitions. Default: empty.
  std::string panes_topic;
  // This replica's name in panes_topic, stable across restarts (a
  // StatefulSet's pod name). Empty: the host name.
  std::string replica_id;
  // How long start-up waits for the topics' metadata. Default: 10 s.
  // Range: [100ms, 5m].
  absl::Duration metadata_timeout = absl::Seconds(10);
  // Further librdkafka settings (security.protocol, sasl.*, ssl.*,
  // client.id, ...), passed through as given to the consumer and the
  // dead-letter producer. Settings Vigie sets itself are refused (see
  // Validate).
  std::map<std::string, std::string> properties;

  bool enabled() const { return !brokers.empty(); }
  // kInvalidArgument naming the field: no topic, a topic listed twice, an
  // empty name, a range exceeded, or a property librdkafka does not know
  // or that Vigie sets itself (bootstrap.servers, group.id,
  // enable.auto.commit, enable.auto.offset.store, auto.offset.reset,
  // queued.max.messages.kbytes, isolation.level).
  absl::Status Validate() const;
};

// ok if librdkafka knows the setting `name` and accepts `value` for it, and
// Kafka ingest does not set it itself (see KafkaIngestOptions::Validate);
// otherwise kInvalidArgument naming the setting.
absl::Status CheckKafkaIngestProperty(absl::string_view name,
                                      absl::string_view value);

// What a KafkaIngest has done since it started.
struct KafkaIngestStats {
  uint64_t messages = 0;       // Consumed.
  uint64_t batches = 0;        // Ingest calls logged.
  uint64_t accepted = 0;       // Events the pipeline accepted.
  uint64_t rejected = 0;       // Events it rejected (counted there too).
  uint64_t undecodable = 0;    // Messages that are not events.
  uint64_t dead_lettered = 0;  // Of those, written to the dead-letter topic.
  uint64_t retries = 0;        // Batches sent again after a failure.
  uint64_t rebalances = 0;     // Assignments and revocations.
  uint32_t partitions = 0;     // Currently assigned.
  bool leads = false;          // See KafkaIngest's "Leadership".
  // From librdkafka's statistics (every statistics.interval.ms, 5 s by
  // default): the bytes fetched ahead and not yet consumed, now and at
  // most since the start (bounded by max_prefetch_kbytes, overshot by at
  // most one fetch per partition: fetch.message.max.bytes, or one of the
  // producer's record batches if larger), and the assigned partitions'
  // total lag behind their high watermarks (-1 until known).
  uint64_t prefetched_bytes = 0;
  uint64_t peak_prefetched_bytes = 0;
  int64_t lag = -1;
};

// A Kafka consumer-group member feeding the pipeline.
//
// Exactly once. Each batch of messages becomes one ingest call, logged with
// the next offset of every partition it read, in the same RocksDB write
// (Pipeline::Log): an event counts if and only if its position was stored.
// When partitions are assigned, the consumer starts each at its stored
// position, falling back to the group's committed offset (then the
// earliest) for a partition this replica never read. A crash therefore
// neither loses nor repeats a message: the restart replays the logged
// calls and resumes after them. Kafka's committed offsets follow the
// stored ones (asynchronously) for the tools that watch consumer lag; they
// are never read back while a stored position exists.
//
// Rebalance. Before partitions are revoked, the batch being gathered is
// ingested and the positions are committed to Kafka synchronously, so that
// the replica taking them over starts where this one stopped.
//
// Dead letters. A message that does not decode (kafka_decode.h) is written
// to the dead-letter topic before its batch is logged, with headers
// vigie-error, vigie-source-topic, vigie-source-partition and
// vigie-source-offset; while that topic cannot be written, consumption
// waits and retries rather than skip it. Events that decode but fail
// validation are rejected and counted by the pipeline, like any ingest.
//
// Backpressure. One thread consumes and ingests in turn: while the
// pipeline is slow, it does not consume, and librdkafka stops fetching
// once its queue holds max_prefetch_kbytes (see KafkaIngestStats).
//
// Leadership. The member assigned partition 0 of the first topic (by name)
// leads the group: with a pane exchange, every replica evaluates the rules
// on the model-wide windows, and only the leader delivers the alerts.
// Kafka's assignment gives that partition to one member at a time; during
// a rebalance, none leads for a moment.
//
// Thread-safe: stats() may be called from any thread.
class KafkaIngest {
 public:
  // Connects, checks that the topics exist and have one partition count
  // (kFailedPrecondition naming them otherwise: a prediction and its
  // outcome would reach different replicas), joins the group and starts
  // consuming. `pipeline` and `store` must outlive it. `on_leadership`
  // (optional) is called on the consuming thread when this member starts
  // or stops leading.
  static absl::StatusOr<std::unique_ptr<KafkaIngest>> Start(
      const KafkaIngestOptions& options, Pipeline* pipeline,
      storage::StateStore* store,
      std::function<void(bool leads)> on_leadership = nullptr);
  // Ingests the batch being gathered, commits the positions to Kafka,
  // leaves the group and stops.
  ~KafkaIngest();
  KafkaIngest(const KafkaIngest&) = delete;
  KafkaIngest& operator=(const KafkaIngest&) = delete;

  KafkaIngestStats stats() const;

 private:
  class Consumer;  // librdkafka's handles and the consuming thread.
  explicit KafkaIngest(std::unique_ptr<Consumer> consumer);

  std::unique_ptr<Consumer> consumer_;
};

}  // namespace vigie::services
