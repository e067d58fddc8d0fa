#include "tests/testutil/kafka_cluster.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigie::testutil {
namespace {

rd_kafka_conf_t* Conf(
    const std::vector<std::pair<std::string, std::string>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error,
                          sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  return conf;
}

}  // namespace

KafkaCluster::KafkaCluster(int brokers) {
  char error[512];
  // The host handle connects nowhere, which it would warn about.
  host_ = rd_kafka_new(RD_KAFKA_PRODUCER, Conf({{"log_level", "3"}}), error,
                       sizeof(error));
  cluster_ = rd_kafka_mock_cluster_new(host_, brokers);
}

KafkaCluster::~KafkaCluster() {
  if (producer_ != nullptr) rd_kafka_destroy(producer_);
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (host_ != nullptr) rd_kafka_destroy(host_);
}

std::string KafkaCluster::bootstraps() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

absl::Status KafkaCluster::CreateTopic(const std::string& topic, int partitions,
                                       int replication_factor) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
      cluster_, topic.c_str(), partitions, replication_factor);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(
        absl::StrCat("create topic ", topic, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

absl::Status KafkaCluster::Produce(const std::string& topic,
                                   const std::vector<Message>& messages) {
  if (producer_ == nullptr) {
    // Made on first use, so that tests that produce nothing (and set
    // brokers down) have no client of theirs reconnecting in the logs.
    char error[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER,
                             Conf({{"bootstrap.servers", bootstraps()},
                                   {"enable.idempotence", "true"},
                                   {"linger.ms", "5"},
                                   // Kafka's own producers' default: a
                                   // fetch returns at least one batch.
                                   {"batch.size", "16384"},
                                   {"log_level", "3"}}),
                             error, sizeof(error));
    if (producer_ == nullptr) return absl::InternalError(error);
  }
  for (const Message& message : messages) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(message.headers.size());
    for (const auto& [name, value] : message.headers) {
      rd_kafka_header_add(headers, name.data(),
                          static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    while (true) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(message.key.data(), message.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(message.value.data()),
                           message.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_headers_destroy(headers);
        return absl::InternalError(
            absl::StrCat("produce: ", rd_kafka_err2str(err)));
      }
      rd_kafka_poll(producer_, 10);  // The local queue is full: drain it.
    }
  }
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(producer_, 60'000);
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(
        absl::StrCat("flush: ", rd_kafka_err2str(flushed)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KafkaCluster::Record>> KafkaCluster::ReadAll(
    const std::string& topic, size_t at_least, absl::Duration timeout) {
  char error[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER,
                                      Conf({{"bootstrap.servers", bootstraps()},
                                            {"group.id", "vigie-test-reader"},
                                            {"enable.auto.commit", "false"},
                                            {"log_level", "3"}}),
                                      error, sizeof(error));
  if (consumer == nullptr) return absl::InternalError(error);
  std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> owned(
      consumer, [](rd_kafka_t* rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
      });
  rd_kafka_topic_t* handle =
      rd_kafka_topic_new(consumer, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(consumer, 0, handle, &metadata, 10'000);
  rd_kafka_topic_destroy(handle);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || metadata->topic_cnt != 1) {
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    return absl::InternalError(
        absl::StrCat("metadata of ", topic, ": ", rd_kafka_err2str(err)));
  }
  const int partitions = metadata->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<Record> records;
  const absl::Time deadline = absl::Now() + timeout;
  absl::Time quiet_until = at_least == 0 ? absl::Now() + absl::Milliseconds(500)
                                         : absl::InfiniteFuture();
  while (absl::Now() < deadline &&
         (records.size() < at_least || absl::Now() < quiet_until)) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 100);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Record& record = records.emplace_back();
      if (message->key != nullptr) {
        record.key.assign(static_cast<const char*>(message->key),
                          message->key_len);
      }
      record.value.assign(static_cast<const char*>(message->payload),
                          message->len);
      record.partition = message->partition;
      record.offset = message->offset;
      record.timestamp_ms = rd_kafka_message_timestamp(message, nullptr);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(message, &headers) ==
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0;
             rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
             RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          record.headers[name] =
              std::string(static_cast<const char*>(value), size);
        }
      }
      if (records.size() >= at_least) {
        quiet_until = absl::Now() + absl::Milliseconds(500);
      }
    }
    rd_kafka_message_destroy(message);
  }
  return records;
}

}  // namespace vigie::testutil
