#include "bench/ingest/ingest_stream.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "vigie/v1/vigie.grpc.pb.h"

namespace vigie::bench {
namespace {

// Rejections kept from all connections together: enough to diagnose.
constexpr int kMaxKeptRejections = 20;

struct ConnectionResult {
  absl::Status status;
  v1::IngestReply reply;
  absl::Time finished;
};

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // gRPC shares one TCP connection between channels with the same target
  // and arguments; a local pool gives each channel its own, which is the
  // point of several connections.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// One connection's stream. Counts down `ready` once connected (or failed),
// then waits for `go`.
void RunConnection(const std::string& address,
                   const std::vector<v1::IngestRequest>& requests,
                   absl::Duration timeout, absl::BlockingCounter& ready,
                   const absl::Notification& go, std::atomic<uint64_t>& sent,
                   ConnectionResult& result) {
  std::shared_ptr<grpc::Channel> channel = OpenChannel(address);
  const bool connected = channel->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  ready.DecrementCount();
  go.WaitForNotification();
  if (!connected) {
    result.status = absl::UnavailableError("could not connect to " + address);
    result.finished = absl::Now();
    return;
  }
  std::unique_ptr<v1::Vigie::Stub> stub = v1::Vigie::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  std::unique_ptr<grpc::ClientWriter<v1::IngestRequest>> writer =
      stub->Ingest(&context, &result.reply);
  uint64_t mine = 0;
  bool broken = false;
  for (const v1::IngestRequest& request : requests) {
    if (!writer->Write(request)) {
      broken = true;
      break;
    }
    const auto n = static_cast<uint64_t>(request.events_size());
    mine += n;
    sent.fetch_add(n, std::memory_order_relaxed);
  }
  // After a failed Write, Finish() gives the reason.
  if (!broken) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  result.finished = absl::Now();
  if (!status.ok() || broken) {
    const absl::Status error =
        status.ok() ? absl::UnavailableError("stream broke") : FromGrpc(status);
    result.status = absl::Status(
        error.code(),
        absl::StrCat("after ", mine, " events sent: ", error.message()));
  }
}

void Accumulate(const v1::IngestReply& part, v1::IngestReply& total) {
  total.set_accepted(total.accepted() + part.accepted());
  total.set_rejected(total.rejected() + part.rejected());
  total.set_predictions(total.predictions() + part.predictions());
  total.set_outcomes(total.outcomes() + part.outcomes());
  total.set_joined(total.joined() + part.joined());
  for (const v1::Rejection& r : part.rejections()) {
    if (total.rejections_size() >= kMaxKeptRejections) break;
    *total.add_rejections() = r;
  }
}

}  // namespace

absl::StatusOr<StreamStats> StreamLoad(const std::string& address,
                                       const IngestLoad& load,
                                       const StreamLoadOptions& options) {
  const size_t n = load.connections.size();
  std::vector<ConnectionResult> results(n);
  std::atomic<uint64_t> sent{0};
  std::atomic<size_t> done{0};
  absl::BlockingCounter ready(static_cast<int>(n));
  absl::Notification go;
  std::vector<std::thread> threads;
  for (size_t c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      RunConnection(address, load.connections[c], options.timeout, ready, go,
                    sent, results[c]);
      done.fetch_add(1);
    });
  }
  // Connection set-up is not part of the timed ingest.
  ready.Wait();
  const absl::Time start = absl::Now();
  go.Notify();
  absl::Time last_progress = start;
  while (done.load() < n) {
    absl::SleepFor(absl::Milliseconds(20));
    const absl::Time now = absl::Now();
    if (options.on_progress &&
        now - last_progress >= options.progress_interval) {
      last_progress = now;
      options.on_progress(sent.load(std::memory_order_relaxed), now - start);
    }
  }
  for (std::thread& t : threads) t.join();

  StreamStats stats;
  stats.events_sent = sent.load();
  absl::Time end = start;
  for (size_t c = 0; c < n; ++c) {
    const ConnectionResult& r = results[c];
    if (!r.status.ok()) {
      return absl::Status(
          r.status.code(),
          absl::StrCat("connection ", c, " of ", n, ": ", r.status.message()));
    }
    Accumulate(r.reply, stats.reply);
    end = std::max(end, r.finished);
  }
  stats.elapsed = end - start;
  return stats;
}

}  // namespace vigie::bench
