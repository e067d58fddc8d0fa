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

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
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
#include "tools/vigiectl_alerts.h"
#include "tools/vigiectl_common.h"
#include "tools/vigiectl_flags.h"

namespace vigie::tools {
namespace {

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
    if (auto refused = RejectFlagsOutside(set, {"model", "file", "description"},
                                          "reference upload")) {
      return *refused;
    }
    return UploadReference(set);
  }
  if (action == "show") {
    if (auto refused = RejectFlagsOutside(
            set, {"model", "format", "reference_version"}, "reference show")) {
      return *refused;
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
    if (auto refused = RejectFlagsOutside(set, {"model", "file", "description"},
                                          "catalogue upload")) {
      return *refused;
    }
    return UploadCatalogue(set);
  }
  if (action == "show") {
    if (auto refused =
            RejectFlagsOutside(set, {"model", "format"}, "catalogue show")) {
      return *refused;
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
