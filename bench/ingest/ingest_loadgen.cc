// ingest_loadgen: durable ingest of the real `vigie` server against a
// decode-only gRPC server fed the same requests in the same run, the
// latency from ingest to a queried window at an offered rate, and the rate
// of one RocksDB point write per prediction. See bench/README.md ("Durable
// ingest", and "Load generator" for issue 10).
//
// The synthetic stream is built first, untimed, in the shape the flags give
// (by default 8 groups, 20 numeric features, an outcome for one prediction
// in ten, a reference uploaded so that drift runs; see IngestLoadOptions).
// Then, each a child process on a free loopback port:
//   bare     bare_ingest_server, which only parses and counts, gets the
//            stream over --connections client-streaming Ingest calls;
//   vigie    the real server, on a fresh data folder, gets the reference
//            and then the same stream while its memory is sampled; its
//            counters (GetMetrics), memory and footprint are read. With
//            --kill_and_restart it is then SIGKILLed and started again on
//            the same data folder, timed until it serves, and its counters
//            compared with those before the kill;
//   latency  a fresh real server gets --latency_seconds of the same shape at
//            --rate events/s (default: half the rate just measured) over
//            one connection while a second one queries its window every
//            --query_interval (MeasureLatency): p50 and p99 from a
//            request's send to the first answer that counts it.
// Then the RocksDB baseline runs with every server stopped, so that none
// shares the cores with it. Exit status: 0 when every event was accepted
// (and the counters survived the restart), 1 otherwise (rejections, lost
// counters, a broken stream, a failed server), 2 on a bad flag. Progress
// goes to stderr, the report to stdout.

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/ingest/ingest_load.h"
#include "bench/ingest/ingest_stream.h"
#include "bench/ingest/load_shape_flags.h"
#include "bench/ingest/loadgen_report.h"
#include "bench/ingest/loadgen_runs.h"
#include "bench/ingest/memory_sampler.h"
#include "bench/ingest/rocksdb_baseline.h"
#include "bench/ingest/scratch_dir.h"
#include "bench/ingest/server_child.h"
#include "bench/ingest/server_config.h"
#include "common/status_macros.h"
#include "storage/state_store.h"
#include "tools/client.h"
#include "tools/printing.h"

ABSL_FLAG(std::string, server_binary, VIGIE_SERVER_BINARY,
          "Path of the vigie server binary to start.");
ABSL_FLAG(std::string, bare_server_binary, VIGIE_BARE_SERVER_BINARY,
          "Path of the decode-only bare_ingest_server binary to start.");
ABSL_FLAG(int64_t, predictions, 500'000,
          "Predictions of the synthetic stream; --outcome_rate of them also "
          "send their outcome.");
// The stream's shape: bench/ingest/load_shape_flags.h.
ABSL_FLAG(double, outcome_share, -1,
          "Former name of --outcome_rate; when >= 0 it takes its place.");
ABSL_FLAG(int, connections, 2,
          "Parallel client-streaming Ingest calls, each on its own TCP "
          "connection; events are split by prediction id.");
ABSL_FLAG(int, batch_size, 1'000, "Events per IngestRequest.");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(10),
          "Deadline of the ingest streams; the server's start and stop get "
          "a minute each besides.");
ABSL_FLAG(std::string, tmp_dir, "",
          "Parent of the scratch folder (server data, baseline database, "
          "server log); empty: $TMPDIR, else /tmp. Removed at the end.");
ABSL_FLAG(std::string, server_config, "",
          "Configuration file the server is started with (its --config). "
          "Empty: the embedded defaults, or, with --outcome_rate < 1 or "
          "--groups > 0, a file written into the scratch folder "
          "(default_model: max_groups at least --groups, label_delay 30d).");
ABSL_FLAG(bool, kill_and_restart, false,
          "Once the stream has ended, SIGKILL the server, start it again on "
          "the same data folder, time until it answers GetMetrics, and exit 1 "
          "if its counters differ from those before the kill.");
ABSL_FLAG(bool, baseline, true, "Also time one RocksDB Put per prediction.");
ABSL_FLAG(bool, bare, true,
          "Also stream the same requests to the decode-only "
          "bare_ingest_server, first, and report the ratio of the rates.");
ABSL_FLAG(absl::Duration, latency_seconds, absl::Seconds(20),
          "Length of the latency run (a fresh server fed at --rate); 0: no "
          "latency run.");
ABSL_FLAG(double, rate, 0,
          "Events per second offered in the latency run; 0: --rate_share of "
          "the real server's rate measured in the same run.");
ABSL_FLAG(double, rate_share, 0.5,
          "With --rate=0, the share of the measured rate offered.");
ABSL_FLAG(absl::Duration, query_interval, absl::Milliseconds(50),
          "Latency run: GetMetrics of the model's window at most this "
          "often.");

namespace vigie::bench {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int Fail(const absl::Status& status, const ScratchDir* scratch = nullptr) {
  std::cerr << "ingest_loadgen: " << status << "\n";
  if (scratch != nullptr) {
    // The scratch folder goes away on exit: show the server's last words.
    std::ifstream log(scratch->Join("server.log"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(log, line);) lines.push_back(line);
    const size_t first = lines.size() > 20 ? lines.size() - 20 : 0;
    if (first < lines.size()) std::cerr << "server log (last lines):\n";
    for (size_t i = first; i < lines.size(); ++i) {
      std::cerr << "  " << lines[i] << "\n";
    }
  }
  return kExitFailure;
}

std::string Count(uint64_t n) { return tools::FormatCount(n); }

// Often enough to see the rise of a run of seconds, seldom enough to cost
// nothing.
constexpr absl::Duration kSampleInterval = absl::Milliseconds(200);

// --server_config; else, when the stream needs it, a configuration written
// into the scratch folder; else the embedded defaults.
absl::StatusOr<ServerConfigUsed> ChooseServerConfig(
    const IngestLoadOptions& options, const ScratchDir& scratch) {
  ServerConfigUsed config;
  if (std::string path = absl::GetFlag(FLAGS_server_config); !path.empty()) {
    config.kind = ServerConfigUsed::Kind::kUserFile;
    config.path = std::move(path);
  } else if (NeedsServerConfig(options)) {
    config.kind = ServerConfigUsed::Kind::kGenerated;
    config.path = scratch.Join("vigie.yaml");
    config.summary = PendingJoinsConfigSummary(options);
    RETURN_IF_ERROR(
        WriteTextFile(config.path, PendingJoinsConfigYaml(options)));
  }
  return config;
}

// GetMetrics of `model_id` over all its panes, on a new connection.
absl::StatusOr<v1::GetMetricsReply> FetchMetrics(const std::string& address,
                                                 const std::string& model_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<tools::VigieClient> client,
                   tools::VigieClient::Connect(address, kServerTimeout));
  v1::GetMetricsRequest request;
  request.set_model_id(model_id);
  return client->GetMetrics(request, kServerTimeout);
}

// SIGKILLs `server`, as a crash would, starts it again on the same data
// folder, times it until it serves, reads its counters and memory, and
// stops it.
absl::StatusOr<RestartReport> KillAndRestart(ServerChild& server,
                                             const ServerCommand& command,
                                             const std::string& model_id) {
  server.Kill();
  Progress("server killed (SIGKILL); starting it again on its data folder");
  RestartReport restart;
  const absl::Time start = absl::Now();
  // Recovery may replay a large log, so it gets the ingest's deadline.
  ASSIGN_OR_RETURN(ServerChild restarted,
                   command.Start(absl::GetFlag(FLAGS_timeout)));
  restart.until_port = absl::Now() - start;
  ASSIGN_OR_RETURN(const v1::GetMetricsReply metrics,
                   FetchMetrics(restarted.address(), model_id));
  restart.until_serving = absl::Now() - start;
  restart.counters = metrics.counters();
  Progress(absl::StrFormat(
      "server pid %d wrote its port after %.2f s, answered GetMetrics after "
      "%.2f s",
      restarted.pid(), absl::ToDoubleSeconds(restart.until_port),
      absl::ToDoubleSeconds(restart.until_serving)));
  ASSIGN_OR_RETURN(restart.memory, ReadProcessMemory(restarted.pid()));
  RETURN_IF_ERROR(restarted.Stop(kServerTimeout));
  return restart;
}

// The real server's command line on `data_dir` (a folder of the scratch
// folder), with the run's configuration.
ServerCommand RealServer(const ScratchDir& scratch, const std::string& data_dir,
                         const ServerConfigUsed& config) {
  ServerCommand command = {
      .binary = absl::GetFlag(FLAGS_server_binary),
      .data_dir = scratch.Join(data_dir),
      .port_file = scratch.Join("server.port"),
      .log_path = scratch.Join("server.log"),
      .args = {},
  };
  if (config.kind != ServerConfigUsed::Kind::kEmbeddedDefaults) {
    command.args.push_back("--config=" + config.path);
  }
  return command;
}

// The latency run's options: --rate, else --rate_share of the rate the
// run measured.
LatencyRunOptions LatencyRunFromFlags(const LoadgenReport& report) {
  LatencyRunOptions options;
  options.duration = absl::GetFlag(FLAGS_latency_seconds);
  options.query_interval = absl::GetFlag(FLAGS_query_interval);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.rate = absl::GetFlag(FLAGS_rate);
  if (options.rate > 0) {
    options.rate_source = "--rate";
  } else {
    const double share = absl::GetFlag(FLAGS_rate_share);
    options.rate = share * report.events_per_second();
    options.rate_source = absl::StrFormat(
        "%g of the %s events/s measured above", share,
        Count(static_cast<uint64_t>(report.events_per_second() + 0.5)));
  }
  return options;
}

// Starts the server on a fresh data folder, uploads the reference, streams
// `load` to it while sampling its memory, reads its counters, memory and
// data folder, and stops it (or kills and restarts it first); the figures
// go to `report`.
absl::Status MeasureServer(const IngestLoad& load, const ScratchDir& scratch,
                           LoadgenReport& report) {
  const ServerCommand command =
      RealServer(scratch, "server-data", report.server_config);
  ASSIGN_OR_RETURN(ServerChild server, command.Start(kServerTimeout));
  Progress(absl::StrCat("server pid ", server.pid(), " on ", server.address(),
                        ", data in ", command.data_dir));
  if (report.options.reference_predictions > 0) {
    ASSIGN_OR_RETURN(report.reference,
                     UploadReference(server.address(), report.options));
    Progress(absl::StrCat(
        "reference uploaded: ", Count(report.reference->predictions()),
        " predictions, ", report.reference->features_size(), " profiles"));
  }
  report.sample_interval = kSampleInterval;
  MemorySampler sampler(server.pid(), kSampleInterval);
  ASSIGN_OR_RETURN(
      report.stream,
      TimedStream(server, load, absl::GetFlag(FLAGS_timeout), report.server_cpu,
                  &report.server_written_bytes));

  ASSIGN_OR_RETURN(report.server, ReadProcessMemory(server.pid()));
  const absl::Time metrics_start = absl::Now();
  ASSIGN_OR_RETURN(const v1::GetMetricsReply metrics,
                   FetchMetrics(server.address(), report.options.model_id));
  report.metrics_elapsed = absl::Now() - metrics_start;
  report.counters = metrics.counters();
  // A multiclass model's fairness is per class; its first class shows the
  // groups kept all the same.
  const auto& fairness = metrics.fairness_by_class().empty()
                             ? metrics.fairness()
                             : metrics.fairness_by_class(0).fairness();
  for (const v1::AttributeFairness& attribute : fairness) {
    report.groups_per_attribute[attribute.attribute()] =
        attribute.groups_size();
  }
  if (metrics.has_conformal()) report.conformal = metrics.conformal().overall();
  if (report.options.task == IngestLoadOptions::Task::kMulticlass &&
      report.counters.joined() > 0 && !metrics.has_conformal()) {
    return absl::InternalError(
        "GetMetrics reports no conformal coverage although prediction sets "
        "were joined with their outcomes");
  }
  if (report.reference && metrics.drift().empty()) {
    // The shape promises drift; a reference that drift ignores is a bug of
    // the load, not a figure.
    return absl::InternalError(
        "GetMetrics reports no drift although a reference was uploaded");
  }
  report.server_samples = sampler.Stop();
  ASSIGN_OR_RETURN(report.data_running, MeasureDirectory(command.data_dir));
  if (absl::GetFlag(FLAGS_kill_and_restart)) {
    ASSIGN_OR_RETURN(report.restart,
                     KillAndRestart(server, command, report.options.model_id));
  } else {
    RETURN_IF_ERROR(server.Stop(kServerTimeout));
  }
  ASSIGN_OR_RETURN(report.data_stopped, MeasureDirectory(command.data_dir));
  Progress("compacting the stopped server's state store");
  {
    storage::StateStoreOptions store_options;
    store_options.path = command.data_dir;
    ASSIGN_OR_RETURN(std::unique_ptr<storage::StateStore> store,
                     storage::StateStore::Open(store_options));
    RETURN_IF_ERROR(store->CompactAll());
  }
  ASSIGN_OR_RETURN(report.data_compacted, MeasureDirectory(command.data_dir));
  return absl::OkStatus();
}

int Run() {
  IngestLoadOptions options;
  options.predictions = absl::GetFlag(FLAGS_predictions);
  if (absl::Status s = ShapeFromFlags(options); !s.ok()) {
    std::cerr << "ingest_loadgen: " << s.message() << "\n";
    return kExitUsage;
  }
  if (absl::GetFlag(FLAGS_outcome_share) >= 0) {
    options.outcome_rate = absl::GetFlag(FLAGS_outcome_share);
  }
  options.connections = absl::GetFlag(FLAGS_connections);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  if (absl::Status s = options.Validate(); !s.ok()) {
    std::cerr << "ingest_loadgen: " << s.message() << "\n";
    return kExitUsage;
  }

  Progress(absl::StrCat("building the stream of ",
                        Count(static_cast<uint64_t>(options.predictions)),
                        " predictions (", ShapeSummary(options), ") for ",
                        options.connections, " connections (untimed)"));
  const absl::Time build_start = absl::Now();
  absl::StatusOr<IngestLoad> load = BuildIngestLoad(options);
  if (!load.ok()) return Fail(load.status());
  Progress(
      absl::StrCat("built ", Count(load->events), " events (",
                   Count(load->outcomes), " outcomes) in ",
                   absl::FormatDuration(absl::Trunc(absl::Now() - build_start,
                                                    absl::Milliseconds(1)))));

  absl::StatusOr<ScratchDir> scratch =
      ScratchDir::Create(absl::GetFlag(FLAGS_tmp_dir));
  if (!scratch.ok()) return Fail(scratch.status());
  LoadgenReport report;
  report.options = options;
  if (absl::StatusOr<ServerConfigUsed> config =
          ChooseServerConfig(options, *scratch);
      config.ok()) {
    report.server_config = *std::move(config);
  } else {
    return Fail(config.status());
  }
  // The bare server first: the real one's data folder and memory are then
  // measured without it running, and each gets the cores alone.
  if (absl::GetFlag(FLAGS_bare)) {
    const ServerCommand command = {
        .binary = absl::GetFlag(FLAGS_bare_server_binary),
        .data_dir = scratch->Join("bare-data"),
        .port_file = scratch->Join("bare.port"),
        .log_path = scratch->Join("server.log"),
        .args = {},
    };
    absl::StatusOr<BareReport> bare =
        MeasureBare(command, *load, absl::GetFlag(FLAGS_timeout));
    if (!bare.ok()) return Fail(bare.status(), &*scratch);
    report.bare = *std::move(bare);
  }
  if (absl::Status s = MeasureServer(*load, *scratch, report); !s.ok()) {
    return Fail(s, &*scratch);
  }
  *load = IngestLoad();  // Its memory is no longer needed.
  if (absl::GetFlag(FLAGS_latency_seconds) > absl::ZeroDuration()) {
    absl::StatusOr<LatencyReport> latency = MeasureLatencyRun(
        RealServer(*scratch, "latency-data", report.server_config),
        report.options, LatencyRunFromFlags(report));
    if (!latency.ok()) return Fail(latency.status(), &*scratch);
    report.latency = *std::move(latency);
  }

  if (absl::GetFlag(FLAGS_baseline)) {
    const auto records = PredictionRecords(options);
    if (!records.ok()) return Fail(records.status());
    Progress(
        absl::StrCat("baseline: ", Count(records->size()), " RocksDB puts"));
    absl::StatusOr<PutBaseline> baseline =
        RunPutBaseline(scratch->Join("baseline-db"), *records);
    if (!baseline.ok()) return Fail(baseline.status());
    report.baseline = *baseline;
  }

  PrintReportTable(report, std::cout);
  std::cout << ReportJson(report) << std::endl;

  if (absl::Status s = CheckAccepted("server", report.stream.reply,
                                     report.stream.events_sent);
      !s.ok()) {
    return Fail(s);
  }
  if (report.latency) {
    const LatencyStats& stats = report.latency->stats;
    if (absl::Status s = CheckAccepted("latency run", stats.stream.reply,
                                       stats.stream.events_sent);
        !s.ok()) {
      return Fail(s);
    }
  }
  if (report.restart) {
    const std::string lost =
        CounterDifferences(report.counters, report.restart->counters);
    if (!lost.empty()) {
      return Fail(absl::DataLossError(absl::StrCat(
          "after kill -9 and a restart, the counters of model ",
          options.model_id, " differ from those before the kill: ", lost)));
    }
  }
  return 0;
}

}  // namespace
}  // namespace vigie::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return vigie::bench::Run();
}
