#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::sinks {

// Somewhere alert notifications go: Alertmanager, a webhook, a Kafka topic.
// The AlertDispatcher calls it from its own thread, one call at a time.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // For logs and counters, e.g. "alertmanager http://am:9093".
  virtual std::string name() const = 0;
  // Delivers the latest state of `alerts` at wall-clock time `now`. An
  // error (kUnavailable when the receiver cannot be reached or refuses
  // them) makes the dispatcher try again later with their state then.
  virtual absl::Status Deliver(absl::Span<const vigie::v1::Alert> alerts,
                               absl::Time now) = 0;
};

}  // namespace vigie::sinks
