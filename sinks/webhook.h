#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "sinks/alert_sink.h"
#include "vigie/v1/vigie.pb.h"

namespace httplib {
class Client;
}

namespace vigie::sinks {

struct WebhookOptions {
  // Where alerts are POSTed: http://host[:port][/path]. Required.
  std::string url;
  // Of each request. Default: 5 s.
  absl::Duration timeout = absl::Seconds(5);

  absl::Status Validate() const;
};

// The body a webhook receives: {"receiver": "vigie", "version": "1",
// "alerts": [...]}, each alert a vigie.v1.Alert in protobuf's JSON mapping
// (lowerCamelCase names, enums by name, timestamps in RFC 3339).
std::string WebhookBody(absl::Span<const vigie::v1::Alert> alerts);

// POSTs alerts as JSON to a URL; any 2xx answer is a delivery, anything else
// (or no answer) kUnavailable, for the dispatcher to retry.
// Thread-compatible.
class WebhookSink final : public AlertSink {
 public:
  static absl::StatusOr<std::unique_ptr<WebhookSink>> Create(
      const WebhookOptions& options);
  ~WebhookSink() override;

  std::string name() const override;
  absl::Status Deliver(absl::Span<const vigie::v1::Alert> alerts,
                       absl::Time now) override;

 private:
  explicit WebhookSink(const WebhookOptions& options);

  WebhookOptions options_;
  std::string path_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace vigie::sinks
