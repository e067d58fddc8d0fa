#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "monitors/change_detectors.h"
#include "monitors/drift_report.h"
#include "monitors/item_catalogue.h"
#include "monitors/model_monitors.h"
#include "rules/policy.h"
#include "services/kafka_ingest.h"
#include "services/performance_estimate.h"
#include "sinks/kafka.h"

// The server's configuration and policy, and their YAML form. This is the
// only place Vigie parses YAML: deploy/vigie.yaml and deploy/policy.yaml
// document every key. Plain values; thread-compatible.

namespace vigie::services {

// How one model's events are read and monitored.
// What happens to a prediction older than the model's watermark minus its
// allowed lateness. Either way it is counted as late.
enum class LatePolicy {
  kDrop,         // Rejected (TOO_LATE) and counted; never applied.
  kCurrentPane,  // Applied to the model's latest pane instead of its own.
};

// Which event time places a joined prediction/outcome pair in a pane.
enum class JoinTime {
  kPrediction,  // The prediction's: a window shows how the predictions made
                // in it turned out. Label-free and labelled counts share a
                // pane.
  kOutcome,     // The outcome's: a window shows the outcomes learnt in it.
};

struct ModelConfig {
  // Model id, as events carry it. Required for listed models.
  std::string id;
  // Accepted model_version values; empty: any.
  std::vector<std::string> versions;
  // Prediction task: "binary" (a score and/or a 0/1 decision),
  // "multiclass" (class probabilities and/or a predicted class, among
  // `classes`, which then must list 2 to 1,000 distinct labels; optionally
  // a conformal prediction set), "regression" (a value, optionally a
  // conformal interval) or "recommendation" (a ranked list of items).
  // Default: "binary".
  std::string task = "binary";
  // decision = score >= decision_threshold when the event has no decision.
  // Default: 0.5. Range: [0, 1].
  double decision_threshold = 0.5;
  // Length of an event-time pane. Default: 1 hour. Range: [1s, 366d].
  absl::Duration pane_length = absl::Hours(1);
  // Wall-clock time a prediction waits for its outcome (and an outcome for
  // its prediction) before it expires. Default: 7 days. Range: > 0.
  absl::Duration label_delay = absl::Hours(24 * 7);
  // How long panes are kept behind the model's latest pane; older ones are
  // merged into the model's archive (exact: states merge) and deleted, so
  // windows with no start ("since deployment") stay exact. At least
  // pane_length and every rule window of the model. Default: 30 days.
  absl::Duration retention = absl::Hours(24 * 30);
  // Storage budget: panes kept at most; past it the oldest are archived
  // early. Default: 10,000. Range: >= 1.
  uint32_t max_panes = 10'000;
  // How far behind the model's watermark (the latest prediction event time
  // accepted) an event may be and still count in its own pane. Default:
  // unlimited (never late), so that historical files replay in any order.
  absl::Duration allowed_lateness = absl::InfiniteDuration();
  // What happens to a late event. Default: kDrop.
  LatePolicy late_events = LatePolicy::kDrop;
  // The event time that places a joined pair. Default: kPrediction.
  JoinTime join_time = JoinTime::kPrediction;
  // How often the model is expected to send events at least: after a
  // whole interval without any, a rule on missed_windows (O2, monitor
  // liveness) counts a missed window. Zero: no expectation (no liveness
  // alert). Default: zero. Range: 0 or [1s, 366d].
  absl::Duration expect_events_every = absl::ZeroDuration();
  // Length of the model's reference window, from reference_time (or its
  // first pane): once events are past its end, its metrics are frozen and
  // kept, and rules with `baseline: reference` compare with them. Zero: no
  // reference window. Default: zero. Range: 0, or at least pane_length and
  // less than retention (its panes must still be there to freeze).
  absl::Duration reference_window = absl::ZeroDuration();
  // Start of the model's reference period (its deployment, or that of its
  // current version): since-reference windows begin here. Default: unset,
  // the first event.
  std::optional<absl::Time> reference_time;
  // Versions of the model's reference kept in storage (the current one
  // included), readable through GetReference after newer ones replaced
  // them; the oldest is deleted past this. Default: 10. Range: [1, 1000].
  uint32_t reference_versions = 10;
  // Monitors' options: group_attributes, max_attributes, fairness.max_groups
  // and fairness.min_group_size, the multiclass model's classes, and the
  // drift monitor's max_features and max_categories (YAML: drift_max_features,
  // drift_tracked_categories).
  monitors::ModelMonitors::Options monitors;
  // How the window's features are compared with the reference: bins and
  // categories of the reference profile (YAML: drift_bins,
  // drift_categories), and Evidently's rule's thresholds.
  monitors::DriftReportOptions drift;
  // The change detectors of the error stream (concept drift, rules
  // error_rate_changes and error_change_windows, whose windows' bound uses
  // ADWIN's delta too); YAML: adwin_delta (ADWIN's confidence, default
  // 0.002), page_hinkley_threshold (its lambda, default 50).
  monitors::ErrorStreamDetectors::Options detectors;
  // Adaptive conformal inference's step size gamma (YAML: aci_gamma,
  // default 0.005, range (0, 1]); its target is the alpha of the model's
  // first joined conformal prediction.
  double aci_gamma = 0.005;
  // A recommendation model's item catalogue: a JSON lines file, one
  // vigie.v1.CatalogueLine a line (format: monitors/item_catalogue.h),
  // relative to the configuration file's folder. Read at start (see
  // LoadCatalogueFile): its catalogue is stored as the model's next version
  // unless the stored one is the same (same items in the same order, same
  // features and counts), so that an unchanged file makes no new version.
  // It thereby replaces, at the next start, a catalogue put through the
  // API that differs from it. Empty: none (the API alone sets it). Listed
  // models only.
  std::string catalogue_file;
  // A recommendation model's items' reference popularity is learned from
  // its feedback in the reference window (monitors/item_interactions.h:
  // one feedback event, one reference user), and replaces the catalogue's
  // once the window is frozen (YAML: learn_popularity). Needs
  // reference_window. Default: false.
  bool learn_popularity = false;
  // Binary models' confidence-based performance estimation (YAML
  // performance_estimation: {calibration: isotonic|histogram, bins: N,
  // min_group_reference: M}): the calibration map's method (default
  // isotonic) and the reference pairs a group needs for a map of its own
  // (default 500); the score bins are monitors.performance_estimate.num_bins
  // (default 20, range [2, 1000]).
  monitors::PerformanceEstimateMonitor::EstimateOptions performance_estimation;
  // The performance the model's owner declared, which rule P1 checks
  // (YAML declared_performance: {metric: accuracy|precision|recall|f1,
  // value: X}). Unset: P1 has nothing to check the model against.
  std::optional<DeclaredPerformance> declared_performance;
  // What rule E1 (energy and carbon per 1,000 predictions, referential
  // Q6.1) compares the model's footprint with, YAML `footprint:` (beside
  // the costing: carbon_intensity, carbon_intensity_schedule and
  // hardware_power_watts, which go to monitors.footprint). Each optional,
  // positive: declared baselines, per 1,000 costed predictions, in joules
  // and grams of CO2e (without one, the model's frozen reference window
  // is the baseline), and budgets in the same units.
  struct Footprint {
    std::optional<double> baseline_energy_per_1000;
    std::optional<double> baseline_carbon_per_1000;
    std::optional<double> energy_budget_per_1000;
    std::optional<double> carbon_budget_per_1000;
    // kInvalidArgument naming the key of a number that is not positive.
    absl::Status Validate() const;
  };
  Footprint footprint;

  // The class labels of a multiclass model; empty for a binary one.
  const std::vector<std::string>& classes() const { return monitors.classes; }

  // OK when the model may have an item catalogue (PutCatalogue,
  // catalogue_file); kFailedPrecondition naming the model and its task
  // otherwise: only recommendation models take one.
  absl::Status AcceptsCatalogue() const;

  // kInvalidArgument naming the model and field for anything out of range
  // (the id is not checked: the default model has none).
  absl::Status Validate() const;
};

struct ServerConfig {
  // Directory of the RocksDB database; created if missing.
  std::string data_dir = "./vigie-data";
  // host:port the gRPC server listens on.
  std::string grpc_address = "127.0.0.1:50051";
  // host:port of the HTTP server (/metrics, /healthz, /readyz), on its own
  // port so that it can be bound to another interface than the API; empty:
  // no HTTP server. Port 0 picks a free one (logged).
  std::string http_address = "127.0.0.1:9464";
  // The URL people reach that HTTP server at (through an ingress or a
  // proxy, say), the base of the links to each model's report page that
  // alerts carry (Alert.report_url, Alertmanager's generatorURL). Empty:
  // http:// (https:// with TLS) and the address the server bound (the
  // host's name for a wildcard address).
  std::string external_url;
  // What /metrics exports (services/metrics_export.h).
  struct Metrics {
    // The sliding windows (each a multiple of every model's pane length;
    // others are skipped for that model) whose monitor values are
    // exported, as vigie_monitor_value{window=...}. Default: 1h and 24h.
    // At most 8, each in [1s, 366d].
    std::vector<absl::Duration> windows = {absl::Hours(1), absl::Hours(24)};
    // At most this many series per scrape; the rest are left out and
    // counted (vigie_metrics_series_dropped). Default: 10,000. Range:
    // [100, 1,000,000].
    uint32_t max_series = 10'000;
  };
  Metrics metrics;
  // Logging to stderr: the lowest level written (debug, info, warning,
  // error) and the format: "text" lines or "json" objects, one per line
  // (common/log.h). The flags --log_level and --log_format override them.
  struct Log {
    std::string level = "info";
    std::string format = "text";
  };
  Log log;
  // TLS for both the gRPC and the HTTP server: PEM files of the server's
  // certificate chain and key (both, or neither: plaintext), and of the
  // certificate authority clients' certificates must be signed by (set:
  // mutual TLS, a client without such a certificate is refused). Read at
  // start.
  struct Tls {
    std::string cert_file;
    std::string key_file;
    std::string client_ca_file;
    bool enabled() const { return !cert_file.empty(); }
  };
  Tls tls;
  // A file holding a token (surrounding whitespace ignored); set: the calls
  // that change state (ingest, reference and catalogue uploads, silences,
  // acknowledgements) need the gRPC metadata "authorization: Bearer
  // <token>", and are refused UNAUTHENTICATED otherwise. Queries stay open.
  // Empty: no check.
  std::string bearer_token_file;
  // An event for a model not listed in `models` is monitored with
  // default_model's settings under its own id; false: it is rejected as an
  // unknown model.
  bool accept_undeclared_models = true;
  // Settings of undeclared models, and the base that listed models
  // override in YAML. Its id is ignored.
  ModelConfig default_model;
  // Listed models; ids unique.
  std::vector<ModelConfig> models;
  // How often pending predictions and outcomes past their label_delay are
  // expired. Default: 1 minute. Range: > 0.
  absl::Duration expiry_sweep_interval = absl::Minutes(1);
  // A checkpoint writes the state changed since the previous one (panes,
  // counters, pending joins, join marks) and the ingest position in one
  // RocksDB batch, after which the ingest log before it is dropped; a
  // restart replays only the log after the last checkpoint. One is taken
  // every checkpoint_interval, and sooner once checkpoint_bytes of events
  // were logged since the last. Default: 1 s, 64 MiB. Ranges: [10ms, 1h],
  // [1 MiB, 4 GiB]. The ingest log's memtable may take twice
  // checkpoint_bytes, beside write_buffer_bytes (storage::StateStoreOptions::
  // ingest_log_buffer_bytes).
  absl::Duration checkpoint_interval = absl::Seconds(1);
  uint64_t checkpoint_bytes = uint64_t{64} << 20;
  // RocksDB's block cache and memtable budget, whether each write waits
  // for its log record to reach the disk, and whether table files bypass
  // the page cache where the file system allows it
  // (storage::StateStoreOptions; the path is data_dir).
  uint64_t block_cache_bytes = uint64_t{64} << 20;
  uint64_t write_buffer_bytes = uint64_t{64} << 20;
  bool sync_writes = false;
  bool direct_io = true;
  // Where alerts go besides the log and the query API.
  struct Alerting {
    // Base URL of a Prometheus Alertmanager (http://host:port), to which
    // firing and resolved alerts are posted (its v2 API); empty: none.
    std::string alertmanager_url;
    absl::Duration alertmanager_timeout = absl::Seconds(5);
    // Base of the alerts' generatorURL; empty: none.
    std::string external_url;
    // Webhooks to which the same notifications are POSTed as JSON.
    struct Webhook {
      std::string url;  // http://host[:port][/path]
      absl::Duration timeout = absl::Seconds(5);
    };
    std::vector<Webhook> webhooks;
    // A Kafka topic to which each notification is written as one message
    // (sinks::KafkaSink, with its options as they are); empty brokers:
    // none. YAML: brokers, topic, timeout, properties, and key (model or
    // fingerprint).
    sinks::KafkaOptions kafka;
    // Firing alerts are sent again this often. Default: 1 minute.
    // Range: [100ms, 1h].
    absl::Duration resend_interval = absl::Minutes(1);
    // Failed deliveries in a row after which a sink's waiting alerts are
    // given up and appended to <data_dir>/dead_letters.jsonl. Default: 10.
    // Range: [1, 1000].
    int max_attempts = 10;
    // Alert transitions (ListAlertHistory) older than this, by the time of
    // the transition, are deleted at each expiry sweep. Default: 400 days,
    // a year of audits and some margin. Range: [1h, 36500d].
    absl::Duration history_retention = absl::Hours(24 * 400);
  } alerting;
  // What Vigie keeps of the events (storage/privacy_keys.h).
  struct Privacy {
    // A file holding the secret that prediction ids are pseudonymised and
    // the ingest log and pending joins sealed with: 32 bytes or more (64
    // hex digits, say; surrounding whitespace is ignored). Mount it from a
    // Kubernetes Secret, away from the data folder. Empty: Vigie makes one
    // at first start and keeps it in the state store, which hides raw ids
    // and events from whoever reads a file of the store's, but not from
    // whoever has the whole store.
    std::string secret_file;
    // A group with fewer predictions than this (or labelled ones, for its
    // outcome figures) is reported as "fewer than" it, its figures
    // withheld in metrics, reports and alerts; it still counts in the
    // overall figures and never enters a gap (services/small_groups.h).
    // Default: 10. Range: [1, 1,000,000,000]; 1 shows every group.
    uint64_t min_group_size = 10;
  } privacy;
  // Consuming events from Kafka; off while its brokers are empty.
  KafkaIngestOptions kafka_ingest;
  rules::Policy policy;
  // Bounds on any model's item catalogue (YAML: catalogue.max_items,
  // max_categories, max_categories_per_item, max_embedding_dimension; the
  // defaults and ranges are ItemCatalogueOptions'), so that one file or
  // PutCatalogue call cannot exhaust memory.
  monitors::ItemCatalogueOptions catalogue;

  // The listed model `id`; null if it is not listed.
  const ModelConfig* FindModel(absl::string_view id) const;
  // kInvalidArgument for anything out of range, in any model or the policy.
  absl::Status Validate() const;
};

// Parses a server configuration. `source_name` names the text in error
// messages (with line, column and key), and its folder resolves a relative
// `policy_file`. Without `policy_file` or `policy`, the embedded default
// policy applies. Unknown keys are errors. The result is validated.
absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml,
                                               absl::string_view source_name);

// Parses and validates a policy (deploy/policy.yaml's shape).
absl::StatusOr<rules::Policy> ParsePolicy(absl::string_view yaml,
                                          absl::string_view source_name);

// Reads and parses the configuration file at `path`: kNotFound if it cannot
// be read, else as ParseServerConfig.
absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path);

// Reads and parses `model`'s catalogue_file under `options`: kNotFound if it
// cannot be read, kInvalidArgument naming the file and its line if it does
// not parse or validate ("model recs: catalogue_file \"items.jsonl\": line
// 3: duplicate item id \"a1\"").
absl::StatusOr<monitors::ItemCatalogue> LoadCatalogueFile(
    const ModelConfig& model, const monitors::ItemCatalogueOptions& options);

// The embedded defaults: deploy/vigie.yaml with deploy/policy.yaml.
absl::StatusOr<ServerConfig> DefaultServerConfig();

// The text of deploy/vigie.yaml and deploy/policy.yaml, compiled in by
// services/CMakeLists.txt (cmake/embed_defaults.cmake).
extern const char kEmbeddedDefaultConfig[];
extern const char kEmbeddedDefaultPolicy[];

}  // namespace vigie::services
