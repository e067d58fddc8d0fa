#pragma once

#include <string>

#include "services/config.h"

namespace vigie::storage {
class StateStore;
}
namespace vigie::sinks {
class AlertDispatcher;
}

namespace vigie::services {

class KafkaIngest;
class Pipeline;

// What /metrics reads; every pointer but `pipeline` may be null (that part
// is then not exported).
struct MetricsSources {
  Pipeline* pipeline = nullptr;
  const storage::StateStore* store = nullptr;
  const KafkaIngest* kafka = nullptr;
  const sinks::AlertDispatcher* dispatcher = nullptr;
};

// Vigie's metrics in Prometheus's text format, as of now:
//
// - vigie_monitor_value{model, version, window, metric, [attribute, group,
//   feature, class, key, index]}: every numeric value GetMetrics answers
//   for each model over each of `options.windows` (the latest panes), by
//   its field path in vigie.v1.GetMetricsReply (metric="fairness.groups.
//   selection_rate", "calibration.expected_calibration_error", ...); the
//   entries of a list are told apart by their key field (attribute, group,
//   feature, class_label as class, name, a map's key) or else their index.
//   Unset values are left out.
// - Vigie's own health: events ingested, rejected (by reason), late,
//   joined, pending and expired per model; open alerts by model, severity
//   and state; checkpoints and their duration; RocksDB's size; Kafka
//   ingest's messages, lag, prefetched bytes and leadership; each alert
//   sink's deliveries, failures and dead letters.
// - vigie_metrics_series_dropped: series left out of this scrape by
//   options.max_series.
//
// Names follow Prometheus's conventions: vigie_ prefix, base units
// (seconds, bytes), _total for counters.
std::string RenderMetrics(const MetricsSources& sources,
                          const ServerConfig::Metrics& options);

}  // namespace vigie::services
