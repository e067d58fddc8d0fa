// ingest_loadgen: durable ingest of the real `vigie` server, and, in the
// same run on the same machine, the rate of one RocksDB point write per
// prediction: the baseline a storage redesign must beat. See
// bench/README.md ("Durable ingest").
//
// The simulated stream is built first, untimed; then the server starts as a
// child process on a fresh data folder and a free loopback port, the stream
// goes over --connections parallel client-streaming Ingest calls while the
// server's memory is sampled, and the server's counters (GetMetrics),
// memory and footprint are read. With --kill_and_restart the server is then
// SIGKILLed and started again on the same data folder, timed until it
// serves, and its counters compared with those before the kill. Then the
// baseline runs with the server stopped, so that the two never share the
// cores. --outcome_share and --groups shape the stream for memory runs
// (many pending joins, many groups). The run is bounded by --predictions
// and --timeout. Exit status: 0 when every event was accepted (and the
// counters survived the restart), 1 otherwise (rejections, lost counters, a
// broken stream, a failed server), 2 on a bad flag. Progress goes to
// stderr, the report to stdout.

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
#include "bench/ingest/loadgen_report.h"
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
ABSL_FLAG(int64_t, predictions, 500'000,
          "Predictions of the simulated stream; with the default "
          "--outcome_share each also sends its outcome, so twice as many "
          "events.");
ABSL_FLAG(double, outcome_share, 1,
          "Share of the predictions whose outcome is sent, in [0, 1]; the "
          "others stay pending in the server. Which ones is drawn from "
          "--seed.");
ABSL_FLAG(int, groups, 0,
          "When > 0, every prediction also carries the group attribute "
          "`segment`, s0000 to s<groups - 1>, drawn uniformly from --seed.");
ABSL_FLAG(int, connections, 2,
          "Parallel client-streaming Ingest calls, each on its own TCP "
          "connection; events are split by prediction id.");
ABSL_FLAG(int, batch_size, 1'000, "Events per IngestRequest.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the simulated stream.");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(10),
          "Deadline of the ingest streams; the server's start and stop get "
          "a minute each besides.");
ABSL_FLAG(std::string, tmp_dir, "",
          "Parent of the scratch folder (server data, baseline database, "
          "server log); empty: $TMPDIR, else /tmp. Removed at the end.");
ABSL_FLAG(std::string, server_config, "",
          "Configuration file the server is started with (its --config). "
          "Empty: the embedded defaults, or, with --outcome_share < 1 or "
          "--groups > 0, a file written into the scratch folder "
          "(default_model: max_groups at least --groups, label_delay 30d).");
ABSL_FLAG(bool, kill_and_restart, false,
          "Once the stream has ended, SIGKILL the server, start it again on "
          "the same data folder, time until it answers GetMetrics, and exit 1 "
          "if its counters differ from those before the kill.");
ABSL_FLAG(bool, baseline, true, "Also time one RocksDB Put per prediction.");

namespace vigie::bench {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void Progress(absl::string_view message) {
  std::cerr << "ingest_loadgen: " << message << std::endl;
}

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
// Of the server's start and stop and of GetMetrics.
constexpr absl::Duration kServerTimeout = absl::Minutes(1);

// How the server is started: the same both times with --kill_and_restart.
struct ServerCommand {
  std::string binary;
  std::string data_dir;
  std::string port_file;
  std::string log_path;
  std::vector<std::string> args;

  absl::StatusOr<ServerChild> Start(absl::Duration timeout) const {
    return ServerChild::Start(binary, data_dir, port_file, log_path, timeout,
                              args);
  }
};

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

// Starts the server on a fresh data folder, streams `load` to it while
// sampling its memory, reads its counters, memory and data folder, and
// stops it (or kills and restarts it first); the figures go to `report`.
absl::Status MeasureServer(const IngestLoad& load, const ScratchDir& scratch,
                           LoadgenReport& report) {
  ASSIGN_OR_RETURN(report.server_config,
                   ChooseServerConfig(report.options, scratch));
  ServerCommand command = {
      .binary = absl::GetFlag(FLAGS_server_binary),
      .data_dir = scratch.Join("server-data"),
      .port_file = scratch.Join("server.port"),
      .log_path = scratch.Join("server.log"),
      .args = {},
  };
  if (report.server_config.kind != ServerConfigUsed::Kind::kEmbeddedDefaults) {
    command.args.push_back("--config=" + report.server_config.path);
  }
  ASSIGN_OR_RETURN(ServerChild server, command.Start(kServerTimeout));
  Progress(absl::StrCat("server pid ", server.pid(), " on ", server.address(),
                        ", data in ", command.data_dir));
  report.sample_interval = kSampleInterval;
  MemorySampler sampler(server.pid(), kSampleInterval);

  StreamLoadOptions stream_options;
  stream_options.timeout = absl::GetFlag(FLAGS_timeout);
  // Written is not yet applied: gRPC buffers ahead of the server, whose
  // replies come at the end.
  stream_options.on_progress = [&](uint64_t sent, absl::Duration elapsed) {
    Progress(absl::StrFormat(
        "written %s / %s events (%.0f%%), %s events/s so far", Count(sent),
        Count(load.events),
        100.0 * static_cast<double>(sent) / static_cast<double>(load.events),
        Count(static_cast<uint64_t>(static_cast<double>(sent) /
                                    absl::ToDoubleSeconds(elapsed)))));
  };
  ASSIGN_OR_RETURN(const absl::Duration cpu_before,
                   ReadProcessCpuTime(server.pid()));
  ASSIGN_OR_RETURN(report.stream,
                   StreamLoad(server.address(), load, stream_options));
  ASSIGN_OR_RETURN(const absl::Duration cpu_after,
                   ReadProcessCpuTime(server.pid()));
  report.server_cpu = cpu_after - cpu_before;
  Progress(absl::StrCat("streamed ", Count(report.stream.events_sent),
                        " events in ",
                        absl::FormatDuration(absl::Trunc(
                            report.stream.elapsed, absl::Milliseconds(1)))));

  ASSIGN_OR_RETURN(report.server, ReadProcessMemory(server.pid()));
  const absl::Time metrics_start = absl::Now();
  ASSIGN_OR_RETURN(const v1::GetMetricsReply metrics,
                   FetchMetrics(server.address(), report.options.model_id));
  report.metrics_elapsed = absl::Now() - metrics_start;
  report.counters = metrics.counters();
  for (const v1::AttributeFairness& attribute : metrics.fairness()) {
    report.groups_per_attribute[attribute.attribute()] =
        attribute.groups_size();
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
  options.outcome_share = absl::GetFlag(FLAGS_outcome_share);
  options.groups = absl::GetFlag(FLAGS_groups);
  options.connections = absl::GetFlag(FLAGS_connections);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.seed = absl::GetFlag(FLAGS_seed);
  if (absl::Status s = options.Validate(); !s.ok()) {
    std::cerr << "ingest_loadgen: " << s.message() << "\n";
    return kExitUsage;
  }

  Progress(absl::StrCat("building the stream of ",
                        Count(static_cast<uint64_t>(options.predictions)),
                        " predictions for ", options.connections,
                        " connections (untimed)"));
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
  if (absl::Status s = MeasureServer(*load, *scratch, report); !s.ok()) {
    return Fail(s, &*scratch);
  }

  if (absl::GetFlag(FLAGS_baseline)) {
    *load = IngestLoad();  // Its memory is no longer needed.
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

  const v1::IngestReply& reply = report.stream.reply;
  if (reply.rejected() > 0 || reply.accepted() != report.stream.events_sent) {
    std::string first;
    if (!reply.rejections().empty()) {
      const v1::Rejection& r = reply.rejections(0);
      first = absl::StrCat("; first: ", tools::RejectReasonName(r.reason()),
                           " ", r.message());
    }
    return Fail(absl::InternalError(absl::StrCat(
        Count(reply.rejected()), " events rejected, ", Count(reply.accepted()),
        " of ", Count(report.stream.events_sent), " accepted", first)));
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
