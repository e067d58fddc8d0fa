// vigiectl: replays events to a Vigie server, streams a simulated biased
// model, uploads and shows a model's drift reference and a recommendation
// model's item catalogue, prints the server's
// metrics and alerts, watches alerts as they change, and manages silences
// and acknowledgements. Run `vigiectl help`.
//
// Exit status: 0 when the command completed (a replay even with rejected
// events), 1 when the server could not be reached or the call failed, 2 on a
// usage error (bad flags, unreadable input file, inconsistent CSV mapping,
// a reference sample or catalogue file that does not parse or is too
// large).

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "tools/alert_reports.h"
#include "tools/catalogue_upload.h"
#include "tools/client.h"
#include "tools/drift_reports.h"
#include "tools/event_reader.h"
#include "tools/metrics_request.h"
#include "tools/parsing.h"
#include "tools/printing.h"
#include "tools/reference_upload.h"
#include "tools/report_file.h"
#include "tools/reports.h"
#include "tools/simulator.h"

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

namespace vigie::tools {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr absl::string_view kUsage =
    R"(vigiectl: talk to a Vigie model-monitoring server.

usage:
  vigiectl replay --file=F [--format=jsonl|csv] [CSV flags] [--batch_size=500]
      Streams the events of a file over one Ingest call, then prints what
      was accepted and rejected (with input line numbers).
      JSON lines: each line is the protobuf JSON of a vigie.v1.Event.
      CSV: a header row; --model, --time_column and --score_column (or
      --decision_column) map each row to a prediction, and --label_column
      adds its outcome. Example (COMPAS):
        vigiectl replay --file=compas-two-years.csv --model=compas \
          --id_column=id --time_column=compas_screening_date \
          --score_column=decile_score --score_scale=0.1 \
          --decision_threshold=0.5 --label_column=two_year_recid \
          --group_columns=race,sex,age_cat --outcome_delay=730d
  vigiectl simulate [--n=20000] [--seed=1] [--bias=0.15]
      Streams a simulated model "demo" (version v1) whose female subjects'
      scores are lowered by --bias, and prints the TPR per sex to expect.
  vigiectl metrics --model=M [--from=T] [--to=T] [--format=text|json]
  vigiectl metrics --model=M --last=D [--format=text|json]
  vigiectl metrics --model=M --since_reference [--format=text|json]
  vigiectl metrics --model=M --model_wide [window flags] [--format=...]
      Prints the model's counters, fairness per group attribute,
      calibration, drift of its features, prediction and label against its
      reference, and concept drift (changes in its error rate), over a
      window of event time: [--from, --to) (default: all of it), or the
      last D (2h, 1d, 30m) up to the end of the model's latest pane, a
      multiple of its pane length; the header shows the window it resolved
      to; or since the model's configured reference_time
      (--since_reference). --last and --since_reference exclude the other
      window flags. --model_wide: over every replica of a Kafka consumer
      group (the server merges the panes the others published).
  vigiectl alerts [--model=M] [--all] [--format=text|json]
      Prints firing and pending alerts (with --all, resolved ones too),
      with the silences that mute them and their acknowledgement.
  vigiectl watch [--model=M] [--refreshes] [--format=text|json]
      Prints the open alerts, then each change as it happens (fired,
      changed severity, resolved; acknowledged or silenced), until
      interrupted. Exits 1 if the server ends the stream (shutdown, or this
      client fell too far behind).
  vigiectl history [--model=M] [--fingerprint=F] [--since=T] [--limit=N]
                   [--format=text|json]
      Prints the stored transitions of alerts, oldest first.
  vigiectl silence create --match=NAME=VALUE[,...] (--duration=D | --until=T)
                          [--starts=T] --by=WHO [--comment=WHY]
  vigiectl silence list [--all] [--format=text|json]
  vigiectl silence expire --id=ID
      Silences mute the alerts they match: still evaluated and listed, but
      not sent to Alertmanager, webhooks or other sinks until the silence
      ends (when one that still fires is sent). Example:
        vigiectl silence create --match=model_id=credit,attribute=race \
          --duration=4h --by=alice --comment="retraining, see TICKET-12"
  vigiectl reference upload --model=M --file=F [--description=TEXT]
  vigiectl reference show --model=M [--reference_version=N]
                         [--format=text|json]
      A model's reference: the sample that drift is measured against.
      upload sends the events of a JSON lines file (as replay reads them:
      predictions with their features, and outcomes for the label) in one
      UploadReference call, at most 60 MiB, and prints the new version,
      the events the server rejected (with input line numbers) and a
      profile per feature. Each upload is a new version that replaces the
      current one. show prints the current reference: version, source,
      counts, and per feature its summary and bins with their proportions.
      Example:
        vigiectl reference upload --model=credit --file=validation.jsonl \
          --description="validation set 2026-11"
  vigiectl catalogue upload --model=M --file=F [--description=TEXT]
  vigiectl catalogue show --model=M [--format=text|json]
      A recommendation model's item catalogue: its items' categories or
      embeddings and their reference popularity, which diversity, novelty
      and coverage are measured against. upload sends a JSON lines file,
      one vigie.v1.CatalogueLine a line (as a model's catalogue_file):
        {"referenceUsers": 1000}
        {"item": {"itemId": "a1", "categories": ["jazz"], "referenceUsers": 12}}
      in one PutCatalogue call, at most 60 MiB (larger ones go in the
      model's catalogue_file), and prints the new version; an error names
      the file's line. Each upload is a new version that replaces the
      current one. show prints the current one: version, description,
      upload time, items, feature kind and dimension, reference users.
  vigiectl report MODEL --out=FILE [--model_wide]
      Writes the model's report page, the one the server's HTTP endpoint
      serves at /models/MODEL: one HTML file with its charts inline (no
      script, nothing fetched), readable offline and fit to attach to a
      ticket or an audit. --out=- writes it to stdout.
  vigiectl purge MODEL --yes
      Deletes everything the server keeps of the model: its windows,
      counters, references, catalogue, alerts and their history, and its
      events still waiting to be joined (a right to erasure, or a retired
      model). Open alerts are sent as resolved first. Cannot be undone:
      --yes says so. Prints what was deleted.
  vigiectl ack --fingerprint=F --by=WHO [--comment=WHY]
      Acknowledges a firing alert: shown on it (and in what the sinks
      receive) until it resolves or changes severity.
  vigiectl help
      Prints this text.

Every subcommand takes --server (default 127.0.0.1:50051),
--connect_timeout, and for a server on TLS --tls_ca (with --tls_cert and
--tls_key for mutual TLS, --tls_server_name), and --token_file for one that
requires a bearer token.
Exit status: 0 when the command completed (a replay even with rejected
events), 1 when the server could not be reached or the call failed, 2 on a
usage error.
)";

// Whether `name` is one of the flags every subcommand takes: where the
// server is and how to reach it.
bool IsConnectionFlag(const std::string& name) {
  return name == "server" || name == "connect_timeout" || name == "tls_ca" ||
         name == "tls_cert" || name == "tls_key" || name == "tls_server_name" ||
         name == "token_file";
}

// The flags each subcommand takes, besides the connection flags.
std::map<std::string, std::set<std::string>> AllowedFlags() {
  return {
      {"replay",
       {"file", "format", "model", "model_version", "id_column", "time_column",
        "score_column", "score_scale", "decision_column", "decision_threshold",
        "label_column", "group_columns", "outcome_delay", "numeric_features",
        "categorical_features", "energy_column", "latency_column",
        "hardware_class_column", "batch_size"}},
      {"simulate", {"n", "seed", "bias", "batch_size"}},
      {"metrics",
       {"model", "from", "to", "last", "since_reference", "model_wide",
        "format", "timeout"}},
      {"alerts", {"model", "all", "format", "timeout"}},
      {"watch", {"model", "refreshes", "format"}},
      {"history",
       {"model", "fingerprint", "since", "limit", "format", "timeout"}},
      {"silence",
       {"match", "duration", "until", "starts", "by", "comment", "all", "id",
        "format", "timeout"}},
      {"ack", {"fingerprint", "by", "comment", "timeout"}},
      {"reference",
       {"model", "file", "description", "format", "timeout",
        "reference_version"}},
      {"catalogue", {"model", "file", "description", "format", "timeout"}},
      {"report", {"model", "out", "model_wide", "timeout"}},
      {"purge", {"yes", "timeout"}},
      {"help", {}},
  };
}

bool IsOurFlag(const absl::CommandLineFlag& flag) {
  return absl::StrContains(flag.Filename(), "vigiectl");
}

void PrintHelp(std::ostream& out) {
  out << kUsage << "\nflags:\n";
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsOurFlag(*flag)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  for (const absl::CommandLineFlag* flag : flags) {
    out << "  --" << flag->Name() << " (default: \"" << flag->DefaultValue()
        << "\")\n      " << flag->Help() << "\n";
  }
}

// Sets the flags of argv ("--name=value", "--name value", "--bool",
// "--nobool") and returns the other arguments. Our own loop rather than
// absl::ParseCommandLine, which exits with status 1 on a bad flag where we
// promise 2; `set` receives the names of the flags given.
absl::StatusOr<std::vector<std::string>> ParseArgs(int argc, char** argv,
                                                   std::set<std::string>* set) {
  std::vector<std::string> positional;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    absl::string_view name = arg;
    std::optional<std::string> value;
    if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    if (name == "help" || name == "h" || name == "helpfull") {
      set->clear();
      return std::vector<std::string>{"help"};
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (absl::string_view negated = name;
        flag == nullptr && !value && absl::ConsumePrefix(&negated, "no")) {
      flag = absl::FindCommandLineFlag(negated);
      if (flag != nullptr && flag->IsOfType<bool>()) {
        name = negated;
        value = "false";
      } else {
        flag = nullptr;
      }
    }
    if (flag == nullptr || !IsOurFlag(*flag)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, "=", *value, ": ", error));
    }
    set->insert(std::string(name));
  }
  return positional;
}

int UsageError(absl::string_view message) {
  std::cerr << "vigiectl: " << message << "\nRun 'vigiectl help' for usage.\n";
  return kExitUsage;
}

int Failure(const absl::Status& status) {
  std::cerr << "vigiectl: " << status << "\n";
  return kExitFailure;
}

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

absl::StatusOr<std::unique_ptr<VigieClient>> ConnectToServer() {
  VigieClient::ConnectOptions options;
  options.timeout = absl::GetFlag(FLAGS_connect_timeout);
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("give --tls_cert and --tls_key together");
  }
  if (!options.tls_cert_file.empty() && options.tls_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert needs --tls_ca");
  }
  if (const std::string file = absl::GetFlag(FLAGS_token_file); !file.empty()) {
    std::ifstream in(file);
    std::string token(std::istreambuf_iterator<char>(in), {});
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--token_file \"", file, "\" cannot be read or is empty"));
    }
    options.token = std::move(token);
  }
  return VigieClient::Connect(absl::GetFlag(FLAGS_server), options);
}

// Streams `source` with a progress printer and prints the summary.
int Stream(EventSource& source, absl::string_view verb, absl::string_view unit,
           absl::string_view location) {
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  ProgressPrinter printer(std::cerr, StderrIsTerminal(), std::string(verb),
                          std::string(unit));
  StreamOptions options;
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  StreamProgress last;
  options.on_progress = [&](const StreamProgress& p) {
    last = p;
    printer.Update(p);
  };
  absl::StatusOr<StreamResult> result =
      (*client)->StreamEvents(source, options);
  printer.Finish(last);
  if (!result.ok()) return Failure(result.status());
  PrintStreamSummary(*result, unit, location, /*max_listed=*/20, std::cout);
  return kExitOk;
}

int Replay(const std::set<std::string>& set) {
  const std::string file = absl::GetFlag(FLAGS_file);
  if (file.empty()) return UsageError("replay needs --file");
  if (absl::GetFlag(FLAGS_batch_size) < 1) {
    return UsageError("--batch_size must be at least 1");
  }
  std::string format = absl::GetFlag(FLAGS_format);
  if (format.empty()) {
    if (absl::EndsWithIgnoreCase(file, ".csv")) {
      format = "csv";
    } else if (absl::EndsWithIgnoreCase(file, ".jsonl") ||
               absl::EndsWithIgnoreCase(file, ".ndjson") ||
               absl::EndsWithIgnoreCase(file, ".json")) {
      format = "jsonl";
    } else {
      return UsageError(absl::StrCat("cannot tell the format of '", file,
                                     "'; pass --format=jsonl or --format=csv"));
    }
  }
  absl::StatusOr<std::unique_ptr<EventReader>> reader;
  if (format == "jsonl") {
    for (const std::string& name : set) {
      if (name != "file" && name != "format" && name != "batch_size" &&
          !IsConnectionFlag(name)) {
        return UsageError(
            absl::StrCat("--", name, " applies to CSV input only"));
      }
    }
    reader = EventReader::OpenJsonLines(file);
  } else if (format == "csv") {
    CsvMapping m;
    m.model_id = absl::GetFlag(FLAGS_model);
    m.model_version = absl::GetFlag(FLAGS_model_version);
    m.id_column = absl::GetFlag(FLAGS_id_column);
    m.time_column = absl::GetFlag(FLAGS_time_column);
    m.score_column = absl::GetFlag(FLAGS_score_column);
    m.score_scale = absl::GetFlag(FLAGS_score_scale);
    m.decision_column = absl::GetFlag(FLAGS_decision_column);
    m.decision_threshold = absl::GetFlag(FLAGS_decision_threshold);
    m.label_column = absl::GetFlag(FLAGS_label_column);
    m.group_columns = absl::GetFlag(FLAGS_group_columns);
    m.numeric_feature_columns = absl::GetFlag(FLAGS_numeric_features);
    m.categorical_feature_columns = absl::GetFlag(FLAGS_categorical_features);
    m.energy_column = absl::GetFlag(FLAGS_energy_column);
    m.latency_column = absl::GetFlag(FLAGS_latency_column);
    m.hardware_class_column = absl::GetFlag(FLAGS_hardware_class_column);
    if (m.model_id.empty()) return UsageError("CSV replay needs --model");
    if (m.time_column.empty()) {
      return UsageError("CSV replay needs --time_column");
    }
    absl::StatusOr<absl::Duration> delay =
        ParseDurationWithDays(absl::GetFlag(FLAGS_outcome_delay));
    if (!delay.ok()) {
      return UsageError(
          absl::StrCat("--outcome_delay: ", delay.status().message()));
    }
    m.outcome_delay = *delay;
    reader = EventReader::OpenCsv(file, m);
  } else {
    return UsageError(absl::StrCat("--format for replay is jsonl or csv, got '",
                                   format, "'"));
  }
  if (!reader.ok()) return UsageError(reader.status().message());
  return Stream(**reader, "replayed", format == "csv" ? "rows" : "lines",
                "line");
}

int Simulate() {
  SimulatorOptions options;
  options.num_predictions = absl::GetFlag(FLAGS_n);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.bias = absl::GetFlag(FLAGS_bias);
  absl::StatusOr<std::unique_ptr<Simulator>> simulator =
      Simulator::Create(options);
  if (!simulator.ok()) return UsageError(simulator.status().message());
  const ExpectedRates expected = ComputeExpectedRates(options);
  std::cout << absl::StrFormat(
      "injected: female scores shifted by %+g; expected TPR female ≈ %.3f, "
      "male ≈ %.3f; expected FPR female ≈ %.3f, male ≈ %.3f (threshold %g)\n",
      -options.bias, expected.tpr_female, expected.tpr_male,
      expected.fpr_female, expected.fpr_male, options.decision_threshold);
  return Stream(**simulator, "simulated", "events", "event");
}

absl::StatusOr<std::string> OutputFormat() {
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format.empty() || format == "text") return std::string("text");
  if (format == "json") return format;
  return absl::InvalidArgumentError(
      absl::StrCat("--format is text or json here, got '", format, "'"));
}

int Metrics() {
  absl::StatusOr<std::string> format = OutputFormat();
  if (!format.ok()) return UsageError(format.status().message());
  absl::StatusOr<v1::GetMetricsRequest> request = BuildMetricsRequest(
      {absl::GetFlag(FLAGS_model), absl::GetFlag(FLAGS_from),
       absl::GetFlag(FLAGS_to), absl::GetFlag(FLAGS_last),
       absl::GetFlag(FLAGS_since_reference)});
  if (!request.ok()) return UsageError(request.status().message());
  request->set_model_wide(absl::GetFlag(FLAGS_model_wide));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::GetMetricsReply> reply =
      (*client)->GetMetrics(*request, absl::GetFlag(FLAGS_timeout));
  if (!reply.ok()) return Failure(reply.status());
  if (*format == "text") {
    std::optional<absl::Duration> last;
    if (request->has_last()) {
      last = absl::Seconds(request->last().seconds()) +
             absl::Nanoseconds(request->last().nanos());
    }
    PrintMetricsText(*reply, std::cout, last);
    return kExitOk;
  }
  absl::StatusOr<std::string> json = ToJson(*reply);
  if (!json.ok()) return Failure(json.status());
  std::cout << *json;
  return kExitOk;
}

int Alerts() {
  absl::StatusOr<std::string> format = OutputFormat();
  if (!format.ok()) return UsageError(format.status().message());
  v1::ListAlertsRequest request;
  request.set_model_id(absl::GetFlag(FLAGS_model));
  request.set_include_resolved(absl::GetFlag(FLAGS_all));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::ListAlertsReply> reply =
      (*client)->ListAlerts(request, absl::GetFlag(FLAGS_timeout));
  if (!reply.ok()) return Failure(reply.status());
  if (*format == "text") {
    PrintAlertsText(*reply, std::cout);
    return kExitOk;
  }
  absl::StatusOr<std::string> json = ToJson(*reply);
  if (!json.ok()) return Failure(json.status());
  std::cout << *json;
  return kExitOk;
}

// Prints `message` with `text`, or as JSON, as `format` says.
int PrintAs(const std::string& format, const google::protobuf::Message& message,
            const std::function<void()>& text) {
  if (format == "text") {
    text();
    return kExitOk;
  }
  absl::StatusOr<std::string> json = ToJson(message);
  if (!json.ok()) return Failure(json.status());
  std::cout << *json;
  return kExitOk;
}

int Watch() {
  absl::StatusOr<std::string> format = OutputFormat();
  if (!format.ok()) return UsageError(format.status().message());
  v1::WatchAlertsRequest request;
  request.set_model_id(absl::GetFlag(FLAGS_model));
  request.set_include_refreshes(absl::GetFlag(FLAGS_refreshes));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  std::unique_ptr<AlertStream> stream = (*client)->WatchAlerts(request);
  v1::AlertUpdate update;
  while (stream->Next(&update)) {
    if (*format == "text") {
      std::cout << FormatAlertUpdate(update) << std::endl;
      continue;
    }
    // One object per line, so that a pipe can read them as they come.
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    if (!google::protobuf::util::MessageToJsonString(update, &json, options)
             .ok()) {
      return Failure(absl::InternalError("cannot print an update as JSON"));
    }
    std::cout << json << std::endl;
  }
  return Failure(stream->Finish());
}

int History() {
  absl::StatusOr<std::string> format = OutputFormat();
  if (!format.ok()) return UsageError(format.status().message());
  v1::ListAlertHistoryRequest request;
  request.set_model_id(absl::GetFlag(FLAGS_model));
  request.set_fingerprint(absl::GetFlag(FLAGS_fingerprint));
  if (const std::string since = absl::GetFlag(FLAGS_since); !since.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimestamp(since);
    if (!t.ok()) {
      return UsageError(absl::StrCat("--since: ", t.status().message()));
    }
    *request.mutable_since() = ToTimestampProto(*t);
  }
  if (absl::GetFlag(FLAGS_limit) < 0) {
    return UsageError("--limit must not be negative");
  }
  request.set_limit(static_cast<uint32_t>(absl::GetFlag(FLAGS_limit)));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::ListAlertHistoryReply> reply =
      (*client)->ListAlertHistory(request, absl::GetFlag(FLAGS_timeout));
  if (!reply.ok()) return Failure(reply.status());
  return PrintAs(*format, *reply, [&] { PrintHistoryText(*reply, std::cout); });
}

// The flags of `action` among those `set`: a usage error names the first
// that does not apply.
std::optional<std::string> FlagOutside(const std::set<std::string>& set,
                                       const std::set<std::string>& allowed) {
  for (const std::string& name : set) {
    if (!IsConnectionFlag(name) && name != "timeout" &&
        !allowed.contains(name)) {
      return name;
    }
  }
  return std::nullopt;
}

int CreateSilence() {
  v1::CreateSilenceRequest request;
  for (const std::string& match : absl::GetFlag(FLAGS_match)) {
    const size_t eq = match.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError(
          absl::StrCat("--match takes name=value pairs, got '", match, "'"));
    }
    v1::Matcher* matcher = request.add_matchers();
    matcher->set_name(match.substr(0, eq));
    matcher->set_value(match.substr(eq + 1));
  }
  if (request.matchers().empty()) {
    return UsageError("silence create needs --match");
  }
  const std::string duration = absl::GetFlag(FLAGS_duration);
  const std::string until = absl::GetFlag(FLAGS_until);
  if (duration.empty() == until.empty()) {
    return UsageError("silence create needs one of --duration and --until");
  }
  if (!duration.empty()) {
    absl::StatusOr<absl::Duration> d = ParseDurationWithDays(duration);
    if (!d.ok()) {
      return UsageError(absl::StrCat("--duration: ", d.status().message()));
    }
    request.mutable_duration()->set_seconds(absl::ToInt64Seconds(*d));
  } else {
    absl::StatusOr<absl::Time> t = ParseTimestamp(until);
    if (!t.ok()) {
      return UsageError(absl::StrCat("--until: ", t.status().message()));
    }
    *request.mutable_ends_at() = ToTimestampProto(*t);
  }
  if (const std::string starts = absl::GetFlag(FLAGS_starts); !starts.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimestamp(starts);
    if (!t.ok()) {
      return UsageError(absl::StrCat("--starts: ", t.status().message()));
    }
    *request.mutable_starts_at() = ToTimestampProto(*t);
  }
  request.set_created_by(absl::GetFlag(FLAGS_by));
  if (request.created_by().empty()) {
    return UsageError("silence create needs --by");
  }
  request.set_comment(absl::GetFlag(FLAGS_comment));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::Silence> silence =
      (*client)->CreateSilence(request, absl::GetFlag(FLAGS_timeout));
  if (!silence.ok()) return Failure(silence.status());
  v1::ListSilencesReply created;
  *created.add_silences() = *silence;
  PrintSilencesText(created, std::cout);
  return kExitOk;
}

int Silence(const std::string& action, const std::set<std::string>& set) {
  if (action == "create") {
    if (auto bad = FlagOutside(
            set, {"match", "duration", "until", "starts", "by", "comment"})) {
      return UsageError(
          absl::StrCat("--", *bad, " does not apply to silence create"));
    }
    return CreateSilence();
  }
  if (action == "list") {
    if (auto bad = FlagOutside(set, {"all", "format"})) {
      return UsageError(
          absl::StrCat("--", *bad, " does not apply to silence list"));
    }
    absl::StatusOr<std::string> format = OutputFormat();
    if (!format.ok()) return UsageError(format.status().message());
    v1::ListSilencesRequest request;
    request.set_include_expired(absl::GetFlag(FLAGS_all));
    absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
    if (!client.ok()) return Failure(client.status());
    absl::StatusOr<v1::ListSilencesReply> reply =
        (*client)->ListSilences(request, absl::GetFlag(FLAGS_timeout));
    if (!reply.ok()) return Failure(reply.status());
    return PrintAs(*format, *reply,
                   [&] { PrintSilencesText(*reply, std::cout); });
  }
  if (action == "expire") {
    if (auto bad = FlagOutside(set, {"id"})) {
      return UsageError(
          absl::StrCat("--", *bad, " does not apply to silence expire"));
    }
    v1::ExpireSilenceRequest request;
    request.set_id(absl::GetFlag(FLAGS_id));
    if (request.id().empty()) return UsageError("silence expire needs --id");
    absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
    if (!client.ok()) return Failure(client.status());
    absl::StatusOr<v1::Silence> silence =
        (*client)->ExpireSilence(request, absl::GetFlag(FLAGS_timeout));
    if (!silence.ok()) return Failure(silence.status());
    v1::ListSilencesReply expired;
    *expired.add_silences() = *silence;
    PrintSilencesText(expired, std::cout);
    return kExitOk;
  }
  return UsageError(
      absl::StrCat("silence takes create, list or expire, got '", action, "'"));
}

int Acknowledge() {
  v1::AcknowledgeAlertRequest request;
  request.set_fingerprint(absl::GetFlag(FLAGS_fingerprint));
  request.set_by(absl::GetFlag(FLAGS_by));
  request.set_comment(absl::GetFlag(FLAGS_comment));
  if (request.fingerprint().empty()) {
    return UsageError("ack needs --fingerprint");
  }
  if (request.by().empty()) return UsageError("ack needs --by");
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::Alert> alert =
      (*client)->AcknowledgeAlert(request, absl::GetFlag(FLAGS_timeout));
  if (!alert.ok()) return Failure(alert.status());
  v1::ListAlertsReply acknowledged;
  *acknowledged.add_alerts() = *alert;
  PrintAlertsText(acknowledged, std::cout);
  return kExitOk;
}

int Purge(const std::string& model) {
  if (!absl::GetFlag(FLAGS_yes)) {
    return UsageError(
        absl::StrCat("purge deletes everything the server keeps of model '",
                     model, "' and cannot be undone: add --yes"));
  }
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  v1::PurgeModelRequest request;
  request.set_model_id(model);
  absl::StatusOr<v1::PurgeModelReply> purged =
      (*client)->PurgeModel(request, absl::GetFlag(FLAGS_timeout));
  if (!purged.ok()) return Failure(purged.status());
  std::cout << "purged model " << model << ": " << purged->predictions()
            << " predictions, " << purged->outcomes() << " outcomes, "
            << purged->panes() << " panes, " << purged->reference_versions()
            << " reference versions, " << purged->alerts() << " alerts ("
            << purged->alerts_resolved() << " resolved first), "
            << purged->alert_transitions() << " alert transitions, "
            << purged->pending() << " events waiting to be joined, "
            << purged->join_marks() << " join marks\n";
  return kExitOk;
}

int UploadReference(const std::set<std::string>& set) {
  const std::string model = absl::GetFlag(FLAGS_model);
  const std::string file = absl::GetFlag(FLAGS_file);
  if (model.empty()) return UsageError("reference upload needs --model");
  if (file.empty()) return UsageError("reference upload needs --file");
  absl::StatusOr<std::unique_ptr<EventReader>> reader =
      EventReader::OpenJsonLines(file);
  if (!reader.ok()) return UsageError(reader.status().message());
  absl::StatusOr<ReferenceUpload> upload =
      ReadReferenceUpload(**reader, model, absl::GetFlag(FLAGS_description));
  if (absl::IsResourceExhausted(upload.status())) {
    return UsageError(absl::StrCat(
        file, ": ", upload.status().message(),
        ", and the server accepts messages of up to 64 MiB: upload a smaller "
        "sample, such as a random subset of its lines"));
  }
  if (!upload.ok()) {
    return UsageError(absl::StrCat(file, ": ", upload.status().message()));
  }
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  std::cerr << "uploading "
            << FormatCount(static_cast<uint64_t>(upload->request.events_size()))
            << " events (" << FormatCount(upload->request.ByteSizeLong())
            << " bytes) from " << file << "\n";
  // Profiling a large sample takes the server a while: 2 minutes unless the
  // user chose.
  const absl::Duration timeout =
      set.contains("timeout") ? absl::GetFlag(FLAGS_timeout) : absl::Minutes(2);
  absl::StatusOr<v1::ReferenceInfo> info =
      (*client)->UploadReference(upload->request, timeout);
  if (!info.ok()) return Failure(info.status());
  PrintReferenceUploadText(*info, upload->event_lines, std::cout);
  return kExitOk;
}

int Reference(const std::string& action, const std::set<std::string>& set) {
  if (action == "upload") {
    if (auto bad = FlagOutside(set, {"model", "file", "description"})) {
      return UsageError(
          absl::StrCat("--", *bad, " does not apply to reference upload"));
    }
    return UploadReference(set);
  }
  if (action == "show") {
    if (auto bad = FlagOutside(set, {"model", "format", "reference_version"})) {
      return UsageError(
          absl::StrCat("--", *bad, " does not apply to reference show"));
    }
    absl::StatusOr<std::string> format = OutputFormat();
    if (!format.ok()) return UsageError(format.status().message());
    v1::GetReferenceRequest request;
    request.set_model_id(absl::GetFlag(FLAGS_model));
    request.set_version(absl::GetFlag(FLAGS_reference_version));
    if (request.model_id().empty()) {
      return UsageError("reference show needs --model");
    }
    absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
    if (!client.ok()) return Failure(client.status());
    absl::StatusOr<v1::ReferenceInfo> info =
        (*client)->GetReference(request, absl::GetFlag(FLAGS_timeout));
    if (!info.ok()) return Failure(info.status());
    return PrintAs(*format, *info,
                   [&] { PrintReferenceText(*info, std::cout); });
  }
  return UsageError(
      absl::StrCat("reference takes upload or show, got '", action, "'"));
}

int UploadCatalogue(const std::set<std::string>& set) {
  const std::string model = absl::GetFlag(FLAGS_model);
  const std::string file = absl::GetFlag(FLAGS_file);
  if (model.empty()) return UsageError("catalogue upload needs --model");
  if (file.empty()) return UsageError("catalogue upload needs --file");
  std::ifstream in(file, std::ios::binary);
  if (!in) return UsageError(absl::StrCat("cannot open ", file));
  absl::StatusOr<CatalogueUpload> upload =
      ReadCatalogueUpload(in, model, absl::GetFlag(FLAGS_description));
  if (absl::IsResourceExhausted(upload.status())) {
    return UsageError(absl::StrCat(
        file, ": ", upload.status().message(),
        ", and the server accepts messages of up to 64 MiB: give the model "
        "this file as its catalogue_file instead"));
  }
  if (!upload.ok()) {
    return UsageError(absl::StrCat(file, ": ", upload.status().message()));
  }
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  std::cerr << "uploading "
            << FormatCount(static_cast<uint64_t>(
                   upload->request.catalogue().items_size()))
            << " items (" << FormatCount(upload->request.ByteSizeLong())
            << " bytes) from " << file << "\n";
  const absl::Duration timeout =
      set.contains("timeout") ? absl::GetFlag(FLAGS_timeout) : absl::Minutes(2);
  absl::StatusOr<v1::CatalogueInfo> info =
      (*client)->PutCatalogue(upload->request, timeout);
  if (absl::IsInvalidArgument(info.status())) {
    // The server names the item by its index: name the file's line.
    return Failure(absl::InvalidArgumentError(
        absl::StrCat(file, ": ",
                     LocateCatalogueError(std::string(info.status().message()),
                                          upload->item_lines))));
  }
  if (!info.ok()) return Failure(info.status());
  std::cout << "uploaded ";
  PrintCatalogueText(*info, std::cout);
  return kExitOk;
}

int Catalogue(const std::string& action, const std::set<std::string>& set) {
  if (action == "upload") {
    if (auto bad = FlagOutside(set, {"model", "file", "description"})) {
      return UsageError(
          absl::StrCat("--", *bad, " does not apply to catalogue upload"));
    }
    return UploadCatalogue(set);
  }
  if (action == "show") {
    if (auto bad = FlagOutside(set, {"model", "format"})) {
      return UsageError(
          absl::StrCat("--", *bad, " does not apply to catalogue show"));
    }
    absl::StatusOr<std::string> format = OutputFormat();
    if (!format.ok()) return UsageError(format.status().message());
    v1::GetCatalogueRequest request;
    request.set_model_id(absl::GetFlag(FLAGS_model));
    if (request.model_id().empty()) {
      return UsageError("catalogue show needs --model");
    }
    absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
    if (!client.ok()) return Failure(client.status());
    absl::StatusOr<v1::CatalogueInfo> info =
        (*client)->GetCatalogue(request, absl::GetFlag(FLAGS_timeout));
    if (!info.ok()) return Failure(info.status());
    return PrintAs(*format, *info,
                   [&] { PrintCatalogueText(*info, std::cout); });
  }
  return UsageError(
      absl::StrCat("catalogue takes upload or show, got '", action, "'"));
}

int Report(const std::string& model) {
  if (model.empty()) return UsageError("report needs a model");
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return UsageError("report needs --out (a file, or -)");
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  if (absl::Status s =
          WriteReport(**client, model, absl::GetFlag(FLAGS_model_wide),
                      absl::GetFlag(FLAGS_timeout), out);
      !s.ok()) {
    return Failure(s);
  }
  if (out != "-") std::cerr << "vigiectl: wrote " << out << "\n";
  return kExitOk;
}

int Run(int argc, char** argv) {
  std::set<std::string> set;
  absl::StatusOr<std::vector<std::string>> args = ParseArgs(argc, argv, &set);
  if (!args.ok()) return UsageError(args.status().message());
  if (args->empty()) {
    PrintHelp(std::cerr);
    return kExitUsage;
  }
  const std::string& command = (*args)[0];
  // `silence`, `reference` and `catalogue` take an action.
  // `report` takes its model, as an argument or as --model.
  const size_t arguments =
      command == "silence" || command == "reference" ||
              command == "catalogue" || command == "purge" ||
              (command == "report" && !set.contains("model"))
          ? 2
          : 1;
  if (args->size() < arguments) {
    return UsageError(
        command == "silence" ? "silence needs an action: create, list or expire"
        : command == "report" ? "report needs a model: vigiectl report MODEL "
                                "--out=FILE"
        : command == "purge"
            ? "purge needs a model: vigiectl purge MODEL --yes"
            : absl::StrCat(command, " needs an action: upload or show"));
  }
  if (args->size() > arguments) {
    return UsageError(
        absl::StrCat("unexpected argument '", (*args)[arguments], "'"));
  }
  const std::map<std::string, std::set<std::string>> all_allowed =
      AllowedFlags();
  const auto allowed = all_allowed.find(command);
  if (allowed == all_allowed.end()) {
    return UsageError(absl::StrCat("unknown subcommand '", command, "'"));
  }
  for (const std::string& name : set) {
    if (!IsConnectionFlag(name) && !allowed->second.contains(name)) {
      return UsageError(
          absl::StrCat("--", name, " does not apply to ", command));
    }
  }
  if (command == "help") {
    PrintHelp(std::cout);
    return kExitOk;
  }
  if (command == "replay") return Replay(set);
  if (command == "simulate") return Simulate();
  if (command == "metrics") return Metrics();
  if (command == "watch") return Watch();
  if (command == "history") return History();
  if (command == "silence") return Silence((*args)[1], set);
  if (command == "ack") return Acknowledge();
  if (command == "purge") return Purge((*args)[1]);
  if (command == "reference") return Reference((*args)[1], set);
  if (command == "catalogue") return Catalogue((*args)[1], set);
  if (command == "report") {
    return Report(set.contains("model") ? absl::GetFlag(FLAGS_model)
                                        : (*args)[1]);
  }
  return Alerts();
}

}  // namespace
}  // namespace vigie::tools

int main(int argc, char** argv) { return vigie::tools::Run(argc, argv); }
