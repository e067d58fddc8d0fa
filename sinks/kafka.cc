#include "sinks/kafka.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "sinks/alert_json.h"

namespace vigie::sinks {
namespace {

constexpr absl::string_view kFixedProperties[] = {
    "bootstrap.servers",     "metadata.broker.list", "acks",
    "request.required.acks", "enable.idempotence",   "message.timeout.ms",
    "delivery.timeout.ms"};

// Sets one librdkafka property; kInvalidArgument with librdkafka's reason.
absl::Status SetProperty(rd_kafka_conf_t* conf, const std::string& name,
                         const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error,
                        sizeof(error)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka property ", name, ": ", error));
  }
  return absl::OkStatus();
}

// librdkafka logs from its own threads at syslog levels; VIGIE_LOG is
// thread-safe.
void OnLog(const rd_kafka_t* rk, int level, const char* facility,
           const char* message) {
  const std::string line = absl::StrCat("kafka sink ", rd_kafka_name(rk), " ",
                                        facility, ": ", message);
  if (level <= 3) {
    VIGIE_LOG(Error, line);
  } else if (level == 4) {
    VIGIE_LOG(Warning, line);
  } else if (level <= 6) {
    VIGIE_LOG(Info, line);
  } else {
    VIGIE_LOG(Debug, line);
  }
}

bool IsTimeout(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
         err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
}

// The status of a message librdkafka could not deliver. The dispatcher
// retries whatever the code; it is chosen for the logs and the stats.
absl::Status FromKafka(rd_kafka_resp_err_t err, absl::string_view context) {
  const std::string message =
      absl::StrCat(context, ": ", rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return absl::PermissionDeniedError(message);
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return absl::UnauthenticatedError(message);
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace

// The producer and the delivery reports of the Deliver in progress.
// Delivery reports and errors are served by rd_kafka_poll and rd_kafka_flush,
// which only Deliver calls, so they run on the caller's thread.
struct KafkaSink::Producer {
  // A producer of `options` (valid), connecting in the background.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const KafkaOptions& options);
  ~Producer() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message,
                         void* opaque) {
    auto* self = static_cast<Producer*>(opaque);
    const auto seq = reinterpret_cast<uintptr_t>(message->_private);
    // Reports of a call that gave up on its messages are no one's.
    if (seq < self->first_seq ||
        seq - self->first_seq >= self->results.size()) {
      return;
    }
    std::optional<rd_kafka_resp_err_t>& result =
        self->results[seq - self->first_seq];
    if (!result.has_value()) ++self->reported;
    result = message->err;
  }

  // Broker-level errors (connection refused, all brokers down, ...): the
  // reason to give when messages are not acknowledged in time.
  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Producer*>(opaque);
    self->last_error = reason;
    VIGIE_LOG(Warning, "kafka sink: ",
              rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), ": ",
              reason);
  }

  rd_kafka_t* rk = nullptr;
  // Messages carry consecutive sequence numbers as their opaque; those of
  // the call in progress start at first_seq.
  uintptr_t next_seq = 0;
  uintptr_t first_seq = 0;
  std::vector<std::optional<rd_kafka_resp_err_t>> results;
  size_t reported = 0;
  std::string last_error;
};

absl::Status CheckKafkaProperty(absl::string_view name,
                                absl::string_view value) {
  if (std::find(std::begin(kFixedProperties), std::end(kFixedProperties),
                name) != std::end(kFixedProperties)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka property ", name,
                     " is set by Vigie (brokers, acks=all with idempotence, "
                     "message timeout from the sink's timeout)"));
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  absl::Status status =
      SetProperty(conf, std::string(name), std::string(value));
  rd_kafka_conf_destroy(conf);
  return status;
}

absl::Status KafkaOptions::Validate() const {
  if (brokers.empty()) {
    return absl::InvalidArgumentError("kafka.brokers is required");
  }
  if (topic.empty()) {
    return absl::InvalidArgumentError("kafka.topic is required");
  }
  if (timeout < absl::Milliseconds(100) || timeout > absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka.timeout must be in [100ms, 1m], got ",
                     absl::FormatDuration(timeout)));
  }
  for (const auto& [name, value] : properties) {
    if (absl::Status s = CheckKafkaProperty(name, value); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka.properties: ", s.message()));
    }
  }
  return absl::OkStatus();
}

KafkaSink::KafkaSink(const KafkaOptions& options) : options_(options) {}

KafkaSink::~KafkaSink() = default;

absl::StatusOr<std::unique_ptr<KafkaSink::Producer>>
KafkaSink::Producer::Create(const KafkaOptions& options) {
  auto producer = std::make_unique<Producer>();
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  absl::Status status = SetProperty(conf, "client.id", "vigie");
  for (const auto& [name, value] : options.properties) {
    if (status.ok()) status = SetProperty(conf, name, value);
  }
  const std::vector<std::pair<std::string, std::string>> fixed = {
      {"bootstrap.servers", options.brokers},
      {"acks", "all"},
      {"enable.idempotence", "true"},
      // librdkafka gives up on a message when Deliver does, rather than
      // sending it after the call reported a failure.
      {"message.timeout.ms",
       absl::StrCat(absl::ToInt64Milliseconds(options.timeout))}};
  for (const auto& [name, value] : fixed) {
    if (status.ok()) status = SetProperty(conf, name, value);
  }
  if (!status.ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  rd_kafka_conf_set_opaque(conf, producer.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &Producer::OnDelivery);
  rd_kafka_conf_set_error_cb(conf, &Producer::OnError);
  rd_kafka_conf_set_log_cb(conf, &OnLog);
  char error[512];
  // On success rd_kafka_new owns conf; on failure the caller still does.
  producer->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (producer->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(
        absl::StrCat("kafka producer for ", options.brokers, ": ", error));
  }
  return producer;
}

absl::StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::Create(
    const KafkaOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<KafkaSink> sink(new KafkaSink(options));
  absl::StatusOr<std::unique_ptr<Producer>> producer =
      Producer::Create(options);
  if (!producer.ok()) return producer.status();
  sink->producer_ = *std::move(producer);
  return sink;
}

std::string KafkaSink::name() const {
  return absl::StrCat("kafka ", options_.brokers, " topic ", options_.topic);
}

absl::Status KafkaSink::Deliver(absl::Span<const vigie::v1::Alert> alerts,
                                absl::Time now) {
  char reason[512];
  if (rd_kafka_fatal_error(producer_->rk, reason, sizeof(reason)) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    // An idempotent producer stops for good on some broker answers (a
    // sequence gap it cannot repair); a new one starts a new sequence.
    VIGIE_LOG(Warning, name(), ": new producer after a fatal error: ", reason);
    absl::StatusOr<std::unique_ptr<Producer>> fresh =
        Producer::Create(options_);
    if (!fresh.ok()) return fresh.status();
    producer_ = *std::move(fresh);
  }
  Producer& p = *producer_;
  if (alerts.empty()) return absl::OkStatus();
  const absl::Time deadline = absl::Now() + options_.timeout;
  p.first_seq = p.next_seq;
  p.next_seq += alerts.size();
  p.results.assign(alerts.size(), std::nullopt);
  p.reported = 0;
  // The delivery time, not the alert's: a resend of an alert that started
  // firing a week ago must not fall out of the topic's retention at once.
  const int64_t timestamp = absl::ToUnixMillis(now);
  for (size_t i = 0; i < alerts.size(); ++i) {
    const vigie::v1::Alert& alert = alerts[i];
    const std::string value = AlertToJson(alert);
    const std::string& state = vigie::v1::AlertState_Name(alert.state());
    const std::string& severity = vigie::v1::Severity_Name(alert.severity());
    rd_kafka_headers_t* headers = rd_kafka_headers_new(5);
    rd_kafka_header_add(headers, "content-type", -1, "application/json", -1);
    rd_kafka_header_add(headers, "vigie-state", -1, state.data(),
                        static_cast<ssize_t>(state.size()));
    rd_kafka_header_add(headers, "vigie-severity", -1, severity.data(),
                        static_cast<ssize_t>(severity.size()));
    rd_kafka_header_add(headers, "vigie-model", -1, alert.model_id().data(),
                        static_cast<ssize_t>(alert.model_id().size()));
    rd_kafka_header_add(headers, "vigie-rule", -1, alert.rule_id().data(),
                        static_cast<ssize_t>(alert.rule_id().size()));
    const std::string& key = options_.key == KafkaKey::kModel
                                 ? alert.model_id()
                                 : alert.fingerprint();
    rd_kafka_resp_err_t err;
    while (true) {
      err = rd_kafka_producev(
          p.rk, RD_KAFKA_V_TOPIC(options_.topic.c_str()),
          RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_TIMESTAMP(timestamp),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(p.first_seq + i)),
          RD_KAFKA_V_END);
      // The local queue is bounded; serving reports makes room.
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || absl::Now() >= deadline) {
        break;
      }
      rd_kafka_poll(p.rk, 10);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Not taken: the headers are still ours, and no report will come.
      rd_kafka_headers_destroy(headers);
      p.results[i] = err;
      ++p.reported;
    }
  }

  // Serves the delivery reports until every message has one.
  rd_kafka_flush(p.rk,
                 static_cast<int>(std::max<int64_t>(
                     0, absl::ToInt64Milliseconds(deadline - absl::Now()))));
  size_t unacknowledged = 0;
  if (p.reported < alerts.size()) {
    // Withdraws what is left, so that a later call does not race with
    // these messages (the dispatcher sends the alerts' states again).
    rd_kafka_purge(p.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p.rk, 0);
  }
  std::optional<rd_kafka_resp_err_t> first_error;
  size_t failed = 0;
  for (const std::optional<rd_kafka_resp_err_t>& result : p.results) {
    if (!result.has_value() || IsTimeout(*result)) {
      ++unacknowledged;
    } else if (*result != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++failed;
      if (!first_error.has_value()) first_error = *result;
    }
  }
  p.results.clear();
  if (failed == 0 && unacknowledged == 0) {
    p.last_error.clear();
    return absl::OkStatus();
  }
  if (first_error.has_value()) {
    return FromKafka(*first_error,
                     absl::StrCat(name(), ": ", failed + unacknowledged, " of ",
                                  alerts.size(), " alerts not delivered"));
  }
  return absl::UnavailableError(
      absl::StrCat(name(), ": ", unacknowledged, " of ", alerts.size(),
                   " alerts not acknowledged within ",
                   absl::FormatDuration(options_.timeout),
                   p.last_error.empty()
                       ? ""
                       : absl::StrCat(" (last error: ", p.last_error, ")")));
}

}  // namespace vigie::sinks
