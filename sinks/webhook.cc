#include "sinks/webhook.h"

#include <httplib.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sinks/alert_json.h"
#include "sinks/http.h"

namespace vigie::sinks {

absl::Status WebhookOptions::Validate() const {
  std::string origin, path;
  if (absl::Status s = SplitHttpUrl(url, "webhook", &origin, &path); !s.ok()) {
    return s;
  }
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("webhook timeout must be > 0");
  }
  return absl::OkStatus();
}

std::string WebhookBody(absl::Span<const vigie::v1::Alert> alerts) {
  std::vector<std::string> items;
  for (const vigie::v1::Alert& alert : alerts) {
    items.push_back(AlertToJson(alert));
  }
  return absl::StrCat(R"({"receiver":"vigie","version":"1","alerts":[)",
                      absl::StrJoin(items, ","), "]}");
}

WebhookSink::WebhookSink(const WebhookOptions& options) : options_(options) {}

WebhookSink::~WebhookSink() = default;

absl::StatusOr<std::unique_ptr<WebhookSink>> WebhookSink::Create(
    const WebhookOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<WebhookSink> sink(new WebhookSink(options));
  std::string origin;
  (void)SplitHttpUrl(options.url, "webhook", &origin, &sink->path_);
  // (push_back, not = "/": GCC 12 misreads the latter as an overlapping
  // copy under -Werror=restrict.)
  if (sink->path_.empty()) sink->path_.push_back('/');
  sink->client_ = NewHttpClient(origin, options.timeout);
  return sink;
}

std::string WebhookSink::name() const {
  return absl::StrCat("webhook ", options_.url);
}

absl::Status WebhookSink::Deliver(absl::Span<const vigie::v1::Alert> alerts,
                                  absl::Time) {
  return PostJson(*client_, path_, WebhookBody(alerts), name());
}

}  // namespace vigie::sinks
