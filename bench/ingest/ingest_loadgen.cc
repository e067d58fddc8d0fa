// ingest_loadgen: durable ingest of the real `vigie` server, and, in the
// same run on the same machine, the rate of one RocksDB point write per
// prediction: the baseline a storage redesign must beat. See
// bench/README.md ("Durable ingest").
//
// The simulated stream is built first, untimed; then the server starts as a
// child process on a fresh data folder and a free loopback port, the stream
// goes over --connections parallel client-streaming Ingest calls, and the
// server's memory and footprint are read; then the baseline runs with the
// server stopped, so that the two never share the cores. The run is bounded
// by --predictions and --timeout. Exit status: 0 when every event was
// accepted, 1 otherwise (rejections, a broken stream, a failed server), 2 on
// a bad flag. Progress goes to stderr, the report to stdout.

#include <fstream>
#include <iostream>
#include <string>
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
#include "bench/ingest/rocksdb_baseline.h"
#include "bench/ingest/scratch_dir.h"
#include "bench/ingest/server_child.h"
#include "common/status_macros.h"
#include "tools/printing.h"

ABSL_FLAG(std::string, server_binary, VIGIE_SERVER_BINARY,
          "Path of the vigie server binary to start.");
ABSL_FLAG(int64_t, predictions, 500'000,
          "Predictions of the simulated stream; each also sends its outcome, "
          "so twice as many events.");
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

// Starts the server on a fresh data folder, streams `load` to it, reads its
// memory and data folder, and stops it; the figures go to `report`.
absl::Status MeasureServer(const IngestLoad& load, const ScratchDir& scratch,
                           LoadgenReport& report) {
  const std::string data_dir = scratch.Join("server-data");
  ASSIGN_OR_RETURN(
      ServerChild server,
      ServerChild::Start(absl::GetFlag(FLAGS_server_binary), data_dir,
                         scratch.Join("server.port"),
                         scratch.Join("server.log"), absl::Minutes(1)));
  Progress(absl::StrCat("server pid ", server.pid(), " on ", server.address(),
                        ", data in ", data_dir));

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
  ASSIGN_OR_RETURN(report.stream,
                   StreamLoad(server.address(), load, stream_options));
  Progress(absl::StrCat("streamed ", Count(report.stream.events_sent),
                        " events in ",
                        absl::FormatDuration(absl::Trunc(
                            report.stream.elapsed, absl::Milliseconds(1)))));

  ASSIGN_OR_RETURN(report.server, ReadProcessMemory(server.pid()));
  ASSIGN_OR_RETURN(report.data_running, MeasureDirectory(data_dir));
  RETURN_IF_ERROR(server.Stop(absl::Minutes(1)));
  ASSIGN_OR_RETURN(report.data_stopped, MeasureDirectory(data_dir));
  return absl::OkStatus();
}

int Run() {
  IngestLoadOptions options;
  options.predictions = absl::GetFlag(FLAGS_predictions);
  options.connections = absl::GetFlag(FLAGS_connections);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.seed = absl::GetFlag(FLAGS_seed);
  if (absl::Status s = options.Validate(); !s.ok()) {
    std::cerr << "ingest_loadgen: " << s.message() << "\n";
    return kExitUsage;
  }

  Progress(absl::StrCat(
      "building ", Count(2 * static_cast<uint64_t>(options.predictions)),
      " events for ", options.connections, " connections (untimed)"));
  const absl::Time build_start = absl::Now();
  absl::StatusOr<IngestLoad> load = BuildIngestLoad(options);
  if (!load.ok()) return Fail(load.status());
  Progress(absl::StrCat(
      "built in ", absl::FormatDuration(absl::Trunc(absl::Now() - build_start,
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
  return 0;
}

}  // namespace
}  // namespace vigie::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return vigie::bench::Run();
}
