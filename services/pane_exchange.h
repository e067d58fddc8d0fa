#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "monitors/model_monitors.h"

namespace RdKafka {
class KafkaConsumer;
class Producer;
}  // namespace RdKafka

namespace vigie::services {

// One pane (or a model's archive) as a checkpoint wrote it.
struct PaneUpdate {
  std::string model_id;
  absl::Time start;  // The archive's: the time before which its panes began.
  bool archive = false;
  std::string bytes;  // A serialized PaneState; empty: the pane was deleted.
};

struct PaneExchangeOptions {
  std::string brokers;
  std::string topic;     // kafka_ingest.panes_topic.
  std::string replica;   // kafka_ingest.replica_id.
  std::string group_id;  // kafka_ingest.group_id: peers are its members.
  std::map<std::string, std::string> properties;  // Passed through.
};

// One of the other replicas' panes (or archives), decoded; shared, so that
// it outlives a newer publication replacing it.
struct PeerPane {
  std::string replica;
  absl::Time start;  // An archive's: the time before which its panes began.
  bool archive = false;
  std::shared_ptr<const monitors::ModelMonitors> monitors;
};

// What the other replicas have published of one model.
struct PeerActivity {
  // Grows with every publication received; unchanged: nothing new.
  uint64_t generation = 0;
  // When (by the exchange's clock) a pane of the model last changed at a
  // peer, which means that the peer received events of it.
  std::optional<absl::Time> last_changed;
  // The start of the peers' latest pane.
  std::optional<absl::Time> latest_start;
};

// How the replicas of one consumer group see a model's whole stream: each
// publishes the panes its checkpoints write to a Kafka topic (compacted,
// keyed by replica, model and pane) and reads every other replica's, so
// that a model-wide window is the merge of everyone's panes. Monitor
// states merge exactly, so the merge equals what one replica reading every
// partition would hold, as of each replica's last checkpoint.
//
// Publish never blocks: messages go to librdkafka's queue, and one that
// cannot be delivered is logged (the pane is published again with its next
// change; the topic keeps the latest per key). Memory: the latest bytes of
// every pane of every other replica.
//
// Panes are decoded when first read (Panes, MergeInto), once per
// publication.
//
// Thread-safe.
class PaneExchange {
 public:
  // kInvalidArgument for bad options (an empty topic or replica, a
  // property librdkafka refuses). `clock` (which must outlive the exchange)
  // times PeerActivity::last_changed.
  static absl::StatusOr<std::unique_ptr<PaneExchange>> Start(
      const PaneExchangeOptions& options, const common::Clock* clock);
  ~PaneExchange();
  PaneExchange(const PaneExchange&) = delete;
  PaneExchange& operator=(const PaneExchange&) = delete;

  void Publish(const std::vector<PaneUpdate>& updates);

  // The other replicas' panes of `model_id` starting in [start, end), and
  // their archives when `with_archive`, decoded with `options` (a pane
  // written under other options is left out and logged), by start.
  std::vector<PeerPane> Panes(const std::string& model_id,
                              const monitors::ModelMonitors::Options& options,
                              absl::Time start, absl::Time end,
                              bool with_archive) const;
  PeerActivity Activity(const std::string& model_id) const;

  // Merges into `merged` the other replicas' panes of `model_id` starting
  // in [start, end), and their archives when `with_archive`, each decoded
  // with `options` (a pane written under other options is skipped and
  // logged). Returns the replicas that contributed, and adds the starts of
  // the panes merged to *starts.
  std::vector<std::string> MergeInto(
      const std::string& model_id,
      const monitors::ModelMonitors::Options& options, absl::Time start,
      absl::Time end, bool with_archive, monitors::ModelMonitors* merged,
      std::set<absl::Time>* starts) const;

 private:
  struct Kafka;  // librdkafka's handles and callbacks.
  PaneExchange(const PaneExchangeOptions& options, const common::Clock* clock);
  void Consume();

  // A publication as received, and decoded once read.
  struct Held {
    std::string bytes;
    absl::Time start;  // As published (an archive's key leaves it out).
    std::shared_ptr<const monitors::ModelMonitors> decoded;
    bool undecodable = false;  // Logged once.
  };

  const PaneExchangeOptions options_;
  const common::Clock* const clock_;
  std::unique_ptr<Kafka> kafka_;
  std::thread consumer_thread_;
  std::atomic<bool> stopping_{false};
  // Other replicas' latest bytes, by (model, replica, archive, start), with
  // InfinitePast for the start of an archive: one per replica and model.
  using Key = std::tuple<std::string, std::string, bool, absl::Time>;
  mutable absl::Mutex mu_;
  mutable std::map<Key, Held> peers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PeerActivity> activity_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigie::services
