#include "services/pane_exchange.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "services/proto_conversions.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::services {
namespace {

// Failed deliveries, logged: the pane goes out again with its next change.
class DeliveryLogger final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      VIGIE_LOG(Warning,
                "pane exchange: a pane was not published: ", message.errstr());
    }
  }
};

absl::Status Set(RdKafka::Conf& conf, const std::string& name,
                 const std::string& value) {
  std::string error;
  if (conf.set(name, value, error) != RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("pane exchange property ", name, ": ", error));
  }
  return absl::OkStatus();
}

}  // namespace

struct PaneExchange::Kafka {
  DeliveryLogger deliveries;
  std::unique_ptr<RdKafka::Producer> producer;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
};

PaneExchange::PaneExchange(const PaneExchangeOptions& options,
                           const common::Clock* clock)
    : options_(options), clock_(clock), kafka_(std::make_unique<Kafka>()) {}

absl::StatusOr<std::unique_ptr<PaneExchange>> PaneExchange::Start(
    const PaneExchangeOptions& options, const common::Clock* clock) {
  if (options.topic.empty() || options.replica.empty()) {
    return absl::InvalidArgumentError(
        "pane exchange: the topic and the replica id must not be empty");
  }
  std::unique_ptr<PaneExchange> exchange(new PaneExchange(options, clock));
  std::string error;
  std::unique_ptr<RdKafka::Conf> pconf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::unique_ptr<RdKafka::Conf> cconf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [name, value] : options.properties) {
    // Consumer-only settings would only be warned about by the producer.
    if (absl::Status s = Set(*cconf, name, value); !s.ok()) return s;
  }
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", options.brokers},
           {"enable.idempotence", "true"},
           {"acks", "all"},
           {"linger.ms", "20"}}) {
    if (absl::Status s = Set(*pconf, name, value); !s.ok()) return s;
  }
  // The consumer reads every partition from the start, in no group's
  // name but its own, and commits nothing: its state is rebuilt from the
  // topic at each start.
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", options.brokers},
           {"group.id", absl::StrCat("vigie-panes-", options.replica)},
           {"enable.auto.commit", "false"}}) {
    if (absl::Status s = Set(*cconf, name, value); !s.ok()) return s;
  }
  if (pconf->set("dr_cb", &exchange->kafka_->deliveries, error) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("pane exchange: ", error));
  }
  exchange->kafka_->producer.reset(
      RdKafka::Producer::create(pconf.get(), error));
  exchange->kafka_->consumer.reset(
      RdKafka::KafkaConsumer::create(cconf.get(), error));
  if (exchange->kafka_->producer == nullptr ||
      exchange->kafka_->consumer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("pane exchange: cannot create a client: ", error));
  }
  RdKafka::KafkaConsumer& consumer = *exchange->kafka_->consumer;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(&consumer, options.topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  const RdKafka::ErrorCode err =
      handle == nullptr ? RdKafka::ERR__INVALID_ARG
                        : consumer.metadata(false, handle.get(), &raw, 10'000);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR || metadata->topics()->empty() ||
      (*metadata->topics())[0]->err() != RdKafka::ERR_NO_ERROR) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pane exchange: topic \"", options.topic,
        "\" cannot be read (create it, compacted: cleanup.policy=compact): ",
        RdKafka::err2str(err != RdKafka::ERR_NO_ERROR
                             ? err
                             : (metadata->topics()->empty()
                                    ? RdKafka::ERR_UNKNOWN_TOPIC_OR_PART
                                    : (*metadata->topics())[0]->err()))));
  }
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const RdKafka::PartitionMetadata* partition :
       *(*metadata->topics())[0]->partitions()) {
    partitions.push_back(RdKafka::TopicPartition::create(
        options.topic, partition->id(), RdKafka::Topic::OFFSET_BEGINNING));
  }
  consumer.assign(partitions);
  RdKafka::TopicPartition::destroy(partitions);
  PaneExchange* raw_exchange = exchange.get();
  exchange->consumer_thread_ =
      std::thread([raw_exchange] { raw_exchange->Consume(); });
  VIGIE_LOG(Info, "pane exchange: replica \"", options.replica,
            "\" publishes to and reads \"", options.topic, "\"");
  return exchange;
}

PaneExchange::~PaneExchange() {
  stopping_.store(true);
  if (consumer_thread_.joinable()) consumer_thread_.join();
  if (kafka_->producer != nullptr) kafka_->producer->flush(5'000);
  if (kafka_->consumer != nullptr) kafka_->consumer->close();
}

void PaneExchange::Publish(const std::vector<PaneUpdate>& updates) {
  RdKafka::Producer& producer = *kafka_->producer;
  for (const PaneUpdate& update : updates) {
    state::v1::PanePublication publication;
    publication.set_replica(options_.replica);
    publication.set_group_id(options_.group_id);
    publication.set_model_id(update.model_id);
    *publication.mutable_start() = ToProtoTime(update.start);
    publication.set_archive(update.archive);
    publication.set_pane(update.bytes);
    std::string value = publication.SerializeAsString();
    // One key per pane: a compacted topic keeps each pane's latest state.
    const std::string key = absl::StrCat(
        options_.group_id, "/", options_.replica, "/", update.model_id, "/",
        update.archive ? std::string("archive")
                       : absl::StrCat(absl::ToUnixNanos(update.start)));
    RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
    for (int attempt = 0; attempt < 100; ++attempt) {
      err = producer.produce(options_.topic, RdKafka::Topic::PARTITION_UA,
                             RdKafka::Producer::RK_MSG_COPY, value.data(),
                             value.size(), key.data(), key.size(), 0, nullptr);
      if (err != RdKafka::ERR__QUEUE_FULL) break;
      producer.poll(10);  // Deliveries make room.
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      VIGIE_LOG(Warning, "pane exchange: pane of model '", update.model_id,
                "' not published: ", RdKafka::err2str(err));
    }
  }
  producer.poll(0);  // Serves the delivery reports.
}

void PaneExchange::Consume() {
  RdKafka::KafkaConsumer& consumer = *kafka_->consumer;
  while (!stopping_.load()) {
    std::unique_ptr<RdKafka::Message> message(consumer.consume(100));
    if (message->err() != RdKafka::ERR_NO_ERROR) continue;
    state::v1::PanePublication publication;
    if (!publication.ParseFromArray(message->payload(),
                                    static_cast<int>(message->len()))) {
      VIGIE_LOG(Warning, "pane exchange: offset ", message->offset(),
                " of partition ", message->partition(),
                " is not a PanePublication: skipped");
      continue;
    }
    if (publication.replica() == options_.replica ||
        publication.group_id() != options_.group_id) {
      continue;
    }
    // A replica has one archive per model, which grows: its start (the
    // time before which its panes began) moves with it. Keyed without it,
    // as on the topic, so that a newer archive replaces the older one
    // instead of being merged beside it.
    const absl::Time start = FromProtoTime(publication.start());
    Key key{publication.model_id(), publication.replica(),
            publication.archive(),
            publication.archive() ? absl::InfinitePast() : start};
    const absl::Time now = clock_->Now();
    absl::MutexLock lock(&mu_);
    PeerActivity& activity = activity_[publication.model_id()];
    ++activity.generation;
    if (publication.pane().empty()) {
      peers_.erase(key);
    } else {
      if (!publication.archive()) {
        // A pane changes only with events, or as it is archived: then a
        // deletion, not counted as activity.
        activity.last_changed = now;
        activity.latest_start =
            std::max(activity.latest_start.value_or(absl::InfinitePast()),
                     std::get<3>(key));
      }
      peers_.insert_or_assign(
          std::move(key),
          Held{std::move(*publication.mutable_pane()), start, nullptr});
    }
  }
}

std::vector<PeerPane> PaneExchange::Panes(
    const std::string& model_id,
    const monitors::ModelMonitors::Options& options, absl::Time start,
    absl::Time end, bool with_archive) const {
  std::vector<PeerPane> out;
  absl::MutexLock lock(&mu_);
  for (auto it = peers_.lower_bound(
           Key{model_id, std::string(), false, absl::InfinitePast()});
       it != peers_.end() && std::get<0>(it->first) == model_id; ++it) {
    const auto& [model, replica, archive, at] = it->first;
    if (archive ? !with_archive : (at < start || at >= end)) continue;
    Held& held = it->second;
    if (held.decoded == nullptr && !held.undecodable) {
      absl::StatusOr<monitors::ModelMonitors> pane =
          monitors::ModelMonitors::Deserialize(held.bytes, options);
      if (pane.ok()) {
        held.decoded =
            std::make_shared<const monitors::ModelMonitors>(*std::move(pane));
        held.bytes.clear();  // Kept once, decoded.
      } else {
        held.undecodable = true;
        VIGIE_LOG(Warning, "pane exchange: a pane of model '", model_id,
                  "' from replica \"", replica,
                  "\" does not decode under this replica's options (",
                  pane.status().message(), "): left out");
      }
    }
    if (held.decoded == nullptr) continue;
    out.push_back({replica, held.start, archive, held.decoded});
  }
  std::sort(out.begin(), out.end(), [](const PeerPane& a, const PeerPane& b) {
    return a.start < b.start;
  });
  return out;
}

PeerActivity PaneExchange::Activity(const std::string& model_id) const {
  absl::MutexLock lock(&mu_);
  const auto it = activity_.find(model_id);
  return it == activity_.end() ? PeerActivity{} : it->second;
}

std::vector<std::string> PaneExchange::MergeInto(
    const std::string& model_id,
    const monitors::ModelMonitors::Options& options, absl::Time start,
    absl::Time end, bool with_archive, monitors::ModelMonitors* merged,
    std::set<absl::Time>* starts) const {
  std::set<std::string> replicas;
  for (const PeerPane& pane :
       Panes(model_id, options, start, end, with_archive)) {
    if (absl::Status merge = merged->Merge(*pane.monitors); !merge.ok()) {
      VIGIE_LOG(Warning, "pane exchange: a pane of model '", model_id,
                "' from replica \"", pane.replica,
                "\" does not merge: ", merge.message());
      continue;
    }
    replicas.insert(pane.replica);
    if (!pane.archive) starts->insert(pane.start);
  }
  return {replicas.begin(), replicas.end()};
}

}  // namespace vigie::services
