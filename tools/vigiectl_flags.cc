// vigiectl's command-line flags; `vigiectl help` (vigiectl.cc) says which
// subcommand takes which.

#include "tools/vigiectl_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_ca, "",
          "The server is on TLS: the CA certificate (PEM) to verify it with.");
ABSL_FLAG(std::string, tls_cert, "",
          "Mutual TLS: this client's certificate chain (PEM), with --tls_key.");
ABSL_FLAG(std::string, tls_key, "", "Mutual TLS: this client's key (PEM).");
ABSL_FLAG(std::string, tls_server_name, "",
          "The name the server's certificate must carry, when not --server's "
          "host.");
ABSL_FLAG(std::string, token_file, "",
          "A file holding the bearer token the server requires for the calls "
          "that change state (its auth.bearer_token_file).");
ABSL_FLAG(std::string, server, "127.0.0.1:50051",
          "All subcommands: address (host:port) of the Vigie gRPC server.");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "All subcommands: how long to wait for the connection.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30),
          "metrics, alerts, history, silence, ack, reference, catalogue, "
          "report: deadline of the call (report: of each of its queries) "
          "(reference and catalogue upload: 2m unless "
          "given).");
ABSL_FLAG(std::string, file, "",
          "replay: input file, JSON lines of vigie.v1.Event or CSV. reference "
          "upload: the sample, JSON lines of vigie.v1.Event. catalogue "
          "upload: the catalogue, JSON lines of vigie.v1.CatalogueLine. "
          "Required.");
ABSL_FLAG(std::string, format, "",
          "replay: jsonl or csv (default: from the file's extension: .jsonl, "
          ".ndjson, .json or .csv). metrics, alerts, watch, history, silence "
          "list, reference show, catalogue show: text or json (default "
          "text).");
ABSL_FLAG(std::string, model, "",
          "replay (CSV): model id of the events; required. metrics: the "
          "model to report on; required. reference upload, reference show: "
          "the model whose reference it is; required. catalogue upload, "
          "catalogue show: the model whose catalogue it is; required. alerts, "
          "watch, "
          "history: only this model's alerts. report: the model, instead of "
          "the argument.");
ABSL_FLAG(std::string, model_version, "",
          "replay (CSV): model version of the predictions.");
ABSL_FLAG(std::string, id_column, "",
          "replay (CSV): column of the prediction id (default: the data "
          "row's number).");
ABSL_FLAG(std::string, time_column, "",
          "replay (CSV): column of the event time: RFC 3339, YYYY-MM-DD "
          "(UTC midnight) or unix seconds. Required.");
ABSL_FLAG(std::string, score_column, "",
          "replay (CSV): column of the score; required unless "
          "--decision_column is given.");
ABSL_FLAG(double, score_scale, 1.0,
          "replay (CSV): factor applied to the score (0.1 for a 1-10 "
          "decile).");
ABSL_FLAG(std::string, decision_column, "",
          "replay (CSV): column of the decision (0/1/true/false).");
ABSL_FLAG(std::optional<double>, decision_threshold, std::nullopt,
          "replay (CSV): without --decision_column, decision = scaled score "
          ">= this; unset: the server applies the model's threshold.");
ABSL_FLAG(std::string, label_column, "",
          "replay (CSV): column of the observed label (0/1/true/false); each "
          "row then also sends an outcome.");
ABSL_FLAG(std::vector<std::string>, group_columns, {},
          "replay (CSV): comma-separated columns sent as group attributes, "
          "e.g. race,sex,age_cat.");
ABSL_FLAG(std::string, outcome_delay, "0s",
          "replay (CSV): outcome event time = prediction time + this, e.g. "
          "730d, 1h30m.");
ABSL_FLAG(std::vector<std::string>, numeric_features, {},
          "replay (CSV): comma-separated columns sent as numeric features.");
ABSL_FLAG(std::vector<std::string>, categorical_features, {},
          "replay (CSV): comma-separated columns sent as categorical "
          "features.");
ABSL_FLAG(std::string, energy_column, "",
          "replay (CSV): column of each prediction's energy in joules (rule "
          "E1); an empty value leaves it out.");
ABSL_FLAG(std::string, latency_column, "",
          "replay (CSV): column of each prediction's latency in seconds, "
          "turned into energy with the power the model declares for its "
          "hardware class.");
ABSL_FLAG(std::string, hardware_class_column, "",
          "replay (CSV): column of each prediction's hardware class.");
ABSL_FLAG(int, batch_size, 500,
          "replay, simulate: events per IngestRequest of the stream.");
ABSL_FLAG(int64_t, n, 20'000,
          "simulate: number of predictions (each "
          "followed later by its outcome).");
ABSL_FLAG(uint64_t, seed, 1,
          "simulate: random seed; a seed always gives the "
          "same stream.");
ABSL_FLAG(double, bias, 0.15,
          "simulate: amount subtracted from female subjects' scores.");
ABSL_FLAG(std::string, from, "",
          "metrics: start of the event-time window (inclusive); RFC 3339, "
          "YYYY-MM-DD or unix seconds.");
ABSL_FLAG(std::string, to, "",
          "metrics: end of the event-time window (exclusive).");
ABSL_FLAG(std::string, last, "",
          "metrics: a sliding window instead of --from/--to: the last DURATION "
          "of event time up to the end of the model's latest pane, e.g. 2h, "
          "1d, 30m; a multiple of the model's pane length.");
ABSL_FLAG(bool, since_reference, false,
          "metrics: a window from the model's reference_time (its deployment, "
          "as configured; unset: its first event) to the end of its latest "
          "pane.");
ABSL_FLAG(bool, model_wide, false,
          "metrics, report: the windows over every replica of a Kafka "
          "consumer group "
          "(the server's panes merged with those the others published); "
          "counters stay the server's own.");
ABSL_FLAG(bool, all, false,
          "alerts: also list resolved alerts. silence list: also list "
          "expired silences.");
ABSL_FLAG(bool, yes, false,
          "purge: confirms that the model's state is to be deleted for "
          "good.");
ABSL_FLAG(bool, refreshes, false,
          "watch: also print refreshes (new measurements of an alert whose "
          "state did not change).");
ABSL_FLAG(std::string, fingerprint, "",
          "ack: the alert to acknowledge; required. history: only this "
          "alert's transitions.");
ABSL_FLAG(std::string, since, "",
          "history: only transitions at or after this time (RFC 3339, "
          "YYYY-MM-DD or unix seconds).");
ABSL_FLAG(int, limit, 0,
          "history: at most this many transitions, the most recent (0: the "
          "server's default, 1,000).");
ABSL_FLAG(std::vector<std::string>, match, {},
          "silence create: comma-separated name=value matchers, all of which "
          "an alert must match: rule_id, model_id, metric, severity, "
          "fingerprint, or a scope key such as attribute. Required.");
ABSL_FLAG(std::string, duration, "",
          "silence create: how long the silence lasts from its start, e.g. "
          "2h, 1d. This or --until is required.");
ABSL_FLAG(std::string, until, "",
          "silence create: when the silence ends (RFC 3339, YYYY-MM-DD or "
          "unix seconds).");
ABSL_FLAG(std::string, starts, "",
          "silence create: when the silence starts (default: now).");
ABSL_FLAG(std::string, by, "",
          "silence create, ack: who does it, for the record. Required.");
ABSL_FLAG(std::string, comment, "", "silence create, ack: why.");
ABSL_FLAG(std::string, id, "", "silence expire: the silence's id. Required.");
ABSL_FLAG(uint32_t, reference_version, 0,
          "reference show: a version the server still keeps (its model's "
          "reference_versions); 0, the default: the current one.");
ABSL_FLAG(std::string, out, "",
          "report: the HTML file to write (replaced if it exists); - for "
          "stdout. Required.");
ABSL_FLAG(std::string, description, "",
          "reference upload: where the sample comes from, e.g. \"validation "
          "set 2026-11\"; shown as the reference's source. catalogue upload: "
          "where the catalogue comes from, e.g. \"items export 2026-11\".");
