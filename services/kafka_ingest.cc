#include "services/kafka_ingest.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/ingest_worker.h"
#include "services/pipeline.h"
#include "storage/state_store.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::services {
namespace {

using Partition = std::pair<std::string, int32_t>;  // (topic, partition)

// Settings the consumer sets itself; a pass-through property may not.
constexpr absl::string_view kFixedProperties[] = {"bootstrap.servers",
                                                  "metadata.broker.list",
                                                  "group.id",
                                                  "enable.auto.commit",
                                                  "enable.auto.offset.store",
                                                  "queued.max.messages.kbytes"};

// Sets one property; kInvalidArgument with librdkafka's reason.
absl::Status Set(RdKafka::Conf& conf, const std::string& name,
                 const std::string& value) {
  std::string error;
  if (conf.set(name, value, error) != RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka_ingest property ", name, ": ", error));
  }
  return absl::OkStatus();
}

std::string Describe(const Partition& p) {
  return absl::StrCat(p.first, "[", p.second, "]");
}

// librdkafka's events: errors and its own log lines, into Vigie's log.
class EventLogger final : public RdKafka::EventCb {
 public:
  // Called with librdkafka's statistics (JSON), every
  // statistics.interval.ms.
  std::function<void(const std::string& json)> on_stats;

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_STATS:
        if (on_stats) on_stats(event.str());
        break;
      case RdKafka::Event::EVENT_ERROR:
        VIGIE_LOG(Warning, "kafka ingest: ", RdKafka::err2str(event.err()),
                  ": ", event.str());
        break;
      case RdKafka::Event::EVENT_LOG:
        if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
          VIGIE_LOG(Warning, "kafka ingest ", event.fac(), ": ", event.str());
        } else {
          VIGIE_LOG(Debug, "kafka ingest ", event.fac(), ": ", event.str());
        }
        break;
      default:
        break;
    }
  }
};

// A number of librdkafka's statistics, or `otherwise`.
int64_t NumberOf(const google::protobuf::Struct& object, const char* name,
                 int64_t otherwise) {
  const auto it = object.fields().find(name);
  return it == object.fields().end() || !it->second.has_number_value()
             ? otherwise
             : static_cast<int64_t>(it->second.number_value());
}

// Delivery reports of the dead-letter producer: the failures of the
// flush in progress.
class DeliveryCounter final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      ++failed;
      last_error = message.errstr();
    }
  }
  int failed = 0;
  std::string last_error;
};

}  // namespace

absl::Status KafkaIngestOptions::Validate() const {
  if (!enabled()) return absl::OkStatus();
  auto error = [](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("kafka_ingest: ", parts...));
  };
  if (group_id.empty()) return error("group_id must not be empty");
  if (topics.empty()) return error("topics must list at least one topic");
  std::set<std::string> names;
  for (const Topic& topic : topics) {
    if (topic.name.empty()) return error("a topic has an empty name");
    if (!names.insert(topic.name).second) {
      return error("topic \"", topic.name, "\" is listed twice");
    }
    if (topic.name == dead_letter_topic) {
      return error("topic \"", topic.name, "\" is also the dead_letter_topic");
    }
  }
  if (batch_size < 1 || batch_size > 100'000) {
    return error("batch_size must be in [1, 100000], got ", batch_size);
  }
  if (batch_wait < absl::Milliseconds(1) || batch_wait > absl::Seconds(10)) {
    return error("batch_wait must be in [1ms, 10s], got ",
                 absl::FormatDuration(batch_wait));
  }
  if (max_prefetch_kbytes < 1 || max_prefetch_kbytes > 2'097'151) {
    return error("max_prefetch_kbytes must be in [1, 2097151], got ",
                 max_prefetch_kbytes);
  }
  if (metadata_timeout < absl::Milliseconds(100) ||
      metadata_timeout > absl::Minutes(5)) {
    return error("metadata_timeout must be in [100ms, 5m], got ",
                 absl::FormatDuration(metadata_timeout));
  }
  for (const auto& [name, value] : properties) {
    if (absl::Status s = CheckKafkaIngestProperty(name, value); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKafkaIngestProperty(absl::string_view name,
                                      absl::string_view value) {
  if (std::find(std::begin(kFixedProperties), std::end(kFixedProperties),
                name) != std::end(kFixedProperties)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka_ingest property ", name,
                     " is set by Vigie (see kafka_ingest's own keys)"));
  }
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  return Set(*conf, std::string(name), std::string(value));
}

class KafkaIngest::Consumer final : public RdKafka::RebalanceCb {
 public:
  Consumer(const KafkaIngestOptions& options, Pipeline* pipeline,
           storage::StateStore* store,
           std::function<void(bool leads)> on_leadership)
      : options_(options),
        pipeline_(pipeline),
        store_(store),
        on_leadership_(std::move(on_leadership)) {
    for (const KafkaIngestOptions::Topic& topic : options_.topics) {
      formats_[topic.name] = topic.format;
    }
    logger_.on_stats = [this](const std::string& json) { RecordStats(json); };
  }
  ~Consumer() override {
    Stop();
    producer_.reset();
    consumer_.reset();
  }

  absl::Status Connect();
  void StartThread() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stopping_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  KafkaIngestStats Stats() const {
    absl::MutexLock lock(&stats_mu_);
    return stats_;
  }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

 private:
  using Messages = std::vector<std::unique_ptr<RdKafka::Message>>;

  // A batch of messages decoded into one ingest call: made on the
  // consuming thread, then logged and applied on applier_ while the
  // consuming thread gathers and decodes the next one.
  struct Batch {
    size_t messages = 0;
    uint64_t dead = 0;                    // Messages that are not events.
    std::map<Partition, int64_t> next;    // Offsets after the batch.
    std::map<Partition, int64_t> before;  // positions_ before it, if any.
    // The events, parsed into an arena of the batch's: their thousands of
    // small messages and strings are freed at once.
    std::unique_ptr<google::protobuf::Arena> arena =
        std::make_unique<google::protobuf::Arena>();
    vigie::v1::IngestRequest* request =
        google::protobuf::Arena::CreateMessage<vigie::v1::IngestRequest>(
            arena.get());
    // What each event was decoded from (its predictions mostly without
    // their features: ParseEvent), views into `messages_kept`'s payloads,
    // which a retry's Receive reads again.
    ArrivedEvents arrived;
    Messages messages_kept;
    Pipeline::Received received;
    uint64_t accepted = 0;
    uint64_t rejected = 0;
  };
  // A batch handed to applier_, and how its application ended.
  struct Flight {
    Batch batch;
    absl::Status status;  // Set before `done` is notified.
    absl::Notification done;
  };

  void Run();
  // Gathers up to batch_size messages into gathering_, waiting at most
  // batch_wait after the first.
  void Gather();
  // Decodes gathering_ (empties it), lands the batch in flight, and hands
  // this one to applier_; with `wait`, lands it too, so that every message
  // consumed so far counts and its position is known.
  void IngestGathered(bool wait);
  // Runs `attempt` until it succeeds or the ingest stops, logging each
  // failure of the batch of `messages` and waiting between attempts (100 ms
  // doubling to 5 s); the last attempt's status.
  absl::Status Retry(size_t messages,
                     absl::FunctionRef<absl::Status()> attempt);
  // Decodes the messages and writes the dead letters, retrying until that
  // succeeds or the ingest stops (then nullopt: nothing of it counts, and
  // a restart reads it again).
  std::optional<Batch> Prepare(const Messages& messages);
  absl::StatusOr<Batch> PrepareOnce(const Messages& messages);
  // The batch's ingest call validated and encoded, with its positions.
  void Receive(Batch& batch) const;
  // On applier_: logs and applies the batch, retrying until that succeeds
  // or the ingest stops.
  absl::Status LogAndApply(Batch& batch);
  // One attempt: one logged ingest call with the positions. On failure
  // nothing of the batch counts.
  absl::Status LogAndApplyOnce(Batch& batch);
  // Waits for the batch in flight, if any; if it was applied, records its
  // positions and counts and commits them to Kafka. False if it was not
  // (the ingest is stopping).
  bool Land();
  absl::Status DeadLetter(const RdKafka::Message& message,
                          const std::string& error);
  // Commits the positions of `partitions` (all when empty) to Kafka.
  void CommitToKafka(const std::set<Partition>& partitions, bool sync);
  // The positions stored in RocksDB, by partition.
  std::map<Partition, int64_t> StoredPositions() const;
  absl::Status CheckCoPartitioning();
  // Reads a consumer's statistics: its prefetched bytes and lag.
  void RecordStats(const std::string& json);
  // Records the assignment's size and leadership after a rebalance.
  void AfterRebalance();
  void UpdateStats(const std::function<void(KafkaIngestStats&)>& update) {
    absl::MutexLock lock(&stats_mu_);
    update(stats_);
  }

  const KafkaIngestOptions options_;
  Pipeline* const pipeline_;
  storage::StateStore* const store_;
  const std::function<void(bool leads)> on_leadership_;
  std::map<std::string, PayloadFormat> formats_;
  EventLogger logger_;
  DeliveryCounter deliveries_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<RdKafka::Producer> producer_;  // Dead letters; may be null.
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool closing_ = false;  // Run has called close(); consuming thread only.
  bool leads_ = false;    // Consuming thread only.
  // The partitions assigned, as the rebalances said: asking librdkafka
  // (assignment()) from the callback can block while the consumer closes.
  std::set<Partition> assigned_;
  // Owned by the consuming thread (rebalance_cb runs on it, inside
  // consume() and close()).
  Messages gathering_;
  std::map<Partition, int64_t> positions_;  // Next offsets ingested.
  std::shared_ptr<Flight> flight_;          // Handed to applier_; or null.
  // Where batches are logged and applied, one at a time, in order: the
  // pipeline's lock is held there, not while the next batch is decoded.
  IngestWorker applier_;
  mutable absl::Mutex stats_mu_;
  KafkaIngestStats stats_ ABSL_GUARDED_BY(stats_mu_);
};

absl::Status KafkaIngest::Consumer::Connect() {
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [name, value] : options_.properties) {
    if (absl::Status s = Set(*conf, name, value); !s.ok()) return s;
  }
  // auto.offset.reset only decides for a partition with neither a stored
  // position nor a committed offset: from its start, so nothing is
  // skipped, unless the operator said otherwise.
  if (!options_.properties.contains("auto.offset.reset")) {
    if (absl::Status s = Set(*conf, "auto.offset.reset", "earliest"); !s.ok()) {
      return s;
    }
  }
  // Statistics give the prefetched bytes and the consumer lag
  // (KafkaIngestStats); every 5 s unless the operator says otherwise.
  if (!options_.properties.contains("statistics.interval.ms")) {
    if (absl::Status s = Set(*conf, "statistics.interval.ms", "5000");
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", options_.brokers},
           {"group.id", options_.group_id},
           {"enable.auto.commit", "false"},
           {"enable.auto.offset.store", "false"},
           {"queued.max.messages.kbytes",
            std::to_string(options_.max_prefetch_kbytes)}}) {
    if (absl::Status s = Set(*conf, name, value); !s.ok()) return s;
  }
  if (conf->set("rebalance_cb", this, error) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", &logger_, error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka_ingest: ", error));
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (consumer_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka_ingest: cannot create the consumer: ", error));
  }
  if (!options_.dead_letter_topic.empty()) {
    std::unique_ptr<RdKafka::Conf> pconf(
        RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    for (const auto& [name, value] : options_.properties) {
      // Consumer-only settings are the consumer's.
      if (name == "auto.offset.reset" || name == "isolation.level" ||
          name.rfind("partition.assignment", 0) == 0 ||
          name.rfind("session.", 0) == 0 || name.rfind("heartbeat.", 0) == 0 ||
          name.rfind("max.poll", 0) == 0 || name.rfind("fetch.", 0) == 0 ||
          name == "group.instance.id") {
        continue;
      }
      if (absl::Status s = Set(*pconf, name, value); !s.ok()) return s;
    }
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{
             {"bootstrap.servers", options_.brokers},
             {"enable.idempotence", "true"},
             {"acks", "all"},
             {"message.timeout.ms", "10000"}}) {
      if (absl::Status s = Set(*pconf, name, value); !s.ok()) return s;
    }
    if (pconf->set("dr_cb", &deliveries_, error) != RdKafka::Conf::CONF_OK ||
        pconf->set("event_cb", &logger_, error) != RdKafka::Conf::CONF_OK) {
      return absl::InternalError(absl::StrCat("kafka_ingest: ", error));
    }
    producer_.reset(RdKafka::Producer::create(pconf.get(), error));
    if (producer_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kafka_ingest: cannot create the dead-letter producer: ", error));
    }
  }
  if (absl::Status s = CheckCoPartitioning(); !s.ok()) return s;
  std::vector<std::string> topics;
  for (const KafkaIngestOptions::Topic& topic : options_.topics) {
    topics.push_back(topic.name);
  }
  if (const RdKafka::ErrorCode err = consumer_->subscribe(topics);
      err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "kafka_ingest: cannot subscribe: ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

absl::Status KafkaIngest::Consumer::CheckCoPartitioning() {
  const int timeout_ms =
      static_cast<int>(absl::ToInt64Milliseconds(options_.metadata_timeout));
  std::vector<std::pair<std::string, size_t>> counts;
  for (const KafkaIngestOptions::Topic& topic : options_.topics) {
    std::string error;
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(consumer_.get(), topic.name, nullptr, error));
    if (handle == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka_ingest: topic \"", topic.name, "\": ", error));
    }
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode err =
        consumer_->metadata(false, handle.get(), &raw, timeout_ms);
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("kafka_ingest: no metadata for topic \"", topic.name,
                       "\" from ", options_.brokers, " within ",
                       absl::FormatDuration(options_.metadata_timeout), ": ",
                       RdKafka::err2str(err)));
    }
    const RdKafka::Metadata::TopicMetadataVector* topics = metadata->topics();
    if (topics->empty() || (*topics)[0]->err() != RdKafka::ERR_NO_ERROR ||
        (*topics)[0]->partitions()->empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "kafka_ingest: topic \"", topic.name, "\" does not exist",
          topics->empty()
              ? ""
              : absl::StrCat(" (", RdKafka::err2str((*topics)[0]->err()),
                             ")")));
    }
    counts.emplace_back(topic.name, (*topics)[0]->partitions()->size());
  }
  for (const auto& [name, count] : counts) {
    if (count != counts.front().second) {
      return absl::FailedPreconditionError(absl::StrCat(
          "kafka_ingest: topics \"", counts.front().first, "\" (",
          counts.front().second, " partitions) and \"", name, "\" (", count,
          " partitions) are not co-partitioned: a prediction and its "
          "outcome, keyed by prediction id, could reach different replicas. "
          "Give every event topic the same partition count"));
    }
  }
  VIGIE_LOG(Info, "kafka ingest: ", counts.size(), " topic(s) of ",
            counts.front().second, " partitions, group \"", options_.group_id,
            "\"");
  return absl::OkStatus();
}

std::map<Partition, int64_t> KafkaIngest::Consumer::StoredPositions() const {
  std::map<Partition, int64_t> stored;
  absl::Status read = store_->ForEachKafkaPosition([&](const state::v1::
                                                           KafkaPositionState&
                                                               position) {
    stored[{position.topic(), position.partition()}] = position.next_offset();
    return absl::OkStatus();
  });
  if (!read.ok()) {
    VIGIE_LOG(Error, "kafka ingest: stored positions unreadable (",
              read.ToString(),
              "): partitions start at the group's committed offsets");
  }
  return stored;
}

void KafkaIngest::Consumer::rebalance_cb(
    RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
    std::vector<RdKafka::TopicPartition*>& partitions) {
  const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  UpdateStats([](KafkaIngestStats& s) { ++s.rebalances; });
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    const std::map<Partition, int64_t> stored = StoredPositions();
    std::string described;
    for (RdKafka::TopicPartition* tp : partitions) {
      const Partition key{tp->topic(), tp->partition()};
      const auto it = stored.find(key);
      if (it != stored.end()) {
        tp->set_offset(it->second);
        positions_[key] = it->second;
      } else {
        // The group's committed offset, else auto.offset.reset.
        tp->set_offset(RdKafka::Topic::OFFSET_INVALID);
      }
      absl::StrAppend(&described, described.empty() ? "" : ", ", Describe(key),
                      it != stored.end()
                          ? absl::StrCat(" at stored ", it->second)
                          : std::string(" at committed"));
    }
    VIGIE_LOG(Info, "kafka ingest: assigned ", described);
    if (cooperative) {
      std::unique_ptr<RdKafka::Error> error(
          consumer->incremental_assign(partitions));
      if (error != nullptr) {
        VIGIE_LOG(Error, "kafka ingest: assign failed: ", error->str());
      }
    } else {
      consumer->assign(partitions);
      assigned_.clear();  // Eager: the assignment is replaced whole.
    }
    for (RdKafka::TopicPartition* tp : partitions) {
      assigned_.insert({tp->topic(), tp->partition()});
    }
    AfterRebalance();
    return;
  }
  // Revoked (or lost): what was gathered is ingested first, and the
  // positions handed to Kafka for the next owner (Run did both already
  // when closing).
  std::set<Partition> revoked;
  for (RdKafka::TopicPartition* tp : partitions) {
    revoked.insert({tp->topic(), tp->partition()});
  }
  if (!closing_) {
    IngestGathered(/*wait=*/true);
    if (err == RdKafka::ERR__REVOKE_PARTITIONS) CommitToKafka(revoked, true);
  }
  for (const Partition& p : revoked) positions_.erase(p);
  VIGIE_LOG(Info, "kafka ingest: ", revoked.size(), " partition(s) revoked");
  if (cooperative) {
    std::unique_ptr<RdKafka::Error> error(
        consumer->incremental_unassign(partitions));
  } else {
    consumer->unassign();
    assigned_.clear();
  }
  for (const Partition& p : revoked) assigned_.erase(p);
  AfterRebalance();
}

void KafkaIngest::Consumer::RecordStats(const std::string& json) {
  google::protobuf::Struct stats;
  if (!google::protobuf::util::JsonStringToMessage(json, &stats).ok()) {
    VIGIE_LOG(Warning, "kafka ingest: librdkafka's statistics do not parse");
    return;
  }
  const auto type = stats.fields().find("type");
  if (type == stats.fields().end() ||
      type->second.string_value() != "consumer") {
    return;  // The dead-letter producer's.
  }
  uint64_t prefetched = 0;
  int64_t lag = 0;
  bool lag_known = false;
  const auto topics = stats.fields().find("topics");
  if (topics != stats.fields().end()) {
    for (const auto& [name, topic] : topics->second.struct_value().fields()) {
      const auto partitions = topic.struct_value().fields().find("partitions");
      if (partitions == topic.struct_value().fields().end()) continue;
      for (const auto& [id, partition] :
           partitions->second.struct_value().fields()) {
        if (id == "-1") continue;  // Not a partition: librdkafka's own queue.
        const google::protobuf::Struct& p = partition.struct_value();
        // The high-level consumer's partitions all feed its one queue, and
        // each reports that queue's size.
        prefetched =
            std::max(prefetched, static_cast<uint64_t>(std::max<int64_t>(
                                     0, NumberOf(p, "fetchq_size", 0))));
        // -1 until known, and for partitions not assigned here.
        if (const int64_t partition_lag = NumberOf(p, "consumer_lag", -1);
            partition_lag >= 0) {
          lag += partition_lag;
          lag_known = true;
        }
      }
    }
  }
  UpdateStats([&](KafkaIngestStats& s) {
    s.prefetched_bytes = prefetched;
    s.peak_prefetched_bytes = std::max(s.peak_prefetched_bytes, prefetched);
    s.lag = lag_known ? lag : -1;
  });
}

void KafkaIngest::Consumer::AfterRebalance() {
  // Validate() refused an empty topic list.
  const std::string& first =
      std::min_element(
          options_.topics.begin(), options_.topics.end(),
          [](const KafkaIngestOptions::Topic& a,
             const KafkaIngestOptions::Topic& b) { return a.name < b.name; })
          ->name;
  const bool leads = assigned_.contains({first, 0});
  UpdateStats([&](KafkaIngestStats& s) {
    s.partitions = static_cast<uint32_t>(assigned_.size());
    s.leads = leads;
  });
  if (leads == leads_) return;
  leads_ = leads;
  VIGIE_LOG(Info, "kafka ingest: this replica ",
            leads ? "now leads the group (it delivers alerts)"
                  : "no longer leads the group");
  if (on_leadership_) on_leadership_(leads);
}

void KafkaIngest::Consumer::Gather() {
  const absl::Time deadline_after_first = absl::InfiniteFuture();
  absl::Time deadline = deadline_after_first;
  while (gathering_.size() < options_.batch_size && !stopping_.load()) {
    const absl::Time now = absl::Now();
    int timeout_ms = 100;  // Idle: wake up to notice stopping_.
    if (deadline != absl::InfiniteFuture()) {
      if (now >= deadline) break;
      timeout_ms = std::max<int>(
          1, static_cast<int>(absl::ToInt64Milliseconds(deadline - now)));
    }
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        if (gathering_.empty()) deadline = absl::Now() + options_.batch_wait;
        gathering_.push_back(std::move(message));
        break;
      case RdKafka::ERR__TIMED_OUT:
        if (deadline == absl::InfiniteFuture()) return;  // Idle.
        break;
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        VIGIE_LOG(Warning, "kafka ingest: consume: ", message->errstr());
        break;
    }
  }
}

void KafkaIngest::Consumer::Run() {
  while (!stopping_.load()) {
    Gather();
    // Idle: the batch in flight lands, so that its positions are committed
    // without waiting for more messages.
    IngestGathered(/*wait=*/gathering_.empty());
  }
  // Leaving: what was gathered is ingested and every position committed
  // here, so that the revocation close() makes has nothing left to do but
  // unassign (committing from inside close() can leave librdkafka 2.0
  // waiting forever when the group rebalances at the same time).
  IngestGathered(/*wait=*/true);
  CommitToKafka({}, /*sync=*/true);
  closing_ = true;
  consumer_->close();
}

void KafkaIngest::Consumer::IngestGathered(bool wait) {
  if (!gathering_.empty()) {
    std::optional<Batch> batch = Prepare(gathering_);
    if (batch.has_value()) batch->messages_kept = std::move(gathering_);
    gathering_.clear();
    // Batches are logged in order, and one only after the previous one
    // applied: a failed one is retried before any later one is logged, so
    // the positions stored with a record never pass a batch that did not
    // count. After one that failed (the ingest is stopping), none is.
    if (Land() && batch.has_value()) {
      for (const auto& [partition, offset] : batch->next) {
        const auto it = positions_.find(partition);
        if (it != positions_.end()) batch->before[partition] = it->second;
      }
      flight_ = std::make_shared<Flight>();
      flight_->batch = *std::move(batch);
      applier_.Submit([this, flight = flight_] {
        flight->status = LogAndApply(flight->batch);
        flight->done.Notify();
      });
    }
  }
  if (wait) Land();
}

absl::Status KafkaIngest::Consumer::Retry(
    size_t messages, absl::FunctionRef<absl::Status()> attempt) {
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    absl::Status status = attempt();
    if (status.ok()) return status;
    VIGIE_LOG(Error, "kafka ingest: a batch of ", messages,
              " messages failed (", status.ToString(), "): retrying in ",
              absl::FormatDuration(backoff));
    UpdateStats([](KafkaIngestStats& s) { ++s.retries; });
    // The consumer is not sought back: the retry takes the messages held
    // (reading them again as well counted them twice), and a restart reads
    // from the positions stored, which a failed attempt left as they were.
    if (stopping_.load()) return status;  // Read again at restart.
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

std::optional<KafkaIngest::Consumer::Batch> KafkaIngest::Consumer::Prepare(
    const Messages& messages) {
  std::optional<Batch> prepared;
  const absl::Status status = Retry(messages.size(), [&] {
    absl::StatusOr<Batch> batch = PrepareOnce(messages);
    if (!batch.ok()) return batch.status();
    prepared = *std::move(batch);
    return absl::OkStatus();
  });
  if (!status.ok()) return std::nullopt;
  return prepared;
}

absl::Status KafkaIngest::Consumer::DeadLetter(const RdKafka::Message& message,
                                               const std::string& error) {
  if (producer_ == nullptr) return absl::OkStatus();
  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add("vigie-error", error);
  headers->add("vigie-source-topic", message.topic_name());
  headers->add("vigie-source-partition", std::to_string(message.partition()));
  headers->add("vigie-source-offset", std::to_string(message.offset()));
  const std::string* key = message.key();
  const RdKafka::ErrorCode err = producer_->produce(
      options_.dead_letter_topic, RdKafka::Topic::PARTITION_UA,
      RdKafka::Producer::RK_MSG_COPY, message.payload(), message.len(),
      key != nullptr ? key->data() : nullptr, key != nullptr ? key->size() : 0,
      0, headers, nullptr);
  if (err != RdKafka::ERR_NO_ERROR) {
    delete headers;  // Not taken over by a failed produce.
    return absl::UnavailableError(absl::StrCat("dead-letter topic \"",
                                               options_.dead_letter_topic,
                                               "\": ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<KafkaIngest::Consumer::Batch> KafkaIngest::Consumer::PrepareOnce(
    const Messages& messages) {
  Batch batch;
  batch.messages = messages.size();
  vigie::v1::IngestRequest& request = *batch.request;
  std::map<Partition, int64_t>& next = batch.next;
  uint64_t& dead = batch.dead;
  std::vector<absl::string_view>& event_bytes = batch.arrived.bytes;
  std::vector<bool>& without_features = batch.arrived.without_features;
  event_bytes.reserve(messages.size());
  without_features.reserve(messages.size());
  std::string scratch;
  for (const std::unique_ptr<RdKafka::Message>& message : messages) {
    const Partition key{message->topic_name(), message->partition()};
    next[key] = std::max(next[key], message->offset() + 1);
    std::optional<absl::string_view> content_type;
    std::string content_type_value;
    if (RdKafka::Headers* headers = message->headers(); headers != nullptr) {
      const RdKafka::Headers::Header header = headers->get_last("content-type");
      if (header.err() == RdKafka::ERR_NO_ERROR && header.value() != nullptr) {
        content_type_value.assign(header.value_string(), header.value_size());
        content_type = content_type_value;
      }
    }
    absl::Status decoded = absl::InvalidArgumentError("unknown topic");
    vigie::v1::Event* event = request.add_events();
    bool without = false;
    const absl::string_view payload(
        static_cast<const char*>(message->payload()), message->len());
    PayloadFormat format = PayloadFormat::kProtobuf;
    absl::StatusOr<std::optional<PayloadFormat>> by_header =
        FormatOfContentType(content_type);
    if (!by_header.ok()) {
      decoded = by_header.status();
    } else {
      const auto topic_format = formats_.find(key.first);
      format = by_header->value_or(topic_format != formats_.end()
                                       ? topic_format->second
                                       : PayloadFormat::kProtobuf);
      decoded = DecodeEventInto(payload, format, event, &without, &scratch);
    }
    if (decoded.ok()) {
      event_bytes.push_back(
          format == PayloadFormat::kProtobuf ? payload : absl::string_view());
      without_features.push_back(without);
      continue;
    }
    request.mutable_events()->RemoveLast();
    const std::string error(decoded.message());
    // A parser's message may quote the value's content (a feature value,
    // an id): it goes to the dead letter's header, and to the log only at
    // debug level, which an operator turns on to look into one message.
    VIGIE_LOG(Warning, "kafka ingest: ", Describe(key), " offset ",
              message->offset(),
              " is not an event (its error is in the dead letter's "
              "vigie-error header, and at log level debug)");
    VIGIE_LOG(Debug, "kafka ingest: ", Describe(key), " offset ",
              message->offset(), ": ", error);
    if (absl::Status s = DeadLetter(*message, error); !s.ok()) return s;
    ++dead;
  }
  if (dead > 0 && producer_ != nullptr) {
    // Written before the batch's positions are, so that no message is
    // skipped without its dead letter.
    deliveries_.failed = 0;
    producer_->flush(10'000);
    if (producer_->outq_len() > 0 || deliveries_.failed > 0) {
      return absl::UnavailableError(
          absl::StrCat("dead-letter topic \"", options_.dead_letter_topic,
                       "\" not written: ",
                       deliveries_.failed > 0 ? deliveries_.last_error
                                              : std::string("timed out")));
    }
  }
  // Validated and encoded here, outside the pipeline's lock.
  Receive(batch);
  return batch;
}

void KafkaIngest::Consumer::Receive(Batch& batch) const {
  batch.received = pipeline_->Receive(*batch.request, batch.arrived);
  for (const auto& [partition, offset] : batch.next) {
    state::v1::KafkaPositionState& position =
        batch.received.positions.emplace_back();
    position.set_topic(partition.first);
    position.set_partition(partition.second);
    position.set_next_offset(offset);
  }
}

absl::Status KafkaIngest::Consumer::LogAndApply(Batch& batch) {
  bool first = true;
  return Retry(batch.messages, [&] {
    // A failed attempt used up its record; validation is idempotent.
    if (!first) Receive(batch);
    first = false;
    return LogAndApplyOnce(batch);
  });
}

absl::Status KafkaIngest::Consumer::LogAndApplyOnce(Batch& batch) {
  // Should the batch fail to apply, the write that voids its record puts
  // these back, so that a restart reads the batch again.
  batch.received.positions_before.clear();
  for (const auto& [partition, offset] : batch.next) {
    state::v1::KafkaPositionState& before =
        batch.received.positions_before.emplace_back();
    before.set_topic(partition.first);
    before.set_partition(partition.second);
    const auto it = batch.before.find(partition);
    before.set_next_offset(it == batch.before.end() ? -1 : it->second);
  }
  std::optional<uint64_t> seq;
  if (absl::Status logged =
          pipeline_->Log(batch.received, [&](uint64_t s) { seq = s; });
      !logged.ok()) {
    return logged;
  }
  absl::StatusOr<vigie::v1::IngestReply> reply = pipeline_->ApplyLogged(
      *batch.request, 0, std::move(batch.received), *seq);
  if (!reply.ok()) return reply.status();
  batch.accepted = reply->accepted();
  batch.rejected = reply->rejected();
  return absl::OkStatus();
}

bool KafkaIngest::Consumer::Land() {
  if (flight_ == nullptr) return true;
  const std::shared_ptr<Flight> flight = std::move(flight_);
  flight->done.WaitForNotification();
  if (!flight->status.ok()) return false;  // Stopped: read again at restart.
  const Batch& batch = flight->batch;
  for (const auto& [partition, offset] : batch.next) {
    positions_[partition] = offset;
  }
  UpdateStats([&](KafkaIngestStats& s) {
    s.messages += batch.messages;
    ++s.batches;
    s.accepted += batch.accepted;
    s.rejected += batch.rejected;
    s.undecodable += batch.dead;
    if (producer_ != nullptr) s.dead_lettered += batch.dead;
  });
  std::set<Partition> touched;
  for (const auto& [partition, offset] : batch.next) touched.insert(partition);
  CommitToKafka(touched, /*sync=*/false);
  return true;
}

void KafkaIngest::Consumer::CommitToKafka(const std::set<Partition>& partitions,
                                          bool sync) {
  std::vector<RdKafka::TopicPartition*> offsets;
  for (const auto& [partition, offset] : positions_) {
    if (!partitions.empty() && !partitions.contains(partition)) continue;
    offsets.push_back(RdKafka::TopicPartition::create(
        partition.first, partition.second, offset));
  }
  if (!offsets.empty()) {
    const RdKafka::ErrorCode err =
        sync ? consumer_->commitSync(offsets) : consumer_->commitAsync(offsets);
    if (err != RdKafka::ERR_NO_ERROR) {
      // Only monitoring reads them: the stored positions are the truth.
      VIGIE_LOG(Warning, "kafka ingest: committing offsets to Kafka: ",
                RdKafka::err2str(err));
    }
  }
  RdKafka::TopicPartition::destroy(offsets);
}

absl::StatusOr<std::unique_ptr<KafkaIngest>> KafkaIngest::Start(
    const KafkaIngestOptions& options, Pipeline* pipeline,
    storage::StateStore* store, std::function<void(bool leads)> on_leadership) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto consumer = std::make_unique<Consumer>(options, pipeline, store,
                                             std::move(on_leadership));
  if (absl::Status s = consumer->Connect(); !s.ok()) return s;
  consumer->StartThread();
  return std::unique_ptr<KafkaIngest>(new KafkaIngest(std::move(consumer)));
}

KafkaIngest::KafkaIngest(std::unique_ptr<Consumer> consumer)
    : consumer_(std::move(consumer)) {}

KafkaIngest::~KafkaIngest() = default;

KafkaIngestStats KafkaIngest::stats() const { return consumer_->Stats(); }

}  // namespace vigie::services
