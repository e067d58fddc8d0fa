#include "services/metrics_export.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "proto/alert_names.h"
#include "services/footprint.h"
#include "services/kafka_ingest.h"
#include "services/pipeline.h"
#include "services/prometheus_text.h"
#include "sinks/alert_dispatcher.h"
#include "storage/state_store.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Labels = PrometheusText::Labels;
using Type = PrometheusText::Type;

constexpr char kMonitorValue[] = "vigie_monitor_value";

// The label a string field becomes when it tells a list's entries apart;
// null for other fields.
const char* KeyLabel(absl::string_view field) {
  if (field == "attribute") return "attribute";
  if (field == "group") return "group";
  if (field == "feature") return "feature";
  if (field == "class_label") return "class";
  if (field == "name") return "name";  // A fairness criterion's.
  if (field == "key") return "key";    // A map's entries.
  return nullptr;
}

// Fields of GetMetricsReply exported otherwise (counters), or not a
// monitor's numbers.
bool SkippedAtTop(absl::string_view field) {
  return field == "model_id" || field == "window" || field == "covered" ||
         field == "counters" || field == "archived_before" ||
         field == "reference" || field == "replicas";
}

void SetLabel(Labels& labels, const std::string& name, std::string value) {
  for (auto& [n, v] : labels) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  labels.emplace_back(name, std::move(value));
}

// Whether `message` has a key field set (then its entries in a list need
// no index).
bool HasKey(const Message& message) {
  const Reflection& reflection = *message.GetReflection();
  const google::protobuf::Descriptor& descriptor = *message.GetDescriptor();
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor* field = descriptor.field(i);
    if (!field->is_repeated() &&
        field->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
        KeyLabel(field->name()) != nullptr &&
        !reflection.GetString(message, field).empty()) {
      return true;
    }
  }
  return false;
}

// Every number of a GetMetricsReply as a vigie_monitor_value series: the
// metric label is its field path, the other labels its entries' keys.
class ReplyWalker {
 public:
  ReplyWalker(PrometheusText* out, Labels base)
      : out_(out), base_(std::move(base)) {}

  void Walk(const Message& message, const std::string& path, Labels labels) {
    const Reflection& reflection = *message.GetReflection();
    const google::protobuf::Descriptor& descriptor = *message.GetDescriptor();
    for (int i = 0; i < descriptor.field_count(); ++i) {
      const FieldDescriptor* field = descriptor.field(i);
      if (!field->is_repeated() &&
          field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        if (const char* label = KeyLabel(field->name()); label != nullptr) {
          const std::string& value = reflection.GetString(message, field);
          if (!value.empty()) SetLabel(labels, label, value);
        }
      }
    }
    for (int i = 0; i < descriptor.field_count(); ++i) {
      const FieldDescriptor* field = descriptor.field(i);
      if (path.empty() && SkippedAtTop(field->name())) continue;
      const std::string name =
          path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const std::string& type = field->message_type()->full_name();
        if (type == "google.protobuf.Timestamp" ||
            type == "google.protobuf.Duration") {
          continue;
        }
        if (field->is_map()) {
          WalkMap(message, field, path, labels);
          continue;
        }
        if (field->is_repeated()) {
          const int n = reflection.FieldSize(message, field);
          for (int j = 0; j < n; ++j) {
            const Message& entry =
                reflection.GetRepeatedMessage(message, field, j);
            Labels entry_labels = labels;
            if (!HasKey(entry))
              SetLabel(entry_labels, "index", absl::StrCat(j));
            Walk(entry, name, std::move(entry_labels));
          }
        } else if (reflection.HasField(message, field)) {
          Walk(reflection.GetMessage(message, field), name, labels);
        }
        continue;
      }
      if (field->is_repeated()) {
        const int n = reflection.FieldSize(message, field);
        for (int j = 0; j < n; ++j) {
          std::optional<double> value =
              RepeatedNumber(message, reflection, field, j);
          if (!value.has_value()) break;
          Labels indexed = labels;
          SetLabel(indexed, "index", absl::StrCat(j));
          Emit(name, indexed, *value);
        }
        continue;
      }
      if (field->has_presence() && !reflection.HasField(message, field)) {
        continue;  // Unset: not known, not zero.
      }
      if (std::optional<double> value = Number(message, reflection, field);
          value.has_value()) {
        Emit(name, labels, *value);
      }
    }
  }

 private:
  static std::optional<double> Number(const Message& message,
                                      const Reflection& reflection,
                                      const FieldDescriptor* field) {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return reflection.GetDouble(message, field);
      case FieldDescriptor::CPPTYPE_FLOAT:
        return reflection.GetFloat(message, field);
      case FieldDescriptor::CPPTYPE_INT32:
        return reflection.GetInt32(message, field);
      case FieldDescriptor::CPPTYPE_INT64:
        return static_cast<double>(reflection.GetInt64(message, field));
      case FieldDescriptor::CPPTYPE_UINT32:
        return reflection.GetUInt32(message, field);
      case FieldDescriptor::CPPTYPE_UINT64:
        return static_cast<double>(reflection.GetUInt64(message, field));
      case FieldDescriptor::CPPTYPE_BOOL:
        return reflection.GetBool(message, field) ? 1.0 : 0.0;
      default:
        return std::nullopt;  // Strings and enums: not values.
    }
  }

  static std::optional<double> RepeatedNumber(const Message& message,
                                              const Reflection& reflection,
                                              const FieldDescriptor* field,
                                              int j) {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return reflection.GetRepeatedDouble(message, field, j);
      case FieldDescriptor::CPPTYPE_FLOAT:
        return reflection.GetRepeatedFloat(message, field, j);
      case FieldDescriptor::CPPTYPE_INT32:
        return reflection.GetRepeatedInt32(message, field, j);
      case FieldDescriptor::CPPTYPE_INT64:
        return static_cast<double>(
            reflection.GetRepeatedInt64(message, field, j));
      case FieldDescriptor::CPPTYPE_UINT32:
        return reflection.GetRepeatedUInt32(message, field, j);
      case FieldDescriptor::CPPTYPE_UINT64:
        return static_cast<double>(
            reflection.GetRepeatedUInt64(message, field, j));
      default:
        return std::nullopt;
    }
  }

  // A map: each entry's key becomes the label `key`.
  void WalkMap(const Message& message, const FieldDescriptor* field,
               const std::string& path, const Labels& labels) {
    const Reflection& reflection = *message.GetReflection();
    const std::string name =
        path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    const FieldDescriptor* key = field->message_type()->map_key();
    const FieldDescriptor* value = field->message_type()->map_value();
    const int n = reflection.FieldSize(message, field);
    for (int j = 0; j < n; ++j) {
      const Message& entry = reflection.GetRepeatedMessage(message, field, j);
      const Reflection& entry_reflection = *entry.GetReflection();
      Labels keyed = labels;
      if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        SetLabel(keyed, "key", entry_reflection.GetString(entry, key));
      } else {
        SetLabel(keyed, "key",
                 PrometheusText::FormatValue(
                     Number(entry, entry_reflection, key).value_or(0)));
      }
      if (value->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        Walk(entry_reflection.GetMessage(entry, value), name, keyed);
      } else if (std::optional<double> v =
                     Number(entry, entry_reflection, value);
                 v.has_value()) {
        Emit(name, keyed, *v);
      }
    }
  }

  void Emit(const std::string& metric, const Labels& labels, double value) {
    Labels all = base_;
    all.emplace_back("metric", metric);
    for (const auto& label : labels) all.push_back(label);
    // A series once: two entries with the same key (not expected) would
    // make the scrape invalid.
    std::string key;
    for (const auto& [n, v] : all) absl::StrAppend(&key, n, "\x1f", v, "\x1e");
    if (!seen_.insert(std::move(key)).second) return;
    out_->Add(kMonitorValue, all, value);
  }

  PrometheusText* const out_;
  const Labels base_;
  std::set<std::string> seen_;
};

// Returns the events the model received (accepted or rejected).
uint64_t ExportModel(Pipeline& pipeline, const std::string& model,
                     const ServerConfig::Metrics& options,
                     PrometheusText& out) {
  vigie::v1::GetMetricsRequest all_time;
  all_time.set_model_id(model);
  absl::StatusOr<vigie::v1::GetMetricsReply> reply =
      pipeline.GetMetrics(all_time);
  if (!reply.ok()) return 0;  // Gone since it was listed.
  const vigie::v1::ModelCounters& c = reply->counters();
  const std::string version = c.model_version();
  out.Add("vigie_events_total", {{"model", model}, {"kind", "prediction"}},
          static_cast<double>(c.predictions()));
  out.Add("vigie_events_total", {{"model", model}, {"kind", "outcome"}},
          static_cast<double>(c.outcomes()));
  for (const auto& [reason, count] : c.rejected_by_reason()) {
    out.Add("vigie_events_rejected_total",
            {{"model", model}, {"reason", reason}}, static_cast<double>(count));
  }
  out.Add("vigie_events_late_total", {{"model", model}},
          static_cast<double>(c.late()));
  out.Add("vigie_events_late_dropped_total", {{"model", model}},
          static_cast<double>(c.late_dropped()));
  out.Add("vigie_joins_total", {{"model", model}},
          static_cast<double>(c.joined()));
  out.Add("vigie_pending_joins", {{"model", model}, {"kind", "prediction"}},
          static_cast<double>(c.pending_predictions()));
  out.Add("vigie_pending_joins", {{"model", model}, {"kind", "outcome"}},
          static_cast<double>(c.pending_outcomes()));
  out.Add("vigie_events_expired_total",
          {{"model", model}, {"kind", "prediction"}},
          static_cast<double>(c.expired_predictions()));
  out.Add("vigie_events_expired_total", {{"model", model}, {"kind", "outcome"}},
          static_cast<double>(c.expired_outcomes()));
  if (c.has_watermark()) {
    out.Add("vigie_watermark_timestamp_seconds", {{"model", model}},
            static_cast<double>(c.watermark().seconds()) +
                c.watermark().nanos() * 1e-9);
  }

  for (absl::Duration window : options.windows) {
    vigie::v1::GetMetricsRequest request;
    request.set_model_id(model);
    request.mutable_last()->set_seconds(absl::ToInt64Seconds(window));
    request.mutable_last()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(
            window - absl::Seconds(absl::ToInt64Seconds(window)))));
    // Not a multiple of this model's pane length: not exported for it.
    absl::StatusOr<vigie::v1::GetMetricsReply> windowed =
        pipeline.GetMetrics(request);
    if (!windowed.ok()) continue;
    ReplyWalker walker(&out, {{"model", model},
                              {"version", version},
                              {"window", absl::FormatDuration(window)}});
    walker.Walk(*windowed, "", {});
  }
  return c.predictions() + c.outcomes() + c.rejected();
}

void DeclareFamilies(PrometheusText& out) {
  const Type gauge = Type::kGauge;
  const Type counter = Type::kCounter;
  out.Family("vigie_build_info", gauge, "Vigie's version, as a label.");
  out.Family("vigie_events_total", counter,
             "Events accepted, by model and kind (prediction, outcome).");
  out.Family("vigie_events_rejected_total", counter,
             "Events rejected, by model and reason.");
  out.Family("vigie_events_late_total", counter,
             "Events older than the watermark minus the allowed lateness.");
  out.Family("vigie_events_late_dropped_total", counter,
             "Late events dropped by the late-event policy.");
  out.Family("vigie_joins_total", counter,
             "Predictions joined with their outcome.");
  out.Family("vigie_pending_joins", gauge,
             "Predictions waiting for their outcome, and outcomes for their "
             "prediction.");
  out.Family("vigie_events_expired_total", counter,
             "Events whose other half did not arrive within the label delay.");
  out.Family("vigie_watermark_timestamp_seconds", gauge,
             "The latest prediction event time accepted, per model.");
  out.Family(kMonitorValue, gauge,
             "A monitor's value over a sliding window of the latest panes; "
             "metric is its field in vigie.v1.GetMetricsReply.");
  out.Family("vigie_alerts_open", gauge,
             "Open alerts, by model, severity and state (firing, pending).");
  out.Family("vigie_checkpoints_total", counter,
             "Checkpoints written since the start.");
  out.Family("vigie_checkpoint_duration_seconds", gauge,
             "How long the last checkpoint took.");
  out.Family("vigie_checkpoint_seconds_total", counter,
             "Time spent writing checkpoints since the start.");
  out.Family("vigie_state_sst_bytes", gauge,
             "Bytes of RocksDB's table files (all column families).");
  out.Family("vigie_state_memtable_bytes", gauge,
             "Bytes of RocksDB's memtables.");
  out.Family("vigie_kafka_messages_total", counter, "Kafka messages consumed.");
  out.Family("vigie_kafka_undecodable_total", counter,
             "Kafka messages that are not events.");
  out.Family("vigie_kafka_dead_lettered_total", counter,
             "Undecodable Kafka messages written to the dead-letter topic.");
  out.Family("vigie_kafka_rebalances_total", counter,
             "Kafka partition assignments and revocations.");
  out.Family("vigie_kafka_retries_total", counter,
             "Failed attempts to ingest a Kafka batch, each retried (the "
             "server log says why).");
  out.Family("vigie_kafka_partitions", gauge, "Kafka partitions assigned.");
  out.Family("vigie_kafka_leader", gauge,
             "1 while this replica leads its group (it delivers alerts).");
  out.Family("vigie_kafka_lag_messages", gauge,
             "Messages of the assigned partitions not yet consumed.");
  out.Family("vigie_kafka_prefetched_bytes", gauge,
             "Bytes fetched ahead and not yet consumed.");
  out.Family("vigie_alert_deliveries_total", counter,
             "Successful deliveries to an alert sink.");
  out.Family("vigie_alert_delivery_failures_total", counter,
             "Failed delivery attempts to an alert sink.");
  out.Family("vigie_alert_dead_letters_total", counter,
             "Alerts given up on by an alert sink.");
  out.Family("vigie_alert_sink_waiting", gauge,
             "Alerts waiting for delivery to a sink.");
  out.Family("vigie_process_cpu_seconds_total", counter,
             "CPU time of the Vigie process, user and system, all threads.");
  out.Family("vigie_process_written_bytes_total", counter,
             "Bytes the Vigie process caused to be written to storage.");
  out.Family("vigie_cpu_seconds_per_million_events", gauge,
             "Vigie's CPU seconds per million events received (its own "
             "footprint, referential Q6.1).");
  out.Family("vigie_written_bytes_per_million_events", gauge,
             "Bytes Vigie wrote to storage per million events received.");
}

}  // namespace

std::string RenderMetrics(const MetricsSources& sources,
                          const ServerConfig::Metrics& options) {
  PrometheusText out(options.max_series);
  DeclareFamilies(out);
  out.Add("vigie_build_info", {{"version", VIGIE_VERSION}}, 1);
  Pipeline& pipeline = *sources.pipeline;
  uint64_t events = 0;
  for (const std::string& model : pipeline.ModelIds()) {
    events += ExportModel(pipeline, model, options, out);
  }

  // Vigie's own footprint, whole and per million events received (events
  // of models since removed from the configuration are not counted).
  const ProcessFootprint footprint = ReadProcessFootprint();
  out.Add("vigie_process_cpu_seconds_total", {}, footprint.cpu_seconds);
  if (footprint.written_bytes.has_value()) {
    out.Add("vigie_process_written_bytes_total", {},
            static_cast<double>(*footprint.written_bytes));
  }
  if (events > 0) {
    const double millions = static_cast<double>(events) / 1e6;
    out.Add("vigie_cpu_seconds_per_million_events", {},
            footprint.cpu_seconds / millions);
    if (footprint.written_bytes.has_value()) {
      out.Add("vigie_written_bytes_per_million_events", {},
              static_cast<double>(*footprint.written_bytes) / millions);
    }
  }

  // Open alerts, counted by model, severity and state.
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> open;
  const vigie::v1::ListAlertsReply alerts = pipeline.ListAlerts({});
  for (const vigie::v1::Alert& alert : alerts.alerts()) {
    const std::string state =
        alert.state() == vigie::v1::ALERT_STATE_FIRING    ? "firing"
        : alert.state() == vigie::v1::ALERT_STATE_PENDING ? "pending"
                                                          : "";
    if (state.empty()) continue;
    ++open[{alert.model_id(), std::string(SeverityName(alert.severity())),
            state}];
  }
  for (const auto& [key, count] : open) {
    const auto& [model, severity, state] = key;
    out.Add("vigie_alerts_open",
            {{"model", model}, {"severity", severity}, {"state", state}},
            static_cast<double>(count));
  }

  const Pipeline::CheckpointStats checkpoints = pipeline.checkpoint_stats();
  out.Add("vigie_checkpoints_total", {},
          static_cast<double>(checkpoints.written));
  out.Add("vigie_checkpoint_duration_seconds", {},
          absl::ToDoubleSeconds(checkpoints.last));
  out.Add("vigie_checkpoint_seconds_total", {},
          absl::ToDoubleSeconds(checkpoints.total));
  if (sources.store != nullptr) {
    const storage::StateStore::Size size = sources.store->ApproximateSize();
    out.Add("vigie_state_sst_bytes", {}, static_cast<double>(size.sst_bytes));
    out.Add("vigie_state_memtable_bytes", {},
            static_cast<double>(size.memtable_bytes));
  }
  if (sources.kafka != nullptr) {
    const KafkaIngestStats kafka = sources.kafka->stats();
    out.Add("vigie_kafka_messages_total", {},
            static_cast<double>(kafka.messages));
    out.Add("vigie_kafka_undecodable_total", {},
            static_cast<double>(kafka.undecodable));
    out.Add("vigie_kafka_dead_lettered_total", {},
            static_cast<double>(kafka.dead_lettered));
    out.Add("vigie_kafka_rebalances_total", {},
            static_cast<double>(kafka.rebalances));
    out.Add("vigie_kafka_retries_total", {},
            static_cast<double>(kafka.retries));
    out.Add("vigie_kafka_partitions", {}, kafka.partitions);
    out.Add("vigie_kafka_leader", {}, kafka.leads ? 1 : 0);
    if (kafka.lag >= 0) {
      out.Add("vigie_kafka_lag_messages", {}, static_cast<double>(kafka.lag));
    }
    out.Add("vigie_kafka_prefetched_bytes", {},
            static_cast<double>(kafka.prefetched_bytes));
  }
  if (sources.dispatcher != nullptr) {
    for (const sinks::AlertDispatcher::SinkStats& sink :
         sources.dispatcher->Stats()) {
      const Labels labels = {{"sink", sink.name}};
      out.Add("vigie_alert_deliveries_total", labels,
              static_cast<double>(sink.deliveries));
      out.Add("vigie_alert_delivery_failures_total", labels,
              static_cast<double>(sink.failed_attempts));
      out.Add("vigie_alert_dead_letters_total", labels,
              static_cast<double>(sink.dead_lettered));
      out.Add("vigie_alert_sink_waiting", labels,
              static_cast<double>(sink.waiting));
    }
  }
  // Counted last, so that it reports every series left out (it is never
  // dropped itself: appended past the cap).
  std::string text = out.Render();
  absl::StrAppend(&text,
                  "# HELP vigie_metrics_series_dropped Series left out of "
                  "this scrape by metrics.max_series.\n"
                  "# TYPE vigie_metrics_series_dropped gauge\n"
                  "vigie_metrics_series_dropped ",
                  out.dropped(), "\n");
  return text;
}

}  // namespace vigie::services
