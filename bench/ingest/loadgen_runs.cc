#include "bench/ingest/loadgen_runs.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/ingest/memory_sampler.h"
#include "common/status_macros.h"
#include "tools/client.h"
#include "tools/printing.h"

namespace vigie::bench {
namespace {

std::string Count(uint64_t n) { return tools::FormatCount(n); }

}  // namespace

void Progress(absl::string_view message) {
  std::cerr << "ingest_loadgen: " << message << std::endl;
}

absl::StatusOr<ServerChild> ServerCommand::Start(absl::Duration timeout) const {
  return ServerChild::Start(binary, data_dir, port_file, log_path, timeout,
                            args);
}

absl::StatusOr<v1::ReferenceInfo> UploadReference(
    const std::string& address, const IngestLoadOptions& options) {
  ASSIGN_OR_RETURN(const v1::UploadReferenceRequest request,
                   BuildReference(options));
  ASSIGN_OR_RETURN(std::unique_ptr<tools::VigieClient> client,
                   tools::VigieClient::Connect(address, kServerTimeout));
  ASSIGN_OR_RETURN(v1::ReferenceInfo info, client->UploadReference(request));
  if (info.rejected() > 0) {
    return absl::InternalError(absl::StrCat(
        "the server rejected ", info.rejected(), " reference events; first: ",
        info.rejections().empty() ? "" : info.rejections(0)));
  }
  return info;
}

absl::StatusOr<StreamStats> TimedStream(const ServerChild& server,
                                        const IngestLoad& load,
                                        absl::Duration timeout,
                                        absl::Duration& cpu,
                                        uint64_t* written) {
  StreamLoadOptions stream_options;
  stream_options.timeout = timeout;
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
  ASSIGN_OR_RETURN(const uint64_t written_before,
                   ReadProcessWrittenBytes(server.pid()));
  ASSIGN_OR_RETURN(StreamStats stats,
                   StreamLoad(server.address(), load, stream_options));
  ASSIGN_OR_RETURN(const absl::Duration cpu_after,
                   ReadProcessCpuTime(server.pid()));
  ASSIGN_OR_RETURN(const uint64_t written_after,
                   ReadProcessWrittenBytes(server.pid()));
  cpu = cpu_after - cpu_before;
  if (written != nullptr) *written = written_after - written_before;
  Progress(absl::StrCat(
      "streamed ", Count(stats.events_sent), " events in ",
      absl::FormatDuration(absl::Trunc(stats.elapsed, absl::Milliseconds(1)))));
  return stats;
}

absl::StatusOr<BareReport> MeasureBare(const ServerCommand& command,
                                       const IngestLoad& load,
                                       absl::Duration timeout) {
  ASSIGN_OR_RETURN(ServerChild server, command.Start(kServerTimeout));
  Progress(absl::StrCat("bare decode-only server pid ", server.pid(), " on ",
                        server.address()));
  BareReport bare;
  ASSIGN_OR_RETURN(bare.stream,
                   TimedStream(server, load, timeout, bare.server_cpu));
  ASSIGN_OR_RETURN(bare.memory, ReadProcessMemory(server.pid()));
  RETURN_IF_ERROR(server.Stop(kServerTimeout));
  const v1::IngestReply& reply = bare.stream.reply;
  if (reply.accepted() != bare.stream.events_sent) {
    return absl::InternalError(
        absl::StrCat("the bare server counted ", Count(reply.accepted()),
                     " of ", Count(bare.stream.events_sent), " events"));
  }
  return bare;
}

absl::StatusOr<LatencyReport> MeasureLatencyRun(
    const ServerCommand& command, const IngestLoadOptions& shape,
    const LatencyRunOptions& options) {
  const double rate = options.rate;
  if (!(rate > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("no rate for the latency run (", rate, ")"));
  }
  LatencyReport latency;
  latency.rate_source = options.rate_source;
  IngestLoadOptions load_options = shape;
  load_options.connections = 1;
  // Event time keeps pace with the offered rate, as a live producer's does,
  // so that the run fills one or two panes, not the thousands 5 s apart
  // would.
  const double events_per_prediction = 1 + load_options.outcome_rate;
  load_options.spacing = absl::Seconds(events_per_prediction / rate);
  load_options.predictions = std::max<int64_t>(
      1, static_cast<int64_t>(rate * absl::ToDoubleSeconds(options.duration) /
                              events_per_prediction));
  Progress(absl::StrCat("latency run: building ",
                        Count(static_cast<uint64_t>(load_options.predictions)),
                        " predictions (untimed)"));
  ASSIGN_OR_RETURN(IngestLoad load, BuildIngestLoad(load_options));

  ASSIGN_OR_RETURN(ServerChild server, command.Start(kServerTimeout));
  Progress(absl::StrCat("latency run: server pid ", server.pid(), " on ",
                        server.address(), ", offering ",
                        Count(static_cast<uint64_t>(rate)), " events/s"));
  if (load_options.reference_predictions > 0) {
    RETURN_IF_ERROR(UploadReference(server.address(), load_options).status());
  }
  LatencyOptions latency_options;
  latency_options.rate = rate;
  latency_options.query_interval = options.query_interval;
  latency_options.model_id = load_options.model_id;
  latency_options.timeout = options.timeout;
  ASSIGN_OR_RETURN(
      latency.stats,
      MeasureLatency(server.address(), load.connections[0], latency_options));
  RETURN_IF_ERROR(server.Stop(kServerTimeout));
  SummarizeLatency(latency);
  return latency;
}

absl::Status CheckAccepted(absl::string_view what, const v1::IngestReply& reply,
                           uint64_t sent) {
  if (reply.rejected() == 0 && reply.accepted() == sent) {
    return absl::OkStatus();
  }
  std::string first;
  if (!reply.rejections().empty()) {
    const v1::Rejection& r = reply.rejections(0);
    first = absl::StrCat("; first: ", tools::RejectReasonName(r.reason()), " ",
                         r.message());
  }
  return absl::InternalError(absl::StrCat(
      what, ": ", Count(reply.rejected()), " events rejected, ",
      Count(reply.accepted()), " of ", Count(sent), " accepted", first));
}

}  // namespace vigie::bench
