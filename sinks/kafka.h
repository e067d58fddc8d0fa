#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "sinks/alert_sink.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::sinks {

// What an alert's message is keyed by, and so which alerts share a
// partition (and their order).
enum class KafkaKey {
  kModel,        // The model id: a model's alerts stay in order.
  kFingerprint,  // The alert's fingerprint: for a topic compacted by alert.
};

struct KafkaOptions {
  // Bootstrap brokers, "host:port[,host:port...]". Required.
  std::string brokers;
  // Topic the alerts are written to; it must exist unless the brokers
  // create topics on first use. Default: "vigie-alerts".
  std::string topic = "vigie-alerts";
  // How long one Deliver waits for every message to be acknowledged; also
  // librdkafka's message.timeout.ms. Default: 5 s. Range: [100ms, 1m].
  absl::Duration timeout = absl::Seconds(5);
  // Further librdkafka settings ("security.protocol", "sasl.mechanisms",
  // "compression.type", "client.id", ...), passed through as given. Each
  // must pass CheckKafkaProperty.
  std::map<std::string, std::string> properties;
  // Default: the model id.
  KafkaKey key = KafkaKey::kModel;

  absl::Status Validate() const;
};

// ok if librdkafka knows the setting `name` and accepts `value` for it, and
// the sink does not set it itself: the brokers (bootstrap.servers,
// metadata.broker.list), acks=all with the idempotent producer (acks,
// request.required.acks, enable.idempotence: no loss, and no duplicate or
// reordering from librdkafka's own retries) and the message timeout
// (message.timeout.ms, delivery.timeout.ms). Otherwise kInvalidArgument
// naming the setting.
absl::Status CheckKafkaProperty(absl::string_view name,
                                absl::string_view value);

// Publishes alert notifications to a Kafka topic: one message per alert,
// keyed by its model id or its fingerprint (options.key: either way one
// alert's notifications stay in order on one partition), whose value is the
// alert in protobuf's JSON mapping (AlertToJson) and whose headers are
// content-type (application/json), vigie-state, vigie-severity, vigie-model and
// vigie-rule (the enum names and ids). The message timestamp is the delivery
// time.
//
// Deliver returns ok only once the brokers acknowledged every message
// (acks=all); otherwise, within `timeout`, kUnavailable naming the error
// (kPermissionDenied when the brokers refuse the topic), and the messages
// not yet acknowledged are withdrawn for the dispatcher to send again. One
// that had reached a broker may then be written twice: delivery is at least
// once, and a consumer that must not see a notification twice keeps the
// latest updatedAt per key.
//
// The producer is made once, by Create, and connects in the background: a
// broker that is down delays nothing but Deliver. Thread-compatible.
class KafkaSink final : public AlertSink {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaSink>> Create(
      const KafkaOptions& options);
  ~KafkaSink() override;

  std::string name() const override;
  absl::Status Deliver(absl::Span<const vigie::v1::Alert> alerts,
                       absl::Time now) override;

 private:
  struct Producer;  // librdkafka's handle, kept out of this header.
  explicit KafkaSink(const KafkaOptions& options);

  KafkaOptions options_;
  std::unique_ptr<Producer> producer_;
};

}  // namespace vigie::sinks
